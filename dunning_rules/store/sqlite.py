"""A run store in one SQLite file: for one machine, with one or several worker processes.

The file is opened in WAL mode with a busy timeout, so several processes (and the threads of
each) can share it: readers never block, writers take turns. Every state change is one
transaction: ``BEGIN IMMEDIATE`` around those of several statements; a change of one statement
(a step's start check, a lease renewal, a save) commits on its own, SQLite taking the write
lock when the statement starts, as ``BEGIN IMMEDIATE`` does. Times used in queries
(``next_at``, ``lease_until``) are kept as epoch seconds in columns of their own; the whole
run is kept as JSON text.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from ..errors import StoreError
from ..outcome import Run
from ._codec import dump_run, load_run
from ._ingest import lost_save, merged_onto_cancel, sort_runs
from ._schema import (
    CREATE_META,
    LIVE,
    RUN_EVENT,
    SELECT_VERSION,
    SQLITE_MIGRATIONS,
    UPSERT_VERSION,
    Migration,
    aware,
    dump_json,
    list_runs_sql,
    parse_version,
    pending_migrations,
)
from .base import (
    Ingest,
    IngestResult,
    cancel_run,
    event_texts,
    ingested,
    int64,
    marker_rows,
)

__all__ = ["SQLiteStore"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")

_HAS_EVENT = "SELECT 1 FROM dunning_rules_events WHERE id = ?"
_INSERT_EVENT = """INSERT INTO dunning_rules_events (id, type, created, received_at, body)
    VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"""
_SELECT_LIVE = f"""SELECT seq, body, {RUN_EVENT}, epoch FROM dunning_rules_runs
    WHERE rule = ? AND key = ? AND {LIVE} ORDER BY seq"""
# A cancel keeps the epoch: the worker that held the run can still write its last records.
_CANCEL = """UPDATE dunning_rules_runs
    SET status = 'cancelled', next_at = NULL, owner = NULL, lease_until = NULL, body = ?
    WHERE seq = ?"""
_UPSERT_MARKER = """INSERT INTO dunning_rules_markers (rule, key, created) VALUES (?, ?, ?)
    ON CONFLICT (rule, key) DO UPDATE SET created = max(created, excluded.created)"""
_SELECT_MARKER = "SELECT created FROM dunning_rules_markers WHERE rule = ? AND key = ?"
_INSERT_VERSION = """INSERT INTO dunning_rules_rule_versions (version, definition)
    VALUES (?, ?) ON CONFLICT (version) DO NOTHING"""
# A run starts unless its rule has a live run for its key, or a marker of its key is at or
# after the event's ``created`` (?13; NULL: no check): one statement per run, no read first.
_INSERT_RUN = f"""INSERT INTO dunning_rules_runs
    (id, rule, key, status, next_at, owner, lease_until, body, event, epoch, cursor, event_id)
    SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12
    WHERE NOT EXISTS (
        SELECT 1 FROM dunning_rules_runs WHERE rule = ?2 AND key = ?3 AND {LIVE})
    AND (?13 IS NULL OR NOT EXISTS (
        SELECT 1 FROM dunning_rules_markers WHERE rule = ?2 AND key = ?3 AND created >= ?13))"""
_NEWEST_IDS = "SELECT id FROM dunning_rules_runs ORDER BY seq DESC LIMIT ?"
_SELECT_DUE = f"""SELECT seq, body, {RUN_EVENT}, epoch FROM dunning_rules_runs
    WHERE {LIVE} AND next_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
    ORDER BY next_at, id LIMIT ?"""
_LEASE_SEQ = """UPDATE dunning_rules_runs SET owner = ?, lease_until = ?, epoch = epoch + 1
    WHERE seq = ?"""
_CLAIM = f"""UPDATE dunning_rules_runs SET owner = ?, lease_until = ?, epoch = epoch + 1
    WHERE id = ? AND status IN ({{statuses}}) AND (lease_until IS NULL OR lease_until <= ?)
    RETURNING body, {RUN_EVENT}, epoch"""
_HELD = f"id = ? AND owner = ? AND epoch = ? AND {LIVE}"
_START = f"""UPDATE dunning_rules_runs SET lease_until = ?, step_started = ?
    WHERE {_HELD} AND cursor = ?"""
_RENEW = f"UPDATE dunning_rules_runs SET lease_until = ? WHERE {_HELD}"
_SAVE = f"""UPDATE dunning_rules_runs
    SET status = ?, next_at = ?, owner = ?, lease_until = ?, body = ?, cursor = ?,
        step_started = NULL
    WHERE {_HELD}"""
_SELECT_HELD = f"""SELECT status, owner, epoch, body, {RUN_EVENT} FROM dunning_rules_runs
    WHERE id = ?"""
_SELECT_RUN = f"SELECT body, {RUN_EVENT}, epoch FROM dunning_rules_runs WHERE id = ?"
_WRITE_BODY = "UPDATE dunning_rules_runs SET body = ?, step_started = NULL WHERE id = ?"


def _epoch(value: _dt.datetime | None) -> float | None:
    return aware(value).timestamp() if value is not None else None


def sqlite_path(url_or_path: str | os.PathLike[str]) -> str:
    """The file name in ``sqlite:///relative.db``, ``sqlite:////abs/path.db``,
    ``sqlite:///:memory:`` (or ``sqlite://``), or a plain path."""
    if not isinstance(url_or_path, str):
        return os.fspath(url_or_path)
    if url_or_path in ("sqlite://", "sqlite:///:memory:"):
        return ":memory:"
    if url_or_path.startswith("sqlite:///"):
        path = url_or_path[len("sqlite:///") :]
        if path:
            return path
    elif not url_or_path.startswith("sqlite:"):
        return url_or_path
    raise StoreError(
        f"bad SQLite URL {url_or_path!r}: use 'sqlite:///relative.db', "
        "'sqlite:////absolute/path.db' or 'sqlite:///:memory:'"
    )


