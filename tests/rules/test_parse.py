"""Each expression text is parsed once per load, into the tree jmespath would build; its
code is generated when it first runs; a batch makes a shared comparison once per event."""

from __future__ import annotations

import json
import random
import warnings
from pathlib import Path
from typing import Any

import jmespath
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from jmespath.lexer import Lexer

import dunning_rules as dr
from dunning_rules.rules import _compiler, _parse
from dunning_rules.rules._compiler import compile_batch, compile_expression
from dunning_rules.rules._compiler_trees import nesting
from dunning_rules.rules.expressions import _NESTING_CHARACTERS, Expression, is_true
from dunning_rules.rules.functions import clock_scope
from tests.rules.test_differential import FIXED, data_strategy, expressions, outcome, parses

COMPLIANCE = Path(__file__).resolve().parents[1] / "fixtures" / "jmespath-compliance"
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def compliance_expressions() -> list[str]:
    found = []
    for path in sorted(COMPLIANCE.glob("*.json")):
        for suite in json.loads(path.read_text(encoding="utf-8")):
            found += [case["expression"] for case in suite["cases"] if "expression" in case]
    return list(dict.fromkeys(found))


def without_offsets(tree: Any) -> Any:
    if isinstance(tree, dict):
        return {k: without_offsets(v) for k, v in tree.items() if k != "start"}
    if isinstance(tree, list):
        return [without_offsets(v) for v in tree]
    return tree


def jmespath_answer(expression: str) -> Any:
    """jmespath's own tree of ``expression``, or its error class and message."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return jmespath.parser.Parser()._do_parse(expression).parsed
        except Exception as exc:  # its error is the answer
            return type(exc), str(exc)


def our_answer(expression: str) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return without_offsets(_parse._PlacedParser()._do_parse(expression).parsed)
        except Exception as exc:
            return type(exc), str(exc)


# -- the tokens and the trees ---------------------------------------------------------------------

TOKEN_TEXT = st.lists(
    st.sampled_from(
        [*"ab_Z09 \t\n.*[]?,:@(){}|&<>!=-'`\"\\é", "`1`", '`"x"`', "'s'", "`[1, 2]`", "`x`"]
    ),
    max_size=14,
).map("".join)


@PROPERTY
@given(TOKEN_TEXT)
def test_the_fast_tokens_are_jmespaths_tokens(text):
    """Where the regular expression makes tokens, they are the dicts jmespath's lexer makes;
    where jmespath's lexer refuses the text, it makes none (jmespath's error stays its own)."""
    mine = _parse._tokens(text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            theirs = list(Lexer().tokenize(text))
        except jmespath.exceptions.JMESPathError:
            assert mine is None
            return
    assert mine is None or mine == theirs


def test_the_fast_tokens_cover_conditions():
    """A rule condition of fields, literals, raw strings and functions is tokenized fast."""
    text = "ends_with(data.object.email, '@x.io') && data.object.amount_due >= `5000`"
    assert _parse._tokens(text) == list(Lexer().tokenize(text))


@pytest.mark.parametrize("expression", compliance_expressions())
def test_trees_are_jmespaths_on_the_compliance_suite(expression):
    """Every expression of the JMESPath compliance suite: the same tree (offsets aside), or
    the same error with the same message."""
    assert our_answer(expression) == jmespath_answer(expression)


@PROPERTY
@given(expressions)
def test_trees_are_jmespaths_on_random_expressions(expression):
    """Random expressions: the same tree as jmespath's (offsets aside), or the same error."""
    assert our_answer(expression) == jmespath_answer(expression)


def _common(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(["a", "b", "f(a)"])).map(lambda t: f"{t[0]}.{t[1]}"),
        st.tuples(
            children, st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "&&", "||"]), children
        ).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        children.map(lambda c: f"({c})"),
        st.lists(children, max_size=3).map(lambda args: f"f({', '.join(args)})"),
    )


COMMON = st.recursive(
    st.sampled_from(["a", "data", "b_1", "`1`", '`"x"`', "'y'", "`[1, 2]`", "`null`"]),
    _common,
    max_leaves=10,
)


@PROPERTY
@given(COMMON)
def test_the_common_parser_builds_jmespaths_trees(expression):
    """Fields, dots, literals, comparisons, && and ||, parentheses and calls: the fast parser
    builds jmespath's own tree (offsets aside), or leaves the text to jmespath's parser."""
    tokens = _parse._tokens(expression)
    assert tokens is not None
    try:
        tree = _parse._Common(tokens).parse()
    except _parse._Unsupported:
        return
    assert without_offsets(tree) == jmespath_answer(expression)


