"""Engine behaviour: runs, waits, cancellation, approvals, retries, lookups (memory store)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

import dunning_rules as dr
from dunning_rules.errors import AdapterError
from dunning_rules.testing import FixedClock, RecordingAdapter
from tests.paths import FIXTURES

EVENTS = FIXTURES / "stripe" / "events"


def event(name: str = "invoice.payment_failed", **changes: Any) -> dict[str, Any]:
    data = json.loads((EVENTS / f"{name}.json").read_text())
    data = copy.deepcopy(data)
    for key, value in changes.items():
        if key in ("id", "created", "type"):
            data[key] = value
        else:
            data["data"]["object"][key] = value
    return data


FLOW = """
version: 1
settings: {company: Acme}
rules:
  - name: standard
    on: invoice.payment_failed
    cancel_on: [invoice.paid, invoice.voided]
    actions:
      - {type: email, id: mail, to: "{{ data.object.customer_email }}", text: "Hi"}
      - {type: wait, duration: 3d}
      - {type: sms, to: "{{ data.object.customer_phone }}", body: "{{ steps.mail.id }}"}
"""


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock("2026-03-01T09:00:00+00:00")


def make(text: str, clock: FixedClock, **adapters: Any) -> dr.Engine:
    return dr.Engine(dr.load_rules(text), adapters=adapters, clock=clock)


def test_a_match_runs_steps_until_the_wait_and_saves_the_run(clock):
    """handle() runs the first step, then stops at the wait with next_at three days later."""
    email, sms = RecordingAdapter(output={"id": "m1"}), RecordingAdapter()
    engine = make(FLOW, clock, email=email, sms=sms)
    outcome = engine.handle(event())
    assert outcome.matched == ("standard",)
    assert [a.type for a in outcome.actions] == ["email", "wait"]
    (run,) = outcome.runs
    assert run.status == "waiting"
    assert run.next_at == clock.now.replace(day=4)
    assert email.params == [{"to": "jenny.rosen@example.com", "text": "Hi"}]
    assert sms.calls == []
    assert engine.runs(status="waiting")[0].id == run.id


def test_run_due_carries_the_run_on_with_earlier_outputs(clock):
    """After the wait, run_due sends the SMS, which reads steps.mail from before the wait."""
    email, sms = RecordingAdapter(output={"id": "m1"}), RecordingAdapter()
    engine = make(FLOW, clock, email=email, sms=sms)
    engine.handle(event())
    clock.advance(days=2, hours=23)
    assert engine.run_due() == []
    clock.advance(hours=1)
    (outcome,) = engine.run_due()
    assert sms.params == [{"to": "+15555555555", "body": "m1"}]
    assert outcome.runs[0].status == "completed"


def test_a_duplicate_event_id_does_nothing(clock):
    """The same event id twice: the second is duplicate=True and runs no adapter."""
    email = RecordingAdapter()
    engine = make(FLOW, clock, email=email, sms=RecordingAdapter())
    engine.handle(event())
    again = engine.handle(event())
    assert again.duplicate is True
    assert again.runs == ()
    assert again.actions == ()
    assert len(email.calls) == 1


def test_a_retry_event_for_a_live_run_starts_no_second_run(clock):
    """Stripe's next payment_failed for the same invoice: a warning, no second sequence."""
    email = RecordingAdapter()
    engine = make(FLOW, clock, email=email, sms=RecordingAdapter())
    engine.handle(event())
    outcome = engine.handle(event(id="evt_retry", attempt_count=2))
    assert outcome.matched == ("standard",)
    assert outcome.runs == ()
    assert any("already has a live run" in w for w in outcome.warnings)
    assert len(email.calls) == 1


