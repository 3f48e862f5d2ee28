"""Text in the customer's language through the engine: the variant picked by the customer's
preferred locales, money and dates written for it, in handle and simulate alike."""

from __future__ import annotations

import re
from typing import Any

import pytest

import dunning_rules as dr
from dunning_rules.testing import FixedClock, RecordingAdapter

CLOCK = "2024-07-26T16:00:00+00:00"  # noon in New York: inside every send window

TEXT = """
version: 1
lookups:
  customer: {type: stripe.customer, customer: data.object.customer}
rules:
  - name: remind
    on: invoice.payment_failed
    actions:
      - type: email
        to: "{{ data.object.customer_email }}"
        subject:
          en: "Your payment failed"
          es: "Su pago no se pudo procesar"
          default: en
        text:
          en: >-
            {{ money(data.object.amount_due, data.object.currency) }} was due on
            {{ date(data.object.due_date) }}.
          es: >-
            {{ money(data.object.amount_due, data.object.currency) }} vencía el
            {{ date(data.object.due_date) }}.
          default: en
"""


def invoice_event(**fields: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "object": "invoice",
        "id": "in_1",
        "customer": "cus_1",
        "customer_email": "jenny@example.com",
        "amount_due": 123456,
        "currency": "eur",
        "due_date": 1721995200,  # 2024-07-26
    }
    obj.update(fields)
    return {
        "id": "evt_1",
        "object": "event",
        "type": "invoice.payment_failed",
        "data": {"object": obj},
    }


def customer_with(*locales: str):
    asked: list[dict[str, Any]] = []

    def lookup(args: dict[str, Any], ctx: Any) -> dict[str, Any]:
        asked.append(args)
        return {"id": args["customer"], "preferred_locales": list(locales)}

    return lookup, asked


def sent(text: str, lookup: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
    email = RecordingAdapter()
    engine = dr.Engine(
        dr.load_rules(text),
        adapters={"email": email},
        lookups={"stripe.customer": lookup},
        clock=FixedClock(CLOCK),
    )
    engine.handle(event or invoice_event())
    [call] = email.calls
    return call.params


def test_a_spanish_customer_gets_the_spanish_text():
    """preferred_locales es-MX picks es; money and the date are written for es-MX."""
    lookup, asked = customer_with("es-MX")
    params = sent(TEXT, lookup)
    assert params["subject"] == "Su pago no se pudo procesar"
    assert params["text"] == "€1,234.56 vencía el 26 de julio de 2024."
    assert asked == [{"customer": "cus_1"}]


def test_a_customer_in_spain_gets_spanish_amounts():
    """es writes 1.234,56 €."""
    lookup, _ = customer_with("es")
    assert sent(TEXT, lookup)["text"] == "1.234,56 € vencía el 26 de julio de 2024."


def test_a_customer_without_a_known_locale_gets_the_default():
    """German is not given: the default (en) text, written for English."""
    lookup, _ = customer_with("de-DE")
    params = sent(TEXT, lookup)
    assert params["subject"] == "Your payment failed"
    assert params["text"] == "€1,234.56 was due on July 26, 2024."


def test_settings_locale_is_the_fallback():
    """A customer with no locales: settings.locale decides."""
    lookup, _ = customer_with()
    text = TEXT.replace("version: 1\n", "version: 1\nsettings: {locale: es}\n")
    assert sent(text, lookup)["subject"] == "Su pago no se pudo procesar"


def test_plain_text_is_unchanged():
    """A step with plain strings fetches no customer and formats money as always."""
    lookup, asked = customer_with("es")
    text = """
version: 1
lookups:
  customer: {type: stripe.customer, customer: data.object.customer}
rules:
  - name: remind
    on: invoice.payment_failed
    actions:
      - type: email
        to: a@example.com
        subject: s
        text: "{{ money(data.object.amount_due, data.object.currency) }}"
"""
    assert sent(text, lookup)["text"] == "€1,234.56"
    assert asked == []


def test_the_variant_not_picked_is_not_rendered():
    """A Spanish text that cannot render does not fail an English customer's step."""
    text = TEXT.replace(
        'es: "Su pago no se pudo procesar"', 'es: "{{ required(data.object.nothing) }}"'
    )
    lookup, _ = customer_with("en")
    assert sent(text, lookup)["subject"] == "Your payment failed"


def test_simulate_picks_the_same_text():
    """simulate, given the customer lookup, plans the Spanish text handle sends."""
    engine = dr.Engine(
        dr.load_rules(TEXT), adapters={"email": RecordingAdapter()}, clock=FixedClock(CLOCK)
    )
    plan = engine.simulate(invoice_event(), lookups={"customer": {"preferred_locales": ["es"]}})
    [record] = plan.actions
    assert record.params is not None
    assert record.params["subject"] == "Su pago no se pudo procesar"


def test_the_built_in_email_accepts_text_by_locale():
    """The email adapter's parameter check sees the default text: the engine builds."""
    engine = dr.Engine(dr.load_rules(TEXT), clock=FixedClock(CLOCK))
    assert engine.rules.rules[0].actions[0].raw_params["subject"] == "Your payment failed"


@pytest.mark.parametrize(
    ("subject", "message"),
    [
        (
            '{en: "Hi", es: "Hola", default: fr}',
            "'default' must name one of the locales given ('en', 'es'), not 'fr'",
        ),
        (
            '{en: "Hi", es: [Hola], default: en}',
            "the 'es' text is a list, the default 'en' a str: "
            "give every locale the same kind of value",
        ),
    ],
    ids=["default-names-nothing", "other-kind"],
)
def test_malformed_variants_are_load_errors(subject, message):
    """A default that names no locale, or variants of different kinds, fail at load."""
    text = f"""
version: 1
rules:
  - name: remind
    on: invoice.payment_failed
    actions:
      - {{type: email, to: a@example.com, text: t, subject: {subject}}}
"""
    with pytest.raises(dr.RuleFileError, match=re.escape(message)):
        dr.load_rules(text)
