"""How a store URL picks an implementation."""

from __future__ import annotations

from .._redact import redact_url
from ..errors import StoreError
from .base import RunStore
from .memory import MemoryStore
from .postgres import PostgresStore
from .sqlite import SQLiteStore

__all__ = ["open_store"]


def open_store(url: str | RunStore | None) -> RunStore:
    """``None`` or ``'memory:'``: in memory; ``sqlite:///path``; ``postgresql://...``."""
    if url is None or url in ("memory:", "memory://"):
        return MemoryStore()
    if not isinstance(url, str):
        return url
    if url.startswith("sqlite:"):
        sqlite_store: RunStore = SQLiteStore(url)
        return sqlite_store
    if url.startswith(("postgresql:", "postgres:")):
        postgres_store: RunStore = PostgresStore(url)
        return postgres_store
    raise StoreError(
        f"unknown store URL {redact_url(url)!r}: "
        "use 'sqlite:///path.db', 'postgresql://...' or 'memory:'"
    )
