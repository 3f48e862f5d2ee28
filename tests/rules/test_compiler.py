"""Targeted tests of the JMESPath compiler (dunning_rules.rules._compiler).

Each test compares the compiled function with jmespath's interpreter on a case chosen to hit
one code path: the fast path and the exact slow path of fields, indexes, slices, projections,
comparisons, functions, batches and the generated source itself.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from typing import Any

import jmespath
import pytest
from jmespath import exceptions as jp_errors
from jmespath import functions as jp_functions
from jmespath import visitor as jp_visitor

from dunning_rules.rules import _compiler_codegen
from dunning_rules.rules._compiler import (
    SliceStepError,
    _generated_source,
    compile_batch,
    compile_expression,
    uses_fallback,
)
from dunning_rules.rules.functions import FUNCTIONS, clock_scope

OPTIONS = jmespath.Options(custom_functions=FUNCTIONS)


def interpret(expression: str, data: Any, functions: Any = FUNCTIONS) -> Any:
    options = jmespath.Options(custom_functions=functions)
    return jmespath.compile(expression).search(data, options=options)


def outcome(run: Any) -> tuple[Any, ...]:
    try:
        value = run()
    except Exception as exc:
        return ("error", type(exc), re.sub(r" at 0x[0-9a-f]+", "", str(exc)))
    return ("ok", type(value), value)


def assert_same(expression: str, data: Any, functions: Any = FUNCTIONS) -> tuple[Any, ...]:
    """Compiled and interpreted agree (value and type, or error class and message)."""
    compiled = compile_expression(expression, functions)
    got = outcome(lambda: compiled(data))
    assert got == outcome(lambda: interpret(expression, data, functions))
    assert uses_fallback(expression) is False
    return got


class Shouting(dict):  # type: ignore[type-arg]
    """A dict subclass whose ``get`` answers in capitals."""

    def get(self, key: str, default: Any = None) -> Any:
        value = super().get(key, default)
        return value.upper() if isinstance(value, str) else value


class GetRaisesAttributeError:
    """Not a dict, and its ``get`` fails with AttributeError: JMESPath reads null."""

    def get(self, key: str) -> Any:
        raise AttributeError(key)


class CountingDict(dict):  # type: ignore[type-arg]
    """Counts every ``get``, to see how often a path is loaded."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gets: list[str] = []

    def get(self, key: str, default: Any = None) -> Any:
        self.gets.append(key)
        return super().get(key, default)


class Exploding(dict):  # type: ignore[type-arg]
    """``get('boom')`` raises KeyError; every other key reads normally."""

    def get(self, key: str, default: Any = None) -> Any:
        if key == "boom":
            raise KeyError("boom")
        return super().get(key, default)


class Tagged(list):  # type: ignore[type-arg]
    """A list subclass: indexes and projections treat it as a list."""


# -- fields ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [None, [1, 2], "text", 7, 1.5, True, {"b": 1}, (1, 2)],
    ids=["null", "list", "string", "int", "float", "bool", "other-dict", "tuple"],
)
def test_field_on_anything_but_a_mapping_is_null(data):
    """``a`` on a non-dict is null, as jmespath's ``value.get`` with AttributeError -> None."""
    assert assert_same("a", data) == ("ok", type(None), None)


def test_field_calls_get_of_a_dict_subclass():
    """A dict subclass is read through its own ``get`` (Stripe objects are dict subclasses)."""
    assert assert_same("a.b", Shouting(a=Shouting(b="quiet"))) == ("ok", str, "QUIET")


def test_field_on_an_object_whose_get_raises_attribute_error_is_null():
    """AttributeError from inside ``get`` reads as null too, exactly like the interpreter."""
    assert assert_same("a.b", {"a": GetRaisesAttributeError()}) == ("ok", type(None), None)


def test_field_chain_stops_at_null():
    """A missing step makes the rest of the chain null, without an error."""
    assert assert_same("a.b.c.d", {"a": {"x": 1}}) == ("ok", type(None), None)