def test_paid_cancels_the_waiting_run_before_anything_else(clock):
    """invoice.paid with the same key cancels the waiting run; its SMS never goes."""
    sms = RecordingAdapter()
    engine = make(FLOW, clock, email=RecordingAdapter(), sms=sms)
    engine.handle(event())
    paid = engine.handle(event("invoice.paid"))
    (cancelled,) = paid.runs
    assert cancelled.status == "cancelled"
    assert "invoice.paid" in (cancelled.reason or "")
    clock.advance(days=5)
    assert engine.run_due() == []
    assert sms.calls == []


def test_a_failure_older_than_a_seen_payment_starts_no_run(clock):
    """Out of order: invoice.paid (created later) arrives first; the old failure is ignored."""
    email = RecordingAdapter()
    engine = make(FLOW, clock, email=email, sms=RecordingAdapter())
    engine.handle(event("invoice.paid"))
    outcome = engine.handle(event())
    assert outcome.runs == ()
    assert any("already settled" in w for w in outcome.warnings)
    assert email.calls == []


def test_a_failure_newer_than_the_payment_starts_a_run(clock):
    """A failure created after the last payment of that key is a new problem and starts a run."""
    email = RecordingAdapter()
    engine = make(FLOW, clock, email=email, sms=RecordingAdapter())
    engine.handle(event("invoice.paid"))
    outcome = engine.handle(event(id="evt_new", created=1722216915 + 10))
    assert len(outcome.runs) == 1
    assert len(email.calls) == 1


def test_waits_are_anchored_at_the_due_time_not_the_worker_time(clock):
    """A worker that wakes a day late still schedules the next wait from the original due time."""
    text = FLOW.replace(
        '{type: sms, to: "{{ data.object.customer_phone }}", body: "{{ steps.mail.id }}"}',
        "{type: wait, duration: 3d}\n      - {type: sms, to: x, body: y}",
    )
    sms = RecordingAdapter()
    engine = make(text, clock, email=RecordingAdapter(), sms=sms)
    start = clock.now
    engine.handle(event())
    clock.advance(days=4)  # one day late
    (outcome,) = engine.run_due()
    assert outcome.runs[0].next_at == start.replace(day=7)
    clock.now = start.replace(day=7)
    engine.run_due()
    assert len(sms.calls) == 1


def test_run_due_goes_on_until_nothing_is_due(clock):
    """run_due long after two waits have passed runs every remaining step in one call."""
    text = FLOW.replace(
        '{type: sms, to: "{{ data.object.customer_phone }}", body: "{{ steps.mail.id }}"}',
        "{type: wait, duration: 1d}\n      - {type: sms, to: x, body: y}",
    )
    sms = RecordingAdapter()
    engine = make(text, clock, email=RecordingAdapter(), sms=sms)
    engine.handle(event())
    clock.advance(days=10)
    outcomes = engine.run_due()
    assert len(sms.calls) == 1
    assert outcomes[-1].runs[0].status == "completed"


def test_simulate_plans_every_step_and_runs_nothing(clock):
    """simulate: steps past the wait are planned, outputs of unrun steps are null, no calls."""
    email, sms = RecordingAdapter(), RecordingAdapter()
    engine = make(FLOW, clock, email=email, sms=sms)
    outcome = engine.simulate(event())
    assert [(a.type, a.status) for a in outcome.actions] == [
        ("email", "planned"),
        ("wait", "planned"),
        ("sms", "planned"),
    ]
    assert outcome.actions[2].params == {"to": "+15555555555", "body": None}
    assert email.calls == []
    assert sms.calls == []
    assert engine.runs() == []


def test_step_when_false_skips_the_step(clock):
    """A step whose `when` is false is recorded as skipped and the run goes on."""
    text = """
version: 1
rules:
  - name: r
    on: invoice.payment_failed
    actions:
      - {type: sms, when: "data.object.customer_phone == 'nope'", to: x, body: y}
      - {type: email, to: x, text: y}
"""
    sms, email = RecordingAdapter(), RecordingAdapter()
    outcome = make(text, clock, sms=sms, email=email).handle(event())
    assert [(a.type, a.status) for a in outcome.actions] == [("sms", "skipped"), ("email", "ok")]
    assert sms.calls == []


