"""Stripe Connect through the engine: the event's account reaches Stripe calls, idempotency
keys, per-account settings, the runs it starts, and the history."""

from __future__ import annotations

import argparse
import io
from typing import Any

import pytest

import dunning_rules as dr
from dunning_rules._cli_history import history_command
from dunning_rules.rules.executor import idempotency_key
from dunning_rules.testing import FixedClock, RecordingAdapter
from tests.actions.fake_stripe import INVOICE_ID, load, make_stripe_client, serve_stripe

CLOCK = "2024-07-26T16:00:00+00:00"
GLOBEX = "acct_1GlobexConnected"
INITECH = "acct_1InitechConnected"

TEXT = """
version: 1
settings: {company: Acme}
accounts:
  acct_1GlobexConnected:
    settings: {company: Globex, signature: The Globex team}
rules:
  - name: remind
    on: invoice.payment_failed
    actions:
      - type: email
        to: a@example.com
        subject: "{{ settings.company }}"
        text: "{{ settings.signature }}"
"""


def event(account: str | None = None, event_id: str = "evt_1") -> dict[str, Any]:
    data = load("events/invoice.payment_failed.json")
    data["id"] = event_id
    if account is not None:
        data["account"] = account
    return data


def engine_with(email: RecordingAdapter, **options: Any) -> dr.Engine:
    return dr.Engine(
        dr.load_rules(TEXT), adapters={"email": email}, clock=FixedClock(CLOCK), **options
    )


def test_idempotency_keys_differ_between_accounts():
    """The same event id, rule and step for two accounts (or the platform) give three keys;
    a platform key is what it always was."""
    keys = {idempotency_key("evt_1", "remind", 0, a) for a in (None, GLOBEX, INITECH)}
    assert len(keys) == 3
    assert idempotency_key("evt_1", "remind", 0) == idempotency_key("evt_1", "remind", 0, None)


def test_steps_of_two_accounts_get_their_own_keys():
    """Two connected accounts' events with the same invoice id: no step shares a key."""
    email = RecordingAdapter()
    engine_with(email).handle(event(GLOBEX, "evt_a"))
    engine_with(email).handle(event(INITECH, "evt_a"))
    first, second = (c.ctx.idempotency_key for c in email.calls)
    assert first != second


def test_account_settings_replace_the_platform_settings():
    """An event of the Globex account reads Globex's settings; others read the platform's."""
    email = RecordingAdapter()
    engine = engine_with(email)
    engine.handle(event(GLOBEX, "evt_a"))
    engine.handle(event(None, "evt_b"))
    assert [(c.params["subject"], c.params["text"]) for c in email.calls] == [
        ("Globex", "The Globex team"),
        ("Acme", None),
    ]


def test_a_setting_only_an_account_has_is_no_load_error():
    """settings.signature exists only under accounts: the file still loads."""
    assert dr.load_rules(TEXT).accounts[GLOBEX]["company"] == "Globex"


def test_an_account_key_that_is_no_account_id_is_refused():
    """accounts keys are acct_ ids."""
    text = TEXT.replace("acct_1GlobexConnected:", "globex:")
    with pytest.raises(dr.RuleFileError, match="accounts"):
        dr.load_rules(text)


def test_runs_record_and_filter_by_account():
    """Each run keeps its account; engine.runs(account=...) keeps one account's runs."""
    engine = engine_with(RecordingAdapter())
    engine.handle(event(GLOBEX, "evt_a"))
    engine.handle(event(INITECH, "evt_b"))
    engine.handle(event(None, "evt_c"))
    assert [r.account for r in engine.runs()] == [None, INITECH, GLOBEX]
    assert [r.event_id for r in engine.runs(account=GLOBEX)] == ["evt_a"]


def test_history_filters_and_shows_the_account(tmp_path):
    """history with account set lists that account's runs, with the account on the line."""
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    engine = engine_with(RecordingAdapter(), store=store)
    engine.handle(event(GLOBEX, "evt_a"))
    engine.handle(event(INITECH, "evt_b"))
    engine.close()
    args = argparse.Namespace(
        store=store, key=None, status=None, rule=None, limit=50, json=False, account=GLOBEX
    )
    out = io.StringIO()
    assert history_command(args, out) == 0
    lines = [line for line in out.getvalue().splitlines() if line.startswith("run_")]
    assert len(lines) == 1
    assert f"account {GLOBEX}" in lines[0]
    assert "(event evt_a," in lines[0]


@pytest.fixture(scope="module")
def stripe_server():
    yield from serve_stripe()


def test_a_stripe_step_goes_to_the_events_account(stripe_server):
    """stripe.invoice run by the engine for a Globex event carries Stripe-Account."""
    stripe_server.reset()
    text = """
version: 1
rules:
  - name: recheck
    on: invoice.payment_failed
    actions:
      - {type: stripe.invoice, id: invoice}
"""
    engine = dr.Engine(
        dr.load_rules(text),
        stripe_client=make_stripe_client(stripe_server),
        clock=FixedClock(CLOCK),
    )
    outcome = engine.handle(event(GLOBEX))
    [request] = stripe_server.requests
    assert request.path == f"/v1/invoices/{INVOICE_ID}"
    assert request.headers["stripe-account"] == GLOBEX
    assert outcome.actions[0].status == "ok"
    stripe_server.check()