def test_the_common_parser_reads_rule_conditions():
    """A condition of comparisons and calls is read by the fast parser, not handed on."""
    text = "ends_with(data.object.email, '@x.io') && data.object.amount_due >= `5000`"
    tokens = _parse._tokens(text)
    assert tokens is not None
    assert without_offsets(_parse._Common(tokens).parse()) == jmespath_answer(text)


@PROPERTY
@given(expressions, st.integers(0, 30), st.sampled_from(["(", "[", "!", "abs(", "{a: "]))
def test_nesting_never_exceeds_the_count_of_its_characters(expression, times, opening):
    """Each level of nesting takes one of the characters counted, so a text with few of them
    needs no walk of its tree to pass the nesting bound."""
    closing = {"(": ")", "[": "]", "!": "", "abs(": ")", "{a: ": "}"}[opening]
    text = opening * times + expression + closing * times
    assume(parses(text))
    tree = jmespath.compile(text).parsed
    assert nesting(tree) <= sum(text.count(c) for c in _NESTING_CHARACTERS)


def test_field_nodes_hold_the_offset_of_their_name():
    """``start`` is where the field's name begins (inside the quotes of a quoted one)."""
    tree = _parse.parse('a.b || "c d"')
    field_b, field_cd = tree["children"][0]["children"][1], tree["children"][1]
    assert (field_b["value"], field_b["start"]) == ("b", 2)
    assert (field_cd["value"], field_cd["start"]) == ("c d", 8)


# -- once per load --------------------------------------------------------------------------------


def rule_file(count: int, distinct: int) -> str:
    lines = ["version: 1", "rules:"]
    for number in range(count):
        lines += [
            f"  - name: r{number}",
            "    on: invoice.payment_failed",
            f'    when: "data.object.amount_due > `{number % distinct}`"',
            "    actions:",
            "      - {type: note, text: 'Hi {{ data.object.customer_name }}'}",
        ]
    return "\n".join(lines) + "\n"


def test_a_load_parses_each_distinct_text_once(monkeypatch):
    """40 rules with 4 distinct conditions, one key and one placeholder: 6 parses in all, and
    jmespath's own parser is not called."""
    texts: list[str] = []
    placed_parse = _parse._PlacedParser._parse

    def counting(self: Any, expression: str) -> Any:
        texts.append(expression)
        return placed_parse(self, expression)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("jmespath's own parse ran")

    monkeypatch.setattr(_parse._PlacedParser, "_parse", counting)
    monkeypatch.setattr(jmespath, "compile", refuse)
    _parse.forget()
    dr.load_rules(rule_file(40, 4))
    assert sorted(texts) == sorted(
        [f"data.object.amount_due > `{n}`" for n in range(4)]
        + ["data.object.id", "data.object.customer_name"]
    )


def test_a_batch_is_one_module_with_one_exec(monkeypatch):
    """Loading 30 rules of one event type generates and runs one module: the batch."""
    modules: list[str] = []
    finish = _compiler._finish

    def counting(space: Any, main: str, options: Any) -> Any:
        modules.append(main)
        return finish(space, main, options)

    monkeypatch.setattr(_compiler, "_finish", counting)
    _parse.forget()
    dr.load_rules(rule_file(30, 30))
    assert len(modules) == 1


def test_code_is_generated_when_an_expression_first_runs():
    """After a load a rule's key has no code yet; its first evaluation generates it, gives
    the value, and puts the compiled function in the expression's place."""
    _parse.forget()
    rules = dr.load_rules(rule_file(1, 1).replace("data.object.id", "x") + "")
    key = rules.rules[0].key
    assert isinstance(key, Expression)
    deferred = key.search
    assert not hasattr(deferred, "__code__")
    root = {"data": {"object": {"id": "in_1"}}}
    assert key.search(root) == "in_1"
    assert hasattr(key.search, "__code__")  # a plain function now
    assert deferred(root) == "in_1"  # one taken before still works


# -- the batch ------------------------------------------------------------------------------------


class CountingText(str):
    """A string that counts how often it is compared."""

    __slots__ = ()
    compared: list[str] = []  # noqa: RUF012 - the counter the test reads

    def __eq__(self, other: object) -> bool:
        CountingText.compared.append(str(self))
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_a_shared_comparison_is_made_once_per_event():
    """Five conditions that test currency == 'usd' (three with another comparison) compare
    the currency once per event, and select the same conditions as one by one."""
    conditions = [
        "data.object.currency == 'usd'",
        "data.object.currency == 'usd' && data.object.amount > `5`",
        "data.object.amount > `5` && data.object.currency == 'usd'",
        "data.object.currency == 'usd' && length(data.object.lines) > `1`",
        "data.object.currency == 'usd'",
    ]
    batch = compile_batch(conditions, select=True)
    CountingText.compared.clear()
    root = {"data": {"object": {"currency": CountingText("usd"), "amount": 9, "lines": [1]}}}
    assert batch(root) == [(0, True), (1, True), (2, True), (4, True)]
    assert CountingText.compared == ["usd"]


