"""Run stores: in memory, SQLite and PostgreSQL, chosen by URL."""

from __future__ import annotations

from .base import Ingest, IngestResult, LeaseLostError, RunStore, open_store
from .memory import MemoryStore

__all__ = [
    "Ingest",
    "IngestResult",
    "LeaseLostError",
    "MemoryStore",
    "RunStore",
    "open_store",
]
