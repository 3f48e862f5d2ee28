"""``load_rules``: sources (text, path, list), merging files, RuleFileError, compile once."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import jmespath
import jmespath.parser
import pytest

import dunning_rules as dr
from dunning_rules.errors import Problem
from dunning_rules.rules.expressions import Condition, Expression
from dunning_rules.testing import RecordingAdapter

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "smart_dunning.yaml"


@pytest.fixture(autouse=True, params=["libyaml", "python"])
def yaml_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs on both YAML paths (DUNNING_RULES_YAML), which must agree."""
    monkeypatch.setenv("DUNNING_RULES_YAML", request.param)
    return str(request.param)


def rules_text(body: str) -> str:
    return textwrap.dedent(body).lstrip("\n")


ONE_RULE = rules_text(
    """
    version: 1
    rules:
      - {name: remind, on: invoice.payment_failed, actions: [{type: note}]}
    """
)


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(rules_text(text), encoding="utf-8")
    return path


def load_error(source) -> dr.RuleFileError:
    with pytest.raises(dr.RuleFileError) as caught:
        dr.load_rules(source)
    return caught.value


# --- sources -----------------------------------------------------------------------------------


def test_text_with_a_newline_is_yaml():
    """A str holding a newline is read as YAML text, named <string>."""
    rules = dr.load_rules(ONE_RULE)
    assert [r.name for r in rules] == ["remind"]
    assert rules.sources == ("<string>",)


def test_a_path_as_str_is_read(tmp_path):
    """A str without a newline is a path, and the file's path names its source."""
    path = write(tmp_path, "rules.yaml", ONE_RULE)
    rules = dr.load_rules(str(path))
    assert [r.name for r in rules] == ["remind"]
    assert rules.sources == (str(path),)


def test_a_pathlike_is_read(tmp_path):
    """A pathlib.Path is read like a str path."""
    path = write(tmp_path, "rules.yaml", ONE_RULE)
    assert dr.load_rules(path).sources == (str(path),)


def test_errors_in_a_file_name_the_file(tmp_path):
    """An error in a file read from disk starts with that file's path."""
    path = write(
        tmp_path,
        "bad.yaml",
        """
        version: 1
        rules:
          - {name: a, on: invoice.payment_failed, actions: [{type: note}], stopp: true}
        """,
    )
    error = load_error(path)
    assert str(error) == (
        f"{path}:3:68: $.rules[0].stopp: rule 'a': unknown key 'stopp' (did you mean 'stop'?); "
        "known keys: actions, cancel_on, description, key, name, on, priority, stop, variants, "
        "when"
    )
    assert error.path == str(path)


def test_a_missing_file_is_a_rule_file_error(tmp_path):
    """A path that does not exist is a RuleFileError naming it, not an OSError."""
    missing = tmp_path / "nope.yaml"
    error = load_error(str(missing))
    assert str(error) == f"{missing}:1:1: $: cannot read the file: No such file or directory"


def test_a_directory_is_a_rule_file_error(tmp_path):
    """A directory given as a rule file is a RuleFileError."""
    error = load_error(tmp_path)
    assert str(error) == f"{tmp_path}:1:1: $: cannot read the file: Is a directory"


def test_a_file_that_is_not_utf8_is_a_rule_file_error(tmp_path):
    """A file that is not UTF-8 is a RuleFileError at 1:1 of that file."""
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"version: 1\nsettings: {company: Caf\xe9}\n")
    error = load_error(path)
    assert (error.path, error.line, error.column) == (str(path), 1, 1)
    assert str(error).startswith(f"{path}:1:1: $: cannot read the file: 'utf-8' codec")


def test_an_empty_list_is_an_error():
    """No rule files at all is an error."""
    assert str(load_error([])) == "<none>:1:1: $: no rule files given"


def test_a_list_mixes_paths_and_text(tmp_path):
    """A list may hold paths and YAML texts; the sources keep their order."""
    path = write(
        tmp_path,
        "a.yaml",
        """
        version: 1
        rules:
          - {name: from-file, on: invoice.paid, actions: [{type: note}]}
        """,
    )
    rules = dr.load_rules([path, ONE_RULE])
    assert [r.name for r in rules] == ["from-file", "remind"]
    assert rules.sources == (str(path), "<string>")


