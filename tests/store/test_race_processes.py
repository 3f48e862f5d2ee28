"""The run guarantees with real processes: workers on SQLite (2) and PostgreSQL (4), slow steps
that outlast two leases, short leases, payments racing the reminders, every failure delivered
twice at once. bench/bench_races.py conducts it and counts from outside the engine (an
append-only file of deliveries); every count of a broken guarantee must be 0."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_races.py"


def race(store: str, workers: int, runs: int, out: Path) -> dict:
    done = subprocess.run(
        [
            *(sys.executable, str(BENCH), "--store", store, "--workers", str(workers)),
            *("--runs", str(runs), "--lease-seconds", "0.4", "--out", str(out), "--json"),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def check(counts: dict, runs: int) -> None:
    assert counts["after_cancel"] == 0, counts
    assert counts["twice"] == 0, counts
    assert counts["lost"] == 0, counts
    assert sum(counts["statuses"].values()) == runs, counts
    assert counts["cancelled"] > 0, counts
    assert counts["steps_sent"] > runs, counts


@pytest.mark.slow
def test_two_workers_on_sqlite(tmp_path):
    """2 worker processes x 60 runs on one SQLite file: nothing after a cancel, nothing twice,
    nothing lost."""
    check(race(f"sqlite:///{tmp_path / 'runs.db'}", 2, 60, tmp_path), 60)


@pytest.mark.slow
@pytest.mark.postgres
def test_four_workers_on_postgres(postgres_schema_url, tmp_path):
    """4 worker processes x 80 runs on one PostgreSQL database: the same counts, all 0."""
    check(race(postgres_schema_url, 4, 80, tmp_path), 80)