def test_unicode_and_odd_field_names_are_read_as_data():
    """Quoted identifiers with quotes, newlines, NULs, surrogates and snowmen are keys."""
    data = {"☃": 1, "a'b": 2, 'x")\nimport os #': 3, "__class__": 4, "\ud800": 5, "a\x00b": 6}
    expression = '["☃", "a\'b", "x\\")\\nimport os #", "__class__", "\\ud800", "a\\u0000b"]'
    assert assert_same(expression, data) == ("ok", list, [1, 2, 3, 4, 5, 6])


# -- indexes and slices ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "data", "expected"),
    [
        ("a[0]", {"a": [1, 2]}, 1),
        ("a[-1]", {"a": [1, 2]}, 2),
        ("a[2]", {"a": [1, 2]}, None),
        ("a[-3]", {"a": [1, 2]}, None),
        ("a[0]", {"a": (1, 2)}, None),
        ("a[0]", {"a": "text"}, None),
        ("a[0]", {"a": {"0": 1}}, None),
        ("a[1]", {"a": Tagged([1, 2])}, 2),
    ],
    ids=["first", "last", "past-end", "before-start", "tuple", "string", "dict", "list-subclass"],
)
def test_index_only_on_real_lists(expression, data, expected):
    """Indexes read lists (subclasses too) and are null out of range or on anything else."""
    assert assert_same(expression, data)[2] == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("a[::-1]", [5, 4, 3, 2, 1, 0]),
        ("a[-2:]", [4, 5]),
        ("a[5:1:-2]", [5, 3]),
        ("a[:-4:-1]", [5, 4, 3]),
        ("a[10:]", []),
        ("a[1:3].b", []),
    ],
    ids=["reverse", "last-two", "negative-step", "negative-stop", "past-end", "projected"],
)
def test_slices_follow_python_including_negative_steps(expression, expected):
    """Slices are Python slices of the list, then a projection."""
    assert assert_same(expression, {"a": [0, 1, 2, 3, 4, 5]})[2] == expected


def test_slice_of_a_non_list_is_null():
    """A slice of an object or a string is null."""
    assert assert_same("a[0:2]", {"a": "text"})[2] is None


def test_slice_step_zero_raises_a_jmespath_error():
    """The one intended difference: a zero step raises SliceStepError, not a bare ValueError."""
    with pytest.raises(SliceStepError, match=r"^Invalid value: slice step cannot be 0$") as info:
        compile_expression("a[8:2:0]")({"a": [1, 2, 3]})
    assert isinstance(info.value, jp_errors.JMESPathError)
    assert isinstance(info.value, ValueError)
    with pytest.raises(ValueError, match="slice step cannot be zero"):
        interpret("a[8:2:0]", {"a": [1, 2, 3]})


def test_slice_step_zero_on_a_non_list_is_null():
    """Like the interpreter, a zero step only fails on an actual list."""
    assert compile_expression("a[::0]")({"a": "text"}) is None


# -- projections ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "data"),
    [
        ("a[*].b", {"a": [{"b": 1}, {"c": 2}, {"b": None}, {"b": 3}]}),
        ("a[*].b", {"a": {"b": 1}}),
        ("a.*.b", {"a": {"x": {"b": 1}, "y": {}, "z": {"b": 2}}}),
        ("a.*.b", {"a": [{"b": 1}]}),
        ("a[].b", {"a": [[{"b": 1}], {"b": 2}, [[{"b": 3}]]]}),
        ("a[]", {"a": "text"}),
        ("a[?b > `1`].c", {"a": [{"b": 2, "c": 1}, {"b": 1, "c": 2}, {"b": 5}]}),
        ("a[?b].c", {"a": [{"b": 0, "c": "zero"}, {"b": "", "c": "empty"}, {"b": [], "c": 3}]}),
        ("a[?b]", {"a": {"b": True}}),
        ("a[*].b[*].c", {"a": [{"b": [{"c": 1}, {}]}, {"b": None}, {"b": [{"c": 2}]}]}),
        ("*", Tagged([1])),
        ("a[*]", {"a": Tagged([1, None, 2])}),
    ],
    ids=[
        "list-skips-nulls",
        "list-on-object",
        "values",
        "values-on-list",
        "flatten",
        "flatten-string",
        "filter",
        "filter-truthiness",
        "filter-on-object",
        "nested",
        "values-on-list-subclass",
        "list-subclass",
    ],
)
def test_projections_drop_nulls_and_stop_on_the_wrong_type(expression, data):
    """Projections collect non-null results, and are null on the wrong kind of base."""
    assert_same(expression, data)


