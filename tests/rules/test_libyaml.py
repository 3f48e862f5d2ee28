"""The libyaml path of ``parse_yaml`` gives what the pure-Python path gives, for every text.

Each test compares the two paths' whole answer (tests/rules/yaml_paths.py: data with types,
problems, and every place the source map keeps). tests/rules/test_fuzz_load.py compares them
on generated texts and on every YAML file of the project.
"""

from __future__ import annotations

import pytest
from yaml.nodes import ScalarNode

import dunning_rules as dr
from dunning_rules.rules import _libyaml, locations
from dunning_rules.rules.limits import MAX_ALIASES, MAX_YAML_DEPTH
from tests.rules.test_bounds import alias_bomb, merge_bomb
from tests.rules.yaml_paths import assert_same, corpus, libyaml_answers, snapshot

RULES = """\
version: 1
settings: {vip: 500, windows: &w {hours: "08:00-21:00"}}
rules:
  - name: dunning
    on: [invoice.payment_failed]
    when: {all: ["data.object.amount_due > `100`", {not: data.object.paid}]}
    key: data.object.id
    actions:
      - type: email
        to: '{{ data.object.customer_email }}'
        subject: "Payment failed \\u00e9"
        body: |
          Hi {{ data.object.customer_name }},
          please pay.
      - {type: wait, duration: 3d}
      - type: sms
        to: "+15550100"
        text: >-
          folded
          text
        send_window: *w
"""


def test_libyaml_is_there():
    """PyYAML's wheels bring libyaml (with its nesting bound), so both paths run here."""
    assert _libyaml.available()


def test_a_rule_file_is_read_on_libyaml_and_the_same_as_on_python():
    """A rule file of every common spelling is answered by the libyaml path, identically."""
    assert libyaml_answers(RULES)
    assert_same(RULES)
    data, _, problems = locations.parse_yaml(RULES, "f.yaml")
    assert problems == []
    assert data["rules"][0]["actions"][2]["send_window"] == {"hours": "08:00-21:00"}


@pytest.mark.parametrize(
    "name",
    [name for name, _ in corpus() if name.startswith("examples")],
)
def test_the_examples_are_read_on_libyaml(name):
    """Every example file is answered by the libyaml path itself (the comparisons of the
    fuzz tests are not all answered by the pure-Python path)."""
    text = dict(corpus())[name]
    assert libyaml_answers(text)


# Texts libyaml reads otherwise than PyYAML: each goes to the pure-Python path.
DIFFERENT = {
    "tab after a colon": "a:\tb\n",  # PyYAML refuses it, libyaml reads 'b'
    "tab indenting": "a:\n\t- b\n",
    "comment after a block indicator": "a: >#\n  x\n",  # PyYAML refuses '#' there
    "byte order mark": "\ufeffa: b\n",  # libyaml does not count it in the marks' index
    "empty value in a flow mapping": "a: {b: }\n",  # the empty value's mark differs
    "empty value in a flow sequence": "a: [b: ]\n",
    "tag in a flow collection": "a: [!x,y z]\n",  # PyYAML's tag is '!x,y', libyaml's '!x'
    "question mark in a flow scalar": "a: [b?]\n",  # PyYAML refuses it
    "no final line break": "? a",  # libyaml adds a line break at the end: its marks there
}


@pytest.mark.parametrize("text", list(DIFFERENT.values()), ids=list(DIFFERENT))
def test_texts_libyaml_reads_otherwise_go_to_the_python_path(text):
    """Where libyaml reads a text otherwise, the pure-Python path answers, so the answer is
    the same whichever path is chosen."""
    assert not libyaml_answers(text)
    assert_same(text)


def raw_libyaml(text: str) -> object:
    """What libyaml alone would answer, without the pre-check and the fallback."""
    resolver = locations._Resolver()
    try:
        root, _, _ = _libyaml.compose(text, resolver.resolve, guarded=False)
    except _libyaml.Fallback:
        return "refused"
    if root is None:
        return None
    source = locations.SourceMap("f.yaml", text)
    builder = locations._DataBuilder(locations.SafeConstructor(), source)
    data = builder.build(root, (), None)
    marks = []
    for path in source.paths():
        node = source.node(path)
        assert node is not None
        marks.append((path, node.start_mark.line, node.start_mark.column, node.start_mark.index))
    return data, [str(p) for p in builder.problems], marks


REFUSED_BY_BOTH = ("tab indenting",)  # in other words and places: the fallback words it


