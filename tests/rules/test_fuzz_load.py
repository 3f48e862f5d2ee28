"""Fuzzing the loader: whatever the text, ``load_rules`` returns a RuleSet or raises
RuleFileError, soon; never RecursionError, MemoryError, OverflowError or anything else.

Besides arbitrary text, the generators build the shapes that once broke it: aliases and merge
keys that multiply (alias bombs, recursive aliases), nesting around the bounds, long paths and
chains, random JMESPath wrapped in brackets, and durations of any length. The YAML texts are
also read on both paths, libyaml's and pure Python's, which must give the same data, problems
and places (tests/rules/yaml_paths.py), as must every YAML file of the project. A rule file that
loads is also simulated on an event: its conditions must compile and evaluate without a
recursion error, and all of it runs with 400 frames already on the stack (as a web framework
would have), so the bounds are shown to leave room. Every example must finish within the
deadline (one second; they take milliseconds), so a quadratic or exponential regression fails
here.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dunning_rules as dr
from dunning_rules.rules.limits import (
    MAX_CONDITION_DEPTH,
    MAX_EXPRESSION_DEPTH,
    MAX_EXPRESSION_LENGTH,
    MAX_YAML_DEPTH,
)
from dunning_rules.testing import RecordingAdapter
from tests.rules.yaml_paths import assert_same, corpus

FUZZ = settings(
    deadline=dt.timedelta(seconds=1),
    max_examples=30,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
EVENT = {
    "id": "evt_1",
    "type": "invoice.payment_failed",
    "data": {"object": {"id": "in_1", "amount_due": 5000, "paid": False, "lines": [{"a": 1}]}},
}


CALLER_FRAMES = 400


def _frames() -> int:
    frame, count = sys._getframe(), 0
    while frame is not None:
        frame, count = frame.f_back, count + 1
    return count


def deep(run: Callable[[], Any]) -> Any:
    """``run()`` with CALLER_FRAMES frames on the stack below it."""
    if _frames() >= CALLER_FRAMES:
        return run()
    return deep(run)


def load(text: str) -> dr.RuleSet | None:
    """The RuleSet, or None for a RuleFileError; any other exception fails the test."""
    try:
        rules = deep(lambda: dr.load_rules(text if "\n" in text else text + "\n"))
    except dr.RuleFileError:
        return None
    assert isinstance(rules, dr.RuleSet)
    return rules


def load_and_simulate(text: str) -> None:
    """Load; where it loads, simulate the event: conditions evaluate or warn, never raise."""
    rules = load(text)
    if rules is None:
        return
    engine = dr.Engine(rules, adapters={"note": RecordingAdapter()})
    outcome = deep(lambda: engine.simulate(EVENT))
    assert all("recursion" not in warning for warning in outcome.warnings), outcome.warnings


def rule_file(when: Any, *, settings_text: str = "{}") -> str:
    return (
        f"version: 1\nsettings: {settings_text}\nrules:\n  - name: r\n"
        f"    on: invoice.payment_failed\n    when: {json.dumps(when)}\n"
        "    actions: [{type: note}]\n"
    )


# --- any text ----------------------------------------------------------------------------------

YAML_PIECES = st.sampled_from(
    [*"[]{}:,-&*!|>'\"`#?<\n ", "&a ", "*a", "<<: ", "!!int ", "1:00", "{{", "}}", "\t"]
)


@FUZZ
@given(st.lists(st.one_of(YAML_PIECES, st.text(max_size=8)), max_size=60).map("".join))
def test_any_text_loads_or_raises_rule_file_error(text):
    """Any text gives a RuleSet or a RuleFileError."""
    load(text)


# --- aliases -----------------------------------------------------------------------------------


@st.composite
def alias_documents(draw: st.DrawFn) -> str:
    """Anchored values built of earlier aliases, repeated: from harmless to a bomb."""
    count = draw(st.integers(1, 12))
    lines = ["version: 1", "rules: []", "settings:"]
    for index in range(count):
        kind = draw(st.sampled_from(["list", "mapping", "merge", "scalar", "recursive"]))
        earlier = [f"*a{i}" for i in range(index)] or ["x"]
        items = draw(st.lists(st.sampled_from(earlier), min_size=1, max_size=12))
        if kind == "list":
            value = f"[{', '.join(items)}]"
        elif kind == "mapping":
            value = "{" + ", ".join(f"k{i}: {item}" for i, item in enumerate(items)) + "}"
        elif kind == "merge" and index > 0:
            value = "{<<: [" + ", ".join(items) + f"], own{index}: x}}"
        elif kind == "recursive":
            value = f"[{', '.join(items)}, *a{index}]"
        else:
            value = "x"
        lines.append(f"  a{index}: &a{index} {value}")
    return "\n".join(lines) + "\n"


@FUZZ
@given(alias_documents())
def test_aliases_load_or_are_refused_quickly(text):
    """Aliases and merge keys of any shape load, or are refused, within the deadline."""
    load(text)


@FUZZ
@given(
    defaults=st.dictionaries(st.sampled_from(["text", "to", "on_error", "id"]), st.just("x")),
    written=st.dictionaries(st.sampled_from(["text", "to"]), st.just("y")),
)
def test_a_merged_step_has_its_written_keys_over_the_merged_ones(defaults, written):
    """<<: *defaults then written keys: the written value wins, the others come merged."""
    defaults = {**defaults, "on_error": "continue"}
    text = (
        "version: 1\nsettings:\n  d: &d " + json.dumps({"type": "note", **defaults}) + "\n"
        "rules:\n  - name: r\n    on: invoice.payment_failed\n    actions:\n"
        "      - {<<: *d" + "".join(f", {k}: {v}" for k, v in written.items()) + "}\n"
    )
    rules = load(text)
    assert rules is not None
    params = dict(rules.rules[0].actions[0].raw_params)
    expected = {k: v for k, v in {**defaults, **written}.items() if k not in ("on_error", "id")}
    assert params == expected


# --- nesting -----------------------------------------------------------------------------------


@FUZZ
@given(
    depth=st.integers(MAX_YAML_DEPTH - 8, MAX_YAML_DEPTH + 40),
    opener=st.sampled_from(["[", "{a: ", "- "]),
    closed=st.booleans(),
)
def test_deep_yaml_loads_or_is_refused(depth, opener, closed):
    """Nesting around the YAML bound, closed or not, block or flow, loads or is refused."""
    if opener == "- ":
        body = "".join("  " * i + "-\n" for i in range(depth)) + "  " * depth + "x\n"
        text = "version: 1\nrules: []\nsettings:\n  a:\n" + body
    else:
        closer = {"[": "]", "{a: ": "}"}[opener]
        text = "version: 1\nrules: []\nsettings: " + opener * depth + "1"
        text += (closer * depth if closed else "") + "\n"
    load(text)


CONDITION_WORDS = st.sampled_from(["all", "any", "not"])


@FUZZ
@given(
    words=st.lists(CONDITION_WORDS, min_size=1, max_size=MAX_CONDITION_DEPTH + 10),
    leaf=st.sampled_from(["data.object.paid", "!data.object.paid", "`true`", "a.["]),
)
def test_nested_conditions_load_or_are_refused(words, leaf):
    """all/any/not nested around their bound load (and evaluate) or are refused."""
    condition: Any = leaf
    for word in reversed(words):
        condition = {"not": condition} if word == "not" else {word: [condition, "`true`"]}
    load_and_simulate(rule_file(condition))


# --- long paths and random JMESPath ------------------------------------------------------------

FIELDS = st.sampled_from(["a", "data", "object", "paid", "lines", "steps", "vars", "settings"])


@settings(FUZZ, max_examples=15)
@given(
    count=st.one_of(st.integers(1, 200), st.integers(1, MAX_EXPRESSION_LENGTH // 2 + 200)),
    joiner=st.sampled_from([".", " | ", " || ", " && ", "[0].", "[*]."]),
    field=FIELDS,
)
def test_long_chains_load_or_are_refused(count, joiner, field):
    """A chain of any length (a path, pipes, ||, &&, indexes) loads and evaluates, or is
    refused by the length bound."""
    load_and_simulate(rule_file(joiner.join([field] * count)))


def _jmespath(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, FIELDS).map(lambda t: f"{t[0]}.{t[1]}"),
        st.tuples(children, st.integers(-3, 3)).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(children, children).map(lambda t: f"{t[0]}[?{t[1]}]"),
        children.map(lambda c: f"{c}[*]"),
        children.map(lambda c: f"{c}[]"),
        children.map(lambda c: f"{c}.*"),
        children.map(lambda c: f"!{c}"),
        children.map(lambda c: f"({c})"),
        st.tuples(children, st.sampled_from(["||", "&&", "|", "==", "<", ">="]), children).map(
            " ".join
        ),
        st.lists(children, min_size=1, max_size=3).map(lambda c: f"[{', '.join(c)}]"),
        st.tuples(FIELDS, children).map(lambda t: f"{{{t[0]}: {t[1]}}}"),
        st.tuples(
            st.sampled_from(["length", "abs", "not_null", "money", "sort_by", "nope", "to_string"]),
            st.lists(children, max_size=3),
        ).map(lambda t: f"{t[0]}({', '.join(t[1])})"),
        children.map(lambda c: f"sort_by(data.object.lines, &{c})"),
    )


JMESPATH = st.recursive(
    st.one_of(
        FIELDS,
        st.sampled_from(["@", "`1`", '`[1, {"a": null}]`', "'text'", '`"s"`', "data.object"]),
    ),
    _jmespath,
    max_leaves=12,
)
WRAPPERS = st.sampled_from([("(", ")"), ("[", "]"), ("abs(", ")"), ("!", ""), ("{a: ", "}")])


@FUZZ
@given(
    expression=JMESPATH,
    wrapper=WRAPPERS,
    times=st.one_of(st.integers(0, MAX_EXPRESSION_DEPTH + 20), st.integers(0, 2_000)),
    projections=st.one_of(st.integers(0, 80), st.integers(0, 2_000)),
)
def test_random_jmespath_loads_or_is_refused(expression, wrapper, times, projections):
    """Random JMESPath, wrapped around the depth bound, loads and evaluates or is refused."""
    opening, closing = wrapper
    text = opening * times + expression + "[*]" * projections + closing * times
    load_and_simulate(rule_file(text))


@FUZZ
@given(
    expression=JMESPATH,
    depth=st.one_of(st.integers(0, MAX_EXPRESSION_DEPTH + 10), st.integers(0, 3_000)),
)
def test_deep_json_literals_load_or_are_refused(expression, depth):
    """A JSON literal nested around the bound, next to random JMESPath, loads or is refused."""
    literal = "`" + "[" * depth + "1" + "]" * depth + "`"
    load_and_simulate(rule_file(f"{expression} == {literal}"))


# --- durations ---------------------------------------------------------------------------------

DURATIONS = st.builds(
    lambda digits, fraction, unit: digits + (f".{fraction}" if fraction else "") + unit,
    st.text("0123456789", min_size=1, max_size=30),
    st.one_of(st.none(), st.text("0123456789", min_size=1, max_size=5)),
    st.sampled_from(list("smhdw")),
)


@FUZZ
@given(
    wait=DURATIONS,
    timeout=DURATIONS,
    backoff=DURATIONS,
    attempts=st.integers(-2, 40),
)
def test_durations_of_any_size_load_or_are_refused(wait, timeout, backoff, attempts):
    """Durations and retries of any size load (within the bounds) or are refused, never an
    OverflowError; a file that loads can be simulated."""
    text = (
        "version: 1\nrules:\n  - name: r\n    on: invoice.payment_failed\n    actions:\n"
        f"      - {{type: wait, duration: '{wait}'}}\n"
        f"      - {{type: note, retry: {{attempts: {attempts}, backoff: '{backoff}'}}}}\n"
        f"      - {{type: approval, timeout: '{timeout}'}}\n"
    )
    rules = load(text)
    if rules is None:
        return
    retry = rules.rules[0].actions[1].retry
    assert retry is not None
    assert all(retry.delay(n) <= dt.timedelta(days=400) for n in range(1, attempts + 1))


# --- the two YAML paths ------------------------------------------------------------------------

BOTH_PATHS = settings(FUZZ, max_examples=150, deadline=None)


@BOTH_PATHS
@given(
    st.lists(st.one_of(YAML_PIECES, st.text(max_size=8)), max_size=60).map("".join),
    st.booleans(),
)
def test_any_text_reads_the_same_on_both_paths(text, line_break):
    """Any text: the same data, problems and places on libyaml as on pure Python."""
    assert_same(text + "\n" if line_break else text)


@BOTH_PATHS
@given(alias_documents())
def test_aliases_read_the_same_on_both_paths(text):
    """Aliases and merge keys, from harmless to bombs: the same answer on both paths."""
    assert_same(text)


@BOTH_PATHS
@given(
    depth=st.integers(MAX_YAML_DEPTH - 8, MAX_YAML_DEPTH + 40),
    opener=st.sampled_from(["[", "{a: ", "- "]),
    closed=st.booleans(),
)
def test_deep_yaml_reads_the_same_on_both_paths(depth, opener, closed):
    """Nesting around the YAML bound, block or flow: the same answer on both paths."""
    if opener == "- ":
        body = "".join("  " * i + "-\n" for i in range(depth)) + "  " * depth + "x\n"
        text = "version: 1\nrules: []\nsettings:\n  a:\n" + body
    else:
        closer = {"[": "]", "{a: ": "}"}[opener]
        text = "version: 1\nrules: []\nsettings: " + opener * depth + "1"
        text += (closer * depth if closed else "") + "\n"
    assert_same(text)


SCALARS = st.one_of(
    st.sampled_from(["on", "NO", "1:30", "0x1f", "2026-01-01", "~", "", "a: b", "- c", "#d"]),
    st.text(max_size=12),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.none(),
)
DATA = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=25,
)
EDITS = st.lists(
    st.tuples(
        st.integers(0, 10_000),
        st.sampled_from(["", *"[]{}:,-&*!|>'\"#?\n ", "  ", "\n  ", "&a ", "*a", "<<: "]),
        st.booleans(),
    ),
    max_size=3,
)


@BOTH_PATHS
@given(
    data=DATA,
    flow=st.sampled_from([None, True, False]),
    style=st.sampled_from([None, None, "'", '"', "|", ">"]),
    width=st.sampled_from([20, 80, 1000]),
    crlf=st.booleans(),
    edits=EDITS,
)
def test_yaml_of_any_style_reads_the_same_on_both_paths(data, flow, style, width, crlf, edits):
    """Data written in every style PyYAML writes (flow, block, quoted, literal, folded; CRLF
    line breaks), then perhaps edited a little: the same answer on both paths."""
    text = yaml.safe_dump(
        data, default_flow_style=flow, default_style=style, width=width, allow_unicode=True
    )
    if crlf:
        text = text.replace("\n", "\r\n")
    for at, piece, delete in edits:
        at %= len(text) + 1
        text = text[:at] + piece + text[at + (1 if delete else 0) :]
    assert_same(text)


@pytest.mark.parametrize(("name", "text"), corpus(), ids=[name for name, _ in corpus()])
def test_every_yaml_file_reads_the_same_on_both_paths(name, text):
    """Every YAML file in examples/ and tests/, and every rule file of tests/cases: the same
    answer on both paths."""
    assert_same(text)