def test_the_example_loads_from_its_path():
    """examples/smart_dunning.yaml loads: its rules, settings and lookup."""
    rules = dr.load_rules(EXAMPLE)
    assert [r.name for r in rules] == ["vip-card-declined", "standard-card-declined"]
    assert rules.settings["company"] == "Acme"
    assert rules.settings["asana_project"] == "1200000000000001"
    assert list(rules.lookups) == ["ltv", "customer"]
    assert rules.lookups["ltv"].type == "stripe.customer_ltv"


# --- several files -----------------------------------------------------------------------------


def test_settings_merge_and_a_later_file_wins(tmp_path):
    """Settings merge key by key; a later file's value replaces an earlier one's."""
    first = write(
        tmp_path,
        "a.yaml",
        """
        version: 1
        settings: {company: Acme, support: help@acme.example}
        rules: [{name: a, on: invoice.paid, actions: [{type: note}]}]
        """,
    )
    second = write(
        tmp_path,
        "b.yaml",
        """
        version: 1
        settings: {company: Acme EU, region: eu}
        rules: [{name: b, on: invoice.paid, actions: [{type: note}]}]
        """,
    )
    rules = dr.load_rules([first, second])
    assert dict(rules.settings) == {
        "company": "Acme EU",
        "support": "help@acme.example",
        "region": "eu",
    }


def test_rules_of_several_files_keep_file_order_on_ties(tmp_path):
    """Rules of equal priority from several files are evaluated in file order."""
    first = write(
        tmp_path,
        "a.yaml",
        """
        version: 1
        rules:
          - {name: a1, on: invoice.paid, actions: [{type: note}]}
          - {name: a2, on: invoice.paid, priority: 1, actions: [{type: note}]}
        """,
    )
    second = write(
        tmp_path,
        "b.yaml",
        """
        version: 1
        rules:
          - {name: b1, on: invoice.paid, priority: 1, actions: [{type: note}]}
          - {name: b2, on: invoice.paid, actions: [{type: note}]}
        """,
    )
    rules = dr.load_rules([first, second])
    assert [r.name for r in rules.for_type("invoice.paid")] == ["a2", "b1", "a1", "b2"]


def test_the_same_lookup_in_two_files_is_fine(tmp_path):
    """A lookup defined in two files with the same definition is one lookup."""
    text = """
        version: 1
        lookups:
          ltv: {type: stripe.customer_ltv, customer: data.object.customer}
        rules: [{name: %s, on: invoice.paid, actions: [{type: note}]}]
        """
    rules = dr.load_rules(
        [write(tmp_path, "a.yaml", text % "a"), write(tmp_path, "b.yaml", text % "b")]
    )
    assert list(rules.lookups) == ["ltv"]


def test_a_lookup_defined_differently_in_two_files_is_an_error(tmp_path):
    """A lookup defined differently in a later file is an error at the later name."""
    first = write(
        tmp_path,
        "a.yaml",
        """
        version: 1
        lookups:
          ltv: {type: stripe.customer_ltv, customer: data.object.customer}
        rules: [{name: a, on: invoice.paid, actions: [{type: note}]}]
        """,
    )
    second = write(
        tmp_path,
        "b.yaml",
        """
        version: 1
        lookups:
          ltv: {type: stripe.customer_ltv, customer: data.object.customer_email}
        rules: [{name: b, on: invoice.paid, actions: [{type: note}]}]
        """,
    )
    error = load_error([first, second])
    assert str(error) == (
        f"{second}:3:3: $.lookups.ltv: lookup 'ltv' is already defined differently at {first}:3:8"
    )


def test_rule_names_are_unique_across_files(tmp_path):
    """A rule name used in two files is an error at the second, naming the first."""
    first = write(tmp_path, "a.yaml", ONE_RULE)
    second = write(tmp_path, "b.yaml", ONE_RULE)
    error = load_error([first, second])
    assert str(error) == (
        f"{second}:3:12: $.rules[0].name: rule 'remind': duplicate rule name 'remind' "
        f"(first defined at {first}:3:12)"
    )


