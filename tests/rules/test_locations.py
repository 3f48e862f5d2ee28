"""Reading YAML the way rule files need it, and finding where each value came from."""

from __future__ import annotations

import pytest

from dunning_rules.rules.locations import format_path, parse_yaml

SAMPLE = """\
a: on
b: [yes, no, off, NO, y, n, true, True, FALSE, false, 2026-01-01, 1, 1.5, null, ~]
'c d': {1: x}
block: |
  line one
  {{ x.[ }}
folded: >
  one
  two
sq: 'it''s {{ a b }}'
dq: "tab\\t{{ a b }}"
anchor: &x {k: v}
alias: *x
merged: {<<: *x, z: 1}
"""


@pytest.fixture(autouse=True, params=["libyaml", "python"])
def yaml_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs on both YAML paths (DUNNING_RULES_YAML), which must agree."""
    monkeypatch.setenv("DUNNING_RULES_YAML", request.param)
    return str(request.param)


def parse(text: str = SAMPLE):
    data, source, problems = parse_yaml(text, "f.yaml")
    assert problems == []
    return data, source


# --- YAML 1.2 reading --------------------------------------------------------------------------


def test_yaml_11_booleans_stay_strings():
    """on, yes, no, off, y, n and the country code NO stay strings."""
    data, _ = parse()
    assert data["a"] == "on"
    assert data["b"][:6] == ["yes", "no", "off", "NO", "y", "n"]


def test_yaml_12_booleans_are_booleans():
    """true, True, FALSE and false are booleans."""
    data, _ = parse()
    assert data["b"][6:10] == [True, True, False, False]
    assert all(isinstance(v, bool) for v in data["b"][6:10])


def test_dates_stay_strings_and_numbers_and_nulls_are_read():
    """A date stays a string; integers, floats and nulls are read as such."""
    data, _ = parse()
    assert data["b"][10:] == ["2026-01-01", 1, 1.5, None, None]
    assert isinstance(data["b"][11], int)


def test_the_key_on_is_a_string():
    """`on:` as a key is the string 'on', not True."""
    data, _ = parse("on: invoice.paid\nyes: 1\n")
    assert data == {"on": "invoice.paid", "yes": 1}


def test_a_number_key_keeps_its_text():
    """A key that YAML reads as a number keeps its text as a string key."""
    data, _ = parse()
    assert data["c d"] == {"1": "x"}


def test_anchors_aliases_and_merge_keys_work():
    """Aliases repeat an anchored value and << merges it."""
    data, _ = parse()
    assert data["alias"] == {"k": "v"}
    assert data["merged"] == {"k": "v", "z": 1}


def test_block_scalars_are_read():
    """A literal block keeps its newlines; a folded one joins its lines."""
    data, _ = parse()
    assert data["block"] == "line one\n{{ x.[ }}\n"
    assert data["folded"] == "one two\n"


def test_a_duplicate_key_is_a_problem_at_the_later_key():
    """A duplicate key is reported at the later key, and the first value is kept."""
    data, _, problems = parse_yaml("a: 1\nb: {c: 1, c: 2}\n", "g.yaml")
    assert data == {"a": 1, "b": {"c": 1}}
    assert [str(p) for p in problems] == ["g.yaml:2:11: $.b.c: duplicate key 'c'"]


def test_invalid_yaml_is_a_problem_at_the_parser_position():
    """A syntax error is one problem at the parser's position, with no data."""
    data, _, problems = parse_yaml("a: 1\nb: [1\n", "g.yaml")
    assert data is None
    assert [str(p) for p in problems] == [
        "g.yaml:3:1: $: invalid YAML: expected ',' or ']', but got '<stream end>' "
        "(while parsing a flow sequence)"
    ]


def test_an_empty_document_is_none_without_problems():
    """An empty document parses to None; the loader decides what that means."""
    data, _, problems = parse_yaml("# nothing\n", "g.yaml")
    assert (data, problems) == (None, [])


