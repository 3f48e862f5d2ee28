"""Differential tests: random expressions on random data, compiled versus interpreted.

Hypothesis builds JMESPath text from a small grammar (fields, indexes, slices, projections,
filters, comparators, functions including money/lower, literals, pipes, multi-selects) and
JSON-like data whose keys are the same field names, then checks that the compiled function
and jmespath's interpreter give the same value with the same types, or raise the same
exception class with the same message.
"""

from __future__ import annotations

import datetime as dt
import json
import operator
import re
from collections.abc import Callable
from typing import Any, ClassVar

import jmespath
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from jmespath import exceptions as jp_errors
from jmespath import visitor as jp_visitor

from dunning_rules.rules._compiler import compile_batch, compile_expression
from dunning_rules.rules.functions import FUNCTIONS, clock_scope

OPTIONS = jmespath.Options(custom_functions=FUNCTIONS)
FIXED = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.timezone.utc)

NAMES = ["a", "b", "c", "amount", "currency", "plan"]
QUOTED = ['"a b"', '"☃"', '"\\"q\\""']
KEYS = [*NAMES, "a b", "☃", '"q"']
STRINGS = ["", "a", "usd", "jpy", "eur", "x@example.com", "pro", "0"]
FUNCTIONS_1 = ["length", "lower", "upper", "abs", "to_string", "to_number", "type", "keys"]
FUNCTIONS_1 += ["values", "reverse", "sort", "sum", "max", "min", "avg", "to_array", "floor"]
FUNCTIONS_1 += ["days_since", "date"]
FUNCTIONS_2 = ["contains", "starts_with", "ends_with", "money", "join"]
COMPARATORS = ["==", "!=", "<", "<=", ">", ">="]

Search = Callable[[Any], Any]
Compiler = Callable[[str], Search]


# -- strategies -----------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=3),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6),
    st.sampled_from(STRINGS),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=3),
    ),
    max_leaves=6,
)
data_strategy = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=4)


def _raw_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


identifiers = st.sampled_from(NAMES + QUOTED)
literals = st.one_of(
    json_values.map(lambda value: "`" + json.dumps(value).replace("`", "\\`") + "`"),
    st.sampled_from(STRINGS).map(_raw_string),
)
leaves = st.one_of(identifiers, identifiers, literals, st.just("@"))
slice_parts = st.one_of(st.none(), st.integers(min_value=-4, max_value=4))
steps = st.one_of(st.none(), st.integers(min_value=-3, max_value=3).filter(bool))


def _slice(parts: tuple[int | None, int | None, int | None]) -> str:
    start, stop, step = ("" if p is None else str(p) for p in parts)
    return f"[{start}:{stop}" + ("" if step == "" else f":{step}") + "]"


def _function_calls(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(st.sampled_from(FUNCTIONS_1), inner).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(FUNCTIONS_2), inner, inner).map(
            lambda t: f"{t[0]}({t[1]}, {t[2]})"
        ),
        st.tuples(st.sampled_from(["sort_by", "max_by", "min_by"]), inner, inner).map(
            lambda t: f"{t[0]}({t[1]}, &{t[2]})"
        ),
        st.tuples(inner, inner).map(lambda t: f"map(&{t[0]}, {t[1]})"),
        st.lists(inner, min_size=1, max_size=3).map(lambda a: f"not_null({', '.join(a)})"),
        st.lists(inner, min_size=1, max_size=2).map(lambda a: f"merge({', '.join(a)})"),
    )