@pytest.mark.parametrize(
    "text",
    [text for name, text in DIFFERENT.items() if name not in REFUSED_BY_BOTH],
    ids=[name for name in DIFFERENT if name not in REFUSED_BY_BOTH],
)
def test_each_difference_is_real(text):
    """libyaml alone answers each of these texts otherwise than the pure-Python path: data,
    problems or marks differ (so the pre-check is needed, and the comparison can fail)."""
    data, problems, source = locations.parse_yaml(text, "f.yaml", libyaml=False)
    python = (
        (
            data,
            [str(p) for p in problems],
            [
                (path, node.start_mark.line, node.start_mark.column, node.start_mark.index)
                for path in source.paths()
                if (node := source.node(path)) is not None
            ],
        )
        if not problems
        else "refused"
    )
    assert raw_libyaml(text) != python


INVALID = {
    "syntax error": "a: 1\nb: [1\n",
    "duplicate key": "a: 1\nb: {c: 1, c: 2}\n",
    "undefined alias": "a: *nope\n",
    "duplicate anchor": "a: &x 1\nb: &x 2\n",
    "bad integer": "a: !!int x\n",
    "unknown tag": "a: !!python/none x\n",
    "control character": "a: 1\nb: \x00\n",
    "lone surrogate": "a: '\ud800'\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "recursive alias": "a: &s {b: *s}\n",
    "nested too deeply": "a: " + "[" * (MAX_YAML_DEPTH + 1) + "\n",
    "a thousand brackets": "a: " + "[" * 1001 + "\n",
    "too many aliases": "a: &a x\nb: [" + ", ".join(["*a"] * (MAX_ALIASES + 1)) + "]\n",
    "alias bomb": alias_bomb(),
    "merge key bomb": merge_bomb(),
    "merge of a scalar": "x: {<<: 1, a: 2}\n",
    "long base 60 integer": "a: 1" + ":00" * 2000 + "\n",
}


@pytest.mark.parametrize("text", list(INVALID.values()), ids=list(INVALID))
def test_problems_are_the_python_paths_own(text):
    """A text with a problem gives the pure-Python path's problem, word for word and at its
    place, on the libyaml path too."""
    assert snapshot(text, libyaml=True)[1] != []
    assert_same(text)


def test_the_environment_chooses_the_python_path(monkeypatch):
    """DUNNING_RULES_YAML=python: libyaml is not used at all."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("libyaml was used")

    monkeypatch.setattr(_libyaml, "compose", refuse)
    monkeypatch.setenv("DUNNING_RULES_YAML", "python")
    assert len(dr.load_rules(RULES)) == 1
    monkeypatch.delenv("DUNNING_RULES_YAML")
    with pytest.raises(AssertionError, match="libyaml was used"):
        dr.load_rules(RULES)


@pytest.mark.parametrize(
    ("name", "text"),
    [(name, text) for name, text in corpus() if ":" in name],
    ids=[name for name, _ in corpus() if ":" in name],
)
def test_every_case_loads_alike_on_both_paths(monkeypatch, name, text):
    """load_rules gives the same rules, warnings and errors on both paths."""

    def load() -> object:
        try:
            rules = dr.load_rules(text)
        except dr.RuleFileError as exc:
            return str(exc)
        return [(r.name, r.location, [a.param_locations for a in r.actions]) for r in rules], [
            str(w) for w in rules.warnings
        ]

    monkeypatch.setenv("DUNNING_RULES_YAML", "python")
    python = load()
    monkeypatch.setenv("DUNNING_RULES_YAML", "libyaml")
    assert load() == python


def test_a_plain_style_is_none_on_both_paths():
    """libyaml spells a plain scalar's style '', PyYAML None: the libyaml path says None."""
    _, source, _ = locations.parse_yaml("a: b\n", "f.yaml", libyaml=True)
    node = source.node(("a",))
    assert isinstance(node, ScalarNode)
    assert node.style is None
    assert libyaml_answers("a: b\n")


def test_a_non_specific_tag_resolves_as_python_resolves_it():
    """``a: !`` is null on both paths (libyaml marks the empty value quoted-implicit)."""
    assert libyaml_answers("a: !\nb: ! 1\n")
    assert_same("a: !\nb: ! 1\n")
    data, _, _ = locations.parse_yaml("a: !\nb: ! 1\n", "f.yaml", libyaml=True)
    assert data == {"a": None, "b": 1}
