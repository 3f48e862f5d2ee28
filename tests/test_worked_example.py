"""The worked example of docs/send-windows.md, all of it at once: "SMS only between 8am and 9pm
in the customer's time zone, in the customer's language, per connected account, with 10% held
out" — honoured alike by handle, run_due, simulate and replay."""

from __future__ import annotations

import copy
import datetime as dt
import re
from pathlib import Path
from typing import Any

import dunning_rules as dr
from dunning_rules.testing import FixedClock, RecordingAdapter

DOC = Path(__file__).resolve().parents[1] / "docs" / "send-windows.md"
RULES = re.search(r"```yaml\n# file: windows.yaml\n(.*?)```", DOC.read_text(), re.S)
assert RULES is not None
TEXT = RULES.group(1)
UTC = dt.timezone.utc
ACCOUNT = "acct_1GlobexConnected"
MADRID = {"country": "ES", "state": None, "line1": None, "city": "Madrid"}


def failure(invoice: str, created: int) -> dict[str, Any]:
    """A failed payment of a customer in Madrid, for the connected account, at 23:00 Madrid
    time (21:00 UTC in July): outside the SMS window."""
    return {
        "id": f"evt_{invoice}",
        "object": "event",
        "type": "invoice.payment_failed",
        "account": ACCOUNT,
        "created": created,
        "data": {
            "object": {
                "object": "invoice",
                "id": invoice,
                "customer": "cus_madrid",
                "customer_phone": "+34600000000",
                "customer_email": "ana@example.es",
                "customer_address": MADRID,
                "amount_due": 123456,
                "currency": "eur",
                "hosted_invoice_url": "https://invoice.stripe.com/i/x",
            }
        },
    }


def spanish(args: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {"id": args["customer"], "preferred_locales": ["es-ES"]}


RULE_SET = dr.load_rules(TEXT)
SPLIT = RULE_SET.rules[0].split


def invoice_in(variant: str) -> str:
    assert SPLIT is not None
    return next(
        f"in_{n}" for n in range(1000) if SPLIT.assign("card-declined", f"in_{n}").name == variant
    )


def test_the_docs_example_is_the_one_tested():
    """The rule file is the page's, with a 10% holdout and the connected account's settings."""
    assert SPLIT is not None
    assert SPLIT.holdout is not None
    assert SPLIT.holdout.name == "control"
    assert not RULE_SET.warnings


def test_handle_run_due_and_simulate_agree_on_time_language_and_account():
    """At 23:00 in Madrid the SMS waits for 08:00 Madrid time (06:00 UTC), then goes out in
    Spanish, with the connected account's company and euros written the Spanish way; simulate
    says the same time and text."""
    invoice = invoice_in("reminders")
    event = failure(invoice, int(dt.datetime(2024, 7, 26, 21, 0, tzinfo=UTC).timestamp()))
    clock = FixedClock(dt.datetime(2024, 7, 26, 21, 0, tzinfo=UTC))
    sms, email = RecordingAdapter(), RecordingAdapter()
    engine = dr.Engine(
        RULE_SET,
        adapters={"sms": sms, "email": email},
        lookups={"stripe.customer": spanish},
        clock=clock,
    )
    plan = engine.simulate(
        copy.deepcopy(event), lookups={"customer": spanish({"customer": "c"}, None)}
    )
    (held,) = engine.handle(copy.deepcopy(event)).runs
    opening = dt.datetime(2024, 7, 27, 6, 0, tzinfo=UTC)
    assert (held.status, held.next_at, sms.calls) == ("waiting", opening, [])
    assert held.account == ACCOUNT
    assert held.variant == "reminders"
    planned_sms = plan.runs[0].steps[0]
    assert planned_sms.started_at == opening
    clock.now = opening - dt.timedelta(minutes=1)
    assert engine.run_due() == []
    clock.now = opening
    engine.run_due()
    (call,) = sms.calls
    body = call.params["body"]
    assert body.startswith("Globex: no se pudo cobrar su pago de 1.234,56 €.")
    assert body == planned_sms.params["body"]


def test_the_holdout_gets_no_message():
    """An invoice in the 10% holdout gets neither the SMS nor the email, in handle and
    run_due, and replay counts it in the holdout."""
    invoice = invoice_in("control")
    moment = dt.datetime(2024, 7, 26, 10, 0, tzinfo=UTC)  # noon in Madrid: inside the window
    clock = FixedClock(moment)
    sms, email = RecordingAdapter(), RecordingAdapter()
    engine = dr.Engine(
        RULE_SET,
        adapters={"sms": sms, "email": email},
        lookups={"stripe.customer": spanish},
        clock=clock,
    )
    engine.handle(failure(invoice, int(moment.timestamp())))
    clock.advance(days=4)
    engine.run_due()
    assert (sms.calls, email.calls) == ([], [])
    report = dr.replay(RULE_SET, [failure(invoice, int(moment.timestamp()))])
    arms = report.variants["card-declined"]["variants"]
    assert arms["control"]["runs"] == 1
    assert report.messages == {}
    assert report.accounts[ACCOUNT]["runs"] == 1


def test_replay_sends_the_sms_at_the_window_opening():
    """Replay on a simulated clock puts the SMS at 08:00 Madrid time, not at 23:00."""
    invoice = invoice_in("reminders")
    created = int(dt.datetime(2024, 7, 26, 21, 0, tzinfo=UTC).timestamp())
    report = dr.replay(RULE_SET, [failure(invoice, created)], sequences=True)
    steps = report.sequences[invoice] if report.sequences else ()
    first = next(step for step in steps if step[1] == "sms")
    assert dt.datetime.fromtimestamp(first[0], UTC) == dt.datetime(2024, 7, 27, 6, 0, tzinfo=UTC)
