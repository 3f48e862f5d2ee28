"""Expressions: JMESPath compiling and checking, templates, parameters, the extra functions."""

from __future__ import annotations

import datetime as dt
import html
import textwrap

import pytest

import dunning_rules as dr
from dunning_rules.rules.expressions import (
    ExpressionSyntaxError,
    Template,
    compile_condition,
    compile_expression,
    compile_params,
    compile_template,
    is_true,
    to_text,
)
from dunning_rules.rules.functions import clock_scope, format_money


def syntax_error(expression: str) -> ExpressionSyntaxError:
    with pytest.raises(ExpressionSyntaxError) as caught:
        compile_expression(expression)
    return caught.value


# --- checks at compile time --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "message", "offset"),
    [
        ("mony(a, 'usd')", "unknown function 'mony()' (did you mean 'money'?)", 0),
        ("a || is_vip(b)", "unknown function 'is_vip()'", 5),
        ("money(a)", "function 'money()' takes 2 arguments, got 1", 0),
        ("days_since(a, b)", "function 'days_since()' takes 1 argument, got 2", 0),
        ("now(a)", "function 'now()' takes 0 arguments, got 1", 0),
        ("not_null()", "function 'not_null()' takes at least 1 arguments, got 0", 0),
        ("a b", "Unexpected token: b at 'b'", 2),
        ("a | | b", "invalid token at '|'", 4),
        ("   ", "empty expression", 0),
    ],
    ids=[
        "unknown-with-hint",
        "unknown-inside",
        "too-few",
        "too-many-singular",
        "no-arguments",
        "variadic",
        "unexpected-token",
        "invalid-token",
        "empty",
    ],
)
def test_bad_expressions_are_rejected_with_message_and_offset(expression, message, offset):
    """Unknown functions, wrong arities and syntax errors fail to compile, at an offset."""
    error = syntax_error(expression)
    assert (error.message, error.offset, error.expression) == (message, offset, expression)


def test_an_incomplete_expression_says_it_ends_too_early():
    """An expression cut short is reported as ending too early, at its end."""
    error = syntax_error("data.object.amount_due >")
    assert error.offset == len("data.object.amount_due >")
    assert error.message == "invalid syntax: the expression ends too early"


def test_the_extra_functions_exist_with_their_arities():
    """money/2, now/0, days_since/1, date/1, lower/1 and upper/1 compile."""
    for expression in ("money(a, b)", "now()", "days_since(a)", "date(a)", "lower(a)", "upper(a)"):
        assert compile_expression(expression).source == expression


# --- what an expression reads ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "lookups", "reads_steps"),
    [
        ("data.object.amount_due", frozenset(), False),
        ("settings.vip_amount", frozenset(), False),
        ("vars.ltv.amount > `5`", frozenset({"ltv"}), False),
        ("vars.ltv.amount > `5` && vars.plan", frozenset({"ltv", "plan"}), False),
        ("steps.invoice.status == 'open'", frozenset(), True),
        ("{a: vars.ltv, b: steps.draft.text}", frozenset({"ltv"}), True),
        ("vars", None, False),
        ("vars[0]", None, False),
        ("length(vars)", None, False),
        ("vars.*", None, False),
    ],
    ids=[
        "event",
        "settings",
        "one-lookup",
        "two-lookups",
        "steps",
        "both",
        "all-vars",
        "vars-index",
        "vars-argument",
        "vars-wildcard",
    ],
)
def test_analysis_of_lookups_and_steps(expression, lookups, reads_steps):
    """Each expression knows which lookups it reads (None: maybe all) and if it reads steps."""
    compiled = compile_expression(expression)
    assert (compiled.lookups, compiled.reads_steps) == (lookups, reads_steps)


def test_parameters_union_what_their_templates_read():
    """A step's parameters read the union of their templates' lookups, at any depth."""
    tree = compile_params(
        {
            "a": "{{ vars.ltv }}",
            "b": ["x", {"c": "{{ steps.draft.text }} and {{ vars.plan.name }}"}],
            "n": 5,
        },
        lambda path, exc: pytest.fail(f"{path}: {exc}"),
    )
    assert (tree.lookups, tree.reads_steps) == (frozenset({"ltv", "plan"}), True)


def test_parameters_that_read_all_vars_read_every_lookup():
    """One parameter reading vars as a whole makes the step need every lookup."""
    tree = compile_params({"a": "{{ vars.ltv }}", "b": "{{ vars }}"}, lambda p, e: None)
    assert tree.lookups is None