def test_multiselect_on_null_is_null():
    """``[a, b]`` and ``{x: a}`` of null are null, not a list of nulls."""
    assert assert_same("a.[b, c]", {}) == ("ok", type(None), None)
    assert assert_same("a.{x: b}", {}) == ("ok", type(None), None)
    assert assert_same("{x: a, x: b}", {"a": 1, "b": 2}) == ("ok", dict, {"x": 2})


# -- comparisons and logic ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "data"),
    [
        ("`true` == `1`", {}),
        ("`1` == `1.0`", {}),
        ("a == `0`", {"a": False}),
        ("a == `1`", {"a": True}),
        ("a == b", {"a": True, "b": 1}),
        ("a == b", {"a": 1.0, "b": 1}),
        ("a != `false`", {"a": 0}),
        ("a == `[1, 2]`", {"a": [1, 2]}),
        ('a == `{"b": 1}`', {"a": {"b": 1}}),
        ("a < `2`", {"a": True}),
        ("a < `2`", {"a": "1"}),
        ("a < b", {"a": "a", "b": "b"}),
        ("a >= b", {"a": [1], "b": [0]}),
        ("a > `1`", {"a": None}),
        ("a <= `2.5`", {"a": 2}),
        ("!a", {"a": 0}),
        ("!a", {"a": 0.0}),
        ("!a", {"a": ""}),
        ("!a", {"a": {}}),
        ("a || b", {"a": 0, "b": 1}),
        ("a || b", {"a": [], "b": 1}),
        ("a && b", {"a": {}, "b": 1}),
        ("a && b", {"a": "x", "b": None}),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_comparisons_and_logic_follow_jmespath(expression, data):
    """Equality keeps bools apart from 1 and 0, ordering skips non-numbers, and so on."""
    assert_same(expression, data)


def test_ordering_a_string_against_a_number_raises_like_the_interpreter():
    """jmespath 1.1.0 lets Python's TypeError out here; so does the compiled code."""
    got = assert_same("a < `1`", {"a": "x"})
    assert got[:2] == ("error", TypeError)


# -- functions ------------------------------------------------------------------------------------


PEOPLE = {"people": [{"name": "b", "age": 30}, {"name": "a", "age": 20}, {"name": "c"}]}


@pytest.mark.parametrize(
    "expression",
    [
        "sort_by(people[:2], &age)[*].name",
        "sort_by(people, &age)",
        "sort_by(people, &name)[0].age",
        "sort_by(people[:2], &[age])",
        "sort_by(`[]`, &age)",
        "sort_by(people[0], &age)",
        "max_by(people[:2], &age).name",
        "min_by(people, &age)",
        "max_by(people, &name).name",
        "map(&age, people)",
        "map(&name, people[0])",
        "length(&age)",
    ],
)
def test_expression_references_and_their_errors(expression):
    """sort_by/max_by/min_by/map run compiled key expressions and raise jmespath's errors."""
    assert_same(expression, PEOPLE)


def test_an_expression_reference_is_jmespaths_own_object():
    """``&age`` evaluates to a jmespath.visitor._Expression, as with the interpreter."""
    value = compile_expression("&age")({})
    assert type(value) is jp_visitor._Expression
    assert value.visit(value.expression, {"age": 3}) == 3


@pytest.mark.parametrize(
    "expression",
    [
        "unknown(a)",
        "length(a, b)",
        "not_null()",
        "length(`1`)",
        "contains(`1`, a)",
        "ends_with(a, `1`)",
        "join(',', `[1]`)",
        "merge(`{}`, 'x')",
        "sum(`[1, true]`)",
        "to_number('1e3')",
        "type(a)",
        "lower(`[]`)",
    ],
)
def test_function_errors_are_the_interpreters(expression):
    """Unknown names, arity and argument types fail with the same class and message."""
    assert_same(expression, {"a": "x", "b": 2})


def test_a_custom_functions_object_is_used():
    """A Functions subclass passed to compile_expression provides its own functions."""

    class Extra(jp_functions.Functions):  # type: ignore[misc]
        @jp_functions.signature({"types": ["number"]})  # type: ignore[untyped-decorator]
        def _func_double(self, value: Any) -> Any:
            return value * 2

    extra = Extra()
    assert assert_same("double(a)", {"a": 21}, extra) == ("ok", int, 42)
    assert assert_same("double(b)", {"b": "x"}, extra)[:2] == ("error", jp_errors.JMESPathTypeError)


def test_a_functions_object_with_its_own_call_function_is_always_called():
    """If call_function is overridden, every call goes through it (no shortcut)."""

    class Audited(type(FUNCTIONS)):  # type: ignore[misc]
        def __init__(self) -> None:
            self.calls: list[str] = []

        def call_function(self, name: str, args: list[Any]) -> Any:
            self.calls.append(name)
            return super().call_function(name, args)

    audited = Audited()
    assert compile_expression("lower(a)", audited)({"a": "X"}) == "x"
    assert audited.calls == ["lower"]


FIXED = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("money(amount, currency)", "$1,234.56"),
        ("money(`1000`, 'jpy')", "¥1000"),
        ("money(`1250`, 'chf')", "12.50 CHF"),
        ("now()", int(FIXED.timestamp())),
        ("days_since(created)", 10),
        ("date(created)", "2024-02-20"),
        ("upper(currency)", "USD"),
    ],
    ids=["money", "money-jpy", "money-other", "now", "days_since", "date", "upper"],
)
def test_custom_functions_read_the_engines_clock(expression, expected):
    """money, now, days_since, date and upper give the same values compiled and interpreted."""
    data = {"amount": 123456, "currency": "usd", "created": int(FIXED.timestamp()) - 10 * 86400}
    with clock_scope(lambda: FIXED):
        assert assert_same(expression, data)[2] == expected


