"""Run stores: in memory, SQLite and PostgreSQL, chosen by URL."""

from __future__ import annotations

from .base import Ingest, IngestResult, LeaseLostError, RunStore, open_store
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
