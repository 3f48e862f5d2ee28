"""simulate tells the truth about handle: for every example event and every real Stripe
payload, the steps simulate plans are the steps handle and run_due run, rendered and escaped
the same, with the same failures; and the example rule file survives every real event."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import dunning_rules as dr
from dunning_rules.testing import FixedClock, RecordingAdapter
from tests.paths import FIXTURES

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "smart_dunning.yaml"
REAL = FIXTURES / "stripe" / "real"
LOOKUPS = {
    "ltv": {"amount": 1_500_000, "currency": "usd"},
    "customer": {"preferred_locales": ["es"]},
}

# Every step type of the broad rule file below, and of the example.
BROAD = """
version: 1
settings: {company: Acme}
rules:
  - name: any-invoice
    on: "invoice.*"
    actions:
      - type: slack
        channel: "#billing"
        text: >-
          {{ type }}: <{{ data.object.customer_name }}> owes
          {{ money(data.object.amount_due, data.object.currency) }}
      - {type: wait, duration: 1d, when: "data.object.amount_due > `0`"}
      - type: email
        to: "{{ data.object.customer_email }}"
        subject: "{{ settings.company }}: invoice {{ data.object.number }}"
        text: "Due {{ date(data.object.due_date) }}"
  - name: any-charge
    on: ["charge.*", "payment_intent.*"]
    actions:
      - type: http
        url: "https://hooks.example/charges"
        json: {amount: "{{ data.object.amount }}", id: "{{ data.object.id }}"}
  - name: customers
    on: "customer.*"
    actions:
      - type: teams
        webhook: "https://example.webhook.office.com/webhookb2/x"
        title: "Customer {{ data.object.id }}"
        text: "{{ data.object.email }} {{ keys(data.object.metadata) }}"
"""


def real_events() -> list[dict[str, Any]]:
    found = []
    for path in sorted(REAL.glob("*/*.json")):
        event = json.loads(path.read_text())
        if isinstance(event, dict) and event.get("object") == "event":
            event["id"] = f"{event.get('id') or 'evt'}_{path.stem[-12:]}"  # ids repeat across files
            found.append(event)
    return found


REAL_EVENTS = real_events()
EXAMPLE_EVENTS = sorted((ROOT / "examples" / "events").glob("*.json"))


def adapters_for(rules: dr.RuleSet) -> dict[str, RecordingAdapter]:
    kinds = {a.type for rule in rules for a in rule.actions} - {"wait", "guard"}
    made = {kind: RecordingAdapter() for kind in kinds}
    if "stripe.invoice" in made:  # the invoice as the event shows it: open, so guards pass
        made["stripe.invoice"] = RecordingAdapter(
            respond=lambda p, ctx: ctx.event["data"]["object"]
        )
    return made


def lookup_functions() -> dict[str, Any]:
    return {
        "stripe.customer_ltv": lambda args, ctx: LOOKUPS["ltv"],
        "stripe.customer": lambda args, ctx: LOOKUPS["customer"],
    }


def both_ways(rules: dr.RuleSet, event: dict[str, Any]):
    """simulate's outcome, and what handle then run_due (past every wait, approvals approved)
    did, on a memory store with the built-in adapters' escapes and recording stand-ins."""
    from dunning_rules._build import resolve_adapters

    builtin = resolve_adapters(rules, {})
    clock = FixedClock()
    engine = dr.Engine(rules, adapters=builtin, clock=clock)
    planned = engine.simulate(copy.deepcopy(event), lookups=LOOKUPS)
    recorders = adapters_for(rules)
    for kind, recorder in recorders.items():  # keep the built-in escapes, record the calls
        recorder.escapes = getattr(builtin.get(kind), "escapes", None)  # type: ignore[attr-defined]
    live = dr.Engine(rules, adapters=recorders, clock=clock, lookups=lookup_functions())
    first = live.handle(copy.deepcopy(event))
    for _ in range(10):
        for run in live.runs(status="awaiting_approval"):
            live.resume(run.id, approved=True, by="U1", step=run.approval["step"])
        clock.advance(days=4)
        if not live.run_due():
            break
    return planned, first, live.runs()


def steps_of(records) -> list[tuple[Any, ...]]:
    return [(r.rule, r.index, r.type, r.params, r.error) for r in records]


