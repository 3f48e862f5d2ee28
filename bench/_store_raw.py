"""The raw contenders of ``bench_store.py``: what ``handle`` asks of each SQL store for one
event, written out by hand with sqlite3 and psycopg (the store's own statements, the same JSON
text of the event and of each run body, the same transactions and pragmas); and the tallies of
the bytes the statements are given."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import uuid
from typing import Any

import dunning_rules as dr
from dunning_rules.store import postgres as pg_sql
from dunning_rules.store import sqlite as sqlite_sql
from dunning_rules.store._codec import dump_run
from dunning_rules.store.base import Ingest, IngestResult
from dunning_rules.store.postgres import PostgresStore
from dunning_rules.store.sqlite import SQLiteStore

__all__ = [
    "ENCODE_BODY",
    "ENCODE_EVENT",
    "LEASE",
    "NoSQL",
    "START",
    "Raw",
    "RawPostgres",
    "RawSQLite",
    "Tally",
    "TallySQLite",
    "encoding_only_store",
    "noop",
    "tally_postgres",
]

START = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.timezone.utc)
LEASE = dt.timedelta(minutes=5)  # the engine's default lease
# The encoders the library uses: the event's (dunning_rules/_event.py) and the run body's
# (dunning_rules/store/_codec.py); raw builds the same JSON text with them.
ENCODE_EVENT = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
ENCODE_BODY = json.JSONEncoder(
    separators=(",", ":"), default=str, ensure_ascii=False, check_circular=False
).encode


def noop(params: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {"ok": True}


class Raw:
    """What ``handle`` asks of the store for one event, written out: the same statements, the
    same JSON text of the event and of each run body, the same transactions."""

    def __init__(self, rules: dr.RuleSet) -> None:
        self.rules = [(rule.name, rule.version) for rule in rules]
        self.owner = f"{os.getpid()}-raw{uuid.uuid4().hex[:8]}"
        self.at = START.isoformat()

    def bodies(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """The run bodies of the event's runs, as the codec writes them when they start."""
        key = event["data"]["object"]["id"]
        at = self.at
        return [
            {
                "id": f"run_{uuid.uuid4().hex}",
                "rule": name,
                "key": key,
                "status": "waiting",
                "next_at": at,
                "event_id": event["id"],
                "event_type": event["type"],
                "rule_version": version,
                "cursor": 0,
                "due_at": at,
                "created_at": at,
                "updated_at": at,
                "approval": None,
                "reason": None,
                "variant": None,
                "account": None,
                "steps": [],
            }
            for name, version in self.rules
        ]

    def step(self, body: dict[str, Any], event: dict[str, Any]) -> str:
        """The no-op step run, and the run body with its record, completed."""
        params = {"to": event["data"]["object"]["customer_email"]}
        output = noop(params, None)
        body["status"], body["next_at"], body["cursor"] = "completed", None, 1
        body["steps"] = [
            {
                "rule": body["rule"],
                "index": 0,
                "id": None,
                "type": "noop",
                "status": "ok",
                "params": params,
                "output": output,
                "error": None,
                "attempts": 1,
                "started_at": self.at,
                "finished_at": self.at,
                "warnings": [],
            }
        ]
        return ENCODE_BODY(body)


class RawSQLite(Raw):
    def __init__(self, path: str, rules: dr.RuleSet) -> None:
        super().__init__(rules)
        store = SQLiteStore(path)  # the store's tables and indexes
        store.has_event("")
        store.close()
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA busy_timeout = 30000")  # the store's pragmas
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.now = START.timestamp()
        self.until = (START + LEASE).timestamp()

    def handle(self, event: dict[str, Any]) -> None:
        text = ENCODE_EVENT(event)
        db, owner, now, until = self.db, self.owner, self.now, self.until
        if db.execute(sqlite_sql._HAS_EVENT, (event["id"],)).fetchone() is not None:
            return
        bodies = self.bodies(event)
        created = event["created"]
        rows = [
            (
                *(b["id"], b["rule"], b["key"], "waiting", now, owner, until, ENCODE_BODY(b), ""),
                *(1, 0, event["id"], created),
            )
            for b in bodies
        ]
        db.execute("BEGIN IMMEDIATE")
        db.execute(sqlite_sql._INSERT_EVENT, (event["id"], event["type"], created, now, text))
        db.executemany(sqlite_sql._INSERT_RUN, rows)
        db.execute("COMMIT")
        for body in bodies:
            db.execute(sqlite_sql._START, (until, now, body["id"], owner, 1, 0))
            saved = self.step(body, event)
            db.execute(
                sqlite_sql._SAVE, ("completed", None, None, None, saved, 1, body["id"], owner, 1)
            )

    def close(self) -> None:
        self.db.close()


