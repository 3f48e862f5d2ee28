"""A worker that carries the runs on: a plain loop for systemd, a container or a terminal.

    export DUNNING_STORE=postgresql://app@db.internal/billing   # the webhook's store
    python examples/worker.py

It runs every due run (``engine.run_due()``), then sleeps until work may be there
(``engine.wait_for_work``: woken at once by a deferred webhook through LISTEN/NOTIFY on
PostgreSQL, by a change of the file on SQLite, and by the next wait that falls due), at most
``DUNNING_WORKER_IDLE`` seconds (default 5), and again.

SIGTERM (what systemd and Kubernetes send) and Ctrl-C stop it cleanly: the run in progress
goes on to its next wait and is saved, no other run is claimed (``run_due(stop=...)``), the
loop ends within ``DUNNING_WORKER_IDLE`` seconds and the process exits 0. Give it a stop
timeout longer than that plus your slowest run's steps up to a wait (systemd's
``TimeoutStopSec``, Kubernetes' ``terminationGracePeriodSeconds``). A worker killed in the
middle of a step is no disaster either: once its lease (5 minutes) runs out another worker takes
the run over and runs that one step again, with the same idempotency key.

Start as many workers as you like on one PostgreSQL database: each run is claimed by one worker
at a time (``FOR UPDATE SKIP LOCKED``) under a lease with a fencing epoch, so no two workers
run the same step and a finished step never runs again. On SQLite, run them on one machine.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import dunning_rules as dr

RULES = Path(__file__).with_name("smart_dunning.yaml")
log = logging.getLogger("dunning_worker")


def build_engine(**options: Any) -> dr.Engine:
    """The worker's engine: the same rules and store as the webhook's (from the environment)."""
    rules = dr.load_rules(os.environ.get("DUNNING_RULES_FILE", str(RULES)))
    options.setdefault("store", os.environ.get("DUNNING_STORE", "sqlite:///dunning.db"))
    return dr.Engine(rules, **options)


def work(engine: dr.Engine, stop: threading.Event, *, idle: float = 5.0) -> int:
    """Carry on due runs until ``stop`` is set; return how many runs were carried on.

    ``stop`` is looked at between passes: a pass finishes the runs it claimed, and a wait lasts
    at most ``idle`` seconds.
    """
    carried = 0
    while not stop.is_set():
        outcomes = engine.run_due(stop=stop.is_set)  # once stopped, claims no other run
        if outcomes:
            steps = sum(len(outcome.actions) for outcome in outcomes)
            log.info("carried on %d runs, %d steps", len(outcomes), steps)
            carried += len(outcomes)
        if not stop.is_set():
            engine.wait_for_work(idle)
    return carried


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    idle = float(os.environ.get("DUNNING_WORKER_IDLE", "5"))
    engine = build_engine()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    log.info("worker started")  # not the store URL: it may hold a password
    try:
        carried = work(engine, stop, idle=idle)
    finally:
        engine.close()
    log.info("worker stopped after %d runs", carried)
    return 0


if __name__ == "__main__":
    sys.exit(main())
