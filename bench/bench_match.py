"""Benchmark: which of N rules match a Stripe ``invoice.payment_failed`` event, by engine.

    python bench/bench_match.py            # N = 10, 100, 1000; about two minutes
    python bench/bench_match.py --quick    # the same tables, shorter slices; under a minute

Every rule is 2-3 comparisons on the event (amount_due, currency, attempt_count,
metadata.plan, the customer_email domain), joined with "and", drawn with a fixed seed so that an
event matches about a tenth of the rules. The events are 1,000 variations of the fixture event
(fixed seed too). How it measures (bench/_measure.py): CPU time, the engines of one size
interleaved in short slices, each ratio taken within a repetition, the median of 5 printed with
the lowest and highest. The engines:

- ``jmespath loop``: a bare loop of precompiled ``jmespath`` expressions (the 1.0x baseline);
- ``compiled``: the same loop over ``dunning_rules.rules._compiler.compile_expression``;
- ``compiled batch``: one ``compile_batch`` function for all conditions;
- ``Engine.simulate``: ``dunning_rules.Engine(load_rules(yaml)).simulate(event)``, the whole
  library path (rules with ``on: invoice.payment_failed``, ``when:`` and one slack action);
- ``python lambdas``: hand-written Python, one lambda per rule that walks the dict itself;
- ``business-rules`` (``business_rules``) and ``zen-engine`` (``zen``, one compiled expression
  that returns the list of all conditions, its fastest path) when they are installed;
- ``Engine.handle``: the memory store, each rule's one step on a no-op adapter, every event a
  new id for a new invoice (its runs stay in the store, as they would).

Before timing, every engine must find the same matching rules for every event; the script
prints the number of mismatches and exits 1 if there is any.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jmespath
from _measure import Contender, compare, print_table, versus

from dunning_rules.rules._compiler import compile_batch, compile_expression
from dunning_rules.rules.functions import FUNCTIONS

BASE_EVENT = (
    Path(__file__).resolve().parents[1]
    / "tests"
    / "fixtures"
    / "stripe"
    / "events"
    / "invoice.payment_failed.json"
)
SEED = 20240917
SIZES = (10, 100, 1000)
CURRENCIES = ("usd", "eur", "gbp", "jpy", "chf")
DOMAINS = ("example.com", "gmail.com", "acme.io", "corp.de", "yahoo.co.jp")
PLANS = ("basic", "pro", "enterprise")
NUMBER_OPS = (">", ">=", "<", "<=")
BR_OPS = {
    ">": "greater_than",
    ">=": "greater_than_or_equal_to",
    "<": "less_than",
    "<=": "less_than_or_equal_to",
    "==": "equal_to",
}
OPTIONS = jmespath.Options(custom_functions=FUNCTIONS)

Match = Callable[[dict[str, Any]], list[int]]


@dataclass(frozen=True)
class Comparison:
    """One comparison of a rule: ``field op value``, in every engine's syntax."""

    field: str  # amount_due | attempt_count | currency | plan | domain
    op: str
    value: Any

    def jmespath(self) -> str:
        if self.field == "domain":
            return f"ends_with(data.object.customer_email, '@{self.value}')"
        if self.field == "plan":
            return f"data.object.metadata.plan == '{self.value}'"
        if self.field == "currency":
            return f"data.object.currency == '{self.value}'"
        return f"data.object.{self.field} {self.op} `{self.value}`"

    def python(self) -> str:
        if self.field == "domain":
            return f'e["data"]["object"]["customer_email"].endswith({"@" + self.value!r})'
        if self.field == "plan":
            return f'(e["data"]["object"].get("metadata") or {{}}).get("plan") == {self.value!r}'
        return f'e["data"]["object"][{self.field!r}] {self.op} {self.value!r}'

    def zen(self) -> str:
        if self.field == "domain":
            return f"endsWith(data.object.customer_email, '@{self.value}')"
        if self.field == "plan":
            return f"data.object.metadata.plan == '{self.value}'"
        if self.field == "currency":
            return f"data.object.currency == '{self.value}'"
        return f"data.object.{self.field} {self.op} {self.value}"

    def business_rules(self) -> dict[str, Any]:
        if self.field == "domain":
            return {"name": "customer_email", "operator": "ends_with", "value": "@" + self.value}
        return {"name": self.field, "operator": BR_OPS[self.op], "value": self.value}


