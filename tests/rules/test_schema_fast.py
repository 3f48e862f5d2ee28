"""The fast schema check says "valid" exactly when jsonschema finds no error.

The loader asks jsonschema only when the fast check does not say "valid"
(``dunning_rules.rules._schema_fast``), so the check must never pass a file that jsonschema
refuses, and should pass every file it accepts (else the loader is slow, not wrong).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dunning_rules as dr
from dunning_rules.rules import loader
from dunning_rules.rules._schema_build import (
    fast_validator,
    loader_schema,
    rules_schema,
    validator,
)
from dunning_rules.rules._schema_fast import fast_check
from dunning_rules.rules.locations import parse_yaml
from tests.rules.yaml_paths import corpus

MUTATIONS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def jsonschema_valid(data: Any) -> bool:
    return not any(True for _ in validator(1).iter_errors(data))


def rule_files() -> list[tuple[str, Any]]:
    """The data of every rule file of the corpus that reads as YAML."""
    found = []
    for name, text in corpus():
        data, _, problems = parse_yaml(text, name)
        if not problems and isinstance(data, dict) and "rules" in data:
            found.append((name, data))
    return found


FILES = rule_files()


@pytest.mark.parametrize(("name", "data"), FILES, ids=[name for name, _ in FILES])
def test_the_fast_check_agrees_on_every_rule_file(name, data):
    """Every rule file of the examples and the cases: fast "valid" iff jsonschema's."""
    assert fast_validator(1)(data) == jsonschema_valid(data)


def test_most_rule_files_are_valid_and_pass_fast():
    """The comparison is not empty: most files are valid, and some are not."""
    answers = [fast_validator(1)(data) for _, data in FILES]
    assert sum(answers) > len(answers) // 2
    assert not all(answers)


# Values a mutation puts somewhere in a file: every JSON type, and the Python values that
# look alike to Python and differ to JSON Schema (True and 1, 2.0 and 2).
VALUES = st.sampled_from(
    [
        *(None, True, False, 0, 1, 2, 2.0, 2.5, -1, 21, "", "x", "3d", "stop", "1:30"),
        *([], [1], {}, {"all": []}, {"not": "a"}, {"type": "note"}),
        *("invoice.payment_failed", "acct_1"),
    ]
)


def paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into ``value``, itself included."""
    found = [at]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*at, index))
    return found


@st.composite
def mutated_files(draw: st.DrawFn) -> Any:
    """A rule file of the corpus with a few changes: a value replaced, a key removed or
    added."""
    _, data = draw(st.sampled_from([f for f in FILES if fast_validator(1)(f[1])]))
    data = copy.deepcopy(data)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths(data)))
        parent: Any = data
        for part in path[:-1]:
            parent = parent[part]
        kind = draw(st.sampled_from(["replace", "remove", "add"]))
        if not path:
            continue
        target = parent[path[-1]]
        if kind == "replace":
            parent[path[-1]] = copy.deepcopy(draw(VALUES))
        elif kind == "remove" and isinstance(parent, dict):
            del parent[path[-1]]
        elif kind == "add" and isinstance(target, dict):
            key = draw(st.sampled_from(["id", "when", "retry", "extra", "on", "all", "x"]))
            target[key] = copy.deepcopy(draw(VALUES))
    return data


@MUTATIONS
@given(mutated_files())
def test_the_fast_check_agrees_on_mutated_files(data):
    """A file with values of the wrong type or kind, missing or unknown keys: fast "valid"
    iff jsonschema finds no error."""
    assert fast_validator(1)(data) == jsonschema_valid(data)


JSON = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(-3, 30), st.floats(-3, 30), st.text(max_size=4)
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(
            st.sampled_from(["version", "rules", "name", "on", "actions", "type", "when", "x"]),
            children,
            max_size=4,
        ),
    ),
    max_leaves=20,
)


@MUTATIONS
@given(JSON)
def test_the_fast_check_agrees_on_any_json(data):
    """Any JSON value with a rule file's keys: fast "valid" iff jsonschema's."""
    assert fast_validator(1)(data) == jsonschema_valid(data)


def test_a_wrong_fast_check_is_caught():
    """A fast check built without ``required`` passes files that jsonschema refuses, and the
    comparison above catches it."""

    def without_required(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: without_required(v) for k, v in value.items() if k != "required"}
        if isinstance(value, list):
            return [without_required(v) for v in value]
        return value

    wrong = fast_check(without_required(loader_schema(rules_schema(1))))
    _, data = next(f for f in FILES if fast_validator(1)(f[1]))
    data = copy.deepcopy(data)
    del data["rules"][0]["on"]
    assert wrong(data)
    assert not jsonschema_valid(data)
    assert not fast_validator(1)(data)


def test_an_unknown_keyword_makes_every_answer_not_sure():
    """A schema keyword the fast check does not know: it never says "valid"."""
    check = fast_check({"type": "object", "unevaluatedProperties": False})
    assert check({}) is False


def test_the_loader_reports_jsonschema_errors_as_before(monkeypatch):
    """With the fast check always unsure, every file gives the same problems: the fast check
    changes how fast, never what."""
    texts = [text for name, text in corpus() if ":" in name]

    def load_all() -> list[str]:
        out = []
        for text in texts:
            try:
                dr.load_rules(text)
                out.append("ok")
            except dr.RuleFileError as exc:
                out.append(str(exc))
        return out

    fast = load_all()
    monkeypatch.setattr(loader, "fast_validator", lambda version: lambda data: False)
    assert load_all() == fast