def test_guard_false_completes_the_run_without_later_steps(clock):
    """A guard whose condition is false ends the run as completed."""
    text = """
version: 1
rules:
  - name: r
    on: invoice.payment_failed
    actions:
      - {type: stripe.invoice, id: invoice}
      - {type: guard, when: "steps.invoice.status == 'open'"}
      - {type: email, to: x, text: y}
"""
    invoice, email = RecordingAdapter(output={"status": "paid"}), RecordingAdapter()
    outcome = make(text, clock, email=email, **{"stripe.invoice": invoice}).handle(event())
    (run,) = outcome.runs
    assert run.status == "completed"
    assert "guard" in (run.reason or "")
    assert email.calls == []


RETRY = """
version: 1
rules:
  - name: r
    on: invoice.payment_failed
    actions:
      - {type: email, to: x, text: y, retry: {attempts: 3, backoff: 10m}}
      - {type: sms, to: x, body: y}
"""


def test_retry_reschedules_the_run_instead_of_sleeping(clock):
    """A retryable failure saves the run with next_at after the backoff; it doubles each time."""
    email = RecordingAdapter(fail_times=2)
    sms = RecordingAdapter()
    engine = make(RETRY, clock, email=email, sms=sms)
    first = engine.handle(event())
    assert first.runs[0].status == "waiting"
    assert first.runs[0].next_at == clock.now.replace(minute=10)
    clock.advance(minutes=10)
    (second,) = engine.run_due()
    assert second.runs[0].next_at == clock.now.replace(minute=30)
    clock.advance(minutes=20)
    (third,) = engine.run_due()
    assert third.runs[0].status == "completed"
    assert [c.ctx.attempt for c in email.calls] == [1, 2, 3]
    assert len({c.ctx.idempotency_key for c in email.calls}) == 1
    assert third.runs[0].steps[0].attempts == 3


def test_a_final_error_is_not_retried_and_fails_the_run(clock):
    """AdapterError(retryable=False) fails the run at once, despite `retry`."""
    email = RecordingAdapter(fail_times=5, retryable=False)
    outcome = make(RETRY, clock, email=email, sms=RecordingAdapter()).handle(event())
    (run,) = outcome.runs
    assert run.status == "failed"
    assert "recorded failure 1" in (run.reason or "")
    assert len(email.calls) == 1


def test_on_error_continue_goes_on_with_the_next_step(clock):
    """on_error: continue records the failure and runs the next step."""
    text = RETRY.replace("retry: {attempts: 3, backoff: 10m}", "on_error: continue")
    sms = RecordingAdapter()
    outcome = make(text, clock, email=RecordingAdapter(fail_times=1), sms=sms).handle(event())
    assert [(a.type, a.status) for a in outcome.actions] == [("email", "failed"), ("sms", "ok")]
    assert outcome.runs[0].status == "completed"


def test_a_parameter_that_fails_to_render_fails_the_step(clock):
    """A runtime error in a parameter fails the step (not the whole handle call)."""
    text = """
version: 1
rules:
  - name: r
    on: invoice.payment_failed
    actions:
      - {type: email, to: x, text: "{{ money(data.object.customer_name, 'usd') }}"}
"""
    email = RecordingAdapter()
    outcome = make(text, clock, email=email).handle(event())
    (record,) = outcome.actions
    assert record.status == "failed"
    assert "money" in (record.error or "")
    assert email.calls == []


def test_a_condition_that_fails_is_false_with_a_warning(clock):
    """A condition raising at run time does not match and adds a warning; no exception."""
    text = """
version: 1
rules:
  - name: r
    on: invoice.payment_failed
    when: "money(data.object.customer_name, 'usd') == 'x'"
    actions: [{type: email, to: x, text: y}]
"""
    outcome = make(text, clock, email=RecordingAdapter()).handle(event())
    assert outcome.matched == ()
    assert any("rule 'r': condition failed" in w for w in outcome.warnings)