def make_rules(count: int, rng: random.Random) -> list[list[Comparison]]:
    rules = []
    for _ in range(count):
        fields = rng.sample(["amount_due", "attempt_count", "currency", "plan", "domain"], 3)
        comparisons = []
        for name in fields[: rng.choices((2, 3), weights=(3, 1))[0]]:
            if name == "amount_due":
                value: Any = rng.choice((500, 1000, 2000, 5000, 10000, 50000, 100000))
                comparisons.append(Comparison(name, rng.choice(NUMBER_OPS), value))
            elif name == "attempt_count":
                comparisons.append(Comparison(name, rng.choice(NUMBER_OPS), rng.randint(1, 4)))
            elif name == "currency":
                comparisons.append(Comparison(name, "==", rng.choice(CURRENCIES)))
            elif name == "plan":
                comparisons.append(Comparison(name, "==", rng.choice(PLANS)))
            else:
                comparisons.append(Comparison(name, "ends_with", rng.choice(DOMAINS)))
        rules.append(comparisons)
    return rules


def make_events(count: int, rng: random.Random, base: dict[str, Any]) -> list[dict[str, Any]]:
    events = []
    for number in range(count):
        event = copy.deepcopy(base)
        event["id"] = f"evt_bench_{number:05d}"
        invoice = event["data"]["object"]
        invoice["id"] = f"in_bench_{number:05d}"
        invoice["amount_due"] = rng.choice((0, 99, 500, 1000, 1999, 5000, 25000, 99999, 250000))
        invoice["currency"] = rng.choice(CURRENCIES)
        invoice["attempt_count"] = rng.randint(0, 5)
        user = f"user{rng.randint(1, 9999)}"
        invoice["customer_email"] = f"{user}@{rng.choice(DOMAINS)}"
        plan = rng.choice((None, *PLANS))
        invoice["metadata"] = {} if plan is None else {"plan": plan, "seats": rng.randint(1, 50)}
        events.append(event)
    return events


def is_true(value: Any) -> bool:
    return not (value is None or value is False or value == "" or value == [] or value == {})


# -- engines --------------------------------------------------------------------------------------


def jmespath_loop(rules: list[list[Comparison]]) -> Match:
    parsed = [jmespath.compile(" && ".join(c.jmespath() for c in rule)) for rule in rules]

    def match(event: dict[str, Any]) -> list[int]:
        hits = []
        for i, p in enumerate(parsed):
            value = p.search(event, options=OPTIONS)
            if value is True or (value is not False and is_true(value)):
                hits.append(i)
        return hits

    return match


def compiled_loop(rules: list[list[Comparison]]) -> Match:
    searches = [compile_expression(" && ".join(c.jmespath() for c in rule)) for rule in rules]

    def match(event: dict[str, Any]) -> list[int]:
        hits = []
        for i, search in enumerate(searches):
            value = search(event)
            if value is True or (value is not False and is_true(value)):
                hits.append(i)
        return hits

    return match


def compiled_batch(rules: list[list[Comparison]]) -> Match:
    batch = compile_batch([" && ".join(c.jmespath() for c in rule) for rule in rules])

    def match(event: dict[str, Any]) -> list[int]:
        # Conditions are mostly true/false: test those first; an exception counts as false.
        return [
            i
            for i, value in enumerate(batch(event))
            if value is True
            or (
                value is not False
                and value is not None
                and not isinstance(value, Exception)
                and is_true(value)
            )
        ]

    return match


def rule_file(rules: list[list[Comparison]], action: str) -> str:
    """The rules as a rule file: rule ``rNNNN`` on invoice.payment_failed, one ``action``."""
    lines = ["version: 1", "rules:"]
    for number, rule in enumerate(rules):
        condition = " && ".join(c.jmespath() for c in rule)
        lines += [
            f"  - name: r{number:04d}",
            "    on: invoice.payment_failed",
            f"    when: {json.dumps(condition)}",
            f"    actions: [{action}]",
        ]
    return "\n".join(lines) + "\n"


def engine_simulate(rules: list[list[Comparison]]) -> Match:
    import dunning_rules  # the engine: imported here so the other columns run without it

    text = rule_file(rules, '{type: slack, channel: "#x", text: "hi"}')
    engine = dunning_rules.Engine(dunning_rules.load_rules(text))

    number = {f"r{n:04d}": n for n in range(len(rules))}

    def match(event: dict[str, Any]) -> list[int]:
        return sorted([number[name] for name in engine.simulate(event).matched])

    return match


def engine_handle(rules: list[list[Comparison]]) -> Match:
    import dunning_rules

    text = rule_file(rules, '{type: noop, text: "{{ data.object.customer_email }}"}')
    engine = dunning_rules.Engine(
        dunning_rules.load_rules(text),
        adapters={"noop": lambda params, ctx: None},
    )
    number = {f"r{n:04d}": n for n in range(len(rules))}
    serial = iter(range(10**12))

    def match(event: dict[str, Any]) -> list[int]:
        count = next(serial)  # a new event for a new invoice: no run history per key
        invoice = {**event["data"]["object"], "id": f"in_h{count}"}
        outcome = engine.handle({**event, "id": f"evt_h{count}", "data": {"object": invoice}})
        return sorted([number[name] for name in outcome.matched])

    return match


