"""Variants and a holdout through the engine: the split of keys, the steps each variant runs,
the variant on the run, in simulate and history, and replay's lift over the holdout."""

from __future__ import annotations

import argparse
import io
from typing import Any

import pytest

import dunning_rules as dr
from dunning_rules._cli_history import history_command
from dunning_rules.testing import FixedClock, RecordingAdapter

CLOCK = "2024-07-26T16:00:00+00:00"

TEXT = """
version: 1
rules:
  - name: remind
    on: invoice.payment_failed
    cancel_on: [invoice.paid]
    variants:
      - {name: control, weight: 10, holdout: true}
      - {name: sms-first, weight: 45}
      - {name: email-only, weight: 45}
    actions:
      - {type: sms, variant: sms-first, to: "+15555550100", body: "Please pay"}
      - {type: email, to: a@example.com, subject: s, text: "Please pay"}
      - {type: wait, duration: 1d}
      - {type: slack, variant: [control, sms-first, email-only], channel: "#billing", text: t}
"""


def invoice_event(invoice: str, event_type: str = "invoice.payment_failed") -> dict[str, Any]:
    obj = {"object": "invoice", "id": invoice, "customer": "cus_1", "currency": "usd"}
    if event_type == "invoice.paid":
        obj.update(status="paid", amount_paid=1000)
    return {
        "id": f"evt_{event_type}_{invoice}",
        "object": "event",
        "type": event_type,
        "data": {"object": obj},
    }


SPLIT = dr.load_rules(TEXT).rules[0].split


def variant_of(invoice: str) -> str:
    assert SPLIT is not None
    return SPLIT.assign("remind", invoice).name


def invoice_in(variant: str) -> str:
    return next(f"in_{n}" for n in range(1000) if variant_of(f"in_{n}") == variant)


def engine(**adapters: RecordingAdapter) -> dr.Engine:
    return dr.Engine(dr.load_rules(TEXT), adapters=adapters, clock=FixedClock(CLOCK))


def test_the_holdout_sends_nothing_and_keeps_its_schedule():
    """A holdout run skips every message, waits as the others do, and runs the step that
    names it."""
    sms, email, slack = RecordingAdapter(), RecordingAdapter(), RecordingAdapter()
    outcome = engine(sms=sms, email=email, slack=slack).handle(invoice_event(invoice_in("control")))
    [run] = outcome.runs
    assert run.variant == "control"
    assert [(s.type, s.status) for s in run.steps] == [
        ("sms", "skipped"),
        ("email", "skipped"),
        ("wait", "ok"),
    ]
    assert (sms.calls, email.calls) == ([], [])
    assert run.status == "waiting"


def test_a_step_runs_only_in_its_variant():
    """The sms step runs in sms-first, not in email-only; the email runs in both."""
    sms, email = RecordingAdapter(), RecordingAdapter()
    test_engine = engine(sms=sms, email=email, slack=RecordingAdapter())
    test_engine.handle(invoice_event(invoice_in("sms-first")))
    test_engine.handle(invoice_event(invoice_in("email-only")))
    assert len(sms.calls) == 1
    assert len(email.calls) == 2


def test_the_variant_is_kept_across_a_restart(tmp_path):
    """A stored run keeps its variant; resumed by another engine, it still skips for it."""
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    clock = FixedClock(CLOCK)
    invoice = invoice_in("control")
    first = dr.Engine(dr.load_rules(TEXT), store=store, clock=clock, adapters=adapters())
    first.handle(invoice_event(invoice))
    first.close()
    slack = RecordingAdapter()
    clock.advance(days=1)
    second = dr.Engine(
        dr.load_rules(TEXT), store=store, clock=clock, adapters={**adapters(), "slack": slack}
    )
    [outcome] = second.run_due()
    second.close()
    assert outcome.runs[0].variant == "control"
    assert len(slack.calls) == 1


def adapters() -> dict[str, RecordingAdapter]:
    return {kind: RecordingAdapter() for kind in ("sms", "email", "slack")}


def test_simulate_plans_the_variant():
    """simulate names the run's variant and skips what the variant does not send."""
    invoice = invoice_in("email-only")
    [run] = engine(**adapters()).simulate(invoice_event(invoice)).runs
    assert run.variant == "email-only"
    assert [s.status for s in run.steps] == ["skipped", "planned", "planned", "planned"]


