"""examples/celery_tasks.py without a broker: the beat schedule's shape, the task run directly
and through Celery's eager ``apply``, and overlapping passes that run each step once."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator

import pytest

import dunning_rules as dr
from tests.paths import FIXTURES
from tests.recipes import support
from tests.recipes.support import FIRST_PASS

celery_tasks = support.load_example("celery_tasks")


@pytest.fixture
def engine(
    app_env: str, fakes: support.Fakes, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dr.Engine]:
    """The tasks' engine, built by the module's factory with recording adapters."""
    engine = celery_tasks.build_engine(**fakes.options)
    monkeypatch.setattr(celery_tasks, "get_engine", lambda: engine)
    yield engine
    engine.close()


def failed_event(number: int = 0) -> dict:
    event = json.loads((FIXTURES / "stripe" / "events" / "invoice.payment_failed.json").read_text())
    event = copy.deepcopy(event)
    if number:
        event["id"] += f"_{number}"
        event["data"]["object"]["id"] += f"_{number}"
    return event


def test_the_beat_schedule_runs_the_task_every_minute():
    """Beat sends the registered run_due task every 60 s, and drops a pass older than that."""
    [(name, entry)] = celery_tasks.app.conf.beat_schedule.items()
    assert name == "dunning-run-due"
    assert entry["task"] == celery_tasks.run_due.name == "dunning.run_due"
    assert entry["task"] in celery_tasks.app.tasks
    assert entry["schedule"] == 60.0
    assert entry["options"] == {"expires": 60.0}


def test_the_task_carries_on_a_deferred_run(engine, fakes):
    """Called directly, the task runs the steps of a run that the webhook deferred."""
    engine.handle(failed_event(), defer=True)
    assert fakes.counts() == {}
    assert celery_tasks.run_due() == {"runs": 1, "steps": 5}
    assert fakes.counts() == FIRST_PASS


def test_the_task_runs_eagerly_through_celery_without_a_broker(engine, fakes):
    """``run_due.apply()`` runs the task in this process through Celery's own machinery."""
    engine.handle(failed_event(), defer=True)
    result = celery_tasks.run_due.apply()
    assert (result.successful(), result.get()) == (True, {"runs": 1, "steps": 5})
    assert fakes.counts() == FIRST_PASS


def test_a_pass_with_nothing_due_does_nothing(engine, fakes):
    """With no run due, the task reports nothing done and calls no adapter."""
    assert celery_tasks.run_due() == {"runs": 0, "steps": 0}
    assert fakes.counts() == {}


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_overlapping_passes_run_each_step_once(kind, store_url, fakes, request):
    """Two passes at once, as two Celery workers with an engine each, on 12 deferred runs:
    every email is sent once, and every run goes on to its wait."""
    url = store_url if kind == "sqlite" else request.getfixturevalue("postgres_store_url")
    workers = [celery_tasks.build_engine(store=url, **fakes.options) for _ in range(2)]
    try:
        for number in range(12):
            workers[0].handle(failed_event(number), defer=True)
        start = threading.Barrier(2)
        done: list[dict[str, int]] = []

        def one_pass(engine: dr.Engine) -> None:
            start.wait()
            outcomes = engine.run_due()
            done.append({"runs": len(outcomes)})

        threads = [threading.Thread(target=one_pass, args=(w,)) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sum(d["runs"] for d in done) == 12
        sent = sorted(call.ctx.run_id for call in fakes.adapters["email"].calls)
        assert len(sent) == len(set(sent)) == 12
        assert {run.status for run in workers[1].runs()} == {"waiting"}
    finally:
        for engine in workers:
            engine.close()
