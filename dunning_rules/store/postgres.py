"""A run store in PostgreSQL (psycopg 3): for many workers on many machines.

Each method is one transaction on one connection per store (shared by threads behind a
lock); a change of one statement (a claim, a step's start check, a lease renewal, a save) is
sent alone and commits on its own, in one round trip. ``claim_due`` takes runs with
``SELECT ... FOR UPDATE SKIP LOCKED``, so workers that poll at the same moment never get the
same run; a partial unique index keeps one live run per ``(rule, key)`` even when two events
arrive at once. The tables are created or upgraded on
first use under an advisory lock, so many processes may start together.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from .._redact import redact_url as redact
from ..errors import MissingExtraError, StoreError
from ..outcome import Run
from ._codec import dump_run, load_run
from ._ingest import lost_save, merged_onto_cancel, sort_runs
from ._schema import (
    CREATE_META,
    LIVE,
    META_TABLE,
    POSTGRES_MIGRATIONS,
    RUN_EVENT,
    SELECT_VERSION,
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

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresStore"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

SCHEMA_LOCK = 0x64756E6E696E67  # "dunning"
"""The ``pg_advisory_xact_lock`` key held while the tables are created or upgraded."""

CHANNEL = "dunning_rules_work"
"""The LISTEN/NOTIFY channel on which deferred runs wake the workers."""

_HAS_EVENT = "SELECT 1 FROM dunning_rules_events WHERE id = %s"
# An ingest is one transaction of few statements:
# 1. the event, and the locks of every (rule, key) the batch touches, taken in the order of
#    their numbers (two batches that share keys never wait for each other crosswise): events
#    that touch the same key take turns, so a payment and a failure handled at once by two
#    workers cannot both miss each other's marker and run. The statements after it see what
#    the locks waited for;
# 2. when it cancels: the live runs of those keys, locked, then their new bodies;
# 3. its runs, each started unless a marker of its key is at or after the event's created,
#    or its rule has a live run for the key (one statement per run, sent together);
# 4. its markers.
# The locks depend on the insert's count: they are taken after it (a duplicate waits for
# the first copy's transaction on the event's row, holding no lock), and only for a new event.
_INSERT_EVENT = """WITH new AS (
        INSERT INTO dunning_rules_events (id, type, created, received_at, body)
        VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING RETURNING 1
    ), inserted AS (SELECT count(*) AS n FROM new)
    SELECT n, (
        SELECT count(pg_advisory_xact_lock(h)) FROM (
            SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest(%s::text[]) AS k
            WHERE n > 0 ORDER BY h) AS keys)
    FROM inserted"""
_SELECT_LIVE = f"""SELECT rule, key, seq, body, {RUN_EVENT}, epoch FROM dunning_rules_runs
    WHERE (rule, key) IN (SELECT * FROM unnest(%s::text[], %s::text[])) AND {LIVE}
    ORDER BY seq FOR UPDATE"""
# A cancel keeps the epoch: the worker that held the run can still write its last records.
_CANCEL = """UPDATE dunning_rules_runs AS r
    SET status = 'cancelled', next_at = NULL, owner = NULL, lease_until = NULL, body = c.body
    FROM unnest(%s::bigint[], %s::text[]) AS c(seq, body)
    WHERE r.seq = c.seq"""
_INSERT_VERSION = """INSERT INTO dunning_rules_rule_versions (version, definition)
    VALUES (%s, %s) ON CONFLICT (version) DO NOTHING"""
_INSERT_RUN = f"""INSERT INTO dunning_rules_runs
    (id, rule, key, status, next_at, owner, lease_until, body, event, epoch, cursor, event_id)
    SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s
    WHERE NOT EXISTS (
        SELECT 1 FROM dunning_rules_runs WHERE rule = %s AND key = %s AND {LIVE})
    AND (%s::bigint IS NULL OR NOT EXISTS (
        SELECT 1 FROM dunning_rules_markers WHERE rule = %s AND key = %s AND created >= %s))
    ON CONFLICT (rule, key) WHERE {LIVE} AND key IS NOT NULL DO NOTHING
    RETURNING id"""
# Deferred runs wake the workers: the notice goes out on commit, once per transaction.
_INSERT_RUN_NOTIFY = f"{_INSERT_RUN}, pg_notify('{CHANNEL}', '')"
_UPSERT_MARKER = """INSERT INTO dunning_rules_markers AS m (rule, key, created)
    VALUES (%s, %s, %s)
    ON CONFLICT (rule, key) DO UPDATE SET created = GREATEST(m.created, excluded.created)"""
_SELECT_MARKER = "SELECT created FROM dunning_rules_markers WHERE rule = %s AND key = %s"
_CLAIM_DUE = f"""UPDATE dunning_rules_runs AS r
    SET owner = %s, lease_until = %s, epoch = r.epoch + 1
    FROM (
        SELECT seq FROM dunning_rules_runs
        WHERE {LIVE} AND next_at <= %s AND (lease_until IS NULL OR lease_until <= %s)
        ORDER BY next_at, id LIMIT %s
        FOR UPDATE SKIP LOCKED
    ) AS due
    WHERE r.seq = due.seq
    RETURNING r.body, {RUN_EVENT.replace("dunning_rules_runs.", "r.")}, r.epoch"""
_CLAIM = f"""UPDATE dunning_rules_runs SET owner = %s, lease_until = %s, epoch = epoch + 1
    WHERE id = %s AND status = ANY(%s::text[])
        AND (lease_until IS NULL OR lease_until <= %s)
    RETURNING body, {RUN_EVENT}, epoch"""
_HELD = f"id = %s AND owner = %s AND epoch = %s AND {LIVE}"
_START = f"""UPDATE dunning_rules_runs SET lease_until = %s, step_started = %s
    WHERE {_HELD} AND cursor = %s"""
_RENEW = f"UPDATE dunning_rules_runs SET lease_until = %s WHERE {_HELD}"
_SAVE = f"""UPDATE dunning_rules_runs
    SET status = %s, next_at = %s, owner = %s, lease_until = %s, body = %s, cursor = %s,
        step_started = NULL
    WHERE {_HELD}"""
_SELECT_HELD = f"""SELECT status, owner, epoch, body, {RUN_EVENT} FROM dunning_rules_runs
    WHERE id = %s FOR UPDATE"""
_SELECT_RUN = f"SELECT body, {RUN_EVENT}, epoch FROM dunning_rules_runs WHERE id = %s"
_WRITE_BODY = "UPDATE dunning_rules_runs SET body = %s, step_started = NULL WHERE id = %s"
_NEXT_DUE = f"SELECT min(next_at) FROM dunning_rules_runs WHERE {LIVE}"


def _import_psycopg() -> ModuleType:
    try:
        import psycopg
    except ImportError as exc:
        raise MissingExtraError("psycopg", "postgres", "the PostgreSQL store") from exc
    return psycopg


def _utc(value: _dt.datetime | None) -> _dt.datetime | None:
    return aware(value) if value is not None else None


class PostgresStore:
    """A :class:`~dunning_rules.store.RunStore` in PostgreSQL, through psycopg 3.

    ``url`` is a libpq connection URL (``postgresql://user@host:5432/db``; add
    ``?options=-csearch_path%3Dmyschema`` to use a schema of your own). Install the
    ``postgres`` extra. The connection is opened on first use; when the server closed it, the
    store reconnects once and tries again. ``connect_kwargs`` go to :func:`psycopg.connect`
    (e.g. ``{"prepare_threshold": None}`` behind PgBouncer in transaction mode).
    """

    migrations: ClassVar[tuple[Migration, ...]] = POSTGRES_MIGRATIONS
    """Schema steps: ``migrations[i]`` upgrades version ``i`` to ``i + 1``."""

    def __init__(
        self,
        url: str,
        *,
        connect_timeout: float = 10.0,
        connect_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        self._psycopg = _import_psycopg()
        self.url = url
        self._connect_timeout = connect_timeout
        self._connect_kwargs = dict(connect_kwargs or {})
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        self._ready = False
        self._versions: set[str] = set()  # rule versions known to be stored
        self._listener: psycopg.Connection[Any] | None = None

    def __repr__(self) -> str:
        return f"PostgresStore({redact(self.url)!r})"

    # -- connection ---------------------------------------------------------------------------

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            conn: psycopg.Connection[Any] = self._psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=max(1, round(self._connect_timeout)),
                **self._connect_kwargs,
            )
            if not self._ready:
                try:
                    self._migrate(conn)
                except BaseException:
                    conn.close()
                    raise
                self._ready = True
            self._conn = conn
        return self._conn

    def _migrate(self, conn: psycopg.Connection[Any]) -> None:
        where = repr(redact(self.url))
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (META_TABLE,)).fetchone()
            current = 0
            if row is not None and row[0]:
                found = conn.execute(SELECT_VERSION).fetchone()
                current = parse_version(found[0] if found else None, where=where)
            steps = pending_migrations(current, self.migrations, where=where)
            if steps and current == 0:
                conn.execute(CREATE_META)
            for version, statements in steps:
                logger.info("PostgreSQL store: schema version %d", version)
                for statement in statements:
                    conn.execute(statement)
                conn.execute(UPSERT_VERSION.format(p="%s"), (str(version),))

    def _run(self, work: Callable[[psycopg.Cursor[Any]], T], *, transaction: bool = True) -> T:
        """``work`` with a cursor, in one transaction (``transaction=False``: for one
        statement, which commits on its own, in one round trip, or for reads); once more on a
        new connection if the server had closed the old one."""
        psycopg = self._psycopg
        with self._lock:
            try:
                return self._once(work, transaction)
            except psycopg.OperationalError as exc:
                if self._conn is None or not self._conn.broken:
                    raise self._error(exc) from exc
                logger.warning("PostgreSQL store: connection lost (%s), reconnecting", exc)
                self._drop()
            except psycopg.Error as exc:
                raise self._error(exc) from exc
            try:
                return self._once(work, transaction)
            except psycopg.Error as exc:
                raise self._error(exc) from exc

    def _once(self, work: Callable[[psycopg.Cursor[Any]], T], transaction: bool) -> T:
        conn = self._connection()
        if not transaction:
            with conn.cursor() as cur:
                return work(cur)
        with conn.transaction(), conn.cursor() as cur:
            return work(cur)

    def _error(self, exc: Exception) -> StoreError:
        return StoreError(f"PostgreSQL store {redact(self.url)}: {exc}")

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(self._psycopg.Error):
                conn.close()

    # -- the protocol -------------------------------------------------------------------------

    def has_event(self, event_id: str) -> bool:
        def work(cur: psycopg.Cursor[Any]) -> bool:
            cur.execute(_HAS_EVENT, (event_id,))
            return cur.fetchone() is not None

        return self._run(work, transaction=False)

    def ingest(self, batch: Ingest) -> IngestResult:
        leased = batch.lease_until is not None
        owner = batch.owner if leased else None
        epoch = 1 if leased else 0
        lease_until = _utc(batch.lease_until)
        created = int64(batch.created)
        definitions = batch.rule_versions or {}
        event_body, run_events = event_texts(batch)
        touched = sorted(
            {*batch.cancels, *batch.markers, *((r.rule, r.key) for r in batch.runs if r.key)}
        )
        event_args = (
            *(batch.event_id, batch.event_type, created, aware(batch.received_at), event_body),
            [f"{rule}\x1f{key}" for rule, key in touched],
        )
        rows = [
            (
                *(run.id, run.rule, run.key, run.status, _utc(run.next_at), owner, lease_until),
                *(dump_run(run), run_event, epoch, run.cursor, run.event_id or batch.event_id),
                *(run.rule, run.key, created, run.rule, run.key, created),
            )
            for run, run_event in zip(batch.runs, run_events, strict=True)
        ]
        insert_run = _INSERT_RUN if leased else _INSERT_RUN_NOTIFY
        markers = marker_rows(batch)

        def work(cur: psycopg.Cursor[Any]) -> IngestResult | None:
            cur.execute(_INSERT_EVENT, event_args)
            new = cur.fetchone()
            if new is None or not new[0]:
                return None  # a duplicate: nothing changed
            cancelled = self._cancel(cur, batch) if batch.cancels else []
            versions = [(v, d) for v, d in definitions.items() if v not in self._versions]
            if versions:
                cur.executemany(_INSERT_VERSION, [(v, dump_json(d)) for v, d in versions])
            inserted: set[str] = set()
            if len(rows) == 1:
                cur.execute(insert_run, rows[0])
                inserted.update(row[0] for row in cur.fetchall())
            elif rows:
                cur.executemany(insert_run, rows, returning=True)
                for _ in rows:
                    inserted.update(row[0] for row in cur.fetchall())
                    cur.nextset()

            def marker(rule: str, key: str) -> int | None:
                cur.execute(_SELECT_MARKER, (rule, key))
                row = cur.fetchone()
                return int(row[0]) if row is not None else None

            everyone = len(inserted) == len(rows)
            started, skipped, old = sort_runs(batch, epoch, None if everyone else inserted, marker)
            if len(markers) == 1:
                cur.execute(_UPSERT_MARKER, markers[0])
            elif markers:
                cur.executemany(_UPSERT_MARKER, markers)
            return ingested(cancelled, started, skipped, old)

        result = self._run(work)
        if result is None:
            return IngestResult(duplicate=True)
        self._versions.update(definitions)
        return result

    @staticmethod
    def _cancel(cur: psycopg.Cursor[Any], batch: Ingest) -> list[Run]:
        """Cancel the live runs of the batch's cancels (in their order, oldest run first)."""
        cur.execute(_SELECT_LIVE, ([r for r, _ in batch.cancels], [k for _, k in batch.cancels]))
        order: dict[tuple[str, str], int] = {}
        for pair in batch.cancels:
            order.setdefault(pair, len(order))
        live = sorted(cur.fetchall(), key=lambda row: (order[row[0], row[1]], row[2]))
        cancelled = [cancel_run(load_run(body, text, held), batch) for *_, body, text, held in live]
        if cancelled:
            cur.execute(_CANCEL, ([row[2] for row in live], [dump_run(r) for r in cancelled]))
        return cancelled

    def cancel_marker(self, rule: str, key: str) -> int | None:
        def work(cur: psycopg.Cursor[Any]) -> int | None:
            cur.execute(
                _SELECT_MARKER,
                (rule, key),
            )
            row = cur.fetchone()
            return int(row[0]) if row is not None else None

        return self._run(work, transaction=False)

    def claim_due(
        self,
        now: _dt.datetime,
        *,
        owner: str,
        lease_until: _dt.datetime,
        limit: int,
        lease_now: _dt.datetime | None = None,
    ) -> list[Run]:
        args = (owner, aware(lease_until), aware(now), aware(lease_now or now), max(limit, 0))

        def work(cur: psycopg.Cursor[Any]) -> list[Run]:
            cur.execute(_CLAIM_DUE, args)
            return [load_run(*row) for row in cur.fetchall()]

        runs = self._run(work, transaction=False)  # one statement
        runs.sort(key=lambda r: (r.next_at, r.id))
        return runs

    def claim(
        self,
        run_id: str,
        *,
        owner: str,
        now: _dt.datetime,
        lease_until: _dt.datetime,
        statuses: Sequence[str],
    ) -> Run | None:
        args = (owner, aware(lease_until), run_id, list(statuses), aware(now))

        def work(cur: psycopg.Cursor[Any]) -> Run | None:
            cur.execute(_CLAIM, args)
            row = cur.fetchone()
            return load_run(*row) if row is not None else None

        return self._run(work, transaction=False)  # one statement

    def _update(self, sql: str, args: Sequence[Any]) -> bool:
        """One statement that writes, committed on its own (autocommit): one round trip."""

        def work(cur: psycopg.Cursor[Any]) -> int:
            cur.execute(sql, args)
            return cur.rowcount

        return bool(self._run(work, transaction=False))

    def start_step(
        self, run: Run, *, owner: str, now: _dt.datetime, lease_until: _dt.datetime
    ) -> bool:
        args = (aware(lease_until), aware(now), run.id, owner, run.epoch, run.cursor)
        return self._update(_START, args)

    def renew(self, run: Run, *, owner: str, lease_until: _dt.datetime) -> bool:
        return self._update(_RENEW, (aware(lease_until), run.id, owner, run.epoch))

    def save(self, run: Run, *, owner: str, lease_until: _dt.datetime | None) -> None:
        args = (
            run.status,
            _utc(run.next_at),
            owner if lease_until is not None else None,
            _utc(lease_until),
            dump_run(run),
            run.cursor,
            run.id,
            owner,
            run.epoch,
        )
        if self._update(_SAVE, args):
            return

        # Not held: a cancel that kept this worker's epoch takes its records.
        def work(cur: psycopg.Cursor[Any]) -> Run | None:
            cur.execute(_SELECT_HELD, (run.id,))
            row = cur.fetchone()
            merged = merged_onto_cancel(run, row)
            if merged is not None:
                cur.execute(_WRITE_BODY, (dump_run(merged), run.id))
            return merged

        merged = self._run(work)
        raise lost_save(run, owner, merged)

    def get(self, run_id: str) -> Run | None:
        def work(cur: psycopg.Cursor[Any]) -> Run | None:
            cur.execute(_SELECT_RUN, (run_id,))
            row = cur.fetchone()
            return load_run(*row) if row is not None else None

        return self._run(work, transaction=False)

    def next_due(self) -> _dt.datetime | None:
        def work(cur: psycopg.Cursor[Any]) -> _dt.datetime | None:
            cur.execute(_NEXT_DUE)
            row = cur.fetchone()
            return row[0] if row is not None else None

        return self._run(work, transaction=False)

    def wait_for_work(self, timeout: float) -> None:
        """LISTEN on :data:`CHANNEL` (a connection of its own) for at most ``timeout`` s."""
        psycopg = self._psycopg
        try:
            if self._listener is None or self._listener.closed:
                self._connection()  # the tables exist before anyone listens
                self._listener = psycopg.connect(
                    self.url, autocommit=True, connect_timeout=max(1, round(self._connect_timeout))
                )
                self._listener.execute(f"LISTEN {CHANNEL}")
            for _ in self._listener.notifies(timeout=timeout, stop_after=1):
                pass
        except psycopg.Error as exc:
            if self._listener is not None:
                with contextlib.suppress(psycopg.Error):
                    self._listener.close()
                self._listener = None
            raise self._error(exc) from exc

    def list_runs(
        self,
        *,
        key: str | None = None,
        status: str | None = None,
        rule: str | None = None,
        limit: int | None = None,
    ) -> list[Run]:
        sql, args = list_runs_sql(key=key, status=status, rule=rule, placeholder="%s")
        count = None if limit is None else max(limit, 0)

        def work(cur: psycopg.Cursor[Any]) -> list[Run]:
            cur.execute(sql, (*args, count))
            return [load_run(*row) for row in cur.fetchall()]

        return self._run(work, transaction=False)

    def rule_definition(self, version: str) -> Mapping[str, Any] | None:
        def work(cur: psycopg.Cursor[Any]) -> Mapping[str, Any] | None:
            cur.execute(
                "SELECT definition FROM dunning_rules_rule_versions WHERE version = %s",
                (version,),
            )
            row = cur.fetchone()
            if row is None:
                return None
            definition: dict[str, Any] = json.loads(row[0])
            return definition

        return self._run(work, transaction=False)

    def close(self) -> None:
        """Close the connection; a later call opens a new one."""
        with self._lock:
            self._versions.clear()
            self._drop()
            listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(self._psycopg.Error):
                listener.close()
