"""The run guarantees under races, each injected at its worst moment, on every store.

A cancel that commits before a step's start check stops the step; a worker whose lease was
taken over never calls the adapter; a slow step keeps its lease alive; a cancel that commits
while a step is in flight keeps that step's record and stops every later one; one broken run
fails alone.
"""

from __future__ import annotations

import copy
import datetime as dt
import threading
import time
from typing import Any

import dunning_rules as dr
from dunning_rules.testing import FixedClock, RecordingAdapter

from .races import RULES, Backend, RaceStore

LEASE = dt.timedelta(minutes=5)


def engines(backend: Backend, clock: Any, *, lease: dt.timedelta = LEASE):
    """A worker engine on a RaceStore, a payer engine on its own connection, their adapters."""
    email, sms = RecordingAdapter(), RecordingAdapter()
    adapters = {"email": email, "sms": sms}
    race = RaceStore(backend.open())
    worker = dr.Engine(
        dr.load_rules(RULES), adapters=adapters, store=race, clock=clock, lease=lease
    )
    payer = dr.Engine(
        dr.load_rules(RULES), adapters=adapters, store=backend.open(), clock=clock, lease=lease
    )
    return race, worker, payer, email, sms


def test_a_cancel_between_claim_and_send_stops_the_step(backend, failed_event, paid_event):
    """A payment that commits after run_due claimed the run, before the step's start check:
    the email is never sent, the run ends cancelled, and run_due says why."""
    clock = FixedClock()
    race, worker, payer, email, sms = engines(backend, clock)
    (_run,) = worker.handle(failed_event).runs
    clock.advance(days=3)
    race.before_start = lambda claimed: payer.handle(paid_event)
    (outcome,) = worker.run_due()
    assert email.calls == []
    assert outcome.runs[0].status == "cancelled"
    assert "was cancelled before step 1" in outcome.warnings[-1]
    (stored,) = payer.runs()
    assert stored.status == "cancelled"
    assert [s.type for s in stored.steps] == ["wait"]
    clock.advance(days=10)
    assert worker.run_due() == []
    assert (email.calls, sms.calls) == ([], [])


def test_a_cancel_while_the_step_is_in_flight_keeps_its_record(backend, failed_event, paid_event):
    """A payment that commits while the email is with the provider (after the start check):
    the email's record is kept on the cancelled run, and the SMS never goes out."""
    clock = FixedClock()
    _race, worker, payer, email, sms = engines(backend, clock)
    email.respond = lambda params, ctx: payer.handle(paid_event) and {"id": "m1"}
    worker.handle(failed_event)
    clock.advance(days=3)
    (outcome,) = worker.run_due()
    assert len(email.calls) == 1
    (stored,) = payer.runs()
    assert stored.status == "cancelled"
    assert stored.reason.startswith("cancelled by invoice.paid")
    assert [(s.type, s.status) for s in stored.steps] == [("wait", "ok"), ("email", "ok")]
    assert stored.steps[1].output == {"id": "m1"}
    assert outcome.runs[0].status == "cancelled"
    clock.advance(days=10)
    assert worker.run_due() == []
    assert sms.calls == []


def test_a_lease_taken_over_before_the_start_check_calls_no_adapter(backend, failed_event):
    """Another worker that took the run over (its lease had expired) fences the first one
    out: the first worker's start check fails, and only the new holder sends the email."""
    clock = FixedClock()
    race, worker, payer, email, _ = engines(backend, clock)
    worker.handle(failed_event)
    clock.advance(days=3)
    later = clock.now + 2 * LEASE

    def take_over(run: dr.Run) -> None:
        taken = race.inner.claim_due(
            later, owner="thief", lease_until=later + LEASE, limit=1, lease_now=later
        )
        assert [r.id for r in taken] == [run.id]

    race.before_start = take_over
    (outcome,) = worker.run_due()
    assert email.calls == []
    assert "no longer leased" in outcome.warnings[-1]
    clock.advance(minutes=20)  # the thief's lease is over: anyone may carry the run on
    payer.run_due()
    assert len(email.calls) == 1
    assert [s.type for s in payer.runs()[0].steps] == ["wait", "email", "wait"]


def test_a_slow_step_keeps_its_lease_and_runs_once(backend, failed_event):
    """A step that takes four leases long is never taken over by a polling second worker:
    the heartbeat renews the lease while the adapter runs."""
    lease = dt.timedelta(seconds=0.3)
    calls = []

    def slow(params: dict[str, Any], ctx: dr.ActionContext) -> None:
        calls.append(ctx.run_id)
        time.sleep(1.2)

    rules = dr.load_rules(
        "version: 1\nrules:\n  - name: r\n    on: invoice.payment_failed\n"
        "    actions:\n      - {type: slow}\n      - {type: slow}\n"
    )
    first = dr.Engine(rules, adapters={"slow": slow}, store=backend.open(), lease=lease)
    second = dr.Engine(rules, adapters={"slow": slow}, store=backend.open(), lease=lease)
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            second.run_due()
            time.sleep(0.05)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        outcome = first.handle(failed_event)
    finally:
        done.set()
        poller.join()
        first.close()
    assert outcome.runs[0].status == "completed"
    assert len(calls) == 2


def test_one_broken_run_fails_alone(backend, failed_event):
    """Among 20 due runs, one whose wait cannot be computed (a rendered duration past the
    bound) fails with its reason; run_due sends the 19 others' emails and raises nothing."""
    clock = FixedClock()
    rules = dr.load_rules(
        """
version: 1
rules:
  - name: remind
    on: invoice.payment_failed
    actions:
      - {type: wait, duration: 1d}
      - {type: wait, duration: "{{ data.object.metadata.pause }}"}
      - {type: email, to: x@example.com, subject: s, text: t}
"""
    )
    email = RecordingAdapter()
    engine = dr.Engine(rules, adapters={"email": email}, store=backend.open(), clock=clock)
    for number in range(20):
        event = copy.deepcopy(failed_event)
        event["id"] = f"evt_{number}"
        event["data"]["object"]["id"] = f"in_{number}"
        event["data"]["object"]["metadata"] = {"pause": "3000000d" if number == 7 else "1s"}
        engine.handle(event)
    clock.advance(days=1, seconds=1)
    outcomes = engine.run_due()
    assert len(email.calls) == 19
    failed = [r for r in engine.runs() if r.status == "failed"]
    assert [r.key for r in failed] == ["in_7"]
    assert "3000000d" in failed[0].reason
    assert len(outcomes) == 20
    assert engine.run_due() == []