def test_custom_function_type_errors_are_the_interpreters():
    """money('x', 'usd') fails with jmespath's JMESPathTypeError message."""
    got = assert_same("money(currency, currency)", {"currency": "usd"})
    assert got[:2] == ("error", jp_errors.JMESPathTypeError)
    assert "In function money(), invalid type for value: usd" in got[2]


# -- literals, batches, generated code ------------------------------------------------------------


def test_a_literal_is_the_same_object_each_time_like_the_interpreter():
    """jmespath returns the AST's own literal object; so does the compiled code."""
    search = compile_expression("`[1, 2]`")
    assert search({}) is search({}) is jmespath.compile("`[1, 2]`").parsed["value"]


def test_literals_that_repr_cannot_spell_are_passed_by_name():
    """``1e400`` (infinity) compiles, and strings full of quotes stay strings."""
    assert assert_same("a < `1e400`", {"a": 10**300}) == ("ok", bool, True)
    assert assert_same("'it\\'s \"q\"\n'", {}) == ("ok", str, 'it\'s "q"\n')


HOSTILE = '"__import__(\'os\')"."a\\nb" == \'); exit() #\' || `{"k": "__class__"}`'


def test_generated_source_holds_expression_text_only_in_string_literals():
    """Field names and literals become str constants or namespace names, never code."""
    tree = ast.parse(_generated_source(HOSTILE))
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)} - {None, True, False}
    assert strings == {"__import__('os')", "a\nb", "); exit() #"}
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert {name for name in names if not re.fullmatch(r"[th]\d+|_k\d+", name)} == {
        "root",
        "type",
        "dict",
        "field",
        "is_false",
    }
    assert compile_expression(HOSTILE)({}) == {"k": "__class__"}


def test_batch_holds_values_and_exception_instances():
    """compile_batch returns one element per expression; a failing one is its exception."""
    results = compile_batch(["a", "length(a)", "a.b", "a[8:2:0]"])({"a": 5})
    assert results[0] == 5
    assert type(results[1]) is jp_errors.JMESPathTypeError
    assert results[2] is None
    assert results[3] is None