def test_bad_parameters_are_reported_with_their_path():
    """compile_params reports each bad string with its path and keeps going."""
    seen = []
    compile_params(
        {"ok": "{{ a }}", "list": ["x", {"bad": "Hi {{ a b }}"}], "empty": "{{ }}"},
        lambda path, exc: seen.append((path, exc.message, exc.start, exc.offset)),
    )
    assert seen == [
        (("list", 1, "bad"), "Unexpected token: b at 'b'", 6, 2),
        (("empty",), "empty placeholder", 0, 0),
    ]


# --- templates ---------------------------------------------------------------------------------


def test_a_string_without_placeholders_is_returned_as_it_is():
    """compile_template returns a plain string untouched."""
    assert compile_template("50% off { soon }") == "50% off { soon }"


def test_a_single_placeholder_is_whole():
    """A string that is exactly one placeholder keeps the expression's type."""
    template = compile_template("{{ a }}")
    assert isinstance(template, Template)
    assert template.whole is not None
    assert template.render({"a": {"x": [1]}}) == {"x": [1]}


def test_text_around_a_placeholder_makes_text():
    """A placeholder with text around it renders as text."""
    template = compile_template(" {{ a }}")
    assert isinstance(template, Template)
    assert template.whole is None
    assert template.render({"a": 5}) == " 5"


def test_a_placeholder_ends_at_the_first_closing_braces():
    """The first }} ends a placeholder; what follows is text."""
    template = compile_template("{{ a }}}}")
    assert isinstance(template, Template)
    assert template.render({"a": "x"}) == "x}}"


@pytest.mark.parametrize(
    ("text", "message", "start", "offset"),
    [
        ("Hi {{ a", "'{{' has no closing '}}'", 3, 0),
        ("Hi {{  }}", "empty placeholder", 0, 3),
        ("Hi {{ a b }}", "Unexpected token: b at 'b'", 6, 2),
        ("{{ '}}' }}", 'invalid syntax at "\'"', 3, 0),
    ],
    ids=["unclosed", "empty", "bad-expression", "braces-inside-quotes"],
)
def test_bad_templates_are_rejected_where_they_are(text, message, start, offset):
    """Template errors say where the bad placeholder's expression starts in the string."""
    with pytest.raises(ExpressionSyntaxError) as caught:
        compile_template(text)
    error = caught.value
    assert (error.message, error.start, error.offset) == (message, start, offset)


def test_an_escape_applies_to_placeholder_results_only():
    """An adapter's escape function escapes the rendered values, never the template's text."""
    template = compile_template("<b>{{ name }}</b> owes {{ amount }}{{ nothing }}")
    assert isinstance(template, Template)
    rendered = template.render({"name": "<script>", "amount": 5}, escape=html.escape)
    assert rendered == "<b>&lt;script&gt;</b> owes 5"


def test_an_escape_keeps_the_type_of_a_whole_placeholder():
    """A whole placeholder's string is escaped; other types pass through unescaped."""
    template = compile_template("{{ a }}")
    assert isinstance(template, Template)
    assert template.render({"a": "<x>"}, escape=html.escape) == "&lt;x&gt;"
    assert template.render({"a": 5}, escape=html.escape) == 5


def test_a_failing_placeholder_raises_expression_error():
    """A placeholder that fails at run time raises ExpressionError naming it."""
    template = compile_template("{{ abs(a) }}")
    assert isinstance(template, Template)
    with pytest.raises(dr.ExpressionError) as caught:
        template.render({"a": "x"})
    assert caught.value.expression == "abs(a)"
    assert str(caught.value).startswith("{{ abs(a) }} failed: In function abs(), invalid type")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        ("é", "é"),
        (0, "0"),
        (1.5, "1.5"),
        (True, "true"),
        ([1, "a"], '[1,"a"]'),
        ({"a": None, "b": "é"}, '{"a":null,"b":"é"}'),
    ],
    ids=["null", "string", "zero", "float", "bool", "list", "object"],
)
def test_to_text(value, text):
    """In text, null is empty, strings stay, the rest is compact JSON."""
    assert to_text(value) == text


# --- conditions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "truth"),
    [
        (None, False),
        (False, False),
        ("", False),
        ([], False),
        ({}, False),
        (0, True),
        (0.0, True),
        (" ", True),
        ([None], True),
        ({"a": None}, True),
        (True, True),
    ],
    ids=[
        "null",
        "false",
        "empty-string",
        "empty-list",
        "empty-object",
        "zero",
        "zero-float",
        "space",
        "list-of-null",
        "object",
        "true",
    ],
)
def test_truthiness_is_jmespaths(value, truth):
    """false, null, "", [] and {} are false; everything else, 0 included, is true."""
    assert is_true(value) is truth