class RawPostgres(Raw):
    def __init__(self, url: str, rules: dr.RuleSet) -> None:
        import psycopg

        super().__init__(rules)
        store = PostgresStore(url)  # the store's tables and indexes
        store.has_event("")
        store.close()
        self.conn = psycopg.connect(url, autocommit=True)
        self.until = START + LEASE

    def handle(self, event: dict[str, Any]) -> None:
        text = ENCODE_EVENT(event)
        conn, owner, until = self.conn, self.owner, self.until
        with conn.cursor() as cur:
            cur.execute(pg_sql._HAS_EVENT, (event["id"],))
            if cur.fetchone() is not None:
                return
        bodies = self.bodies(event)
        key, created = event["data"]["object"]["id"], event["created"]
        touched = sorted({(b["rule"], key) for b in bodies})
        rows = [
            (
                *(
                    b["id"],
                    b["rule"],
                    key,
                    "waiting",
                    START,
                    owner,
                    until,
                    ENCODE_BODY(b),
                    "",
                    1,
                    0,
                ),
                *(event["id"], b["rule"], key, created, b["rule"], key, created),
            )
            for b in bodies
        ]
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(
                pg_sql._INSERT_EVENT,
                (
                    event["id"],
                    event["type"],
                    created,
                    START,
                    text,
                    [f"{r}\x1f{k}" for r, k in touched],
                ),
            )
            cur.fetchone()
            if len(rows) == 1:
                cur.execute(pg_sql._INSERT_RUN, rows[0])
                cur.fetchall()
            else:
                cur.executemany(pg_sql._INSERT_RUN, rows, returning=True)
                for _ in rows:
                    cur.fetchall()
                    cur.nextset()
        for body in bodies:
            with conn.cursor() as cur:
                cur.execute(pg_sql._START, (until, START, body["id"], owner, 1, 0))
            saved = self.step(body, event)
            with conn.cursor() as cur:
                cur.execute(
                    pg_sql._SAVE, ("completed", None, None, None, saved, 1, body["id"], owner, 1)
                )

    def close(self) -> None:
        self.conn.close()


class NoSQL:
    """A connection that runs nothing: ``RawSQLite`` on it costs its Python alone (the event
    and run bodies encoded, the rows built), so raw's time less this one is the SQL's."""

    rowcount = 1

    def execute(self, sql: str, params: Any = ()) -> NoSQL:
        return self

    def executemany(self, sql: str, rows: Any) -> NoSQL:
        return self

    def fetchone(self) -> None:
        return None

    def close(self) -> None:
        pass


class _EncodingOnlyStore:
    """A store that does only what a SQL store cannot do without: it encodes each run's body
    as the run starts and as it is saved, and keeps nothing. ``handle`` on it is the engine
    alone (the door, planning, the executor, the outcome) with a store layer that costs
    nothing: SQL's time plus this one is the least ``handle`` on SQLite could take."""

    keeps_event_text = True  # the engine encodes the event for it, as for a SQL store

    def has_event(self, event_id: str) -> bool:
        return False

    def ingest(self, batch: Ingest) -> IngestResult:
        for run in batch.runs:
            dump_run(run)
        return IngestResult(duplicate=False, started=batch.runs)

    def start_step(self, run: dr.Run, *, owner: str, now: Any, lease_until: Any) -> bool:
        return True

    def renew(self, run: dr.Run, *, owner: str, lease_until: Any) -> bool:
        return True

    def save(self, run: dr.Run, *, owner: str, lease_until: Any) -> None:
        dump_run(run)

    def close(self) -> None:
        pass


def encoding_only_store() -> Any:
    """:class:`_EncodingOnlyStore`, for ``Engine(store=...)``."""
    return _EncodingOnlyStore()


class Tally:
    """Bytes of the parameters of every statement, and how many parameters hold ``needle``."""

    def __init__(self, needle: str) -> None:
        self.needle = needle
        self.bytes = 0
        self.copies = 0

    def count(self, params: Any) -> None:
        values = params.values() if isinstance(params, dict) else params or ()
        for value in values:
            if isinstance(value, list):
                self.count(value)
            elif isinstance(value, str):
                self.bytes += len(value.encode())
                self.copies += self.needle in value
            elif isinstance(value, bytes):
                self.bytes += len(value)
            elif value is not None:
                self.bytes += 8


class TallySQLite:
    """A sqlite3 connection that tallies the parameters it is given."""

    def __init__(self, conn: sqlite3.Connection, tally: Tally) -> None:
        self._conn = conn
        self._tally = tally

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        self._tally.count(params)
        return self._conn.execute(sql, params)

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        rows = list(rows)
        for row in rows:
            self._tally.count(row)
        return self._conn.executemany(sql, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def tally_postgres(conn: Any, tally: Tally) -> None:
    """Make every cursor of a psycopg connection tally its parameters."""
    import psycopg

    class Cursor(psycopg.Cursor[Any]):
        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            tally.count(params)
            return super().execute(query, params, **kwargs)

        def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> Any:
            params_seq = list(params_seq)
            for params in params_seq:
                tally.count(params)
            return super().executemany(query, params_seq, **kwargs)

    conn.cursor_factory = Cursor