def test_history_shows_the_variant(tmp_path):
    """history prints each run's variant."""
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    test_engine = dr.Engine(
        dr.load_rules(TEXT), store=store, clock=FixedClock(CLOCK), adapters=adapters()
    )
    test_engine.handle(invoice_event(invoice_in("sms-first")))
    test_engine.close()
    args = argparse.Namespace(store=store, key=None, status=None, rule=None, limit=50, json=False)
    out = io.StringIO()
    history_command(args, out)
    assert "variant sms-first" in out.getvalue()


def test_the_split_follows_the_weights():
    """Over 2,000 invoices the holdout is close to its 10%."""
    names = [variant_of(f"in_{n}") for n in range(2000)]
    assert 150 <= names.count("control") <= 250


def test_a_step_naming_an_unknown_variant_is_a_load_error():
    """variant: must name one of the rule's variants."""
    text = TEXT.replace("variant: sms-first,", "variant: sms-frist,")
    with pytest.raises(dr.RuleFileError) as info:
        dr.load_rules(text)
    [problem] = info.value.problems
    assert problem.json_path == "$.rules[0].actions[0].variant"
    assert problem.message.endswith(
        "variant 'sms-frist' is not one of the rule's; its variants: control, sms-first, email-only"
    )


def test_two_holdouts_are_a_load_error():
    """Only one variant may be the holdout."""
    text = TEXT.replace(
        "{name: sms-first, weight: 45}", "{name: sms-first, weight: 45, holdout: true}"
    )
    with pytest.raises(dr.RuleFileError, match="only one variant may be the holdout"):
        dr.load_rules(text)


def test_replay_reports_recovery_per_variant_with_its_lift():
    """Of 60 invoices, those paid are counted per variant, and each variant's uplift is
    measured against the holdout's recovery rate."""
    invoices = [f"in_{n}" for n in range(60)]
    events: list[dict[str, Any]] = []
    for number, invoice in enumerate(invoices):
        failed = invoice_event(invoice)
        failed["created"] = 1_720_000_000 + number
        events.append(failed)
        if variant_of(invoice) != "control" or number % 4 == 0:
            paid = invoice_event(invoice, "invoice.paid")
            paid["created"] = 1_720_050_000 + number
            events.append(paid)
    report = dr.replay(dr.load_rules(TEXT), events)
    split = report.variants["remind"]
    assert split["holdout"] == "control"
    arms = split["variants"]
    runs = {name: arm["runs"] for name, arm in arms.items()}
    assert sum(runs.values()) == 60
    control = arms["control"]
    expected_control = sum(
        1 for n, i in enumerate(invoices) if variant_of(i) == "control" and n % 4 == 0
    )
    assert control["recovered"] == expected_control
    assert arms["sms-first"]["recovered"] == arms["sms-first"]["runs"]
    assert arms["sms-first"]["rate"] == 1.0
    assert arms["sms-first"]["uplift"] == round(100 * (1.0 - control["rate"]), 2)
    assert "variants of remind" in report.to_text()
    assert report.to_dict()["variants"]["remind"]["holdout"] == "control"


def test_replay_html_shows_the_variants():
    """The HTML report has a table of each rule's variants, the holdout marked."""
    events = []
    for number in range(20):
        failed = invoice_event(f"in_{number}")
        failed["created"] = 1_720_000_000 + number
        events.append(failed)
    page = dr.replay(dr.load_rules(TEXT), events).to_html()
    assert "<h2>Variants of remind</h2>" in page
    assert "control (holdout)" in page


def connect_event(invoice: str, account: str, event_type: str, created: int) -> dict[str, Any]:
    event = invoice_event(invoice, event_type)
    event["id"] = f"{event['id']}_{account}"
    event["account"] = account
    event["created"] = created
    return event


def test_replay_splits_and_filters_by_connected_account():
    """Runs and recoveries are split by account; account=... replays one account's events."""
    events = []
    for number, account in enumerate(["acct_A", "acct_A", "acct_B"]):
        invoice = f"in_c{number}"
        events.append(
            connect_event(invoice, account, "invoice.payment_failed", 1_720_000_000 + number)
        )
    events.append(connect_event("in_c0", "acct_A", "invoice.paid", 1_720_090_000))
    rules = dr.load_rules(TEXT)
    report = dr.replay(rules, events)
    assert report.accounts == {
        "acct_A": {"runs": 2, "recovered": 1, "amount": {"usd": 1000}},
        "acct_B": {"runs": 1, "recovered": 0, "amount": {}},
    }
    assert "by connected account" in report.to_text()
    assert "<h2>By connected account</h2>" in report.to_html()
    only = dr.replay(rules, events, account="acct_B")
    assert only.events == 1
    assert list(only.accounts) == ["acct_B"]
