"""Many workers on one PostgreSQL database: every step of every run runs exactly once."""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import dunning_rules as dr
from tests.paths import FIXTURES

from .pg_worker import RULES

pytestmark = pytest.mark.postgres

WORKER = Path(__file__).with_name("pg_worker.py")
EVENT = FIXTURES / "stripe" / "events" / "invoice.payment_failed.json"
START = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.timezone.utc)
RUNS = 2000
WORKERS = 4


def test_four_workers_run_every_step_of_2000_runs_exactly_once(postgres_schema_url):
    """2,000 runs of 3 steps, 4 worker processes: 6,000 deliveries, no duplicate, all done."""
    import psycopg

    with psycopg.connect(postgres_schema_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE deliveries (run_id text, step int, key text, PRIMARY KEY (run_id, step))"
        )
    base = json.loads(EVENT.read_text())
    engine = dr.Engine(
        dr.load_rules(RULES),
        adapters={"step": lambda params, ctx: None},
        store=postgres_schema_url,
        clock=lambda: START,
    )
    for number in range(RUNS):
        event = copy.deepcopy(base)
        event["id"] = f"evt_{number}"
        event["data"]["object"]["id"] = f"in_{number}"
        engine.handle(event)
    engine.close()

    later = (START + dt.timedelta(minutes=2)).isoformat()
    began = time.perf_counter()
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), postgres_schema_url, later],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        for _ in range(WORKERS)
    ]
    counts = []
    for worker in workers:
        out, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err
        counts.append(int(out.strip().splitlines()[-1]))
    elapsed = time.perf_counter() - began

    with psycopg.connect(postgres_schema_url, autocommit=True) as conn:
        rows = conn.execute("SELECT count(*), count(DISTINCT run_id) FROM deliveries").fetchone()
    assert rows == (3 * RUNS, RUNS)
    assert sum(counts) == 3 * RUNS, counts
    store = dr.store.open_store(postgres_schema_url)
    try:
        statuses = {r.status for r in store.list_runs()}
        assert statuses == {"completed"}
    finally:
        store.close()
    print(f"\n{WORKERS} workers, {3 * RUNS} steps in {elapsed:.1f}s, per worker: {counts}")