def compare(rules: dr.RuleSet, event: dict[str, Any]) -> None:
    planned, first, runs = both_ways(rules, event)
    assert list(planned.matched) == list(first.matched)
    started = [r for r in planned.runs if not r.id.startswith("simulated-cancel-")]
    assert len(started) == len(runs)
    for plan, done in zip(
        started, sorted(runs, key=lambda r: first.matched.index(r.rule)), strict=True
    ):
        ran = [s for s in done.steps if s.status != "skipped"]
        decided = [s for s in plan.steps if s.status != "skipped"][: len(ran)]
        # every step that ran was planned with the same parameters, escapes and errors
        assert steps_of(decided) == steps_of(ran), (event["id"], plan.rule)
        failed_plan = [s.index for s in plan.steps if s.status == "failed"]
        failed_run = [s.index for s in done.steps if s.status == "failed"]
        assert failed_plan[: len(failed_run)] == failed_run
        handled = next(r for r in first.runs if r.id == done.id)
        assert handled.status == plan.status, (event["id"], plan.rule, handled.status, plan.status)


@pytest.mark.parametrize("path", EXAMPLE_EVENTS, ids=[p.stem for p in EXAMPLE_EVENTS])
def test_example_events_simulate_as_they_are_handled(path):
    """Each example event: simulate plans what handle and run_due do, step for step."""
    compare(dr.load_rules(EXAMPLE), json.loads(path.read_text()))


def test_there_are_real_events():
    """The real payloads are found (a broken glob would test nothing)."""
    assert len(REAL_EVENTS) > 1000
    assert sum(e["type"] == "invoice.payment_failed" for e in REAL_EVENTS) >= 5


@pytest.mark.slow
def test_real_payloads_simulate_as_they_are_handled():
    """Over every real payload, with the example and a broad rule file that uses every
    channel: simulate and handle agree on every step, failure and status."""
    for rules in (dr.load_rules(EXAMPLE), dr.load_rules(BROAD)):
        for event in REAL_EVENTS:
            compare(rules, event)


def test_the_example_survives_every_real_failure():
    """examples/smart_dunning.yaml on every real invoice.payment_failed (the final attempt
    with next_payment_attempt null, events without email or phone): no step fails."""
    rules = dr.load_rules(EXAMPLE)
    failures = [e for e in REAL_EVENTS if e["type"] == "invoice.payment_failed"]
    failures += [json.loads(p.read_text()) for p in EXAMPLE_EVENTS if "failed" in p.name]
    variants = []
    for event in failures:  # and each as Stripe's last attempt, without email, phone or name
        for field in ("next_payment_attempt", "customer_email", "customer_phone", "customer_name"):
            variant = copy.deepcopy(event)
            variant["data"]["object"][field] = None
            variant["id"] = f"{event['id']}_{field}"
            variants.append(variant)
    for event in failures + variants:
        planned, first, runs = both_ways(rules, event)
        for run in (*planned.runs, *first.runs, *runs):
            assert run.status != "failed", (event["id"], run.rule, run.reason)
            assert all(s.status != "failed" for s in run.steps), (event["id"], run.steps)


def test_simulate_escapes_slack_text_as_handle_does():
    """A customer name with mrkdwn in it is escaped in simulate exactly as handle sends it."""
    rules = dr.load_rules(BROAD)
    event = json.loads((FIXTURES / "stripe" / "events" / "invoice.payment_failed.json").read_text())
    event["data"]["object"]["customer_name"] = "<!channel> & co"
    planned = dr.Engine(rules).simulate(event)
    text = planned.runs[0].steps[0].params["text"]
    assert "&lt;!channel&gt; &amp; co" in text


def test_supplied_lookups_decide_a_condition():
    """simulate(lookups=...) gives the lookup values a rule on lifetime value needs."""
    rules = dr.load_rules(EXAMPLE)
    event = json.loads((ROOT / "examples" / "events" / "invoice.payment_failed.json").read_text())
    engine = dr.Engine(rules)
    assert engine.simulate(event).matched == ("standard-card-declined",)
    assert engine.simulate(event, lookups=LOOKUPS).matched == ("vip-card-declined",)