class SQLiteStore:
    """A :class:`~dunning_rules.store.RunStore` in a SQLite file (stdlib :mod:`sqlite3`).

    ``url_or_path`` is ``sqlite:///relative.db``, ``sqlite:////abs/path.db``,
    ``sqlite:///:memory:`` or a plain path. The file is opened on first use, in WAL mode; the
    tables are created (or upgraded) then. ``busy_timeout`` is how long a write waits for
    another process's write; ``synchronous`` is SQLite's durability setting (``NORMAL``, the
    WAL default, survives crashes of the process; ``FULL`` also survives power loss).
    One connection per store, shared by threads behind a lock; open one store per process
    (after forking, not before using it).
    """

    migrations: ClassVar[tuple[Migration, ...]] = SQLITE_MIGRATIONS
    """Schema steps: ``migrations[i]`` upgrades version ``i`` to ``i + 1``."""

    def __init__(
        self,
        url_or_path: str | os.PathLike[str] = ":memory:",
        *,
        busy_timeout: float = 30.0,
        synchronous: str = "NORMAL",
    ) -> None:
        self.path = sqlite_path(url_or_path)
        if synchronous.upper() not in _SYNCHRONOUS:
            raise StoreError(f"synchronous must be one of {', '.join(_SYNCHRONOUS)}")
        self._busy_timeout = busy_timeout
        self._synchronous = synchronous.upper()
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._versions: set[str] = set()  # rule versions known to be stored

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    # -- connection ---------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            try:
                conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
                self._use_wal(conn)
                conn.execute(f"PRAGMA synchronous = {self._synchronous}")
                self._migrate(conn)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _use_wal(self, conn: sqlite3.Connection) -> None:
        """Switch the file to WAL. Connections opening a new file at once race for this,
        and SQLite answers the losers "locked" without waiting, so they try again."""
        deadline = time.monotonic() + self._busy_timeout
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(0.005)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(CREATE_META)
            row = conn.execute(SELECT_VERSION).fetchone()
            current = parse_version(row[0] if row else None, where=repr(self.path))
            steps = pending_migrations(current, self.migrations, where=repr(self.path))
            for version, statements in steps:
                logger.info("SQLite store %s: schema version %d", self.path, version)
                for statement in statements:
                    conn.execute(statement)
                conn.execute(UPSERT_VERSION.format(p="?"), (str(version),))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _error(self, exc: sqlite3.Error) -> StoreError:
        return StoreError(f"SQLite store {self.path!r}: {exc}")

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._connection()
            except sqlite3.Error as exc:
                raise self._error(exc) from exc

    def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work`` in one ``BEGIN IMMEDIATE`` transaction: committed when it returns, rolled
        back when it raises."""
        with self._lock:
            try:
                conn = self._connection()
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = work(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise self._error(exc) from exc
        return result

    def _change(self, sql: str, args: Sequence[Any]) -> int:
        """One statement that writes, as a transaction of its own (the connection is in
        autocommit mode: SQLite takes the write lock when the statement starts, waiting for
        it as ``BEGIN IMMEDIATE`` does, and commits when it ends); the rows it changed."""
        with self._lock:
            try:
                return self._connection().execute(sql, args).rowcount
            except sqlite3.Error as exc:
                raise self._error(exc) from exc

    # -- the protocol -------------------------------------------------------------------------

    def has_event(self, event_id: str) -> bool:
        with self._lock:
            try:
                row = self._connection().execute(_HAS_EVENT, (event_id,)).fetchone()
            except sqlite3.Error as exc:
                raise self._error(exc) from exc
        return row is not None

    def ingest(self, batch: Ingest) -> IngestResult:
        received = _epoch(batch.received_at)
        definitions = batch.rule_versions or {}
        event_body, run_events = event_texts(batch)
        created = int64(batch.created)
        leased = batch.lease_until is not None
        owner = batch.owner if leased else None
        lease_until = _epoch(batch.lease_until)
        epoch = 1 if leased else 0
        rows = [
            (
                run.id,
                run.rule,
                run.key,
                run.status,
                _epoch(run.next_at),
                owner,
                lease_until,
                dump_run(run),
                run_event,
                epoch,
                run.cursor,
                run.event_id or batch.event_id,
                created,
            )
            for run, run_event in zip(batch.runs, run_events, strict=True)
        ]

        def work(db: sqlite3.Connection) -> IngestResult:
            new = db.execute(
                _INSERT_EVENT, (batch.event_id, batch.event_type, created, received, event_body)
            )
            if new.rowcount == 0:
                return IngestResult(duplicate=True)
            cancelled = []
            for rule, key in batch.cancels:
                for seq, body, event, held in db.execute(_SELECT_LIVE, (rule, key)).fetchall():
                    done = cancel_run(load_run(body, event, held), batch)
                    db.execute(_CANCEL, (dump_run(done), seq))
                    cancelled.append(done)
            versions = [(v, d) for v, d in definitions.items() if v not in self._versions]
            if versions:
                db.executemany(_INSERT_VERSION, [(v, dump_json(d)) for v, d in versions])
            inserted = db.executemany(_INSERT_RUN, rows).rowcount if rows else 0
            ids = None
            if inserted != len(rows):  # the rows this statement inserted are the newest ones
                ids = {row[0] for row in db.execute(_NEWEST_IDS, (inserted,))}

            def marker(rule: str, key: str) -> int | None:
                row = db.execute(_SELECT_MARKER, (rule, key)).fetchone()
                return int(row[0]) if row is not None else None

            started, skipped, old = sort_runs(batch, epoch, ids, marker)
            markers = marker_rows(batch)
            if markers:
                db.executemany(_UPSERT_MARKER, markers)
            return ingested(cancelled, started, skipped, old)

        result = self._transaction(work)
        if not result.duplicate:
            self._versions.update(definitions)
        return result

    def cancel_marker(self, rule: str, key: str) -> int | None:
        with self._read() as db:
            row = db.execute(_SELECT_MARKER, (rule, key)).fetchone()
        return int(row[0]) if row is not None else None

    def claim_due(
        self,
        now: _dt.datetime,
        *,
        owner: str,
        lease_until: _dt.datetime,
        limit: int,
        lease_now: _dt.datetime | None = None,
    ) -> list[Run]:
        at = _epoch(now)
        free_at = _epoch(lease_now or now)
        until = _epoch(lease_until)

        def work(db: sqlite3.Connection) -> list[Any]:
            rows = db.execute(_SELECT_DUE, (at, free_at, max(limit, 0))).fetchall()
            if rows:
                db.executemany(_LEASE_SEQ, [(owner, until, row[0]) for row in rows])
            return rows

        rows = self._transaction(work)
        return [load_run(body, event, epoch + 1) for _, body, event, epoch in rows]

    def claim(
        self,
        run_id: str,
        *,
        owner: str,
        now: _dt.datetime,
        lease_until: _dt.datetime,
        statuses: Sequence[str],
    ) -> Run | None:
        if not statuses:
            return None
        sql = _CLAIM.format(statuses=", ".join("?" * len(statuses)))
        args = (owner, _epoch(lease_until), run_id, *statuses, _epoch(now))
        row = self._transaction(lambda db: db.execute(sql, args).fetchone())
        return load_run(*row) if row is not None else None

    def start_step(
        self, run: Run, *, owner: str, now: _dt.datetime, lease_until: _dt.datetime
    ) -> bool:
        args = (_epoch(lease_until), _epoch(now), run.id, owner, run.epoch, run.cursor)
        return bool(self._change(_START, args))

    def renew(self, run: Run, *, owner: str, lease_until: _dt.datetime) -> bool:
        return bool(self._change(_RENEW, (_epoch(lease_until), run.id, owner, run.epoch)))

    def save(self, run: Run, *, owner: str, lease_until: _dt.datetime | None) -> None:
        args = (
            run.status,
            _epoch(run.next_at),
            owner if lease_until is not None else None,
            _epoch(lease_until),
            dump_run(run),
            run.cursor,
            run.id,
            owner,
            run.epoch,
        )
        if self._change(_SAVE, args):
            return

        # Not held: a cancel that kept this worker's epoch takes its records.
        def work(db: sqlite3.Connection) -> Run | None:
            row = db.execute(_SELECT_HELD, (run.id,)).fetchone()
            merged = merged_onto_cancel(run, row)
            if merged is not None:
                db.execute(_WRITE_BODY, (dump_run(merged), run.id))
            return merged

        merged = self._transaction(work)
        raise lost_save(run, owner, merged)

    def get(self, run_id: str) -> Run | None:
        with self._read() as db:
            row = db.execute(_SELECT_RUN, (run_id,)).fetchone()
        return load_run(*row) if row is not None else None

    def next_due(self) -> _dt.datetime | None:
        with self._read() as db:
            (at,) = db.execute(
                f"SELECT min(next_at) FROM dunning_rules_runs WHERE {LIVE}"
            ).fetchone()
        return _dt.datetime.fromtimestamp(at, _dt.timezone.utc) if at is not None else None

    def wait_for_work(self, timeout: float) -> None:
        """Sleep, looking every quarter second whether another connection wrote to the file
        (SQLite's ``data_version``), and return early when one did."""
        deadline = time.monotonic() + timeout
        with self._read() as db:
            (version,) = db.execute("PRAGMA data_version").fetchone()
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.25))
            with self._read() as db:
                if db.execute("PRAGMA data_version").fetchone()[0] != version:
                    return

    def list_runs(
        self,
        *,
        key: str | None = None,
        status: str | None = None,
        rule: str | None = None,
        limit: int | None = None,
    ) -> list[Run]:
        sql, args = list_runs_sql(key=key, status=status, rule=rule, placeholder="?")
        count = -1 if limit is None else max(limit, 0)
        with self._read() as db:
            rows = db.execute(sql, (*args, count)).fetchall()
        return [load_run(*row) for row in rows]

    def rule_definition(self, version: str) -> Mapping[str, Any] | None:
        with self._read() as db:
            row = db.execute(
                "SELECT definition FROM dunning_rules_rule_versions WHERE version = ?",
                (version,),
            ).fetchone()
        if row is None:
            return None
        definition: dict[str, Any] = json.loads(row[0])
        return definition

    def close(self) -> None:
        """Close the connection; a later call opens it again."""
        with self._lock:
            self._versions.clear()
            if self._conn is not None:
                conn, self._conn = self._conn, None
                conn.close()
