"""The SQLite store: the contract on a file and in memory, plus URLs, schema versions, WAL,
locking between connections and processes."""

from __future__ import annotations

import datetime as _dt
import re
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from dunning_rules.errors import StoreError
from dunning_rules.store import open_store
from dunning_rules.store._codec import dump_run
from dunning_rules.store._contract import FAR, T0, StoreContract, at, batch, make_run
from dunning_rules.store.base import LeaseLostError
from dunning_rules.store.sqlite import SQLiteStore, sqlite_path

CURRENT = str(len(SQLiteStore.migrations))
NEXT = str(len(SQLiteStore.migrations) + 1)


class TestSQLiteStore(StoreContract):
    @pytest.fixture(autouse=True)
    def _database(self, tmp_path):
        self.path = tmp_path / "runs.db"

    def make_store(self):
        return SQLiteStore(f"sqlite:///{self.path}")

    def reopen(self):
        return SQLiteStore(self.path)


class TestSQLiteInMemory(StoreContract):
    def make_store(self):
        return SQLiteStore("sqlite:///:memory:")


def meta_version(path: Path) -> str:
    with sqlite3.connect(path) as db:
        return db.execute(
            "SELECT value FROM dunning_rules_meta WHERE name = 'schema_version'"
        ).fetchone()[0]


def set_meta_version(path: Path, version: str) -> None:
    db = sqlite3.connect(path)
    with db:
        db.execute(
            "UPDATE dunning_rules_meta SET value = ? WHERE name = 'schema_version'", (version,)
        )
    db.close()


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "runs.db"


@pytest.fixture
def file_store(db_path):
    store = SQLiteStore(db_path)
    yield store
    store.close()


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///relative.db", "relative.db"),
        ("sqlite:///sub/dir.db", "sub/dir.db"),
        ("sqlite:////abs/path.db", "/abs/path.db"),
        ("sqlite:///:memory:", ":memory:"),
        ("sqlite://", ":memory:"),
        ("plain/path.db", "plain/path.db"),
        (Path("/a/b.db"), "/a/b.db"),
    ],
    ids=["relative", "relative-dir", "absolute", "memory", "empty", "plain-path", "pathlike"],
)
def test_url_names_the_file(url, path):
    """``sqlite:///`` is followed by the file name: relative, or absolute with a fourth slash."""
    assert sqlite_path(url) == path


@pytest.mark.parametrize("url", ["sqlite:relative.db", "sqlite:///"], ids=["no-slashes", "empty"])
def test_bad_url_is_a_store_error(url):
    """A ``sqlite:`` URL without a file name raises StoreError naming the forms that work."""
    with pytest.raises(StoreError, match=re.escape("sqlite:////absolute/path.db")):
        SQLiteStore(url)


def test_open_store_picks_sqlite(tmp_path):
    """``open_store('sqlite:///...')`` returns a SQLiteStore on that file."""
    store = open_store(f"sqlite:///{tmp_path}/x.db")
    assert isinstance(store, SQLiteStore)
    assert store.path == f"{tmp_path}/x.db"


def test_relative_url_is_relative_to_the_working_directory(tmp_path, monkeypatch):
    """``sqlite:///runs.db`` creates runs.db in the current directory, on first use."""
    monkeypatch.chdir(tmp_path)
    store = SQLiteStore("sqlite:///runs.db")
    assert not (tmp_path / "runs.db").exists()
    store.ingest(batch("evt_1"))
    store.close()
    assert (tmp_path / "runs.db").exists()


def test_tables_are_prefixed_and_versioned(file_store, db_path):
    """First use creates the dunning_rules_* tables and records the latest schema version."""
    file_store.has_event("evt_1")
    with sqlite3.connect(db_path) as db:
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert names == {
        "dunning_rules_meta",
        "dunning_rules_events",
        "dunning_rules_runs",
        "dunning_rules_markers",
        "dunning_rules_rule_versions",
    }
    assert meta_version(db_path) == CURRENT