APPROVAL = """
version: 1
rules:
  - name: r
    on: invoice.payment_failed
    actions:
      - {type: approval, channel: "#x", text: "Email {{ data.object.customer_name }}?"}
      - {type: email, to: x, text: y}
"""


def test_approval_pauses_until_resumed(clock):
    """An approval step announces itself and pauses; resume(approved=True) continues."""
    approval, email = RecordingAdapter(output={"ts": "1"}), RecordingAdapter()
    engine = make(APPROVAL, clock, approval=approval, email=email)
    (run,) = engine.handle(event()).runs
    assert run.status == "awaiting_approval"
    assert approval.calls[0].ctx.run_id == run.id
    clock.advance(minutes=5)
    outcome = engine.resume(run.id, approved=True, by="U024BE7LH")
    assert outcome.runs[0].status == "completed"
    assert outcome.runs[0].approval["by"] == "U024BE7LH"
    assert len(email.calls) == 1


def test_a_rejected_approval_cancels_and_remembers_who(clock):
    """resume(approved=False) ends the run as cancelled, with who answered and when."""
    email = RecordingAdapter()
    engine = make(APPROVAL, clock, approval=RecordingAdapter(), email=email)
    (run,) = engine.handle(event()).runs
    outcome = engine.resume(run.id, approved=False, by="U1")
    (done,) = outcome.runs
    assert done.status == "cancelled"
    assert done.approval["by"] == "U1"
    assert done.approval["approved"] is False
    assert done.approval["answered_at"] == clock.now.isoformat()
    assert email.calls == []
    with pytest.raises(dr.ApprovalNotPendingError, match="already rejected by U1") as caught:
        engine.resume(run.id, approved=True, by="U2")
    assert caught.value.run_id == run.id
    assert engine.runs()[0].approval["by"] == "U1"


@pytest.mark.parametrize(
    ("on_timeout", "status", "emails"),
    [("cancel", "cancelled", 0), ("continue", "completed", 1)],
    ids=["cancel", "continue"],
)
def test_an_unanswered_approval_times_out(clock, on_timeout, status, emails):
    """approval timeout: run_due after it applies on_timeout."""
    text = APPROVAL.replace(
        'text: "Email {{ data.object.customer_name }}?"}',
        f'text: "x", timeout: 48h, on_timeout: {on_timeout}}}',
    )
    email = RecordingAdapter()
    engine = make(text, clock, approval=RecordingAdapter(), email=email)
    engine.handle(event())
    clock.advance(hours=47)
    assert engine.run_due() == []
    clock.advance(hours=1)
    (outcome,) = engine.run_due()
    assert outcome.runs[0].status == status
    assert len(email.calls) == emails


def test_lookups_are_fetched_lazily_and_once_per_event(clock):
    """A lookup used by two rules is fetched once; one nobody reads is never fetched."""
    text = """
version: 1
lookups:
  ltv: {type: fake.ltv, customer: data.object.customer}
  unused: {type: fake.ltv, customer: data.object.customer}
rules:
  - name: a
    on: invoice.payment_failed
    when: "vars.ltv.amount > `100`"
    actions: [{type: email, to: x, text: "{{ vars.ltv.amount }}"}]
  - name: b
    on: invoice.payment_failed
    when: "vars.ltv.amount > `1`"
    actions: [{type: email, to: x, text: y}]
"""
    calls: list[dict[str, Any]] = []

    def ltv(args: dict[str, Any], ctx: Any) -> dict[str, Any]:
        calls.append(args)
        return {"amount": 4500}

    email = RecordingAdapter()
    engine = dr.Engine(
        dr.load_rules(text), adapters={"email": email}, lookups={"fake.ltv": ltv}, clock=clock
    )
    outcome = engine.handle(event())
    assert outcome.matched == ("a", "b")
    assert calls == [{"customer": "cus_QXg1o8vcGmoR32"}]
    assert email.params[0]["text"] == 4500
    assert engine.simulate(event(id="evt_2")).matched == ()
    assert len(calls) == 1


