"""Approvals answer only the approval that asked, never after its timeout, whatever adapter
announced them."""

from __future__ import annotations

import pytest

import dunning_rules as dr
from dunning_rules.actions.base import approval_nonce
from dunning_rules.testing import FixedClock, RecordingAdapter

TWO_APPROVALS = """
version: 1
rules:
  - name: twice
    on: invoice.payment_failed
    actions:
      - {type: approval, channel: "#billing", text: "first?", timeout: 48h}
      - {type: email, to: x@example.com, subject: s, text: first}
      - {type: approval, channel: "#billing", text: "second?", timeout: 48h}
      - {type: email, to: x@example.com, subject: s, text: second}
"""


def make(text: str = TWO_APPROVALS, **adapters):
    clock = FixedClock()
    email = RecordingAdapter()
    engine = dr.Engine(
        dr.load_rules(text),
        adapters={"approval": RecordingAdapter(), "email": email, **adapters},
        clock=clock,
    )
    return engine, clock, email


def test_a_plain_function_announcing_an_approval_still_pauses(failed_event):
    """The pause belongs to the approval step type: a plain function as its adapter (one that
    announces the request in Teams or by email) pauses the run all the same."""
    announced = []

    def by_email(params, ctx):
        announced.append((ctx.index, ctx.approval_nonce))

    engine, _clock, email = make(approval=by_email)
    (run,) = engine.handle(failed_event).runs
    assert run.status == "awaiting_approval"
    assert email.calls == []
    assert announced == [(0, approval_nonce(run.id, 0))]
    assert run.approval["step"] == 0
    assert run.approval["nonce"] == approval_nonce(run.id, 0)


def test_an_old_button_cannot_answer_a_later_approval(failed_event):
    """A second click on the first approval's button, once the run waits for the second
    approval, changes nothing: the second stays pending, the first keeps who answered it."""
    engine, clock, email = make()
    (run,) = engine.handle(failed_event).runs
    first = {"step": 0, "nonce": approval_nonce(run.id, 0)}
    clock.advance(hours=1)
    (after,) = engine.resume(run.id, approved=True, by="U_ANA", **first).runs
    assert after.status == "awaiting_approval"
    assert after.approval["step"] == 2
    assert len(email.calls) == 1
    clock.advance(hours=1)
    with pytest.raises(dr.ApprovalNotPendingError, match="waits for step 2") as caught:
        engine.resume(run.id, approved=True, by="U_BOB", **first)
    assert caught.value.run_id == run.id
    (stored,) = engine.runs()
    assert stored.status == "awaiting_approval"
    assert stored.approval["step"] == 2
    assert "by" not in stored.approval
    assert stored.steps[0].output["by"] == "U_ANA"
    assert len(email.calls) == 1


def test_an_answer_with_a_wrong_nonce_changes_nothing(failed_event):
    """An answer that names the right step but another nonce is refused."""
    engine, _clock, email = make()
    (run,) = engine.handle(failed_event).runs
    with pytest.raises(dr.ApprovalNotPendingError, match="does not belong"):
        engine.resume(run.id, approved=True, by="U_ANA", step=0, nonce="0" * 16)
    (stored,) = engine.runs()
    assert stored.status == "awaiting_approval"
    assert email.calls == []


def test_an_answer_after_the_timeout_is_refused_even_before_any_worker(failed_event):
    """An approval answered after its timeout does not continue the run, even when no worker
    has applied the timeout yet; the next run_due applies on_timeout (cancel)."""
    engine, clock, email = make()
    (run,) = engine.handle(failed_event).runs
    clock.advance(hours=48, seconds=1)
    with pytest.raises(dr.ApprovalNotPendingError, match="timed out at"):
        engine.resume(run.id, approved=True, by="U_LATE", step=0, nonce=approval_nonce(run.id, 0))
    assert email.calls == []
    (outcome,) = engine.run_due()
    (done,) = outcome.runs
    assert done.status == "cancelled"
    assert done.approval["timed_out"] is True
    assert email.calls == []
    with pytest.raises(dr.ApprovalNotPendingError, match="timed out"):
        engine.resume(run.id, approved=True, by="U_LATE", step=0)


def test_an_answer_just_before_the_timeout_continues(failed_event):
    """One second before the deadline the answer still counts."""
    engine, clock, email = make()
    (run,) = engine.handle(failed_event).runs
    clock.advance(hours=47, minutes=59, seconds=59)
    (after,) = engine.resume(run.id, approved=True, by="U_ANA", step=0).runs
    assert after.approval["step"] == 2
    assert len(email.calls) == 1


def test_an_unknown_run_is_run_not_found(failed_event):
    """resume of a run id that no run has raises RunNotFoundError (an endpoint's 404)."""
    engine, _, _ = make()
    with pytest.raises(dr.RunNotFoundError, match="run_nope"):
        engine.resume("run_nope", approved=True)


def test_an_answer_to_a_finished_run_says_so(failed_event):
    """Answering a run that completed is ApprovalNotPendingError naming how it was answered."""
    engine, _, _ = make()
    (run,) = engine.handle(failed_event).runs
    engine.resume(run.id, approved=True, by="U1", step=0)
    engine.resume(run.id, approved=True, by="U2", step=2)
    assert engine.runs()[0].status == "completed"
    with pytest.raises(dr.ApprovalNotPendingError, match="already approved by U2"):
        engine.resume(run.id, approved=False, by="U3", step=2)
    with pytest.raises(dr.ApprovalNotPendingError, match="already approved by U1"):
        engine.resume(run.id, approved=False, by="U3", step=0)