def python_lambdas(rules: list[list[Comparison]]) -> Match:
    tests = [eval("lambda e: " + " and ".join(c.python() for c in rule)) for rule in rules]

    def match(event: dict[str, Any]) -> list[int]:
        return [i for i, test in enumerate(tests) if test(event)]

    return match


def business_rules_engine(rules: list[list[Comparison]]) -> Match:
    from business_rules import run_all
    from business_rules.actions import BaseActions, rule_action
    from business_rules.fields import FIELD_NUMERIC
    from business_rules.variables import (
        BaseVariables,
        numeric_rule_variable,
        string_rule_variable,
    )

    class Invoice(BaseVariables):  # type: ignore[misc]
        def __init__(self, event: dict[str, Any]) -> None:
            self.invoice = event["data"]["object"]

        @numeric_rule_variable  # type: ignore[untyped-decorator]
        def amount_due(self) -> Any:
            return self.invoice["amount_due"]

        @numeric_rule_variable  # type: ignore[untyped-decorator]
        def attempt_count(self) -> Any:
            return self.invoice["attempt_count"]

        @string_rule_variable  # type: ignore[untyped-decorator]
        def currency(self) -> Any:
            return self.invoice["currency"]

        @string_rule_variable  # type: ignore[untyped-decorator]
        def plan(self) -> Any:
            return (self.invoice.get("metadata") or {}).get("plan")

        @string_rule_variable  # type: ignore[untyped-decorator]
        def customer_email(self) -> Any:
            return self.invoice["customer_email"]

    class Collect(BaseActions):  # type: ignore[misc]
        def __init__(self) -> None:
            self.hits: list[int] = []

        @rule_action(params={"rule": FIELD_NUMERIC})  # type: ignore[untyped-decorator]
        def matched(self, rule: int) -> None:
            self.hits.append(rule)

    rule_list = [
        {
            "conditions": {"all": [c.business_rules() for c in rule]},
            "actions": [{"name": "matched", "params": {"rule": number}}],
        }
        for number, rule in enumerate(rules)
    ]

    def match(event: dict[str, Any]) -> list[int]:
        actions = Collect()
        run_all(
            rule_list=rule_list,
            defined_variables=Invoice(event),
            defined_actions=actions,
            stop_on_first_trigger=False,
        )
        return sorted(int(hit) for hit in actions.hits)

    return match


def zen_engine(rules: list[list[Comparison]]) -> Match:
    import zen

    source = "[" + ", ".join(" and ".join(c.zen() for c in rule) for rule in rules) + "]"
    expression = zen.compile_expression(source)

    def match(event: dict[str, Any]) -> list[int]:
        return [i for i, hit in enumerate(expression.evaluate(event)) if hit is True]

    return match


ENGINES: list[tuple[str, Callable[[list[list[Comparison]]], Match], str | None]] = [
    ("jmespath loop", jmespath_loop, None),
    ("compiled", compiled_loop, None),
    ("compiled batch", compiled_batch, None),
    ("Engine.simulate", engine_simulate, "dunning_rules"),
    ("Engine.handle", engine_handle, "dunning_rules"),
    ("python lambdas", python_lambdas, None),
    ("business-rules", business_rules_engine, "business_rules"),
    ("zen-engine", zen_engine, "zen"),
]


# -- measuring ------------------------------------------------------------------------------------


def available(module: str | None) -> str | None:
    """None when ``module`` imports (or no module is needed), else why not."""
    if module is None:
        return None
    try:
        __import__(module)
        if module == "dunning_rules":
            from dunning_rules import Engine, load_rules  # noqa: F401
    except ImportError as exc:
        return str(exc)
    return None


