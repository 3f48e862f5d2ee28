"""SQLite: a step's start check, a lease renewal and a save are one statement each, committed
on their own; they wait for another connection's write as a transaction does."""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import replace

import pytest

from dunning_rules.errors import StoreError
from dunning_rules.store._contract_data import FAR, T0, at, batch, make_run
from dunning_rules.store.sqlite import SQLiteStore


@pytest.fixture
def held(tmp_path):
    """A store on a file with one run leased to ``w1``, and the file's path."""
    path = tmp_path / "runs.db"
    store = SQLiteStore(path)
    (run,) = store.ingest(batch("evt_1", make_run("run_1"), owner="w1", lease_until=at(10))).started
    yield store, run, path
    store.close()


def lock_for(path, seconds: float) -> sqlite3.Connection:
    """Another connection that holds the write lock for ``seconds``."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    threading.Timer(seconds, lambda: other.execute("COMMIT")).start()
    return other


@pytest.mark.parametrize("write", ["start_step", "renew", "save"])
def test_a_single_write_waits_for_another_connection(held, write):
    """While another connection holds the write lock, the write waits (busy timeout), then
    succeeds."""
    store, run, path = held
    other = lock_for(path, 0.2)
    started = time.monotonic()
    if write == "start_step":
        assert store.start_step(run, owner="w1", now=at(1), lease_until=at(11))
    elif write == "renew":
        assert store.renew(run, owner="w1", lease_until=at(11))
    else:
        store.save(replace(run, status="completed", next_at=None), owner="w1", lease_until=None)
        assert store.get("run_1").status == "completed"  # type: ignore[union-attr]
    assert time.monotonic() - started >= 0.15
    other.close()


def test_a_single_write_locked_out_too_long_is_a_store_error(tmp_path):
    """Past ``busy_timeout`` a step's start check raises StoreError, changes nothing, and
    the store stays usable."""
    path = tmp_path / "runs.db"
    store = SQLiteStore(path, busy_timeout=0.05)
    (run,) = store.ingest(batch("evt_1", make_run("run_1"), owner="w1", lease_until=FAR)).started
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(StoreError, match="locked"):
        store.start_step(run, owner="w1", now=T0, lease_until=FAR)
    other.execute("ROLLBACK")
    other.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT step_started FROM dunning_rules_runs").fetchone() == (None,)
    assert store.start_step(run, owner="w1", now=T0, lease_until=FAR)
    store.close()


def test_no_write_is_left_open(held):
    """After each write the connection holds no transaction: another connection can write
    at once."""
    store, run, path = held
    store.start_step(run, owner="w1", now=at(1), lease_until=at(11))
    store.renew(run, owner="w1", lease_until=at(12))
    store.save(replace(run, cursor=1), owner="w1", lease_until=at(13))
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")
    other.execute("ROLLBACK")
    other.close()