def test_nested_conditions_join_into_one_expression():
    """all, any and not nest into one JMESPath expression."""
    condition = compile_condition({"all": ["a", {"any": ["b", {"not": "c"}]}]})
    assert condition.source == "(a) && ((b) || (!(c)))"
    assert condition.test({"a": 1, "b": 0}) is True
    assert condition.test({"a": 1, "c": True}) is False
    assert condition.test({"a": 1, "c": ""}) is True
    assert condition.test({"b": 1}) is False


def test_a_condition_that_fails_raises_to_its_caller():
    """Condition.test lets a run-time error through (the engine warns and treats it false)."""
    condition = compile_condition("abs(a)")
    with pytest.raises(Exception, match="invalid type"):
        condition.test({"a": "x"})


# --- the extra functions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (75000, "usd", "$750.00"),
        (99, "usd", "$0.99"),
        (-500, "usd", "-$5.00"),
        (100000000, "gbp", "£1,000,000.00"),
        (0, "eur", "€0.00"),
        (1000, "jpy", "¥1000"),
        (1000, "JPY", "¥1000"),
        (5000, "krw", "5000 KRW"),
        (1250, "chf", "12.50 CHF"),
        (1234, "kwd", "1.234 KWD"),
    ],
    ids=[
        "usd",
        "cents",
        "negative",
        "thousands",
        "zero-eur",
        "jpy",
        "upper-case",
        "krw",
        "chf",
        "three-decimals",
    ],
)
def test_format_money(amount, currency, text):
    """Minor units with the currency's symbol or code, zero-decimal currencies undivided."""
    assert format_money(amount, currency) == text


def test_now_and_days_since_read_the_bound_clock():
    """now() and days_since() read the clock bound by clock_scope."""
    moment = dt.datetime(2024, 8, 5, 1, 34, 19, tzinfo=dt.timezone.utc)
    expression = compile_expression("[now(), days_since(`1721957659`), date(now())]")
    with clock_scope(lambda: moment):
        assert expression.evaluate({}) == [int(moment.timestamp()), 10, "2024-08-05"]


def test_lower_and_upper():
    """lower() and upper() change case."""
    assert compile_expression("[lower('AbC'), upper('AbC')]").evaluate({}) == ["abc", "ABC"]


# --- lookups are lazy --------------------------------------------------------------------------


LOOKUP_RULES = textwrap.dedent(
    """\
    version: 1
    lookups:
      ltv: {type: test.count, customer: data.object.customer}
      plan: {type: test.count, customer: data.object.customer}
      unused: {type: test.count, customer: data.object.customer}
    rules:
      - name: big
        on: invoice.payment_failed
        when: "vars.ltv > `10`"
        actions: [{type: note, text: "{{ vars.ltv }} {{ vars.plan }}"}]
      - name: also
        on: invoice.payment_failed
        actions: [{type: note, text: "{{ vars.ltv }}"}]
    """
)


def test_lookups_are_fetched_once_and_only_when_read(failed_event, clock, recording):
    """handle fetches each lookup an expression reads, once per event, and no other."""
    fetched = []

    def count(args, ctx):
        fetched.append((ctx.name, dict(args)))
        return 42

    note = recording()
    engine = dr.Engine(
        dr.load_rules(LOOKUP_RULES),
        adapters={"note": note},
        lookups={"test.count": count},
        clock=clock,
    )
    outcome = engine.handle(failed_event)
    assert outcome.matched == ("big", "also")
    assert fetched == [
        ("ltv", {"customer": "cus_QXg1o8vcGmoR32"}),
        ("plan", {"customer": "cus_QXg1o8vcGmoR32"}),
    ]
    assert note.params == [{"text": "42 42"}, {"text": 42}]


def test_simulate_fetches_no_lookup(failed_event, clock, recording):
    """simulate never calls a lookup: vars are null."""

    def count(args, ctx):
        raise AssertionError("simulate fetched a lookup")

    engine = dr.Engine(
        dr.load_rules(LOOKUP_RULES),
        adapters={"note": recording()},
        lookups={"test.count": count},
        clock=clock,
    )
    outcome = engine.simulate(failed_event)
    assert outcome.matched == ("also",)
    assert [a.params for a in outcome.actions] == [{"text": None}]