def test_an_empty_batch_is_an_empty_list():
    """No expressions, no values."""
    assert compile_batch([])({"a": 1}) == []


def test_batch_loads_a_shared_root_path_once():
    """``data`` and ``data.object`` are read once per call, however many expressions use them."""
    inner = CountingDict(object=CountingDict(amount=5, currency="usd"))
    root = CountingDict(data=inner)
    batch = compile_batch(["data.object.amount > `1`", "data.object.currency", "data.object"])
    assert batch(root) == [True, "usd", inner["object"]]
    assert root.gets == ["data"]
    assert inner.gets == ["object"]
    assert inner["object"].gets == ["amount", "currency"]


def test_one_expression_loads_a_repeated_path_once():
    """``a.b`` read twice in one expression is loaded once."""
    root = CountingDict(a=CountingDict(b=3))
    assert compile_expression("a.b > `1` && a.b < `5`")(root) is True
    assert root.gets == ["a"]
    assert root["a"].gets == ["b"]


def test_a_shared_load_that_raises_falls_back_to_the_exact_order():
    """If loading a shared path raises, the result is what lazy evaluation gives."""
    data = Exploding(a="first", boom=1)
    expression = "a || (boom.x && boom.y)"
    assert compile_expression(expression)(data) == interpret(expression, data) == "first"
    results = compile_batch(["boom.x", "boom.y", "a"])(data)
    assert [type(r) for r in results[:2]] == [KeyError, KeyError]
    assert results[2] == "first"


def test_big_batches_match_one_by_one():
    """A batch of 600 expressions (more than one chunk) keeps every element in place."""
    expressions = [f"a > `{n}` && b == 'x{n % 7}'" for n in range(600)]
    data = {"a": 300, "b": "x3"}
    expected = [compile_expression(e)(data) for e in expressions]
    assert compile_batch(expressions)(data) == expected
    assert sum(expected) == len([n for n in range(300) if n % 7 == 3])


@pytest.mark.parametrize(
    "expression",
    [
        "a" + "[*].a" * 12,
        " || ".join(f"(x{n}" for n in range(60)) + ")" * 60,
        "[" * 30 + "a" + "]" * 30,
        "a[?" * 10 + "b" + "]" * 10,
    ],
    ids=["nested-projections", "nested-or", "nested-lists", "nested-filters"],
)
def test_deep_expressions_still_compile(expression):
    """Deep nesting moves into helper functions instead of falling back."""
    data: Any = {"a": [{"a": [{"a": []}], "b": 1}], "x59": 7}
    assert_same(expression, data)


def test_an_unknown_node_falls_back_to_the_interpreter(monkeypatch):
    """When the generator cannot handle a node, the interpreter runs, and uses_fallback says so."""

    def refuse(self: Any, node: Any, cur: str, root: bool) -> str:
        raise _compiler_codegen.UnsupportedError(node["type"])

    monkeypatch.setattr(_compiler_codegen.CodeGen, "_gen_pipe", refuse)
    assert uses_fallback("a | b") is True
    assert uses_fallback("a.b") is False
    assert compile_expression("a | b")({"a": {"b": 2}}) == 2
    assert compile_batch(["a | b", "a"])({"a": {"b": 2}}) == [2, {"b": 2}]


INLINED = [
    ("ends_with(a, 'com')", {"a": "x.com"}),
    ("ends_with(a, 'com')", {"a": "x.org"}),
    ("ends_with(a, 'com')", {"a": 5}),
    ("starts_with(a, b)", {"a": "prefix", "b": "pre"}),
    ("starts_with(a, b)", {"a": "prefix", "b": 1}),
    ("length(a)", {"a": [1, 2, 3]}),
    ("length(a)", {"a": {"k": 1}}),
    ("length(a)", {"a": "héllo"}),
    ("length(a)", {"a": None}),
    ("contains(a, b)", {"a": [1, {"x": 1}], "b": {"x": 1}}),
    ("contains(a, b)", {"a": "abc", "b": "bc"}),
    ("contains(a, b)", {"a": "abc", "b": 1}),
    ("contains(a, b)", {"a": 5, "b": 1}),
]