def batches(match: Match, events: Sequence[dict[str, Any]], size: int = 25) -> Callable[[], int]:
    """A contender's ``run``: the next ``size`` events through ``match``."""
    offset = 0

    def run() -> int:
        nonlocal offset
        for event in events[offset : offset + size]:
            match(event)
        offset = (offset + size) % len(events)
        return size

    return run


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer events, shorter slices")
    parser.add_argument("--event", type=Path, default=BASE_EVENT, help="the base event JSON")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="rule counts")
    parser.add_argument(
        "--no-event-sizes", action="store_true", help="skip the table of event sizes"
    )
    args = parser.parse_args(argv)
    check_count, slice_seconds = (150, 0.02) if args.quick else (1000, 0.05)

    rng = random.Random(SEED)
    events = make_events(1000, rng, json.loads(args.event.read_text(encoding="utf-8")))
    engines = []
    for name, build, module in ENGINES:
        missing = available(module)
        if missing is None:
            engines.append((name, build))
        else:
            print(f"note: {name} skipped ({missing})")

    mismatches = 0
    results = []
    for size in [int(n) for n in args.sizes.split(",")]:
        rules = make_rules(size, random.Random(SEED + size))
        built = [(name, build(rules)) for name, build in engines]
        expected = [built[0][1](event) for event in events[:check_count]]
        for name, match in built[1:]:
            wrong = sum(match(e) != want for e, want in zip(events, expected, strict=False))
            if wrong:
                print(f"MISMATCH: {name} disagrees on {wrong} of {check_count} events (N={size})")
            mismatches += wrong
        matched = sum(len(m) for m in expected) / len(expected)
        print(f"N={size}: {matched:.1f} rules match an event on average ({matched / size:.0%})")
        contenders = [Contender(name, batches(m, events), f"N={size}") for name, m in built]
        results += compare(contenders, baseline="jmespath loop", slice_seconds=slice_seconds)

    checked = check_count * len(SIZES) * (len(engines) - 1)
    print(f"\nmismatches: {mismatches} (of {checked} engine/event checks)\n")
    print_table(results, unit="events", against="jmespath")
    by = {(r.group, r.name): r for r in results}
    print()
    for group in dict.fromkeys(r.group for r in results):
        mine = by.get((group, "Engine.simulate"))
        if mine is None:
            continue
        for other in ("python lambdas", "zen-engine", "compiled batch"):
            if (group, other) in by:
                median, low, high = versus(mine, by[(group, other)])
                print(
                    f"Engine.simulate vs {other:<15} {group:>7}: {median:6.2f}x"
                    f"  ({low:.2f}-{high:.2f})"
                )
    print_goals(by)
    if not args.no_event_sizes:
        print_event_sizes(events[0], slice_seconds)
    return 1 if mismatches else 0


def with_lines(event: dict[str, Any], kilobytes: int) -> dict[str, Any]:
    """``event`` with line items copied onto its invoice until its JSON is ``kilobytes`` KB."""
    bigger = copy.deepcopy(event)
    lines = bigger["data"]["object"]["lines"]["data"]
    item = lines[0]
    while len(json.dumps(bigger)) < kilobytes * 1000:
        lines.append({**copy.deepcopy(item), "id": f"il_bench_{len(lines)}"})
    return bigger


def print_event_sizes(event: dict[str, Any], slice_seconds: float) -> None:
    """How the event's size changes ``simulate`` and ``handle`` (memory store), N=100."""
    rules = make_rules(100, random.Random(SEED + 100))
    simulate, handle = engine_simulate(rules), engine_handle(rules)
    contenders = []
    for kilobytes in (4, 50, 206):
        sized = [with_lines(event, kilobytes) if kilobytes > 4 else event]
        group = f"{kilobytes} KB"
        contenders += [
            Contender("jmespath loop", batches(jmespath_loop(rules), sized, 1), group),
            Contender("Engine.simulate", batches(simulate, sized, 1), group),
            Contender("Engine.handle", batches(handle, sized, 1), group),
        ]
    results = compare(contenders, baseline="jmespath loop", slice_seconds=slice_seconds)
    print("\nevent size, N=100 (the invoice with more line items):")
    print_table(results, unit="events", against="jmespath")


GOALS = (  # (what, group, engine, against or None for microseconds per event, goal, at least)
    ("Engine.simulate vs the jmespath loop", "N=100", "Engine.simulate", "jmespath loop", 32),
    ("Engine.simulate vs zen-engine", "N=1000", "Engine.simulate", "zen-engine", 1.3),
    ("Engine.simulate vs python lambdas", "N=100", "Engine.simulate", "python lambdas", 0.6),
    ("Engine.handle, memory store (us/event)", "N=100", "Engine.handle", None, 250),
)


def print_goals(by: dict[tuple[str, str], Any]) -> None:
    """Each goal of docs/performance.md, as this run measured it."""
    print("\ngoals:")
    for what, group, name, against, goal in GOALS:
        mine = by.get((group, name))
        other = by.get((group, against)) if against else None
        if mine is None or (against and other is None):
            print(f"  {what} {group}: not measured (an engine or size is missing)")
        elif other is not None:
            median, low, high = versus(mine, other)
            verdict = "ok" if median >= goal else "NOT MET"
            print(
                f"  {what} {group}: {median:.2f}x ({low:.2f}-{high:.2f}), goal >= {goal}x {verdict}"
            )
        else:
            micros = mine.seconds_per_item * 1e6
            verdict = "ok" if micros <= goal else "NOT MET"
            print(f"  {what} {group}: {micros:.0f} us, goal <= {goal} us {verdict}")


if __name__ == "__main__":
    sys.exit(main())
