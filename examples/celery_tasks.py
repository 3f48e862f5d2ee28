"""Carry the runs on from Celery: a beat task that calls ``engine.run_due()`` every minute.

    export CELERY_BROKER_URL=redis://localhost:6379/0
    export DUNNING_STORE=postgresql://app@db.internal/billing   # the webhook's store
    celery -A celery_tasks worker --beat --loglevel INFO        # from examples/; or run beat apart

Overlapping calls are safe, so the schedule does not have to guess how long a pass takes: when
a pass takes longer than a minute, the next one starts beside it on another worker (or another
process of the same worker) and both go on. Each run is claimed by one caller at a time: on
PostgreSQL with ``SELECT ... FOR UPDATE SKIP LOCKED``, so a second caller skips the runs the
first one holds instead of waiting for them, and on SQLite inside one write transaction. The
claim is a lease of its own per run, with a fencing epoch: every step start is confirmed by
the store with that epoch right before the adapter is called, so a caller whose lease has
lapsed (a paused or cut-off process) cannot start a step that another caller took over, and a
finished step never runs again. A task that Celery kills in the middle of a step (a time limit,
a lost worker) leaves that run leased for 5 minutes; then the next pass takes it over and runs
that one step again with the same idempotency key.

``expires`` drops a pass that waited in the queue longer than the schedule (a broker backlog
would only pile up passes that find nothing to do).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from celery import Celery

import dunning_rules as dr

RULES = Path(__file__).with_name("smart_dunning.yaml")
EVERY = 60.0  # seconds between two passes

app = Celery("dunning", broker=os.environ.get("CELERY_BROKER_URL", "redis://localhost:6379/0"))
app.conf.beat_schedule = {
    "dunning-run-due": {
        "task": "dunning.run_due",
        "schedule": EVERY,
        "options": {"expires": EVERY},
    }
}


def build_engine(**options: Any) -> dr.Engine:
    """The engine of the tasks: the same rules and store as the webhook's (from the
    environment); ``options`` go to :class:`dunning_rules.Engine`."""
    rules = dr.load_rules(os.environ.get("DUNNING_RULES_FILE", str(RULES)))
    options.setdefault("store", os.environ.get("DUNNING_STORE", "sqlite:///dunning.db"))
    return dr.Engine(rules, **options)


@functools.cache
def get_engine() -> dr.Engine:
    """One engine per worker process, built on first use (after Celery forked the process)."""
    return build_engine()


@app.task(name="dunning.run_due", ignore_result=True)
def run_due() -> dict[str, int]:
    """Carry on every run whose wait is over; say how many runs and steps that was."""
    outcomes = get_engine().run_due()
    return {"runs": len(outcomes), "steps": sum(len(o.actions) for o in outcomes)}
