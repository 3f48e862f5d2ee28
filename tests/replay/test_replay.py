"""replay() drives a real Engine on a simulated clock: order, waits, cancels, guards,
approvals, lookups, failures and violations behave as handle and run_due would."""

from __future__ import annotations

import datetime as _dt

import pytest

import dunning_rules as dr
from dunning_rules._replay import ReplayError, replay
from tests.replay.support import DAY, SMART, T0, failed, other, paid, rules_text

EMAIL = "      - {type: email, to: '{{ data.object.customer_email }}', subject: Hi, text: Pay}\n"
SMS = "      - {type: sms, to: '+15555555555', body: Still open}\n"
WAIT = "      - {type: wait, duration: 3d}\n"
RECHECK = (
    "      - {type: stripe.invoice, id: recheck}\n"
    "      - {type: guard, when: \"steps.recheck.status == 'open'\"}\n"
)


def load(text):
    return dr.load_rules(text)


def test_events_run_in_created_order_not_list_order():
    """A payment listed before the failure it follows still cancels the failure's run."""
    report = replay(load(rules_text(EMAIL + WAIT + SMS)), [paid(at=T0 + DAY), failed(at=T0)])
    assert dict(report.runs) == {
        "started": 1,
        "completed": 0,
        "cancelled": 1,
        "failed": 0,
        "waiting": 0,
        "awaiting_approval": 0,
    }
    assert dict(report.cancelled_by) == {"invoice.paid": 1}
    assert dict(report.messages) == {"email": 1}


def test_a_wait_is_carried_on_after_the_last_event():
    """With no later event, run_due still carries the run past its wait to the end."""
    report = replay(load(rules_text(EMAIL + WAIT + SMS)), [failed()])
    assert dict(report.messages) == {"email": 1, "sms": 1}
    assert report.runs["completed"] == 1
    assert list(report.per_day) == ["2026-03-01", "2026-03-04"]


def test_a_wait_past_the_horizon_leaves_the_run_waiting():
    """Replay stops carrying runs on at the horizon after the last event."""
    text = rules_text(EMAIL + "      - {type: wait, duration: 60d}\n" + SMS)
    report = replay(load(text), [failed()], horizon=_dt.timedelta(days=30))
    assert report.runs["waiting"] == 1
    assert dict(report.messages) == {"email": 1}


def test_recovered_counts_invoices_paid_after_a_run_started():
    """The recovered estimate sums amount_paid per currency, with the time to payment."""
    events = [
        failed("in_A", T0),
        paid("in_A", T0 + 2 * DAY, amount=1000),
        failed("in_B", T0 + 10, customer="cus_B"),
        paid("in_B", T0 + 10 + DAY, customer="cus_B", amount=900, currency="eur"),
    ]
    report = replay(load(rules_text(EMAIL + WAIT + SMS)), events)
    assert dict(report.recovered) == {"eur": 900, "usd": 1000}
    assert report.recovered_invoices == 2
    assert report.median_to_payment == pytest.approx(1.5 * DAY)


def test_an_invoice_paid_with_no_message_is_counted_apart():
    """A failed invoice that no rule messaged, and that got paid, is Stripe's own recovery."""
    events = [failed("in_A", T0, email=None), paid("in_A", T0 + 3 * DAY, amount=1000)]
    text = rules_text(EMAIL).replace(
        "    actions:", '    when: "data.object.customer_email"\n    actions:'
    )
    report = replay(load(text), events)
    assert dict(report.paid_without_message) == {"invoices": 1, "amount": {"usd": 1000}}
    assert report.recovered_invoices == 0


def test_the_recheck_guard_sees_a_payment_without_cancel_on():
    """stripe.invoice answers the invoice as the events showed it by then: paid, so the
    guard ends the run before the SMS."""
    text = rules_text(EMAIL + WAIT + RECHECK + SMS, cancel_on=False)
    report = replay(load(text), [failed(at=T0), paid(at=T0 + DAY)])
    assert dict(report.messages) == {"email": 1}
    assert report.steps["stripe.invoice"] == 1
    assert report.violation_count == 0


def test_a_message_after_the_payment_is_a_violation():
    """A rule that neither cancels on payment nor re-checks messages a paying customer."""
    text = rules_text(EMAIL + WAIT + SMS, cancel_on=False)
    report = replay(load(text), [failed(at=T0), paid(at=T0 + DAY)])
    assert report.violation_count == 1
    (violation,) = report.violations
    assert (violation["kind"], violation["invoice"], violation["type"]) == (
        "after_payment",
        "in_A",
        "sms",
    )


def test_an_event_delivered_twice_is_handled_once():
    """The second delivery of an event id is a duplicate: no second run, no second email."""
    event = failed()
    report = replay(load(rules_text(EMAIL)), [event, event])
    assert (report.events, report.duplicates) == (1, 1)
    assert report.runs["started"] == 1
    assert dict(report.messages) == {"email": 1}


def test_a_second_failure_while_a_run_waits_starts_no_run():
    """Stripe's retry sends invoice.payment_failed again; the live run is not doubled."""
    events = [failed(at=T0), failed(at=T0 + DAY, attempt=2)]
    report = replay(load(rules_text(EMAIL + WAIT + SMS)), events)
    assert report.rules["remind"] == {"matched": 2, "runs": 1}
    assert report.warnings == 1