COMPARISONS = [
    "a == 'usd'",
    "a != 'eur'",
    "b > `1`",
    "b <= `2.5`",
    "c.d == `true`",
    "c.d == `1`",
    "b >= c.e",
    "ends_with(a, 'd')",
    "length(c) > `0`",
    "!c.d",
    "c.e",
]


@st.composite
def selected_batches(draw: st.DrawFn) -> list[str]:
    """Conditions that share comparisons: &&, || and ! of comparisons from a small pool."""
    out = []
    for _ in range(draw(st.integers(1, 8))):
        parts = draw(st.lists(st.sampled_from(COMPARISONS), min_size=1, max_size=3))
        joiner = draw(st.sampled_from([" && ", " && ", " || "]))
        text = joiner.join(f"({p})" if draw(st.booleans()) else p for p in parts)
        out.append(f"!({text})" if draw(st.integers(0, 5)) == 0 else text)
    return out


SELECT_DATA = st.fixed_dictionaries(
    {},
    optional={
        "a": st.sampled_from(["usd", "eur", "", None, 1, "d"]),
        "b": st.one_of(st.integers(-1, 4), st.floats(0, 4), st.none(), st.just("2")),
        "c": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "d": st.sampled_from([True, False, 1, 0, None]),
                    "e": st.sampled_from([0, 1, 2.5, "x", [], None]),
                },
            ),
            st.just([1, 2]),
            st.none(),
            st.just("text"),
        ),
    },
)


@PROPERTY
@given(batch=selected_batches(), data=SELECT_DATA)
def test_a_selecting_batch_selects_what_one_by_one_would(batch, data):
    """A selecting batch gives ``(i, value)`` for exactly the conditions whose value is true
    (or that raise, with the same exception), with the values one by one gives."""
    with clock_scope(lambda: FIXED):
        assert outcomes(compile_batch(batch, select=True)(data)) == selection(batch, data)


def selection(batch: list[str], data: Any) -> list[Any]:
    """What a selecting batch must give, from one-by-one evaluation."""
    expected = []
    for position, text in enumerate(batch):
        result = outcome(compile_expression(text), data)
        if result[0] == "error" or is_true(compile_expression(text)(data)):
            expected.append((position, result))
    return expected


def outcomes(pairs: list[Any]) -> list[Any]:
    """The batch's ``(i, value)`` as :func:`selection` writes them."""
    return [(i, _outcome_of(value)) for i, value in pairs]


def _outcome_of(value: Any) -> Any:
    if isinstance(value, Exception):
        return ("error", type(value), str(value))
    return outcome(lambda _: value, None)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batch=st.lists(expressions, min_size=1, max_size=6),
    joined=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), max_size=4),
    data=data_strategy,
)
def test_a_selecting_batch_of_any_expressions_selects_what_one_by_one_would(batch, joined, data):
    """Random expressions of the differential grammar, and && of pairs of them: a selecting
    batch selects what one-by-one evaluation selects."""
    batch = [text for text in batch if parses(text)]
    assume(batch)
    batch += [f"({batch[i % len(batch)]}) && ({batch[j % len(batch)]})" for i, j in joined]
    with clock_scope(lambda: FIXED):
        assert outcomes(compile_batch(batch, select=True)(data)) == selection(batch, data)


def test_the_selecting_batch_is_checked():
    """The property above fails for a batch that selects one condition too many."""
    batch = ["a == 'usd'", "a == 'eur'"]
    right = compile_batch(batch, select=True)({"a": "usd"})
    assert right == [(0, True)]
    assert right != [(0, True), (1, False)]


def test_random_selecting_batches_of_a_hundred_match_one_by_one():
    """Batches longer than a chunk of generated code, shared comparisons and all."""
    rng = random.Random(7)
    conditions = [" && ".join(rng.sample(COMPARISONS[:7], rng.randint(1, 3))) for _ in range(250)]
    batch = compile_batch(conditions, select=True)
    for data in ({"a": "usd", "b": 2, "c": {"d": True, "e": 1}}, {"a": "eur", "b": 0}, {}):
        expected = [
            (i, value)
            for i, text in enumerate(conditions)
            if is_true(value := compile_expression(text)(data))
        ]
        assert batch(data) == expected