@pytest.mark.parametrize(("expression", "data"), INLINED, ids=[f"{e}-{d}" for e, d in INLINED])
def test_inlined_builtins_match_the_interpreter(expression, data):
    """ends_with, starts_with, length and contains run inline yet give jmespath's results
    and errors (a wrong argument type still raises the interpreter's error)."""
    assert_same(expression, data)


SELECTED = [
    "a",
    "b",
    "c",
    "d",
    "e",
    "f",
    "missing",
    "a > `1`",
    "length(b)",
    "money(f, 'usd')",
    "zero",
]


def test_a_selecting_batch_keeps_true_and_failed_expressions_in_order():
    """compile_batch(select=True) gives (i, value) for values that JMESPath calls true (0 is
    true) and for exceptions, and nothing for false ones."""
    data = {"a": 2, "b": [], "c": "", "d": {}, "e": False, "f": "text", "zero": 0}
    every = compile_batch(SELECTED)(data)
    selected = compile_batch(SELECTED, select=True)(data)
    expected = [
        (i, v)
        for i, v in enumerate(every)
        if isinstance(v, Exception) or not (v is None or v is False or v in ("", [], {}))
    ]
    assert [i for i, _ in selected] == [i for i, _ in expected]
    assert [i for i, _ in selected] == [0, 5, 7, 8, 9, 10]
    assert selected[3] == (8, 0)  # length([]) is 0, and 0 is true
    assert isinstance(selected[4][1], jp_errors.JMESPathTypeError)
    assert selected[5] == (10, 0)


# -- long chains ----------------------------------------------------------------------------------

CHAIN_DATA = [
    {"a": {"a": {"a": 1}}, "x": 0, "y": "", "z": [1]},
    {"a": None, "x": False, "y": "s", "z": []},
    Shouting({"a": "b", "x": "t"}),
]


@pytest.mark.parametrize(
    "expression",
    [
        " || ".join(["x", "y", "z", "a"] * 75),
        " && ".join(["z", "a", "x", "y"] * 75),
        " | ".join(["@"] * 300) + " | a",
        ".".join(["a"] * 300),
        "(x || y) && (z || (a && x)) || !(y && z)",
    ],
    ids=["or-300", "and-300", "pipe-300", "path-300", "mixed"],
)
@pytest.mark.parametrize("data", CHAIN_DATA, ids=["values", "falsy", "dict-subclass"])
def test_long_chains_are_compiled_flat_and_agree_with_the_interpreter(expression, data):
    """||, && and | chains and long paths are one level each: compiled, never interpreted,
    with the interpreter's result."""
    assert_same(expression, data)


def test_a_chain_of_5000_fields_is_compiled_without_recursion():
    """A 5,000-field path (the interpreter recurses once per field) compiles and reads data."""
    expression = ".".join(["a"] * 5000)
    assert uses_fallback(expression) is False
    nested: Any = "end"
    for _ in range(4999):
        nested = {"a": nested}
    assert compile_expression(expression)({"a": nested}) == "end"


def test_nesting_counts_brackets_not_chain_links():
    """nesting() is as deep as the brackets: a chain of any length is 0."""

    def depth(expression: str) -> int:
        return _compiler_codegen.nesting(jmespath.compile(expression).parsed)

    assert [depth(e) for e in ("a.b.c", "a || b || c", "[a]", "[[a.b]]", "abs(abs(a))")] == [
        0,
        0,
        1,
        2,
        2,
    ]
    assert depth("`[[1]]`") == 2
    assert depth(".".join(["a"] * 3000)) == 0


def test_a_batch_calls_a_given_compiled_expression():
    """compile_batch(compiled=...) runs the given function for that expression, the generated
    code for the others, with the same results as without it."""
    calls = []

    def given(root: Any) -> Any:
        calls.append(root)
        return root["x"] + 1

    batch = compile_batch(["x", "x", "y"], compiled=[None, given, None])
    assert batch({"x": 1, "y": 0}) == [1, 2, 0]
    assert len(calls) == 1
