"""Run stores: in memory, SQLite and PostgreSQL, chosen by URL."""

from __future__ import annotations

from ._factory import open_store
from .base import Ingest, IngestResult, LeaseLostError, RunStore
from .memory import MemoryStore
from .postgres import PostgresStore
from .sqlite import SQLiteStore

__all__ = [
    "Ingest",
    "IngestResult",
    "LeaseLostError",
    "MemoryStore",
    "PostgresStore",
    "RunStore",
    "SQLiteStore",
    "open_store",
]