APPROVE = "      - {type: approval, channel: '#billing', text: 'Send it?'}\n"


@pytest.mark.parametrize(
    ("policy", "runs", "messages"),
    [
        ("pending", {"awaiting_approval": 1, "completed": 0, "cancelled": 0}, {"approval": 1}),
        (
            "approve",
            {"awaiting_approval": 0, "completed": 1, "cancelled": 0},
            {"approval": 1, "email": 1},
        ),
        ("reject", {"awaiting_approval": 0, "completed": 0, "cancelled": 1}, {"approval": 1}),
    ],
    ids=["pending", "approve", "reject"],
)
def test_approvals_follow_the_policy(policy, runs, messages):
    """Approvals stay pending, or are answered at once by the policy through resume."""
    report = replay(load(rules_text(APPROVE + EMAIL)), [failed()], approvals=policy)
    assert {k: report.runs[k] for k in runs} == runs
    assert dict(report.messages) == messages


def test_rejected_approvals_are_counted_as_cancelled_by_the_answer():
    """A rejected approval cancels the run, and the report says why."""
    report = replay(load(rules_text(APPROVE + EMAIL)), [failed()], approvals="reject")
    assert dict(report.cancelled_by) == {"approval rejected": 1}


def test_an_unknown_approvals_policy_is_refused():
    """approvals is one of pending, approve, reject."""
    with pytest.raises(ReplayError, match="approvals must be one of"):
        replay(load(rules_text(EMAIL)), [], approvals="maybe")


LTV_RULES = """\
version: 1
lookups:
  ltv: {type: stripe.customer_ltv, customer: data.object.customer}
rules:
  - name: big-spender
    on: invoice.payment_failed
    when: "vars.ltv.amount > `1500`"
    actions:
      - {type: slack, channel: '#vip', text: "{{ vars.ltv.amount }}"}
"""


def test_customer_ltv_is_the_sum_of_invoices_paid_so_far():
    """stripe.customer_ltv sums the customer's invoice.paid amounts seen before the event."""
    events = [
        paid("in_1", T0, amount=1000),
        paid("in_2", T0 + DAY, amount=1000),
        failed("in_3", T0 + 2 * DAY),
        failed("in_0", T0 - DAY),
    ]
    report = replay(load(LTV_RULES), events)
    assert report.rules["big-spender"] == {"matched": 1, "runs": 1}


def test_supplied_lookups_come_before_the_events(tmp_path):
    """A lookups file's per-customer value wins over what the events show."""
    events = [paid("in_1", T0, amount=5000), failed("in_3", T0 + DAY)]
    path = tmp_path / "lookups.json"
    path.write_text('{"cus_A": {"ltv": {"amount": 0}}}')
    report = replay(load(LTV_RULES), events, lookups=path)
    assert report.rules["big-spender"] == {"matched": 0, "runs": 0}


def test_a_lookup_value_for_everyone():
    """A top-level lookup name gives that value to every customer."""
    report = replay(load(LTV_RULES), [failed()], lookups={"ltv": {"amount": 99999}})
    assert report.rules["big-spender"]["runs"] == 1


def test_stripe_customer_comes_from_customer_events():
    """stripe.customer answers with the fields the customer's events carried."""
    text = """\
version: 1
lookups:
  customer: {type: stripe.customer, customer: data.object.customer}
rules:
  - name: gold
    on: invoice.payment_failed
    when: "vars.customer.metadata.tier == 'gold'"
    actions:
      - {type: slack, channel: '#gold', text: gold}
"""
    customer = {
        "id": "cus_A",
        "object": "customer",
        "email": "a@example.com",
        "metadata": {"tier": "gold"},
    }
    events = [other("customer.created", T0 - DAY, customer), failed()]
    report = replay(load(text), events)
    assert report.rules["gold"]["runs"] == 1


def test_failed_steps_are_grouped_by_reason():
    """Steps that would have failed are counted by step type and error text."""
    events = [failed("in_A", T0, email=None), failed("in_B", T0 + 5, email=None)]
    report = replay(load(rules_text(EMAIL)), events)
    assert [dict(f) for f in report.failed_steps] == [
        {"type": "email", "error": "email: the recipient ('to') is empty", "count": 2}
    ]
    assert report.runs["failed"] == 2
    assert report.messages == {}


def test_every_started_run_is_accounted_for():
    """Started runs equal completed + cancelled + failed + waiting + awaiting approval."""
    rules = dr.load_rules(SMART)
    events = [
        failed("in_A", T0),
        failed("in_B", T0 + 1, email=None),
        paid("in_A", T0 + DAY),
        failed("in_C", T0 + 2 * DAY, amount=90000),
    ]
    runs = replay(rules, events).runs
    assert (runs["started"], runs["cancelled"], runs["completed"]) == (2, 1, 1)
    assert runs["started"] == sum(runs[k] for k in runs if k != "started")


def test_to_dict_has_the_documented_keys():
    """The JSON form carries events, by_type, rules, runs, messages, recovered, per_day."""
    data = replay(load(rules_text(EMAIL)), [failed()]).to_dict()
    for key in ("events", "by_type", "rules", "runs", "messages", "recovered", "per_day"):
        assert key in data
    assert data["per_day"] == {"2026-03-01": {"messages": 1, "recovered": {}, "paid": 0}}