def _after_projection(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """What may follow ``[*]``/``[?...]``: nothing, a field, or a multi-select."""
    return st.one_of(
        st.just(""),
        identifiers.map(lambda name: f".{name}"),
        st.lists(inner, min_size=1, max_size=2).map(lambda items: f".[{', '.join(items)}]"),
    )


def _extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    group = inner.map(lambda e: f"({e})")
    rest = _after_projection(inner)
    return st.one_of(
        st.tuples(group, identifiers).map(lambda t: f"{t[0]}.{t[1]}"),
        st.tuples(group, st.integers(min_value=-3, max_value=3)).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(group, st.tuples(slice_parts, slice_parts, steps)).map(
            lambda t: t[0] + _slice(t[1])
        ),
        st.tuples(group, rest).map(lambda t: f"{t[0]}[*]{t[1]}"),
        st.tuples(group, identifiers).map(lambda t: f"{t[0]}[].{t[1]}"),
        st.tuples(group, identifiers).map(lambda t: f"{t[0]}.*.{t[1]}"),
        st.tuples(group, inner, rest).map(lambda t: f"{t[0]}[?{t[1]}]{t[2]}"),
        st.tuples(group, st.sampled_from(COMPARATORS), group).map(lambda t: " ".join(t)),
        st.tuples(group, st.sampled_from(["&&", "||", "|"]), group).map(lambda t: " ".join(t)),
        group.map(lambda e: f"!{e}"),
        st.lists(inner, min_size=1, max_size=3).map(lambda items: f"[{', '.join(items)}]"),
        st.lists(st.tuples(st.sampled_from(NAMES), inner), min_size=1, max_size=3).map(
            lambda pairs: "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
        ),
        _function_calls(inner),
    )


expressions = st.recursive(leaves, _extend, max_leaves=8)


# -- the checker ----------------------------------------------------------------------------------


def interpreter(expression: str) -> Search:
    parsed = jmespath.compile(expression)
    return lambda data: parsed.search(data, options=OPTIONS)


def outcome(search: Search, data: Any) -> tuple[Any, ...]:
    """("ok", value with its exact types) or ("error", class, message without addresses)."""
    try:
        value = search(data)
    except Exception as exc:
        return ("error", type(exc), re.sub(r" at 0x[0-9a-f]+", "", str(exc)))
    return ("ok", typed(value))


def typed(value: Any) -> Any:
    if isinstance(value, dict):
        return ("dict", [(k, typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [typed(v) for v in value])
    if isinstance(value, jp_visitor._Expression):
        return ("expref", value.expression)
    return (type(value).__name__, value)


def parses(expression: str) -> bool:
    try:
        jmespath.compile(expression)
    except jp_errors.JMESPathError:
        return False
    return True


def check_same(expression: str, data: Any, compiler: Compiler = compile_expression) -> None:
    """The compiler under test agrees with the interpreter on ``expression`` and ``data``."""
    if not parses(expression):
        return
    with clock_scope(lambda: FIXED):  # (slice steps are never 0: that is the intended difference)
        expected = outcome(interpreter(expression), data)
        got = outcome(compiler(expression), data)
    assert got == expected, f"{expression!r} on {data!r}"


DIFFERENTIAL = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)


# Old-style literals (`foo`) make jmespath's lexer warn; they are still valid input.
pytestmark = pytest.mark.filterwarnings(
    "ignore:deprecated string literal syntax:PendingDeprecationWarning"
)


@DIFFERENTIAL
@given(expression=expressions, data=data_strategy)
def test_compiled_equals_interpreted(expression, data):
    """Random expression, random data: same value and types, or same error and message."""
    assume(parses(expression))  # the grammar rarely makes invalid text; too often would fail
    check_same(expression, data)


@settings(max_examples=60, deadline=None, database=None)
@given(batch=st.lists(expressions, min_size=1, max_size=6), data=data_strategy)
def test_batch_equals_one_by_one(batch, data):
    """Element i of a batch is expression i's value, or the exception it raises."""
    batch = [expression for expression in batch if parses(expression)]
    with clock_scope(lambda: FIXED):
        results = compile_batch(batch)(data)
        for expression, result in zip(batch, results, strict=True):
            single = outcome(compile_expression(expression), data)
            got: tuple[Any, ...] = ("ok", typed(result))
            if isinstance(result, Exception):
                got = ("error", type(result), re.sub(r" at 0x[0-9a-f]+", "", str(result)))
            assert got == single, expression


# -- the checker can fail -------------------------------------------------------------------------


def false_as_null_compiler(expression: str) -> Search:
    """Deliberately wrong: the interpreter's result, except that false comes back as null."""
    search = interpreter(expression)

    def wrong(data: Any) -> Any:
        value = search(data)
        return None if value is False else value

    return wrong


class PythonEquality(jp_visitor.TreeInterpreter):  # type: ignore[misc]
    """Deliberately wrong: Python's ``==``, so ``true == `1``` would be true."""

    COMPARATOR_FUNC: ClassVar[dict[str, Any]] = {
        **jp_visitor.TreeInterpreter.COMPARATOR_FUNC,
        "eq": operator.eq,
    }


def python_equality_compiler(expression: str) -> Search:
    parsed = jmespath.compile(expression).parsed
    return lambda data: PythonEquality(OPTIONS).visit(parsed, data)


def test_checker_catches_a_wrong_compiler():
    """The same property, run against a compiler that returns null for false, fails."""

    @settings(
        max_examples=100,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],  # no shrinking: finding one counterexample is the point
    )
    @given(expression=expressions, data=data_strategy)
    def property_for_the_wrong_one(expression: str, data: Any) -> None:
        check_same(expression, data, false_as_null_compiler)

    with pytest.raises(AssertionError):
        property_for_the_wrong_one()


@pytest.mark.parametrize(
    ("expression", "data"),
    [("`true` == `1`", {}), ("a == b", {"a": 0, "b": False})],
    ids=["literals", "fields"],
)
def test_checker_catches_python_equality(expression, data):
    """A compiler with Python's ``==`` is caught on bool against number."""
    check_same(expression, data)
    with pytest.raises(AssertionError):
        check_same(expression, data, python_equality_compiler)