def test_an_unknown_tag_is_a_problem():
    """A python/ tag is not constructed: it is a problem at its value."""
    _, _, problems = parse_yaml("a: !!python/none x\n", "g.yaml")
    assert len(problems) == 1
    assert str(problems[0]).startswith(
        "g.yaml:1:4: $.a: invalid value: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/none'"
    )


@pytest.mark.parametrize(
    "value",
    ["!!int x", "!!float x", "!!bool x", "!!timestamp x"],
    ids=["int", "float", "bool", "timestamp"],
)
def test_a_bad_value_for_an_explicit_tag_is_a_problem(value):
    """A value its explicit tag cannot read is a problem at the value, not an exception."""
    _, _, problems = parse_yaml(f"a: {value}\n", "g.yaml")
    assert [(p.location.line, p.location.column, p.json_path) for p in problems] == [(1, 4, "$.a")]
    assert problems[0].message.startswith("invalid value: ")


def test_a_bad_value_for_an_explicit_tag_on_a_key_is_a_problem():
    """A key its explicit tag cannot read is a problem, not an exception."""
    _, _, problems = parse_yaml("a: {!!int x: 1}\n", "g.yaml")
    assert [(p.location.line, p.location.column) for p in problems] == [(1, 5)]
    assert problems[0].message.startswith("invalid value: ")


def test_a_control_character_is_a_problem_at_its_place():
    """A character YAML does not allow (NUL) is a problem where it stands, not an exception."""
    data, _, problems = parse_yaml("a: 1\nb: \x00\n", "g.yaml")
    assert data is None
    assert [(p.location.line, p.location.column, p.json_path) for p in problems] == [(2, 4, "$")]
    assert problems[0].message.startswith("invalid YAML: unacceptable character #x0000")


# --- the source map ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value_at", "key_at"),
    [
        (("a",), (1, 4), (1, 1)),
        (("b", 3), (2, 19), (2, 19)),
        (("c d",), (3, 8), (3, 1)),
        (("c d", "1"), (3, 12), (3, 9)),
        (("block",), (4, 8), (4, 1)),
        (("merged", "z"), (14, 21), (14, 18)),
    ],
    ids=["value", "list-item", "quoted-key", "nested", "block", "merged"],
)
def test_location_of_values_and_keys(path, value_at, key_at):
    """location() gives the 1-based line and column of a value, or of its key."""
    _, source = parse()
    value = source.location(path)
    key = source.location(path, key=True)
    assert (value.path, value.line, value.column) == ("f.yaml", *value_at)
    assert (key.line, key.column) == key_at


def test_location_of_an_unknown_path_is_the_nearest_ancestor():
    """A path that is not in the file falls back to its nearest known ancestor."""
    _, source = parse()
    assert str(source.location(("b", 99))) == "f.yaml:2:4"
    assert str(source.location(("nope", "deeper"))) == "f.yaml:1:1"


def test_at_index_turns_an_offset_into_line_and_column():
    """at_index maps a character offset of the text to line and column."""
    _, source = parse()
    assert str(source.at_index(0)) == "f.yaml:1:1"
    assert str(source.at_index(5)) == "f.yaml:1:6"
    assert str(source.at_index(SAMPLE.index("'c d'"))) == "f.yaml:3:1"


def test_source_line_is_the_text_of_a_line():
    """source_line gives a line's text, and '' past the end."""
    _, source = parse()
    assert source.source_line(3) == "'c d': {1: x}"
    assert source.source_line(99) == ""
    assert source.source_line(0) == ""


@pytest.mark.parametrize(
    ("path", "expression", "offset", "where"),
    [
        (("block",), "x.[", 2, "f.yaml:6:8"),
        (("sq",), "a b", 2, "f.yaml:10:17"),
        (("dq",), "a b", 2, "f.yaml:11:16"),
        (("folded",), "two", 1, "f.yaml:9:4"),
    ],
    ids=["literal-block", "single-quoted", "double-quoted-escape", "folded"],
)
def test_locate_in_scalar_finds_the_character_in_the_file(path, expression, offset, where):
    """A character of an expression inside a string is found at its place in the file."""
    data, source = parse()
    start = data[path[0]].index(expression)
    assert str(source.locate_in_scalar(path, start, expression, offset)) == where


