"""Tables of the SQL stores, their schema version and the migrations between versions.

Both SQL stores keep the same tables (named ``dunning_rules_*``), with column types of their
own. ``dunning_rules_meta`` records the schema version. A migration list holds, at index ``i``,
the statements that upgrade a database from version ``i`` to ``i + 1``; version 0 is an empty
database, so the first step creates the tables. A store opens a database once: it creates or
upgrades the tables, or refuses a database that a newer version of the library wrote.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import StoreError

__all__ = [
    "CREATE_META",
    "LIVE",
    "META_TABLE",
    "POSTGRES_MIGRATIONS",
    "RUN_EVENT",
    "SELECT_VERSION",
    "SQLITE_MIGRATIONS",
    "UPSERT_VERSION",
    "Migration",
    "aware",
    "dump_json",
    "list_runs_sql",
    "parse_version",
    "pending_migrations",
]

Migration = tuple[str, ...]
"""The SQL statements of one schema step, run in one transaction."""

META_TABLE = "dunning_rules_meta"

LIVE = "status IN ('waiting', 'awaiting_approval')"
"""The SQL condition of a live run; also the predicate of the partial unique index."""

SQLITE_MIGRATIONS: tuple[Migration, ...] = (
    (
        """CREATE TABLE IF NOT EXISTS dunning_rules_events (
            id TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            created INTEGER,
            received_at REAL NOT NULL
        ) WITHOUT ROWID""",
        """CREATE TABLE IF NOT EXISTS dunning_rules_runs (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            rule TEXT NOT NULL,
            key TEXT,
            status TEXT NOT NULL,
            next_at REAL,
            owner TEXT,
            lease_until REAL,
            body TEXT NOT NULL,
            event TEXT NOT NULL
        )""",
        f"""CREATE UNIQUE INDEX IF NOT EXISTS dunning_rules_runs_live
            ON dunning_rules_runs (rule, key) WHERE {LIVE} AND key IS NOT NULL""",
        f"""CREATE INDEX IF NOT EXISTS dunning_rules_runs_due
            ON dunning_rules_runs (next_at, id) WHERE {LIVE}""",
        "CREATE INDEX IF NOT EXISTS dunning_rules_runs_key ON dunning_rules_runs (key)",
        """CREATE TABLE IF NOT EXISTS dunning_rules_markers (
            rule TEXT NOT NULL,
            key TEXT NOT NULL,
            created INTEGER NOT NULL,
            PRIMARY KEY (rule, key)
        ) WITHOUT ROWID""",
        """CREATE TABLE IF NOT EXISTS dunning_rules_rule_versions (
            version TEXT PRIMARY KEY,
            definition TEXT NOT NULL
        ) WITHOUT ROWID""",
    ),
    # 2: fencing. `epoch` is the lease's token (every claim adds one), `cursor` the step the
    # run is at, `step_started` when the step at the cursor started (NULL: none in flight).
    (
        "ALTER TABLE dunning_rules_runs ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE dunning_rules_runs ADD COLUMN cursor INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE dunning_rules_runs ADD COLUMN step_started REAL",
        "UPDATE dunning_rules_runs SET cursor = coalesce(json_extract(body, '$.cursor'), 0)",
    ),
    # 3: the event once. A run started by an event keeps its event in the event's row
    # (`dunning_rules_events.body`) and only its id (`event_id`); `event` is then ''.
    (
        "ALTER TABLE dunning_rules_events ADD COLUMN body TEXT",
        "ALTER TABLE dunning_rules_runs ADD COLUMN event_id TEXT",
        "UPDATE dunning_rules_runs SET event_id = json_extract(body, '$.event_id')",
    ),
    # 4: events in a rowid table. A WITHOUT ROWID table keeps each whole row in its key's
    # b-tree, and a search there reads the whole row of every key it compares, overflow pages
    # and all: with events of 200 KB, every duplicate check read megabytes. Here the id's
    # index holds the ids alone.
    (
        """CREATE TABLE dunning_rules_events_4 (
            id TEXT NOT NULL PRIMARY KEY,
            type TEXT NOT NULL,
            created INTEGER,
            received_at REAL NOT NULL,
            body TEXT
        )""",
        """INSERT INTO dunning_rules_events_4 (id, type, created, received_at, body)
            SELECT id, type, created, received_at, body FROM dunning_rules_events""",
        "DROP TABLE dunning_rules_events",
        "ALTER TABLE dunning_rules_events_4 RENAME TO dunning_rules_events",
    ),
)

POSTGRES_MIGRATIONS: tuple[Migration, ...] = (
    (
        """CREATE TABLE IF NOT EXISTS dunning_rules_events (
            id text COLLATE "C" PRIMARY KEY,
            type text NOT NULL,
            created bigint,
            received_at timestamptz NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS dunning_rules_runs (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id text COLLATE "C" NOT NULL UNIQUE,
            rule text COLLATE "C" NOT NULL,
            key text COLLATE "C",
            status text NOT NULL,
            next_at timestamptz,
            owner text,
            lease_until timestamptz,
            body text NOT NULL,
            event text NOT NULL
        )""",
        f"""CREATE UNIQUE INDEX IF NOT EXISTS dunning_rules_runs_live
            ON dunning_rules_runs (rule, key) WHERE {LIVE} AND key IS NOT NULL""",
        f"""CREATE INDEX IF NOT EXISTS dunning_rules_runs_due
            ON dunning_rules_runs (next_at, id) WHERE {LIVE}""",
        "CREATE INDEX IF NOT EXISTS dunning_rules_runs_key ON dunning_rules_runs (key)",
        """CREATE TABLE IF NOT EXISTS dunning_rules_markers (
            rule text COLLATE "C" NOT NULL,
            key text COLLATE "C" NOT NULL,
            created bigint NOT NULL,
            PRIMARY KEY (rule, key)
        )""",
        """CREATE TABLE IF NOT EXISTS dunning_rules_rule_versions (
            version text COLLATE "C" PRIMARY KEY,
            definition text NOT NULL
        )""",
    ),
    # 2: fencing, as in SQLITE_MIGRATIONS.
    (
        "ALTER TABLE dunning_rules_runs ADD COLUMN IF NOT EXISTS epoch bigint NOT NULL DEFAULT 0",
        "ALTER TABLE dunning_rules_runs ADD COLUMN IF NOT EXISTS cursor integer NOT NULL DEFAULT 0",
        "ALTER TABLE dunning_rules_runs ADD COLUMN IF NOT EXISTS step_started timestamptz",
        "UPDATE dunning_rules_runs SET cursor = coalesce((body::json ->> 'cursor')::integer, 0)",
    ),
    # 3: the event once, as in SQLITE_MIGRATIONS.
    (
        "ALTER TABLE dunning_rules_events ADD COLUMN IF NOT EXISTS body text",
        'ALTER TABLE dunning_rules_runs ADD COLUMN IF NOT EXISTS event_id text COLLATE "C"',
        "UPDATE dunning_rules_runs SET event_id = body::json ->> 'event_id'",
    ),
)

RUN_EVENT = """CASE WHEN dunning_rules_runs.event <> '' THEN dunning_rules_runs.event
    ELSE (SELECT e.body FROM dunning_rules_events e WHERE e.id = dunning_rules_runs.event_id)
    END"""
"""The SQL of a run row's event text: its own, or its event's."""

CREATE_META = f"""CREATE TABLE IF NOT EXISTS {META_TABLE} (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
)"""
SELECT_VERSION = f"SELECT value FROM {META_TABLE} WHERE name = 'schema_version'"


def pending_migrations(
    current: int, migrations: Sequence[Migration], *, where: str
) -> list[tuple[int, Migration]]:
    """The ``(new version, statements)`` steps that bring a database at ``current`` up to date.

    Raises :class:`StoreError` when the database is newer than ``migrations`` know."""
    known = len(migrations)
    if current > known:
        raise StoreError(
            f"{where} has schema version {current}, but this version of dunning-rules "
            f"knows versions up to {known}: upgrade dunning-rules"
        )
    return [(version + 1, migrations[version]) for version in range(current, known)]


def parse_version(value: object, *, where: str) -> int:
    """The schema version stored in the meta table (None: an empty database)."""
    if value is None:
        return 0
    try:
        return int(str(value))
    except ValueError:
        raise StoreError(f"{where} has an unreadable schema version {value!r}") from None


def aware(value: _dt.datetime) -> _dt.datetime:
    """``value`` with a time zone: a naive datetime is taken to be UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=_dt.timezone.utc)


UPSERT_VERSION = f"""INSERT INTO {META_TABLE} (name, value) VALUES ('schema_version', {{p}})
    ON CONFLICT (name) DO UPDATE SET value = excluded.value"""
"""Records a schema version; ``{p}`` is the driver's placeholder."""


def dump_json(value: Mapping[str, Any]) -> str:
    """A rule definition as JSON text (nested mappings and tuples included)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_plain)


def _plain(value: object) -> object:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    return str(value)


def list_runs_sql(
    *, key: str | None, status: str | None, rule: str | None, placeholder: str
) -> tuple[str, list[str]]:
    """The query of ``list_runs`` for the filters given (newest first), and its arguments;
    the caller appends the ``LIMIT`` argument."""
    where, args = [], []
    for column, value in (("key", key), ("status", status), ("rule", rule)):
        if value is not None:
            where.append(f"{column} = {placeholder}")
            args.append(value)
    condition = f" WHERE {' AND '.join(where)}" if where else ""
    sql = (
        f"SELECT body, {RUN_EVENT}, epoch FROM dunning_rules_runs{condition}"
        f" ORDER BY seq DESC LIMIT {placeholder}"
    )
    return sql, args