def test_problems_of_every_file_are_reported(tmp_path):
    """Problems in two files are all reported, sorted by file, then line."""
    first = write(
        tmp_path,
        "a.yaml",
        """
        version: 1
        rules:
          - {name: a, on: invoice.paid, actions: [{type: wait, duration: soon}]}
        """,
    )
    second = write(tmp_path, "b.yaml", "version: 3\nrules: []\n")
    error = load_error([second, first])
    assert [(p.location.path, p.location.line) for p in error.problems] == [
        (str(first), 3),
        (str(second), 1),
    ]


# --- RuleFileError -----------------------------------------------------------------------------

SEVERAL_PROBLEMS = rules_text(
    """
    version: 1
    rules:
      - name: first
        on: invoice.payment_failed
        actions:
          - {type: email, text: "{{ nope(data.object.id) }}"}
      - name: second
        on: invoice.payment_failed
        when: "data.object.amount_due > > `1`"
        priorty: 3
        actions: [{type: wait, duration: 2 days}]
    """
)


def test_rule_file_error_is_a_value_error_and_ours():
    """RuleFileError derives from DunningRulesError and ValueError."""
    error = load_error(SEVERAL_PROBLEMS)
    assert isinstance(error, dr.DunningRulesError)
    assert isinstance(error, ValueError)


def test_rule_file_error_attributes_describe_the_first_problem():
    """path, line, column, rule and json_path are those of the first problem by place."""
    error = load_error(SEVERAL_PROBLEMS)
    assert (error.path, error.line, error.column) == ("<string>", 6, 33)
    assert error.rule == "first"
    assert error.json_path == "$.rules[0].actions[0].text"
    assert str(error.location) == "<string>:6:33"


def test_rule_file_error_message_starts_with_the_place():
    """The message starts path:line:column: and then the JSON path."""
    error = load_error(SEVERAL_PROBLEMS)
    assert str(error).startswith("<string>:6:33: $.rules[0].actions[0].text: rule 'first': ")


def test_rule_file_error_collects_every_problem_sorted_by_line():
    """Every problem is in problems, sorted by line, each with its rule and path."""
    error = load_error(SEVERAL_PROBLEMS)
    assert [(p.location.line, p.location.column, p.json_path, p.rule) for p in error.problems] == [
        (6, 33, "$.rules[0].actions[0].text", "first"),
        (9, 37, "$.rules[1].when", "second"),
        (10, 5, "$.rules[1].priorty", "second"),
        (11, 38, "$.rules[1].actions[0].duration", "second"),
    ]
    assert all(isinstance(p, Problem) for p in error.problems)


def test_rule_file_error_message_lists_every_problem_with_carets():
    """The message holds every problem, one after the other, carets included."""
    error = load_error(SEVERAL_PROBLEMS)
    assert str(error) == "\n".join(
        [
            "<string>:6:33: $.rules[0].actions[0].text: rule 'first': invalid expression: "
            "unknown function 'nope()'",
            '          - {type: email, text: "{{ nope(data.object.id) }}"}',
            "    " + " " * 32 + "^",
            "<string>:9:37: $.rules[1].when: rule 'second': invalid expression: "
            "invalid token at '>'",
            '        when: "data.object.amount_due > > `1`"',
            "    " + " " * 36 + "^",
            "<string>:10:5: $.rules[1].priorty: rule 'second': unknown key 'priorty' "
            "(did you mean 'priority'?); known keys: actions, cancel_on, description, key, "
            "name, on, priority, stop, variants, when",
            "<string>:11:38: $.rules[1].actions[0].duration: rule 'second': not a duration: "
            "'2 days' (use a number and s, m, h, d or w: '3d')",
        ]
    )


def test_a_problem_outside_rules_has_no_rule():
    """A problem outside any rule has rule None."""
    error = load_error("version: 1\nsettings: []\nrules: []\n")
    assert str(error) == "<string>:2:11: $.settings: must be a mapping, not a list"
    assert error.rule is None


