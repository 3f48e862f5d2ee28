"""Read YAML as rule files need it, and remember where every value came from.

PyYAML follows YAML 1.1, where ``on``, ``yes``, ``no`` and ``off`` are booleans and ``NO``
(Norway) is false. Rule files are read the way YAML 1.2 reads booleans: only ``true`` and
``false`` (any case pattern the core schema allows). Dates stay strings, and a duplicate key is
an error pointing at the later one. :func:`parse_yaml` returns plain Python data and a
:class:`SourceMap` from JSON paths to the nodes they came from, so an error anywhere can name
``file:line:column``.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from ..errors import Location, Problem

__all__ = ["JsonPath", "SourceMap", "format_path", "parse_yaml"]

JsonPath = tuple["str | int", ...]

_BOOL = "tag:yaml.org,2002:bool"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class _Resolver(Resolver):
    """YAML 1.2 booleans; timestamps stay strings."""


_Resolver.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_BOOL, _TIMESTAMP)]
    for first, resolvers in Resolver.yaml_implicit_resolvers.items()
}
_Resolver.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class _Loader(Reader, Scanner, Parser, Composer, SafeConstructor, _Resolver):
    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        _Resolver.__init__(self)


def format_path(path: JsonPath) -> str:
    """``('rules', 2, 'when')`` -> ``$.rules[2].when``."""
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            out += f".{part}"
        else:
            out += f"[{part!r}]"
    return out


@dataclass(frozen=True, slots=True)
class _Place:
    node: Node
    key: Node | None


class SourceMap:
    """Where each value of a parsed file is, by JSON path."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self._places: dict[JsonPath, _Place] = {}
        self._line_starts: list[int] | None = None

    def _add(self, json_path: JsonPath, node: Node, key: Node | None) -> None:
        self._places[json_path] = _Place(node, key)

    def node(self, json_path: JsonPath) -> Node | None:
        place = self._places.get(tuple(json_path))
        return place.node if place else None

    def location(self, json_path: JsonPath, *, key: bool = False) -> Location:
        """The value at ``json_path`` (or its key); the nearest known ancestor otherwise."""
        path = tuple(json_path)
        while path not in self._places and path:
            path = path[:-1]
        place = self._places.get(path)
        if place is None:
            return Location(path=self.path, line=1, column=1)
        node = place.key if key and place.key is not None else place.node
        return Location(
            path=self.path, line=node.start_mark.line + 1, column=node.start_mark.column + 1
        )

    def at_index(self, index: int) -> Location:
        """The location of character ``index`` of the file's text."""
        if self._line_starts is None:
            self._line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        line = bisect.bisect_right(self._line_starts, index) - 1
        return Location(path=self.path, line=line + 1, column=index - self._line_starts[line] + 1)

    def source_line(self, line: int) -> str:
        lines = self.text.splitlines()
        return lines[line - 1] if 0 < line <= len(lines) else ""

    def locate_in_scalar(
        self, json_path: JsonPath, start: int, expression: str, offset: int
    ) -> Location:
        """Where character ``offset`` of ``expression`` is in the file.

        ``expression`` stands at ``start`` inside the string at ``json_path``. Its text is looked
        up in the scalar's source, which finds it in plain, quoted and block scalars alike; where
        escapes change its spelling, the scalar's start plus the offsets is the answer.
        """
        node = self.node(json_path)
        if not isinstance(node, ScalarNode):
            return self.location(json_path)
        begin, end = node.start_mark.index, node.end_mark.index
        found = self._find(expression.split("\n", 1)[0], begin + start, begin, end)
        if found >= 0:
            # An expression over several lines of a block scalar: walk down its lines, each
            # found again in the source after the indentation that YAML removed.
            before = expression[:offset]
            line_index = before.count("\n")
            if line_index == 0:
                return self.at_index(found + offset)
            lines = expression.split("\n")
            position = found
            for part in lines[1 : line_index + 1]:
                next_line = self.text.find("\n", position, end)
                if next_line < 0:
                    break
                here = self.text.find(part, next_line + 1, end) if part else next_line + 1
                if here < 0:
                    break
                position = here
            else:
                return self.at_index(position + len(before) - before.rfind("\n") - 1)
        quote = 1 if node.style in ("'", '"') else 0
        return Location(
            path=self.path,
            line=node.start_mark.line + 1,
            column=node.start_mark.column + 1 + quote + start + offset,
        )

    def _find(self, needle: str, preferred: int, begin: int, end: int) -> int:
        """``needle`` in the source between ``begin`` and ``end``, at ``preferred`` or after.

        The source is never shorter than the value before a given point (quotes, escapes and
        indentation only add), so the search starts at the value's own offset.
        """
        if not needle:
            return -1
        found = self.text.find(needle, min(preferred, end), end)
        return found if found >= 0 else self.text.find(needle, begin, end)

    def paths(self) -> Iterator[JsonPath]:
        return iter(self._places)


