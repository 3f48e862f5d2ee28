"""Any JSON that meets the event contract is stored and handled on every store; what no store
can hold is an EventError before anything is stored."""

from __future__ import annotations

import copy
import decimal
import json

import pytest
import stripe

import dunning_rules as dr
from dunning_rules._event import MAX_EVENT_DEPTH
from dunning_rules.testing import FixedClock, RecordingAdapter

RULES = """
version: 1
rules:
  - name: note
    on: invoice.payment_failed
    cancel_on: [invoice.paid]
    actions:
      - {type: note, text: "{{ data.object.customer_name }} {{ data.object.amount_due }}"}
      - {type: wait, duration: 1d}
      - type: note
        text: "{{ keys(data.object.metadata) }} {{ data.object.lines.data[0].quantity_decimal }}"
"""


def engine_on(backend):
    note = RecordingAdapter()
    clock = FixedClock()
    engine = dr.Engine(
        dr.load_rules(RULES), adapters={"note": note}, store=backend.open(), clock=clock
    )
    return engine, note, clock


def variant(event, **fields):
    event = copy.deepcopy(event)
    event["data"]["object"].update(fields)
    return event


@pytest.mark.parametrize(
    "fields",
    [
        {"created_note": 2**64, "amount_due": 2**70},
        {"customer_name": "Zoë 名前 🧾 \u200b\u202e\ufeff", "metadata": {"ключ": "значение"}},
        {"customer_name": "x" * 100_000},
        {"metadata": {"a" * 300: "b", "": ""}},
    ],
    ids=["big-integers", "unicode", "long-text", "odd-keys"],
)
def test_contract_json_is_stored_and_handled(backend, failed_event, fields):
    """Big integers and every kind of (valid) Unicode go through handle and run_due alike."""
    engine, note, clock = engine_on(backend)
    event = variant(failed_event, **fields)
    event["created"] = 2**64
    outcome = engine.handle(event)
    assert outcome.runs[0].status == "waiting"
    assert note.calls[0].params["text"].startswith(str(fields.get("customer_name", "")))
    clock.advance(days=1)
    (later,) = engine.run_due()
    assert later.runs[0].status == "completed"
    assert engine.handle(event).duplicate
    (stored,) = engine.runs()
    assert stored.event == json.loads(json.dumps(event))


def deep(levels: int) -> dict:
    value: dict = {}
    for _ in range(levels):
        value = {"a": value}
    return value


def cyclic() -> dict:
    value: dict = {}
    value["self"] = value
    return value


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"customer_name": "Jen\ud800ny"}, "lone surrogate"),
        ({"metadata": {"k\udfff": "v"}}, "lone surrogate"),
        ({"customer_name": "Jen\x00ny"}, "NUL"),
        ({"metadata": deep(5000)}, f"deeper than {MAX_EVENT_DEPTH}"),
        ({"metadata": deep(MAX_EVENT_DEPTH - 3)}, f"deeper than {MAX_EVENT_DEPTH}"),
        ({"metadata": cyclic()}, "not JSON"),
        ({"amount_due": float("nan")}, "not JSON"),
        ({"amount_due": float("inf")}, "not JSON"),
        ({"metadata": {"when": object()}}, "not JSON"),
    ],
    ids=[
        "surrogate",
        "surrogate-key",
        "nul",
        "deep-5000",
        "deep-bound",
        "cycle",
        "nan",
        "inf",
        "object",
    ],
)
def test_what_no_store_can_hold_is_refused_before_anything_is_stored(
    backend, failed_event, fields, message
):
    """Lone surrogates, NUL, cycles, NaN, objects and nesting past the bound: EventError from
    handle and simulate, and the store holds nothing afterwards."""
    engine, note, _ = engine_on(backend)
    event = variant(failed_event, **fields)
    with pytest.raises(dr.EventError, match=message):
        engine.handle(event)
    with pytest.raises(dr.EventError, match=message):
        engine.simulate(event)
    assert note.calls == []
    assert engine.runs() == []
    fixed = variant(failed_event)
    assert not engine.handle(fixed).duplicate  # the event id was not recorded either


def test_nesting_at_the_bound_is_accepted(backend, failed_event):
    """An event that nests exactly MAX_EVENT_DEPTH levels deep is handled."""
    engine, _, _ = engine_on(backend)
    event = copy.deepcopy(failed_event)
    # event > data > object > metadata: 4 levels, and deep(n) nests n more
    event["data"]["object"]["metadata"] = deep(MAX_EVENT_DEPTH - 4)
    assert engine.handle(event).runs[0].status == "waiting"


