"""simulate checks only what the rules read of an event, and still sees what handle sees.

Every value of a few real events (each leaf and each object or list) is replaced in turn by
something that is not in wire form: a Decimal, a tuple, a dict subclass, an object with a
non-string key; or by something no store can hold: NaN, a lone surrogate, a NUL. For each, on
rule files that read the event in every way expressions can (paths, projections, filters,
functions, pipes, ``*``, slices, send windows, locales):

- a value that converts: ``simulate(event)`` equals ``simulate`` of its wire form;
- a value no store can hold: ``simulate`` refuses it, or equals ``simulate`` of the clean event
  (the rules do not read it).

A value a rule reads but the read set missed would make the two differ.
"""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import dunning_rules as dr
from dunning_rules._event import wire_event
from dunning_rules.rules._reads import event_reads, rule_expressions
from dunning_rules.testing import FixedClock
from tests.paths import FIXTURES
from tests.test_simulate_truth import BROAD, EXAMPLE, LOOKUPS

SHAPE = """
version: 1
settings: {company: Acme}
rules:
  - name: shape
    on: ["invoice.*", "customer.*"]
    when: "WHEN"
    key: KEY
    actions:
      - {type: slack, channel: "#x", text: "TEXT"}
"""

# Each reads the event one way; none reads data.object whole, which would hide the others.
SHAPES = {
    "filter": ("data.object.lines.data[?amount > `0`].id", "data.id", "{{ data.object.id }}"),
    "index": ("type", "data.object.lines.data[0].price.id", "{{ data.object.lines.data[0].id }}"),
    "projection": ("type", "data.object.id", "{{ data.object.lines.data[*].period.start }}"),
    "flatten": ("type", "data.object.id", "{{ data.object.lines.data[].period.end }}"),
    "slice": ("type", "data.object.id", "{{ data.object.lines.data[:1].amount }}"),
    "pipe": ("data.object.status_transitions | paid_at", "id", "{{ data.object | number }}"),
    "multi-select": ("type", "id", "{{ [data.object.total, data.object.number] }}"),
    "object": ("type", "id", "{{ {a: data.object.subtotal, b: data.object.tax} }}"),
    "or": (
        "data.object.nothing || data.object.livemode",
        "id",
        "{{ data.object.x || data.object.period_end }}",
    ),
    "functions": (
        "ends_with(data.object.customer_email, 'm')",
        "id",
        "{{ length(data.object.lines.data) }}",
    ),
    "sort-by": ("type", "id", "{{ sort_by(data.object.lines.data, &amount)[0].description }}"),
    "values": ("type", "id", "{{ data.object.status_transitions.* }}"),
    "root": ("contains(keys(@), 'data')", "id", "{{ to_string(@) }}"),
}
EVENTS = [
    FIXTURES / "stripe" / "events" / "invoice.payment_failed.json",
    FIXTURES / "stripe" / "events" / "invoice.paid.json",
    FIXTURES / "stripe" / "events" / "customer.subscription.deleted.json",
]


class Sub(dict[str, Any]):
    """A dict subclass, as dj-stripe gives."""


def places(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every value's path in ``value`` (objects and lists too), the root excepted."""
    if path:
        yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from places(item, (*path, key))
    elif isinstance(value, list):
        for number, item in enumerate(value):
            yield from places(item, (*path, number))


def replaced(event: dict[str, Any], path: tuple[Any, ...], make: Callable[[Any], Any]) -> Any:
    changed = copy.deepcopy(event)
    parent = changed
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = make(parent[path[-1]])
    return changed


def converting(value: Any) -> Any:
    """The value in a form that is not wire form but has one."""
    if isinstance(value, bool) or value is None:
        return decimal.Decimal("7.25")
    if isinstance(value, (int, float)):
        return decimal.Decimal(str(value))
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, dict):
        return Sub({**value, 5: "five"}) if value else Sub()
    return decimal.Decimal("1.5")


UNSTORABLE: list[Callable[[Any], Any]] = [
    lambda value: float("nan"),
    lambda value: "lone \ud800",
    lambda value: "nul \x00",
]


def same(one: dr.Outcome, other: dr.Outcome) -> bool:
    return (one.matched, one.runs, one.actions, one.warnings) == (
        other.matched,
        other.runs,
        other.actions,
        other.warnings,
    )


def rule_text(name: str) -> str:
    if name == "broad":
        return BROAD
    if name == "example":
        return EXAMPLE.read_text()
    when, key, text = SHAPES[name]
    return SHAPE.replace("WHEN", when).replace("KEY", key).replace("TEXT", text)


@pytest.fixture(scope="module", params=["broad", "example", *SHAPES])
def engine(request: pytest.FixtureRequest) -> dr.Engine:
    text = rule_text(request.param)
    clock = FixedClock(dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.timezone.utc))
    return dr.Engine(dr.load_rules(text), clock=clock)


@pytest.mark.parametrize("path", EVENTS, ids=[p.stem for p in EVENTS])
def test_every_value_simulates_as_its_wire_form(engine: dr.Engine, path: Any) -> None:
    event = json.loads(path.read_text())
    clean = engine.simulate(event)
    reads = event_reads(rule_expressions(engine.rules))  # with the addresses windows read
    fits = reads.checker()
    checked = 0
    for place in places(event):
        odd = replaced(event, place, converting)
        assert fits(odd) is reads.fits(odd), place
        want = engine.simulate(wire_event(odd), lookups=LOOKUPS)
        assert same(engine.simulate(odd, lookups=LOOKUPS), want), place
        for make in UNSTORABLE:
            bad = replaced(event, place, make)
            assert fits(bad) is reads.fits(bad), place
            try:
                got = engine.simulate(bad)
            except dr.EventError:
                continue
            assert same(got, clean), (place, make(None))
        checked += 1
    assert checked > 50


def test_the_read_set_is_the_paths_the_rules_name() -> None:
    """A rule set reading two fields checks those (and the engine's own), not the rest."""
    rules = dr.load_rules(
        """
version: 1
rules:
  - name: r
    on: invoice.payment_failed
    when: "data.object.amount_due > `100` && data.object.metadata.plan == 'pro'"
    actions: [{type: slack, channel: "#x", text: "{{ data.object.customer_email }}"}]
"""
    )
    reads = event_reads(rule_expressions(rules))
    invoice = reads.fields["data"].fields["object"]
    assert not reads.whole
    assert not invoice.whole
    assert {"amount_due", "metadata", "customer_email", "id"} <= set(invoice.fields)
    assert invoice.fields["amount_due"].whole
    assert not invoice.fields["metadata"].whole
    assert invoice.fields["metadata"].fields["plan"].whole
    event = json.loads(EVENTS[0].read_text())
    event["data"]["object"]["lines"] = (1, 2)  # a tuple no rule reads
    assert reads.fits(event)
    event["data"]["object"]["amount_due"] = decimal.Decimal("5")
    assert not reads.fits(event)


def test_an_expression_that_reads_the_root_checks_everything() -> None:
    rules = dr.load_rules(
        """
version: 1
rules:
  - name: r
    on: invoice.payment_failed
    when: "length(@) > `0`"
    actions: [{type: slack, channel: "#x", text: "hi"}]
"""
    )
    assert event_reads(rule_expressions(rules)).whole
    event = json.loads(EVENTS[0].read_text())
    event["data"]["object"]["lines"]["data"][0]["amount"] = float("inf")
    with pytest.raises(dr.EventError):
        dr.Engine(rules).simulate(event)
