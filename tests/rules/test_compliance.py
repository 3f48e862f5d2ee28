"""The JMESPath compliance suite, run through the compiler (dunning_rules.rules._compiler).

Every case of tests/fixtures/jmespath-compliance (benchmarks.json aside) must give the
expected result, the same result as jmespath's interpreter, and never need the interpreter.
"""

from __future__ import annotations

import json
import re
import warnings
from collections import defaultdict
from typing import Any

import jmespath
import pytest
from jmespath import exceptions as jp_errors

from dunning_rules.rules._compiler import (
    SliceStepError,
    compile_batch,
    compile_expression,
    uses_fallback,
)
from dunning_rules.rules.functions import FUNCTIONS
from tests.paths import FIXTURES as ALL_FIXTURES

# Some cases use the old literal syntax (`foo` for "foo"), which jmespath's lexer warns about.
pytestmark = pytest.mark.filterwarnings(
    "ignore:deprecated string literal syntax:PendingDeprecationWarning"
)

FIXTURES = ALL_FIXTURES / "jmespath-compliance"
OPTIONS = jmespath.Options(custom_functions=FUNCTIONS)
# jmespath 1.1.0 lets a bare ValueError escape for a zero slice step; the compiler raises
# SliceStepError there. It is the one intended difference (see the _compiler docstring).
INTENDED = {"foo[8:2:0]"}


def _quietly_parses(expression: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        try:
            jmespath.compile(expression)
        except jp_errors.JMESPathError:
            return False
    return True


def load_cases() -> list[tuple[str, int, Any, str, dict[str, Any]]]:
    cases = []
    for path in sorted(FIXTURES.glob("*.json")):
        if path.name == "benchmarks.json":
            continue
        number = 0
        for group, suite in enumerate(json.loads(path.read_text(encoding="utf-8"))):
            for case in suite["cases"]:
                cases.append(
                    (f"{path.stem}:{number}", group, suite["given"], case["expression"], case)
                )
                number += 1
    return cases


CASES = load_cases()
IDS = [f"{name}:{expression}" for name, _, _, expression, _ in CASES]
# The cases whose expression parses (the others fail in jmespath.compile, before the compiler).
PARSED = [case for case in CASES if _quietly_parses(case[3])]
PARSED_IDS = [f"{name}:{expression}" for name, _, _, expression, _ in PARSED]


def canonical(value: Any) -> Any:
    """A value with its exact Python types spelled out, so True != 1 and 1 != 1.0."""
    if isinstance(value, dict):
        return ("dict", type(value).__name__, [(k, canonical(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", type(value).__name__, [canonical(v) for v in value])
    return (type(value).__name__, value)


def outcome(search: Any, data: Any) -> tuple[Any, ...]:
    """What ``search(data)`` does: ("ok", value) or ("error", class name, message)."""
    try:
        return ("ok", canonical(search(data)))
    except Exception as exc:
        return error_outcome(exc)


def error_outcome(exc: BaseException) -> tuple[Any, ...]:
    # Objects in messages print with their address, which differs between two runs.
    return ("error", type(exc).__name__, re.sub(r" at 0x[0-9a-f]+", "", str(exc)))


def json_canonical(value: Any) -> Any:
    """A value as JSON types: bool apart from numbers, int and float both numbers."""
    if isinstance(value, dict):
        return {k: json_canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_canonical(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return (type(value).__name__, value)
    return ("number", value)


def interpreted(expression: str) -> Any:
    parsed = jmespath.compile(expression)
    return lambda data: parsed.search(data, options=OPTIONS)


parses = _quietly_parses


def test_the_suite_is_all_there():
    """All fixture files are read: 892 pass/fail cases, most of which parse."""
    assert len(CASES) == 892
    assert len(PARSED) == 787


@pytest.mark.parametrize(("name", "group", "given", "expression", "case"), CASES, ids=IDS)
def test_compiled_gives_the_expected_result_and_the_interpreters(
    name, group, given, expression, case
):
    """The case's result (or a JMESPath error), and exactly what the interpreter gives:
    the same value with the same types, or the same exception class and message."""
    if not parses(expression):
        with pytest.raises(jp_errors.JMESPathError):
            compile_expression(expression)
        return
    search = compile_expression(expression)
    if "error" in case:
        with pytest.raises(jp_errors.JMESPathError):
            search(given)
    else:
        assert json_canonical(search(given)) == json_canonical(case["result"])
    compiled = outcome(search, given)
    if expression in INTENDED:
        assert compiled == error_outcome(SliceStepError())
        assert outcome(interpreted(expression), given)[:2] == ("error", "ValueError")
    else:
        assert compiled == outcome(interpreted(expression), given)


@pytest.mark.parametrize(("name", "group", "given", "expression", "case"), PARSED, ids=PARSED_IDS)
def test_compliance_case_needs_no_interpreter(name, group, given, expression, case):
    """Every expression that parses compiles to Python without falling back."""
    assert uses_fallback(expression) is False


@pytest.mark.parametrize(("name", "group", "given", "expression", "case"), PARSED, ids=PARSED_IDS)
def test_batch_of_one_agrees_with_compile_expression(name, group, given, expression, case):
    """A batch of one holds the value, or the exception instance, of the single expression."""
    [result] = compile_batch([expression])(given)
    single = outcome(compile_expression(expression), given)
    if isinstance(result, Exception):
        assert error_outcome(result) == single
    else:
        assert ("ok", canonical(result)) == single


def groups() -> list[tuple[str, Any, list[str]]]:
    by_given: dict[tuple[str, int], list[str]] = defaultdict(list)
    givens: dict[tuple[str, int], Any] = {}
    for name, group, given, expression, _ in CASES:
        key = (name.split(":")[0], group)
        givens[key] = given
        if parses(expression):
            by_given[key].append(expression)
    return [(f"{f}:{g}", givens[(f, g)], exprs) for (f, g), exprs in by_given.items()]


GROUPS = groups()


@pytest.mark.parametrize(("name", "given", "expressions"), GROUPS, ids=[g[0] for g in GROUPS])
def test_batch_of_a_whole_group_agrees_with_each_expression(name, given, expressions):
    """All expressions of one ``given`` batched together: element i is expression i's outcome."""
    results = compile_batch(expressions)(given)
    assert len(results) == len(expressions)
    for expression, result in zip(expressions, results, strict=True):
        single = outcome(compile_expression(expression), given)
        got = error_outcome(result) if isinstance(result, Exception) else ("ok", canonical(result))
        assert got == single, expression


def test_all_compliance_expressions_in_one_batch():
    """Every parseable compliance expression in one batch, on each given, matches one by one."""
    expressions = sorted({expression for _, _, exprs in GROUPS for expression in exprs})
    batch = compile_batch(expressions)
    singles = [compile_expression(expression) for expression in expressions]
    for _, given, _ in GROUPS[:10]:
        results = batch(given)
        for expression, single, result in zip(expressions, singles, results, strict=True):
            got = (
                error_outcome(result)
                if isinstance(result, Exception)
                else ("ok", canonical(result))
            )
            assert got == outcome(single, given), expression
