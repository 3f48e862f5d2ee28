"""``handle(event, defer=True)``: store, cancel and start, run nothing; a worker runs the rest,
woken as soon as the deferred runs are stored."""

from __future__ import annotations

import copy
import threading
import time

import dunning_rules as dr
from dunning_rules.testing import FixedClock, RecordingAdapter

from .races import RULES

FIRST_STEP_NOW = RULES.replace("      - {type: wait, duration: 3d}\n", "", 1)


def test_a_deferred_event_runs_no_step_and_a_worker_runs_it(backend, failed_event):
    """defer=True starts the run durably and calls no adapter; run_due in another engine
    (another process's connection) sends the email; the same event again is a duplicate."""
    clock = FixedClock()
    email = RecordingAdapter()
    web = dr.Engine(
        dr.load_rules(FIRST_STEP_NOW), adapters={"email": email}, store=backend.open(), clock=clock
    )
    worker = dr.Engine(
        dr.load_rules(FIRST_STEP_NOW), adapters={"email": email}, store=backend.open(), clock=clock
    )
    outcome = web.handle(failed_event, defer=True)
    (run,) = outcome.runs
    assert (run.status, run.next_at, outcome.actions) == ("waiting", clock.now, ())
    assert email.calls == []
    assert web.handle(failed_event, defer=True).duplicate
    (done,) = worker.run_due()
    assert [a.type for a in done.actions] == ["email", "wait"]
    assert len(email.calls) == 1


def test_a_deferred_payment_cancels_at_once(backend, failed_event, paid_event):
    """A deferred invoice.paid cancels the live run in the same transaction."""
    clock = FixedClock()
    engine = dr.Engine(
        dr.load_rules(RULES),
        adapters={"email": RecordingAdapter(), "sms": RecordingAdapter()},
        store=backend.open(),
        clock=clock,
    )
    engine.handle(failed_event, defer=True)
    outcome = engine.handle(paid_event, defer=True)
    assert [r.status for r in outcome.runs] == ["cancelled"]
    assert engine.run_due() == []


def test_a_waiting_worker_wakes_when_runs_are_deferred(backend, failed_event):
    """wait_for_work returns soon after another connection defers an event (LISTEN/NOTIFY
    on PostgreSQL, the file's data_version on SQLite), long before its timeout."""
    rules = dr.load_rules(FIRST_STEP_NOW)
    adapters = {"email": RecordingAdapter()}
    web = dr.Engine(rules, adapters=adapters, store=backend.open())
    worker = dr.Engine(rules, adapters=adapters, store=backend.open())
    warm = copy.deepcopy(failed_event)
    warm["id"], warm["data"]["object"]["id"] = "evt_warm", "in_warm"
    web.handle(warm)  # opens the tables; its run waits three days
    worker.wait_for_work(0.01)  # the listener is set up before the event comes
    timer = threading.Timer(0.3, lambda: web.handle(failed_event, defer=True))
    began = time.monotonic()
    timer.start()
    worker.wait_for_work(20)
    waited = time.monotonic() - began
    timer.join()
    assert 0.25 <= waited < 5, waited
    assert len(worker.run_due()) == 1


def test_wait_for_work_stops_at_the_next_due_run(backend, failed_event):
    """With nothing deferred, a worker sleeps no longer than until the next run falls due."""
    clock = FixedClock()
    rules = dr.load_rules(RULES)
    engine = dr.Engine(
        rules,
        adapters={"email": RecordingAdapter(), "sms": RecordingAdapter()},
        store=backend.open(),
        clock=clock,
    )
    engine.handle(failed_event)
    clock.advance(days=3, seconds=-0.2)  # the wait ends 0.2 s from "now"
    began = time.monotonic()
    engine.wait_for_work(20)
    assert time.monotonic() - began < 5


def test_run_due_stops_between_runs_when_asked(failed_event):
    """run_due(stop=...) asks before each run: once stop() is true it claims no other run, and
    the runs it left are there for the next call."""
    clock = FixedClock()
    engine = dr.Engine(
        dr.load_rules(FIRST_STEP_NOW), adapters={"email": RecordingAdapter()}, clock=clock
    )
    for number in range(5):
        event = copy.deepcopy(failed_event)
        event["id"], event["data"]["object"]["id"] = f"evt_{number}", f"in_{number}"
        engine.handle(event, defer=True)
    done: list[object] = []
    first = engine.run_due(stop=lambda: len(done) >= 2 or bool(done.append(1)))
    assert len(first) == 2
    assert len(engine.run_due()) == 3
