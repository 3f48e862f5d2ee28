"""Compare the libyaml path and the pure-Python path of ``parse_yaml`` on one text.

:func:`snapshot` is everything a reader of ``parse_yaml``'s answer can see: the data with the
type of every value, the problems (their text, place included), and for every JSON path the
marks the source map keeps (line, column and index of the value and of its key, the end of a
scalar and its style). Two paths that give equal snapshots give the same answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from yaml.nodes import ScalarNode

from dunning_rules.rules import _libyaml, locations

ROOT = Path(__file__).resolve().parents[2]


def typed(value: Any) -> Any:
    """``value`` with the type of every part: 1, 1.0, True and '1' all differ."""
    if isinstance(value, dict):
        return ("dict", tuple((key, typed(item)) for key, item in value.items()))
    if isinstance(value, list):
        return ("list", tuple(typed(item) for item in value))
    return (type(value).__name__, repr(value))


def snapshot(text: str, *, libyaml: bool) -> Any:
    """What ``parse_yaml`` answers on one path, as a comparable value."""
    data, source, problems = locations.parse_yaml(text, "f.yaml", libyaml=libyaml)
    return typed(data), [str(problem) for problem in problems], places(source)


def places(source: locations.SourceMap) -> dict[Any, tuple[Any, ...]]:
    found = {}
    for path in source.paths():
        node = source.node(path)
        assert node is not None
        mark = node.start_mark
        entry: tuple[Any, ...] = (mark.line, mark.column, mark.index)
        if isinstance(node, ScalarNode):
            entry += (node.end_mark.index, node.style)
        key = source.key_node(path)
        if key is not None:
            entry += (key.start_mark.line, key.start_mark.column, key.start_mark.index)
        found[path] = entry
    return found


def libyaml_answers(text: str) -> bool:
    """True when the libyaml path gives the answer itself (it does not hand the text on)."""
    if not _libyaml.available() or _libyaml.differs(text):
        return False
    return locations._parse_libyaml(text, "f.yaml") is not None


def assert_same(text: str) -> None:
    """Both paths give the same data, problems and places for ``text``."""
    assert snapshot(text, libyaml=True) == snapshot(text, libyaml=False), repr(text[:200])


def corpus() -> list[tuple[str, str]]:
    """``(name, text)`` of every YAML file in examples/ and tests/, and of every rule file
    written in tests/cases (errors included)."""
    found = []
    for folder in ("examples", "tests"):
        for path in sorted((ROOT / folder).rglob("*.y*ml")):
            found.append((str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")))
    for path in sorted((ROOT / "tests" / "cases").glob("*.yaml")):
        data, _, problems = locations.parse_yaml(path.read_text(encoding="utf-8"), str(path))
        assert not problems
        for index, case in enumerate(data):
            if isinstance(case.get("rules"), str):
                found.append((f"{path.name}:{index}", case["rules"]))
    return found
