"""Every example rule file loads, builds an Engine and simulates every example event."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path

import pytest

import dunning_rules as dr
from dunning_rules.testing import FixedClock

ROOT = Path(__file__).resolve().parents[1]
RULE_FILES = sorted((ROOT / "examples").glob("*.yaml"))
EVENT_FILES = sorted((ROOT / "examples" / "events").glob("*.json"))
EXAMPLE = ROOT / "examples" / "smart_dunning.yaml"
START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def simulate(event_name: str) -> dr.Outcome:
    engine = dr.Engine(dr.load_rules(EXAMPLE), clock=FixedClock(START))
    event = json.loads((ROOT / "examples" / "events" / event_name).read_text(encoding="utf-8"))
    return engine.simulate(event)


def test_there_are_examples():
    """The examples folder holds rule files and events."""
    assert RULE_FILES
    assert len(EVENT_FILES) >= 3


@pytest.mark.parametrize("path", RULE_FILES, ids=[p.name for p in RULE_FILES])
def test_example_builds_an_engine(path):
    """The example loads and an Engine with the built-in adapters accepts it."""
    engine = dr.Engine(dr.load_rules(path))
    assert len(engine.rules) > 0


@pytest.mark.parametrize(
    ("rules_path", "event_path"),
    list(itertools.product(RULE_FILES, EVENT_FILES)),
    ids=[f"{r.name}:{e.name}" for r, e in itertools.product(RULE_FILES, EVENT_FILES)],
)
def test_example_simulates_every_event(rules_path, event_path):
    """Each example event simulates without warnings, and every step is planned or skipped."""
    engine = dr.Engine(dr.load_rules(rules_path), clock=FixedClock(START))
    event = json.loads(event_path.read_text(encoding="utf-8"))
    outcome = engine.simulate(event)
    assert outcome.event_id == event["id"]
    assert outcome.warnings == ()
    assert all(a.status in ("planned", "skipped") and a.error is None for a in outcome.actions)


def test_vip_event_alerts_slack_and_opens_a_ticket_without_email():
    """The VIP failure plans a Slack alert and a ticket, and no email; nothing else matches."""
    outcome = simulate("invoice.payment_failed.vip.json")
    assert outcome.matched == ("vip-card-declined",)
    assert [a.type for a in outcome.actions] == ["slack", "ticket"]
    assert outcome.runs[0].status == "completed"
    slack, ticket = outcome.actions
    assert slack.params == {
        "channel": "#billing-vip",
        "text": "URGENT: VIP customer Globex Corporation (ap@globex.example) failed to pay "
        "$750.00 for invoice 7FE1103-0001 (attempt 1).",
    }
    assert ticket.params == {
        "provider": "asana",
        "project": "1200000000000001",
        "title": "Call Globex Corporation: payment of $750.00 failed",
        "body": "Invoice: https://invoice.stripe.com/i/acct_TEST/test_PLACEHOLDER\n"
        "Customer: cus_QXg1o8vcGmoR32 <ap@globex.example>\n"
        "Next Stripe retry: 2024-07-29\n",
    }


def test_standard_event_plans_llm_email_wait_then_sms():
    """A standard failure plans the llm draft, the email, a 3-day wait and then the SMS."""
    outcome = simulate("invoice.payment_failed.json")
    assert outcome.matched == ("standard-card-declined",)
    assert [(a.type, a.id, a.status) for a in outcome.actions] == [
        ("stripe.invoice", "invoice", "planned"),
        ("guard", None, "planned"),
        ("llm", "draft", "planned"),
        ("email", None, "planned"),
        ("wait", None, "planned"),
        ("stripe.invoice", "recheck", "planned"),
        ("guard", None, "planned"),
        ("sms", None, "planned"),
    ]
    [run] = outcome.runs
    assert (run.status, run.next_at) == ("waiting", START + dt.timedelta(days=3))
    assert run.key == "in_1Pgc6tB7WZ01zgkWu9fdqL6I"


def test_standard_event_renders_the_email_and_the_sms():
    """The email goes to the customer (its text is the draft: null in a plan); the SMS links
    the hosted invoice."""
    outcome = simulate("invoice.payment_failed.json")
    by_type = {a.type: a for a in outcome.actions}
    assert by_type["email"].params == {
        "to": "jenny.rosen@example.com",
        "reply_to": "billing@acme.example",
        "subject": "Your Acme payment didn't go through",
        "text": None,
    }
    assert by_type["sms"].params == {
        "to": "+15555555555",
        "body": "Acme: your payment of $10.00 is still open. Pay here: "
        "https://invoice.stripe.com/i/acct_TEST/test_PLACEHOLDER",
    }
    assert "Hi Jenny Rosen," in by_type["llm"].params["fallback"]


def test_paid_event_matches_nothing_and_cancels():
    """invoice.paid matches no rule, plans no step, and shows the runs it would cancel: every
    rule that has it in cancel_on, for the paid invoice."""
    outcome = simulate("invoice.paid.json")
    assert (outcome.matched, outcome.actions) == ((), ())
    assert [(r.rule, r.key, r.status) for r in outcome.runs] == [
        ("vip-card-declined", "in_1Pgc6tB7WZ01zgkWu9fdqL6I", "cancelled"),
        ("standard-card-declined", "in_1Pgc6tB7WZ01zgkWu9fdqL6I", "cancelled"),
    ]