def test_an_unknown_step_type_is_a_rule_file_error_at_the_step(clock):
    """Engine(...) names the step's line and suggests the near type."""
    text = "version: 1\nrules:\n  - name: r\n    on: x\n    actions:\n      - {type: emial}\n"
    with pytest.raises(dr.RuleFileError) as info:
        dr.Engine(dr.load_rules(text))
    assert str(info.value).startswith(
        "<string>:6:16: $.rules[0].actions[0].type: rule 'r': "
        "no adapter for step type 'emial' (did you mean 'email'?)"
    )


def test_params_schema_is_checked_when_the_engine_is_built(clock):
    """A missing required parameter is a RuleFileError with the step's line, not a failure later."""
    schema = {"type": "object", "required": ["to"], "properties": {"to": {"type": "string"}}}
    text = (
        "version: 1\nrules:\n  - name: r\n    on: x\n"
        "    actions:\n      - type: sms\n        body: hi\n"
    )
    with pytest.raises(dr.RuleFileError) as info:
        dr.Engine(dr.load_rules(text), adapters={"sms": RecordingAdapter(params_schema=schema)})
    assert str(info.value) == (
        "<string>:6:9: $.rules[0].actions[0]: rule 'r': sms step is missing parameter 'to'"
    )


def test_escapes_apply_to_inserted_values_only(clock):
    """An adapter's `escapes` changes what placeholders insert, not the rule author's text."""
    text = """
version: 1
rules:
  - name: r
    on: invoice.payment_failed
    actions: [{type: slack, text: "<b>{{ data.object.customer_name }}</b>", channel: c}]
"""
    slack = RecordingAdapter()
    slack.escapes = {"text": lambda s: s.replace("<", "&lt;")}  # type: ignore[attr-defined]
    make(text, clock, slack=slack).handle(event(customer_name="<!channel>"))
    assert slack.params == [{"text": "<b>&lt;!channel></b>", "channel": "c"}]


def test_an_adapter_that_is_not_callable_is_rejected():
    """Engine(adapters=...) checks each adapter's shape when it is registered."""
    with pytest.raises(dr.PluginError):
        dr.Engine(dr.load_rules(FLOW), adapters={"email": "not callable"})


def test_a_stripe_object_is_converted_with_to_dict(clock):
    """handle() accepts objects with to_dict(), as stripe.Event is."""

    class Obj:
        def to_dict(self) -> dict[str, Any]:
            return event()

    email = RecordingAdapter()
    outcome = make(FLOW, clock, email=email, sms=RecordingAdapter()).handle(Obj())
    assert outcome.matched == ("standard",)


@pytest.mark.parametrize(
    "bad",
    [None, [], {"id": 1, "type": "x", "data": {"object": {}}}, {"id": "e", "type": "x"}],
    ids=["none", "list", "int-id", "no-data"],
)
def test_input_that_is_not_an_event_raises_event_error(clock, bad):
    """EventError for anything that is not a mapping with id, type and data.object."""
    with pytest.raises(dr.EventError):
        make(FLOW, clock, email=RecordingAdapter(), sms=RecordingAdapter()).handle(bad)


def test_a_removed_rule_cancels_its_runs_with_a_reason(clock):
    """Rule files change under live runs: a run whose rule is gone is cancelled, with why."""
    store = dr.store.MemoryStore()
    first = dr.Engine(
        dr.load_rules(FLOW),
        adapters={"email": RecordingAdapter(), "sms": RecordingAdapter()},
        clock=clock,
        store=store,
    )
    first.handle(event())
    other = FLOW.replace("name: standard", "name: renamed")
    second = dr.Engine(
        dr.load_rules(other),
        adapters={"email": RecordingAdapter(), "sms": RecordingAdapter()},
        clock=clock,
        store=store,
    )
    clock.advance(days=3)
    (outcome,) = second.run_due()
    assert outcome.runs[0].status == "cancelled"
    assert "removed" in (outcome.runs[0].reason or "")