class DjStripeEvent(dict):
    """A dict subclass, as dj-stripe hands events over, with nested subclasses too."""


def nested_subclass(value):
    if isinstance(value, dict):
        return DjStripeEvent({k: nested_subclass(v) for k, v in value.items()})
    if isinstance(value, list):
        return [nested_subclass(v) for v in value]
    return value


def test_the_same_event_in_any_python_form_gives_the_same_result(backend, failed_event):
    """A dict, a stripe.Event (whose *_decimal fields are Decimals) and a dict subclass give
    the same rendered steps and the same stored event, on every store."""
    failed_event["data"]["object"]["lines"]["data"][0]["quantity_decimal"] = "1000.5"
    failed_event["data"]["object"]["metadata"] = {"plan": "pro"}
    seen = []
    for form in ("dict", "stripe", "subclass"):
        event = copy.deepcopy(failed_event)
        event["id"] = f"evt_{form}"  # one store: each form is a new event
        event["data"]["object"]["id"] = f"in_{form}"
        if form == "stripe":
            event = stripe.Event.construct_from(event, "sk_test_x")
            line = event.to_dict()["data"]["object"]["lines"]["data"][0]
            assert isinstance(line["quantity_decimal"], decimal.Decimal)
        elif form == "subclass":
            event = nested_subclass(event)
        engine, note, clock = engine_on(backend)
        engine.handle(event)
        clock.advance(days=1)
        engine.run_due()
        (stored,) = engine.runs(key=f"in_{form}")
        wire = dict(stored.event, id=None)
        wire["data"] = {"object": dict(wire["data"]["object"], id=None)}
        seen.append(([c.params for c in note.calls], wire))
    assert seen[0] == seen[1] == seen[2]
    assert seen[0][0][1]["text"] == '["plan"] 1000.5'


def test_decimal_fields_are_written_as_stripe_sends_them(failed_event):
    """A Decimal where Stripe sends a decimal string becomes that string."""
    engine = dr.Engine(dr.load_rules(RULES), adapters={"note": RecordingAdapter()})
    event = copy.deepcopy(failed_event)
    event["data"]["object"]["lines"]["data"][0]["quantity_decimal"] = decimal.Decimal("12.50")
    plan = engine.simulate(event)
    assert plan.runs[0].steps[2].params["text"].endswith(" 12.50")
    event["data"]["object"]["lines"]["data"][0]["quantity_decimal"] = decimal.Decimal("NaN")
    with pytest.raises(dr.EventError, match="not JSON"):
        engine.simulate(event)


THREE_RULES = "version: 1\nrules:\n" + "".join(
    f"  - name: r{i}\n    on: invoice.payment_failed\n"
    "    actions: [{type: note, text: x}, {type: wait, duration: 1d}]\n"
    for i in range(3)
)


def test_an_event_is_stored_once_for_all_the_runs_it_starts(backend, failed_event):
    """Three rules match one event: the SQL stores keep the event's text once, with the event,
    and every run reads it back whole (claimed, listed, fetched)."""
    clock = FixedClock()
    engine = dr.Engine(
        dr.load_rules(THREE_RULES),
        adapters={"note": RecordingAdapter()},
        store=backend.open(),
        clock=clock,
    )
    engine.handle(failed_event)
    wire = json.loads(json.dumps(failed_event))
    assert [r.event for r in engine.runs()] == [wire] * 3
    clock.advance(days=1)
    assert [o.runs[0].event for o in engine.run_due()] == [wire] * 3
    if backend.kind == "memory":
        return
    rows = raw_rows(backend, "SELECT event FROM dunning_rules_runs")
    assert [row[0] for row in rows] == ["", "", ""]
    (body,) = raw_rows(backend, "SELECT body FROM dunning_rules_events WHERE body IS NOT NULL")
    assert json.loads(body[0]) == wire


def raw_rows(backend, sql: str) -> list[tuple]:
    if backend.kind == "sqlite":
        import sqlite3

        with sqlite3.connect(backend.url.removeprefix("sqlite:///")) as db:
            return db.execute(sql).fetchall()
    import psycopg

    with psycopg.connect(backend.url) as conn:
        return conn.execute(sql).fetchall()