def test_journal_is_wal(file_store, db_path):
    """The file is switched to WAL mode, so readers never wait for writers."""
    file_store.has_event("evt_1")
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_newer_schema_is_refused(file_store, db_path):
    """A database written by a newer version raises StoreError on first use."""
    file_store.ingest(batch("evt_1"))
    file_store.close()
    set_meta_version(db_path, NEXT)
    with pytest.raises(
        StoreError, match=rf"has schema version {NEXT}, but this version .* up to {CURRENT}"
    ):
        SQLiteStore(db_path).has_event("evt_1")


class NextSQLiteStore(SQLiteStore):
    """The store as a future release with one more schema version would ship it."""

    migrations = (
        *SQLiteStore.migrations,
        ("ALTER TABLE dunning_rules_runs ADD COLUMN note TEXT",),
    )


def test_older_schema_is_upgraded(file_store, db_path):
    """A database opened by code that knows a newer version is migrated, data kept."""
    run = make_run("run_1")
    file_store.ingest(batch("evt_1", run))
    file_store.close()
    upgraded = NextSQLiteStore(db_path)
    assert upgraded.get("run_1") == run
    upgraded.close()
    assert meta_version(db_path) == NEXT
    with sqlite3.connect(db_path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(dunning_rules_runs)")]
    assert columns[-1] == "note"
    with pytest.raises(StoreError, match=f"schema version {NEXT}"):
        SQLiteStore(db_path).get("run_1")


class FirstSQLiteStore(SQLiteStore):
    """The store as the first release shipped it: schema version 1, no fencing columns."""

    migrations = SQLiteStore.migrations[:1]


def test_version_1_database_gains_fencing(db_path):
    """A version 1 database with a leased run mid-way is upgraded: its cursor and event id are
    read from the stored run, it keeps its own event, and claims and saves are fenced from
    then on."""
    old = FirstSQLiteStore(db_path)
    old.has_event("evt_1")  # creates the version 1 tables
    old.close()
    run = make_run("run_1", cursor=2, event_id="evt_1")
    with sqlite3.connect(db_path) as db:
        db.execute(
            "INSERT INTO dunning_rules_runs (id, rule, key, status, next_at, owner, lease_until,"
            " body, event) VALUES (?, ?, ?, 'waiting', ?, 'w1', ?, ?, ?)",
            (run.id, run.rule, run.key, T0.timestamp(), at(1).timestamp(), dump_run(run), "{}"),
        )
    assert meta_version(db_path) == "1"
    store = SQLiteStore(db_path)
    store.has_event("evt_1")  # opens and upgrades the file
    with sqlite3.connect(db_path) as db:
        row = db.execute("SELECT cursor, epoch, event_id FROM dunning_rules_runs").fetchone()
    assert row == (2, 0, run.event_id or None)
    assert store.get("run_1").event == {}  # type: ignore[union-attr]  # its own event text
    (claimed,) = store.claim_due(at(2), owner="w2", lease_until=FAR, limit=1)
    assert (claimed.cursor, claimed.epoch) == (2, 1)
    assert store.start_step(claimed, owner="w2", now=at(2), lease_until=FAR)
    with pytest.raises(LeaseLostError):
        store.save(replace(claimed, epoch=0), owner="w2", lease_until=None)
    store.save(replace(claimed, cursor=3), owner="w2", lease_until=None)
    assert store.get("run_1").cursor == 3  # type: ignore[union-attr]
    store.close()


def test_failed_migration_changes_nothing(file_store, db_path):
    """A migration step that fails is rolled back and reported as StoreError."""
    file_store.has_event("evt_1")
    file_store.close()

    class Broken(SQLiteStore):
        migrations = (*SQLiteStore.migrations, ("ALTER TABLE no_such_table ADD x INT",))

    with pytest.raises(StoreError, match="no_such_table"):
        Broken(db_path).has_event("evt_1")
    assert meta_version(db_path) == CURRENT


def test_writes_wait_for_another_connection(file_store, db_path):
    """A write waits (busy timeout) while another connection holds the write lock."""
    file_store.has_event("evt_1")
    other = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    threading.Timer(0.2, lambda: other.execute("COMMIT")).start()
    started = time.monotonic()
    assert file_store.ingest(batch("evt_1")).duplicate is False
    assert time.monotonic() - started >= 0.15
    other.close()


def test_write_lock_held_too_long_is_a_store_error(db_path):
    """Past ``busy_timeout``, a write raises StoreError and the store stays usable."""
    store = SQLiteStore(db_path, busy_timeout=0.05)
    store.has_event("evt_1")
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(StoreError, match="locked"):
        store.ingest(batch("evt_1"))
    other.execute("ROLLBACK")
    other.close()
    assert store.ingest(batch("evt_1")).duplicate is False
    store.close()


def test_unopenable_file_is_a_store_error(tmp_path):
    """A file in a missing directory raises StoreError naming the path."""
    with pytest.raises(StoreError, match="missing"):
        SQLiteStore(tmp_path / "missing" / "runs.db").has_event("evt_1")


def test_naive_datetimes_are_utc(file_store):
    """A naive ``now`` or ``lease_until`` is read as UTC."""
    file_store.ingest(batch("evt_1", make_run("run_1", next_at=T0)))
    naive = T0.replace(tzinfo=None)
    before = naive - _dt.timedelta(seconds=1)
    assert file_store.claim_due(before, owner="w1", lease_until=naive, limit=1) == []
    assert [r.id for r in file_store.claim_due(naive, owner="w1", lease_until=naive, limit=1)] == [
        "run_1"
    ]


def test_times_are_epoch_seconds_in_their_columns(file_store, db_path):
    """``next_at`` and ``lease_until`` are stored as epoch seconds for the due query."""
    run = make_run("run_1", next_at=at(30))
    file_store.ingest(batch("evt_1", run, owner="w1", lease_until=at(1)))
    with sqlite3.connect(db_path) as db:
        row = db.execute("SELECT next_at, owner, lease_until FROM dunning_rules_runs").fetchone()
    assert row == (at(30).timestamp(), "w1", at(1).timestamp())
    done = replace(run, status="completed", next_at=None, epoch=1)
    file_store.save(done, owner="w1", lease_until=None)
    with sqlite3.connect(db_path) as db:
        row = db.execute("SELECT next_at, owner, lease_until FROM dunning_rules_runs").fetchone()
    assert row == (None, None, None)


PROCESS = textwrap.dedent(
    """
    import sys
    from dunning_rules.store._contract import batch, make_run, T0, FAR
    from dunning_rules.store.sqlite import SQLiteStore

    path, name = sys.argv[1], sys.argv[2]
    store = SQLiteStore(path)
    started = 0
    for i in range(20):
        result = store.ingest(batch(f"evt_{name}_{i}", make_run(f"run_{name}_{i}", key=f"k{i}")))
        started += len(result.started)
    claimed = []
    while runs := store.claim_due(T0, owner=name, lease_until=FAR, limit=2):
        claimed += [r.id for r in runs]
    print(started, " ".join(claimed))
    """
)


def test_processes_share_one_file(db_path):
    """Processes creating the tables at once, then ingesting and claiming, never collide."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PROCESS, str(db_path), name],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("p1", "p2", "p3")
    ]
    outputs = [proc.communicate(timeout=60) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], outputs
    started = sum(int(out.split(" ", 1)[0]) for out, _ in outputs)
    claimed = [run_id for out, _ in outputs for run_id in out.split()[1:]]
    # Each key has one live run, whichever process ingested first.
    assert started == 20
    assert len(claimed) == len(set(claimed)) == 20
