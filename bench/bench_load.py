"""Benchmark: ``load_rules`` of 1,000 and 5,000 rules, on libyaml and on pure Python.

    python bench/bench_load.py            # 1,000 and 5,000 rules, and 1,000 all different
    python bench/bench_load.py --quick    # 1,000 rules only, fewer repetitions; about 20 s

Each rule is of the kind a big rule set has: a ``when`` of 2-3 comparisons on the invoice
(amount_due, attempt_count, currency, metadata.plan, the customer_email domain, drawn with a
fixed seed), ``key: data.object.id``, an email with three placeholders, a wait and an sms.
In the file marked ``distinct`` every rule is different text: its own thresholds, subject,
placeholder, wait and sms.

Contenders, per file (bench/_measure.py: CPU time, interleaved, ratios within each
repetition): ``yaml.load(text, Loader=yaml.CSafeLoader)`` of the same text, the baseline (bare
parsing, no checks, nothing compiled); ``load_rules`` composing on libyaml; ``load_rules`` on
the pure-Python path (``DUNNING_RULES_YAML=python``). Every load is a first load: the
process's caches of parsed expressions are emptied before it (what a text gives is
remembered for the next load of the same text, which then takes less).

Goal (libyaml path): 1,000 rules in at most 0.4 s, 5,000 rules in at most 2 s of CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
from collections.abc import Callable

import yaml
from _measure import Contender, Result, compare, print_table

import dunning_rules as dr
from dunning_rules.rules import _parse

SEED = 20240917
CURRENCIES = ("usd", "eur", "gbp", "jpy", "chf")
DOMAINS = ("example.com", "gmail.com", "acme.io", "corp.de", "yahoo.co.jp")
PLANS = ("basic", "pro", "enterprise")
NUMBER_OPS = (">", ">=", "<", "<=")
GOALS = {1000: 0.4, 5000: 2.0}
"""Seconds of CPU a load of that many rules may take on the libyaml path."""


def condition(rng: random.Random, number: int | None) -> str:
    """2-3 comparisons joined with &&; with ``number``, thresholds of that rule's own."""
    fields = rng.sample(["amount_due", "attempt_count", "currency", "plan", "domain"], 3)
    parts = []
    for name in fields[: rng.choice((2, 3))]:
        if name == "amount_due":
            value = rng.choice((500, 1000, 2000, 5000, 10000, 50000, 100000))
            if number is not None:
                value += number
            parts.append(f"data.object.amount_due {rng.choice(NUMBER_OPS)} `{value}`")
        elif name == "attempt_count":
            value = rng.randint(1, 4) + (number * 10 if number is not None else 0)
            parts.append(f"data.object.attempt_count {rng.choice(NUMBER_OPS)} `{value}`")
        elif name == "currency":
            parts.append(f"data.object.currency == '{rng.choice(CURRENCIES)}'")
        elif name == "plan":
            parts.append(f"data.object.metadata.plan == '{rng.choice(PLANS)}'")
        else:
            parts.append(f"ends_with(data.object.customer_email, '@{rng.choice(DOMAINS)}')")
    return " && ".join(parts)


def rule_file(count: int, *, distinct: bool = False) -> str:
    """A rule file of ``count`` rules (see the module docstring), the same for the same
    arguments."""
    rng = random.Random(SEED)
    lines = ["version: 1", "rules:"]
    for number in range(count):
        own = number if distinct else None
        subject = f"Payment failed ({number})" if distinct else "Payment failed"
        note = f"data.object.metadata.note_{number}" if distinct else "data.object.customer_name"
        wait = f"{number % 97 + 1}d" if distinct else "3d"
        text = f"hi {number}" if distinct else "hi"
        body = f"Hi {{{{ {note} }}}}, {{{{ money(data.object.amount_due, data.object.currency) }}}}"
        lines += [
            f"  - name: r{number:05d}",
            "    on: invoice.payment_failed",
            f"    when: {json.dumps(condition(rng, own))}",
            "    key: data.object.id",
            "    actions:",
            '      - {type: email, to: "{{ data.object.customer_email }}", '
            f"subject: {json.dumps(subject)}, body: {json.dumps(body)}}}",
            f"      - {{type: wait, duration: {wait}}}",
            f'      - {{type: sms, to: "+15550100", text: "{text}"}}',
        ]
    return "\n".join(lines) + "\n"


def first_load(text: str, path: str, count: int) -> Callable[[], int]:
    """One load of ``text`` on ``path`` (``libyaml`` or ``python``), as if it were the first;
    it did ``count`` rules."""

    def run() -> int:
        os.environ["DUNNING_RULES_YAML"] = path
        _parse.forget()
        rules = dr.load_rules(text)
        assert len(rules) == count
        return count

    return run


def bare_parse(text: str, count: int) -> Callable[[], int]:
    def run() -> int:
        yaml.load(text, Loader=yaml.CSafeLoader)
        return count

    return run


def seconds(result: Result, count: int) -> tuple[float, float, float]:
    """Seconds per load of ``count`` rules: the median and the range over the repetitions."""
    each = [count / rate for rate in result.rates]
    return statistics.median(each), min(each), max(each)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 rules, fewer repetitions")
    args = parser.parse_args()
    files = [("1000", 1000, False), ("1000 distinct", 1000, True)]
    if not args.quick:
        files.append(("5000", 5000, False))
    if not hasattr(yaml, "CSafeLoader"):
        print("PyYAML has no libyaml here: nothing to compare", file=sys.stderr)
        return 1
    previous = os.environ.get("DUNNING_RULES_YAML")
    failed = []
    try:
        for label, count, distinct in files:
            text = rule_file(count, distinct=distinct)
            contenders = [
                Contender("CSafeLoader", bare_parse(text, count), group=label),
                Contender("libyaml", first_load(text, "libyaml", count), group=label),
                Contender("pure Python", first_load(text, "python", count), group=label),
            ]
            # A load is a slice of its own: each repetition runs each contender once or twice.
            results = compare(
                contenders,
                baseline="CSafeLoader",
                repetitions=3 if args.quick else 5,
                slices=1 if args.quick or count > 1000 else 2,
                slice_seconds=0.05,
            )
            print(f"\n{label} rules ({len(text):,} bytes of YAML)")
            print_table(results, unit="rules", against="CSafeLoader")
            for result in results:
                median, low, high = seconds(result, count)
                print(f"  {result.name:<12} {median:7.3f} s per load ({low:.3f}-{high:.3f})")
                goal = GOALS.get(count)
                if result.name == "libyaml" and goal is not None and not distinct:
                    verdict = "met" if median <= goal else "NOT MET"
                    print(f"  goal: {count:,} rules in <= {goal} s on libyaml: {verdict}")
                    if median > goal:
                        failed.append(label)
    finally:
        if previous is None:
            os.environ.pop("DUNNING_RULES_YAML", None)
        else:
            os.environ["DUNNING_RULES_YAML"] = previous
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