def _problem(source: SourceMap, node: Node, message: str, json_path: JsonPath) -> Problem:
    return Problem(
        location=Location(
            path=source.path, line=node.start_mark.line + 1, column=node.start_mark.column + 1
        ),
        json_path=format_path(json_path),
        message=message,
    )


def _construct(loader: _Loader, node: ScalarNode) -> tuple[Any, str | None]:
    """A scalar's value, or its text and a problem where its tag cannot read it.

    PyYAML's constructors fail with plain errors on explicitly tagged values they cannot read
    (``!!int x``, ``!!bool``, ``!!timestamp x``), and with a YAMLError on unknown tags.
    """
    try:
        return loader.construct_object(node), None
    except yaml.YAMLError as exc:
        return node.value, f"invalid value: {exc}"
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        tag = node.tag.rsplit(":", 1)[-1]
        return node.value, f"invalid value: {node.value!r} is not a valid !!{tag}"


def parse_yaml(text: str, path: str) -> tuple[Any, SourceMap, list[Problem]]:
    """Parse one YAML document; return its data, its source map and the problems found."""
    source = SourceMap(path, text)
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:  # control characters, found before parsing starts
        problem = Problem(
            location=source.at_index(exc.position),
            json_path="$",
            message=f"invalid YAML: unacceptable character #x{exc.character:04x}: {exc.reason}",
        )
        return None, source, [problem]
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        column = mark.column + 1 if mark else 1
        message = f"invalid YAML: {exc.problem or exc.context}"
        if exc.context and exc.problem:
            message = f"invalid YAML: {exc.problem} ({exc.context})"
        problem = Problem(
            location=Location(path=path, line=line, column=column), json_path="$", message=message
        )
        return None, source, [problem]
    except yaml.YAMLError as exc:
        problem = Problem(
            location=Location(path=path, line=1, column=1),
            json_path="$",
            message=f"invalid YAML: {exc}",
        )
        return None, source, [problem]
    finally:
        loader.dispose()
    if root is None:
        return None, source, []
    problems: list[Problem] = []
    data = _build(root, (), None, loader, source, problems)
    return data, source, problems


def _build(
    node: Node,
    json_path: JsonPath,
    key_node: Node | None,
    loader: _Loader,
    source: SourceMap,
    problems: list[Problem],
) -> Any:
    source._add(json_path, node, key_node)
    if isinstance(node, ScalarNode):
        value, problem = _construct(loader, node)
        if problem is not None:
            problems.append(_problem(source, node, problem, json_path))
        return value
    if isinstance(node, SequenceNode):
        return [
            _build(item, (*json_path, i), None, loader, source, problems)
            for i, item in enumerate(node.value)
        ]
    if isinstance(node, MappingNode):
        try:
            loader.flatten_mapping(node)
        except yaml.YAMLError as exc:
            problems.append(_problem(source, node, f"invalid merge: {exc}", json_path))
        result: dict[str, Any] = {}
        for k_node, v_node in node.value:
            if not isinstance(k_node, ScalarNode):
                problems.append(_problem(source, k_node, "keys must be strings", json_path))
                continue
            key, problem = _construct(loader, k_node)
            if problem is not None:
                problems.append(_problem(source, k_node, problem, json_path))
            if not isinstance(key, str):
                # YAML 1.2: `1: x` has an integer key; rule files want strings, keep the text.
                key = k_node.value
            if key in result:
                problems.append(
                    _problem(source, k_node, f"duplicate key {key!r}", (*json_path, key))
                )
                continue
            result[key] = _build(v_node, (*json_path, key), k_node, loader, source, problems)
        return result
    return None  # pragma: no cover - PyYAML has no other node kinds
