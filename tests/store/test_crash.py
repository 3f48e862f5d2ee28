"""Crash safety: a worker killed with SIGKILL around an adapter call loses no step, and at most
that one step runs again, with the same idempotency key."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import dunning_rules as dr
from tests.paths import FIXTURES

WORKER = Path(__file__).with_name("crash_worker.py")
EVENT = FIXTURES / "stripe" / "events" / "invoice.payment_failed.json"
START = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.timezone.utc)


def work(store: str, log: Path, at: dt.datetime, *args: str, crash: str = "") -> int:
    done = subprocess.run(
        [sys.executable, str(WORKER), store, str(log), at.isoformat(), *args],
        env={**os.environ, "CRASH": crash},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(done.stderr)
    return done.returncode


def deliveries(log: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(log) as conn:
        return conn.execute("SELECT type, run_id, key FROM deliveries ORDER BY rowid").fetchall()


@pytest.mark.parametrize("phase", ["before", "after"])
@pytest.mark.parametrize("step", ["email", "sms", "slack"])
def test_a_killed_worker_loses_no_step(tmp_path, step, phase):
    """SIGKILL just before/after a delivery; a restarted worker finishes the run: every step
    delivered, only the cut-off one possibly twice, with one idempotency key."""
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    log = tmp_path / "log.db"
    crash = f"{step}:{phase}"
    code = work(store, log, START, "handle", str(EVENT), crash=crash)
    if step != "slack":
        assert code == -signal.SIGKILL
    # The lease of the dead worker runs out; then waits fall due; keep restarting workers.
    moments = [START + dt.timedelta(minutes=10), START + dt.timedelta(days=3, minutes=10)]
    moments.append(START + dt.timedelta(days=3, minutes=30))
    for moment in moments:
        work(store, log, moment, "run-due", crash=crash)
    rows = deliveries(log)
    kinds = [r[0] for r in rows]
    for kind in ("email", "sms", "slack"):
        expected = 2 if (kind == step and phase == "after") else 1
        assert kinds.count(kind) == expected, rows
        assert len({r[2] for r in rows if r[0] == kind}) == 1
    engine_store = dr.store.open_store(store)
    try:
        (run,) = engine_store.list_runs()
        assert run.status == "completed"
        assert [s.status for s in run.steps] == ["ok", "ok", "ok", "ok"]
    finally:
        engine_store.close()


def test_the_event_is_not_lost_when_the_worker_dies_right_after_accepting_it(tmp_path):
    """Killed during the first step: the event is recorded, its run is in the store, and a
    redelivery of the same event is a duplicate, not a second run."""
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    log = tmp_path / "log.db"
    work(store, log, START, "handle", str(EVENT), crash="email:before")
    work(store, log, START + dt.timedelta(minutes=1), "handle", str(EVENT))
    opened = dr.store.open_store(store)
    try:
        assert opened.has_event(json.loads(EVENT.read_text())["id"])
        assert len(opened.list_runs()) == 1
    finally:
        opened.close()
    assert deliveries(log) == []