def test_locate_in_scalar_walks_down_a_multi_line_expression():
    """In a literal block, a character on a later line of the expression is found there."""
    text = "x: |\n  {{ a &&\n     b[ }}\n"
    data, source = parse(text)
    expression = data["x"][3:-4]
    assert expression == "a &&\n   b["
    where = source.locate_in_scalar(("x",), 3, expression, expression.index("["))
    assert str(where) == "f.yaml:3:7"


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (("rules", 2, "when"), "$.rules[2].when"),
        ((), "$"),
        (("lookups", "ltv", "customer"), "$.lookups.ltv.customer"),
        (("a-b", 0, "stripe.invoice", "x_1"), "$['a-b'][0]['stripe.invoice'].x_1"),
    ],
    ids=["rule", "root", "identifiers", "quoted"],
)
def test_format_path(path, text):
    """JSON paths print as $.a[0].b, quoting keys that are not identifiers."""
    assert format_path(path) == text


# --- merge keys, aliases and bounds -------------------------------------------------------------


def test_a_written_key_replaces_a_merged_one():
    """A key the mapping writes wins over the same key from <<, with no duplicate-key problem."""
    data, source = parse("d: &d {a: 1, b: 2}\nx:\n  <<: *d\n  b: 3\n")
    assert data["x"] == {"a": 1, "b": 3}
    assert str(source.location(("x", "b"))) == "f.yaml:4:6"


def test_the_earlier_of_two_merged_mappings_wins():
    """<<: [*a, *b] takes a key from a before b, as YAML's merge key defines."""
    data, _ = parse("a: &a {k: 1}\nb: &b {k: 2, j: 2}\nx: {<<: [*a, *b]}\n")
    assert data["x"] == {"k": 1, "j": 2}


def test_merges_chain_through_merged_mappings():
    """A mapping merged into another brings the keys it merged itself; a merged value's place
    is where it is written."""
    data, source = parse("a: &a {k: 1}\nb: &b {<<: *a, j: 2}\nx: {<<: *b}\n")
    assert data["x"] == {"k": 1, "j": 2}
    assert str(source.location(("x", "k"))) == "f.yaml:1:11"


def test_a_merge_of_a_scalar_is_a_problem_at_the_value():
    """<<: x is an invalid merge, reported at the merged value."""
    _, _, problems = parse_yaml("x: {<<: 1, a: 2}\n", "g.yaml")
    assert [str(p) for p in problems] == [
        "g.yaml:1:9: $.x: invalid merge: '<<' takes a mapping or a list of mappings"
    ]


def test_aliases_within_the_expansion_bound_are_read():
    """Aliases that make the document up to 100 times its own size are read as usual."""
    text = "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9]\nb: [" + ", ".join(["*a"] * 20) + "]\n"
    data, _ = parse(text)
    assert data["b"] == [[1, 2, 3, 4, 5, 6, 7, 8, 9]] * 20


def test_aliases_past_the_expansion_bound_are_one_problem_and_no_data():
    """Aliases that make the document more than 100 times its own size give no data."""
    text = "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9]\nb: &b [" + ", ".join(["*a"] * 20) + "]\n"
    text += "c: [" + ", ".join(["*b"] * 20) + "]\n"
    data, _, problems = parse_yaml(text, "g.yaml")
    assert data is None
    assert [str(p) for p in problems] == [
        "g.yaml:3:5: $: aliases expand the document to more than 1,600 nodes, 100 times the "
        "16 nodes it writes (*b alone stands for 201)"
    ]


def test_a_base_60_integer_within_the_bound_is_read():
    """YAML 1.1's 1:30 is still 90; only one longer than 4,300 characters is refused."""
    data, _ = parse("a: 1:30\n")
    assert data == {"a": 90}
