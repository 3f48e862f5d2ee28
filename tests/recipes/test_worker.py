"""examples/worker.py: the loop wakes up for a run that another process deferred, on SQLite and
on PostgreSQL, and the script stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.recipes import support
from tests.recipes.support import FIRST_PASS, failed_body, stripe_headers

worker = support.load_example("worker")
flask_app = support.load_example("flask_app")


def wait_until(condition, timeout: float = 10.0) -> float:
    """Seconds until ``condition()`` held; fails after ``timeout``."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, "timed out"
        time.sleep(0.02)
    return time.monotonic() - start


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_the_loop_wakes_up_for_a_deferred_webhook(kind, app_env, store_url, fakes, request):
    """A worker idle for up to 30 s runs a webhook's deferred run within 2 s (a change of the
    SQLite file, LISTEN/NOTIFY on PostgreSQL), and its loop ends once stopped."""
    url = store_url if kind == "sqlite" else request.getfixturevalue("postgres_store_url")
    engine = worker.build_engine(store=url, **fakes.options)
    webhook = flask_app.build_engine(store=url, **fakes.options)
    stop = threading.Event()
    result: list[int] = []
    loop = threading.Thread(target=lambda: result.append(worker.work(engine, stop, idle=30)))
    try:
        loop.start()
        engine.runs()  # the worker's store is open
        time.sleep(0.5)  # and the loop is asleep in wait_for_work
        client = flask_app.create_app(webhook).test_client()
        body = failed_body()
        client.post("/stripe/webhook", data=body, headers=stripe_headers(body))
        assert wait_until(lambda: fakes.counts() == FIRST_PASS) < 2.0
        stop.set()
        other = body.replace(support.EVENT_ID.encode(), b"evt_another").replace(
            b"in_1Pgc6tB7WZ01zgkWu9fdqL6I", b"in_another"
        )
        client.post("/stripe/webhook", data=other, headers=stripe_headers(other))  # wakes it up
        loop.join(timeout=10)
        assert not loop.is_alive()
        assert result == [1]
    finally:
        stop.set()
        loop.join(timeout=30)
        engine.close()
        webhook.close()


def test_sigterm_stops_the_worker_cleanly(tmp_path):
    """``python examples/worker.py`` exits 0 soon after SIGTERM, saying so."""
    env = {
        **os.environ,
        "DUNNING_STORE": f"sqlite:///{tmp_path / 'dunning.db'}",
        "DUNNING_WORKER_IDLE": "0.2",
    }
    process = subprocess.Popen(
        [sys.executable, str(support.EXAMPLES / "worker.py")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        assert process.stderr.readline().endswith("dunning_worker worker started\n")
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    finally:
        process.kill()
        process.wait()
    assert (process.returncode, out) == (0, "")
    assert err.endswith("dunning_worker worker stopped after 0 runs\n")