def test_a_run_follows_the_rule_version_it_started_with(clock):
    """A changed rule does not change live runs: the old SMS text is sent after the wait."""
    store = dr.store.MemoryStore()
    sms = RecordingAdapter()
    dr.Engine(
        dr.load_rules(FLOW),
        adapters={"email": RecordingAdapter(), "sms": RecordingAdapter()},
        clock=clock,
        store=store,
    ).handle(event())
    changed = FLOW.replace('body: "{{ steps.mail.id }}"', 'body: "new text"')
    engine = dr.Engine(
        dr.load_rules(changed),
        adapters={"email": RecordingAdapter(output={"id": "m1"}), "sms": sms},
        clock=clock,
        store=store,
    )
    clock.advance(days=3)
    engine.run_due()
    assert sms.params == [{"to": "+15555555555", "body": None}]


def test_adapter_exceptions_that_are_not_adapter_errors_count_as_retryable(clock):
    """A plain exception from an adapter is retried by the retry policy."""

    def flaky(params: dict[str, Any], ctx: Any) -> None:
        if ctx.attempt == 1:
            raise ConnectionError("reset")

    engine = make(RETRY, clock, email=flaky, sms=RecordingAdapter())
    first = engine.handle(event())
    assert first.runs[0].status == "waiting"
    assert "ConnectionError: reset" in (first.actions[0].error or "")
    clock.advance(minutes=10)
    assert engine.run_due()[0].runs[0].status == "completed"


def test_adapter_error_carries_retryable():
    """AdapterError says whether a retry can help."""
    assert AdapterError("x", retryable=True).retryable is True
    assert AdapterError("x", retryable=False, status=400).status == 400


def test_every_outcome_warning_is_logged_with_its_event_rule_and_run(clock, caplog):
    """A warning on an outcome (here: a placeholder that rendered nothing) is also logged, at
    WARNING for handle, with the event id, rule and run id as the record's extras."""
    text = (
        "version: 1\nrules:\n  - name: r\n    on: invoice.payment_failed\n    actions:\n"
        '      - {type: note, text: "Dear {{ data.object.custmer_name }},"}\n'
    )
    engine = dr.Engine(dr.load_rules(text), adapters={"note": RecordingAdapter()}, clock=clock)
    with caplog.at_level("WARNING", logger="dunning_rules"):
        outcome = engine.handle(event())
    (warning,) = outcome.warnings
    assert (
        warning == "rule 'r' step 0 (note): {{ data.object.custmer_name }} in text rendered empty"
    )
    (record,) = [r for r in caplog.records if r.name == "dunning_rules._engine"]
    assert warning in record.getMessage()
    assert (record.event_id, record.rule, record.run_id) == (
        outcome.event_id,
        "r",
        outcome.runs[0].id,
    )


def test_lookups_are_fetched_only_when_a_condition_needs_them(clock):
    """A VIP rule on "a big invoice or a big customer": when the amount alone decides, the
    lifetime-value lookup is never fetched; when it does not, it is fetched once."""
    text = """
version: 1
settings: {vip_amount: 500}
lookups:
  ltv: {type: count.ltv, customer: data.object.customer}
rules:
  - name: vip
    on: invoice.payment_failed
    when:
      any:
        - "data.object.amount_due > settings.vip_amount"
        - "vars.ltv.amount > `100000`"
    actions: [{type: note, text: vip}]
"""
    calls = []

    def ltv(args, ctx):
        calls.append(args["customer"])
        return {"amount": 200000}

    engine = dr.Engine(
        dr.load_rules(text),
        adapters={"note": RecordingAdapter()},
        lookups={"count.ltv": ltv},
        clock=clock,
    )
    assert engine.handle(event(amount_due=75000)).matched == ("vip",)
    assert calls == []
    assert engine.handle(event(amount_due=100, id="evt_small")).matched == ("vip",)
    assert calls == ["cus_QXg1o8vcGmoR32"]