# --- schema-invalid rules must not crash the loader ---------------------------------------------


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ("on: true", "<string>:4:9: $.rules[0].on: rule 'a': must be a string, not a boolean"),
        (
            "on: invoice.paid\n    priority: off",
            "<string>:5:15: $.rules[0].priority: rule 'a': must be an integer, not a string",
        ),
        (
            "on: invoice.paid\n    priority: [1]",
            "<string>:5:15: $.rules[0].priority: rule 'a': must be an integer, not a list",
        ),
        (
            "on: invoice.paid\n    cancel_on: 5",
            "<string>:5:16: $.rules[0].cancel_on: rule 'a': must be a string, not a number",
        ),
    ],
    ids=["on-true", "priority-off", "priority-list", "cancel-on-number"],
)
def test_a_wrongly_typed_rule_key_is_a_rule_file_error(keys, message):
    """A rule key of the wrong type is reported as a RuleFileError, not a crash."""
    text = f"version: 1\nrules:\n  - name: a\n    {keys}\n    actions: [{{type: note}}]\n"
    assert str(load_error(text)) == message


def test_each_missing_key_is_reported_once():
    """A rule missing three required keys gets one problem per key."""
    error = load_error("version: 1\nrules:\n  - priority: 3\n")
    assert str(error) == (
        "<string>:3:5: $.rules[0]: missing required key 'actions'\n"
        "<string>:3:5: $.rules[0]: missing required key 'name'\n"
        "<string>:3:5: $.rules[0]: missing required key 'on'"
    )


# --- the engine's part -------------------------------------------------------------------------


def test_engine_rejects_a_step_type_without_adapter():
    """Engine(...) raises RuleFileError at the step's type for a type no adapter handles."""
    rules = dr.load_rules(
        rules_text(
            """
            version: 1
            rules:
              - name: a
                on: invoice.payment_failed
                actions:
                  - {type: emial, to: x}
            """
        )
    )
    with pytest.raises(dr.RuleFileError) as caught:
        dr.Engine(rules, adapters={"note": RecordingAdapter()})
    error = caught.value
    assert (error.line, error.column, error.rule) == (6, 16, "a")
    assert error.json_path == "$.rules[0].actions[0].type"
    assert str(error).startswith(
        "<string>:6:16: $.rules[0].actions[0].type: rule 'a': "
        "no adapter for step type 'emial' (did you mean 'email'?); known types: "
    )


# --- compile once ------------------------------------------------------------------------------


def test_the_rule_set_is_immutable():
    """RuleSet, Rule and ActionSpec are frozen dataclasses; rules are a tuple."""
    rules = dr.load_rules(EXAMPLE)
    rule = rules.rules[0]
    assert isinstance(rules.rules, tuple)
    assert isinstance(rule.actions, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rules.rules = ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.priority = 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.actions[0].type = "email"


def test_conditions_and_keys_are_compiled_at_load():
    """A rule's when is a compiled Condition and its key a compiled Expression."""
    rules = dr.load_rules(EXAMPLE)
    vip = rules.rule("vip-card-declined")
    assert vip is not None
    assert isinstance(vip.when, Condition)
    assert vip.when.source == (
        "(data.object.amount_due > settings.vip_amount) || (vars.ltv.amount > settings.vip_ltv)"
    )
    assert isinstance(vip.key, Expression)
    assert vip.key.source == "data.object.id"


def test_simulate_compiles_nothing(monkeypatch, failed_event):
    """After load_rules, handling events never parses JMESPath again."""
    rules = dr.load_rules(EXAMPLE)
    engine = dr.Engine(
        rules,
        adapters={
            t: RecordingAdapter()
            for t in ("slack", "ticket", "llm", "email", "sms", "stripe.invoice")
        },
    )

    def refuse(*args, **kwargs):
        raise AssertionError("JMESPath was parsed after load_rules")

    monkeypatch.setattr(jmespath, "compile", refuse)
    monkeypatch.setattr(jmespath.parser.Parser, "parse", refuse)
    outcome = engine.simulate(failed_event)
    assert outcome.matched == ("standard-card-declined",)
    assert len(outcome.actions) == 8


def test_the_rule_set_looks_up_rules_by_name():
    """RuleSet.rule finds a rule by name, None for an unknown name; len counts rules."""
    rules = dr.load_rules(EXAMPLE)
    assert len(rules) == 2
    assert rules.rule("standard-card-declined") is rules.rules[1]
    assert rules.rule("nope") is None
