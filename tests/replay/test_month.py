"""Replay against what the generator knows: a generated month on examples/smart_dunning.yaml,
and the real payloads in tests/fixtures/stripe/real, plainly and delivered hostile."""

from __future__ import annotations

import pytest

import dunning_rules as dr
from dunning_rules._replay import replay
from tests.paths import FIXTURES
from tests.replay.support import SMART, gen_month

REAL = FIXTURES / "stripe" / "real"


@pytest.fixture(scope="module")
def month():
    return gen_month.generate(11, 400, 30)


@pytest.fixture(scope="module")
def rules():
    return dr.load_rules(SMART)


@pytest.fixture(scope="module")
def report(month, rules):
    return replay(rules, month[0])


def test_every_event_is_replayed_once(month, report):
    """The report's events by type are the generator's."""
    events, truth = month
    assert dict(report.by_type) == truth["by_type"]
    assert report.events == truth["events"] == len(events)
    assert report.duplicates == 0


def test_each_failure_matches_the_rule_the_truth_expects(month, report):
    """VIP failures match vip-card-declined; others with an email match the standard rule."""
    failures = month[1]["failure_events"]
    assert failures["vip"] > 0
    assert failures["unmatched"] > 0
    assert report.rules["vip-card-declined"]["matched"] == failures["vip"]
    assert report.rules["standard-card-declined"]["matched"] == failures["standard"]
    assert report.rules["vip-card-declined"]["runs"] == failures["vip"]  # no wait: never live


def test_recovered_is_what_the_truth_paid_after_a_failure(month, report):
    """Every failed invoice a rule took up and that got paid counts, at its amount."""
    matched = month[1]["paid_after_failure"]["matched"]
    assert matched["invoices"] > 0
    assert report.recovered_invoices == matched["invoices"]
    assert dict(report.recovered) == dict(sorted(matched["amount"].items()))


def test_paid_without_message_is_the_unmatched_paid_invoices(month, report):
    """Failed invoices no rule messaged and that got paid are Stripe's own recoveries."""
    unmatched = month[1]["paid_after_failure"]["unmatched"]
    assert report.paid_without_message["invoices"] == unmatched["invoices"]
    assert dict(report.paid_without_message["amount"]) == unmatched["amount"]


def test_messages_follow_the_rules(report):
    """VIP runs send one Slack message and one ticket each; every standard run an email."""
    vip = report.rules["vip-card-declined"]["runs"]
    standard = report.rules["standard-card-declined"]["runs"]
    assert report.messages["slack"] == report.messages["ticket"] == vip
    assert report.messages["email"] == standard
    assert 0 < report.messages["sms"] < standard
    runs = report.runs
    assert runs["started"] == vip + standard
    assert runs["started"] == sum(runs[k] for k in runs if k != "started")
    assert report.violation_count == 0


def test_the_month_under_hostile_delivery_has_no_violation(month, rules):
    """Duplicated, late and reordered deliveries send no step twice and none after payment."""
    report = replay(rules, month[0], hostile=1)
    assert report.hostile["duplicates"] > 0
    assert report.hostile["reordered"] > 0
    assert report.duplicates == report.hostile["duplicates"]
    assert report.violation_count == 0
    assert dict(report.by_type) == month[1]["by_type"]


def test_a_rule_without_cancel_on_shows_violations_under_hostile_delivery(month):
    """The violation check can fail: with neither cancel_on nor a re-check, the SMS after a
    wait reaches customers who paid meanwhile."""
    careless = dr.load_rules(
        SMART.read_text()
        .replace(
            "    cancel_on: [invoice.paid, invoice.voided, invoice.marked_uncollectible]\n", ""
        )
        .replace("""      - {type: guard, when: "steps.recheck.status == 'open'"}\n""", "")
    )
    report = replay(careless, month[0], hostile=1)
    assert report.violation_count > 0
    assert {v["kind"] for v in report.violations} == {"after_payment"}


REAL_RULES = """\
version: 1
rules:
  - name: payment-trouble
    on: [invoice.payment_failed, charge.failed, payment_intent.payment_failed]
    cancel_on: [invoice.paid, invoice.voided, charge.succeeded]
    actions:
      - {type: slack, channel: "#billing", text: "{{ type }} {{ data.object.id }}"}
      - {type: wait, duration: 1d}
      - {type: stripe.invoice, id: recheck}
      - {type: guard, when: "steps.recheck.status == 'open'"}
      - {type: slack, channel: "#billing", text: "still open: {{ data.object.id }}"}
"""


def test_real_payloads_replay_with_sane_counts():
    """Every real event file is replayed, a duplicate or skipped with its reason; runs start
    and all end; the re-check of a charge (no invoice object) fails with its reason."""
    files = list(REAL.rglob("*.json"))
    report = replay(dr.load_rules(REAL_RULES), REAL)
    not_events = report.skipped["not a Stripe event"] - _index_lines()
    assert report.events + report.duplicates + report.skipped[
        "no created time"
    ] + not_events == len(files)
    assert report.events > 1000
    assert sum(report.by_type.values()) == report.events
    assert report.runs["started"] >= 10
    assert report.runs["started"] == sum(v for k, v in report.runs.items() if k != "started")
    assert report.messages["slack"] >= report.runs["started"]
    reasons = {f["error"] for f in report.failed_steps}
    assert any("not an invoice" in reason for reason in reasons)
    assert report.violation_count == 0


def _index_lines():
    return sum(
        1
        for index in REAL.rglob("_index.jsonl")
        for line in index.read_text().splitlines()
        if line.strip()
    )


def test_real_payloads_under_hostile_delivery_have_no_violation():
    """The real payloads, delivered late, reordered and twice, break no guarantee."""
    report = replay(dr.load_rules(REAL_RULES), REAL, hostile=2)
    assert report.hostile["duplicates"] > 0
    assert report.runs["started"] >= 5
    assert report.violation_count == 0
