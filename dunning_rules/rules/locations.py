"""Read YAML as rule files need it, and remember where every value came from.

PyYAML follows YAML 1.1, where ``on``, ``yes``, ``no`` and ``off`` are booleans and ``NO``
(Norway) is false. Rule files are read the way YAML 1.2 reads booleans: only ``true`` and
``false`` (any case pattern the core schema allows). Dates stay strings, and a duplicate key is
an error pointing at the later one; a merge key (``<<: *defaults``) gives the keys the
mapping does not write itself. :func:`parse_yaml` returns plain Python data and a
:class:`SourceMap` from JSON paths to the nodes they came from, so an error anywhere can name
``file:line:column``.

No text can make reading take more than time and memory in proportion to its size (see
:mod:`.limits`): the text's length, the nesting of mappings and lists, the number of aliases and
the nodes they stand for are counted while the document is composed, before any value is built,
and a document past a bound is one problem at the place where it passed it.

Two paths compose the document: libyaml's (:mod:`._libyaml`, ten times faster) when PyYAML has
it, and PyYAML's pure-Python one. They give the same data, places and problems for every text:
the libyaml path hands every text it cannot read exactly as the Python path does (any error or
problem, any bound passed, and the spellings where the two parsers differ) to the Python path,
whose answer is the answer. ``DUNNING_RULES_YAML=python`` in the environment (or
``parse_yaml(..., libyaml=False)``) reads everything on the pure-Python path.
"""

from __future__ import annotations

import bisect
import functools
import os
import re
from collections.abc import Iterator
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..errors import Location, Problem
from . import _libyaml
from ._composer import _LimitError, _Loader, _Resolver, check_expansion
from .limits import (
    MAX_FILE_BYTES,
    MAX_INTEGER_DIGITS,
    format_count,
)

__all__ = ["JsonPath", "SourceMap", "format_path", "parse_yaml", "size_problem", "text_size"]

JsonPath = tuple["str | int", ...]

_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_INT = "tag:yaml.org,2002:int"
_MERGE = "tag:yaml.org,2002:merge"


def format_path(path: JsonPath) -> str:
    """``('rules', 2, 'when')`` -> ``$.rules[2].when``."""
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else _key_segment(part)
    return out


@functools.lru_cache(maxsize=4096)
def _key_segment(key: str) -> str:
    """``.when`` or ``['a b']`` (keys repeat: rules, actions, when...)."""
    return f".{key}" if _IDENTIFIER.fullmatch(key) else f"[{key!r}]"


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


_Place = tuple[Node, "Node | None"]
"""A value's node, and its key's node (None for a list item or the document)."""


class SourceMap:
    """Where each value of a parsed file is, by JSON path."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self._places: dict[JsonPath, _Place] = {}
        self._line_starts: list[int] | None = None
        self._lines: list[str] | None = None

    def _add(self, json_path: JsonPath, node: Node, key: Node | None) -> None:
        self._places[json_path] = (node, key)

    def node(self, json_path: JsonPath) -> Node | None:
        place = self._places.get(tuple(json_path))
        return place[0] if place else None

    def key_node(self, json_path: JsonPath) -> Node | None:
        """The node of the key the value at ``json_path`` stands under (None: none)."""
        place = self._places.get(tuple(json_path))
        return place[1] if place else None

    def location(self, json_path: JsonPath, *, key: bool = False) -> Location:
        """The value at ``json_path`` (or its key); the nearest known ancestor otherwise."""
        place = self._places.get(json_path)
        if place is None:
            path = tuple(json_path)
            while path not in self._places and path:
                path = path[:-1]
            place = self._places.get(path)
            if place is None:
                return Location(path=self.path, line=1, column=1)
        node = place[1] if key and place[1] is not None else place[0]
        mark = node.start_mark
        return Location(path=self.path, line=mark.line + 1, column=mark.column + 1)

    def at_index(self, index: int) -> Location:
        """The location of character ``index`` of the file's text."""
        if self._line_starts is None:
            self._line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        line = bisect.bisect_right(self._line_starts, index) - 1
        return Location(path=self.path, line=line + 1, column=index - self._line_starts[line] + 1)

    def source_line(self, line: int) -> str:
        if self._lines is None:
            self._lines = self.text.splitlines()
        lines = self._lines
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


def _construct(loader: SafeConstructor, node: ScalarNode) -> tuple[Any, str | None]:
    """A scalar's value, or its text and a problem where its tag cannot read it.

    PyYAML's constructors fail with plain errors on explicitly tagged values they cannot read
    (``!!int x``, ``!!bool``, ``!!timestamp x``), and with a YAMLError on unknown tags.
    """
    tag = node.tag
    if tag == _STR:  # what SafeConstructor gives, without its bookkeeping (most values)
        return node.value, None
    if tag == _NULL:
        return None, None
    if tag == _INT and ":" in node.value and len(node.value) > MAX_INTEGER_DIGITS:
        return node.value, (
            f"invalid value: a base 60 integer of {format_count(len(node.value))} characters; "
            f"at most {format_count(MAX_INTEGER_DIGITS)}"
        )
    try:
        return loader.construct_object(node), None
    except yaml.YAMLError as exc:
        return node.value, f"invalid value: {exc}"
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        tag = node.tag.rsplit(":", 1)[-1]
        return node.value, f"invalid value: {node.value!r} is not a valid !!{tag}"


def text_size(text: str) -> int:
    """The length of ``text`` in bytes of UTF-8 (lone surrogates count as three)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def size_problem(path: str, size: int, *, exact: bool = True) -> Problem:
    """The problem of a file longer than MAX_FILE_BYTES (``exact``: ``size`` is its size, not
    only what was read of it)."""
    bound = format_count(MAX_FILE_BYTES)
    message = (
        f"the file is {format_count(size)} bytes long; at most {bound}"
        if exact
        else f"the file is longer than {bound} bytes, the most a rule file may be"
    )
    return Problem(location=Location(path=path, line=1, column=1), json_path="$", message=message)


def parse_yaml(
    text: str, path: str, *, libyaml: bool | None = None
) -> tuple[Any, SourceMap, list[Problem]]:
    """Parse one YAML document; return its data, its source map and the problems found.

    ``libyaml``: compose on libyaml where it is there (None: unless ``DUNNING_RULES_YAML`` is
    ``python``); the answer is the same either way.
    """
    source = SourceMap(path, text)
    size = text_size(text)
    if size > MAX_FILE_BYTES:
        return None, source, [size_problem(path, size)]
    if libyaml is None:
        libyaml = os.environ.get("DUNNING_RULES_YAML", "").strip().lower() != "python"
    if libyaml and _libyaml.available() and not _libyaml.differs(text):
        found = _parse_libyaml(text, path)
        if found is not None:
            return found
    return _parse_python(text, source)


def _parse_libyaml(text: str, path: str) -> tuple[Any, SourceMap, list[Problem]] | None:
    """The libyaml path's answer; None where the pure-Python path must answer."""
    source = SourceMap(path, text)
    try:
        root, nodes, aliases = _libyaml.compose(text, _Resolver().resolve)
        if root is not None:
            check_expansion(root, nodes, aliases)
    except (_libyaml.Fallback, _LimitError, RecursionError):
        return None
    if root is None:
        return None, source, []
    builder = _DataBuilder(SafeConstructor(), source)
    data = builder.build(root, (), None)
    if builder.problems:  # every problem is reported as the pure-Python path words it
        return None
    return data, source, []


def _parse_python(text: str, source: SourceMap) -> tuple[Any, SourceMap, list[Problem]]:
    path = source.path
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
        if root is not None:
            loader.check_expansion(root)
    except _LimitError as exc:
        line, column = (exc.mark.line + 1, exc.mark.column + 1) if exc.mark else (1, 1)
        problem = Problem(
            location=Location(path=path, line=line, column=column),
            json_path="$",
            message=exc.message,
        )
        return None, source, [problem]
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
    builder = _DataBuilder(loader, source)
    data = builder.build(root, (), None)
    return data, source, builder.problems


class _DataBuilder:
    """Plain data from the composed nodes, filling the source map on the way."""

    def __init__(self, loader: SafeConstructor, source: SourceMap) -> None:
        self.loader = loader
        self.source = source
        self.problems: list[Problem] = []
        self._merged: dict[int, list[tuple[str, Node, Node]]] = {}

    def problem(self, node: Node, message: str, json_path: JsonPath) -> None:
        self.problems.append(_problem(self.source, node, message, json_path))

    def build(self, node: Node, json_path: JsonPath, key_node: Node | None) -> Any:
        # Recursion is as deep as the document, which the loader bounds (MAX_YAML_DEPTH).
        self.source._add(json_path, node, key_node)
        if isinstance(node, ScalarNode):
            value, problem = _construct(self.loader, node)
            if problem is not None:
                self.problem(node, problem, json_path)
            return value
        if isinstance(node, SequenceNode):
            return [self.build(item, (*json_path, i), None) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            return self.build_mapping(node, json_path)
        return None  # pragma: no cover - PyYAML has no other node kinds

    def key_of(self, k_node: Node, json_path: JsonPath, report: bool) -> str | None:
        """A mapping key as a string (a number key keeps its text); None for a non-scalar."""
        if not isinstance(k_node, ScalarNode):
            if report:
                self.problem(k_node, "keys must be strings", json_path)
            return None
        key, problem = _construct(self.loader, k_node)
        if problem is not None and report:
            self.problem(k_node, problem, json_path)
        if not isinstance(key, str):
            # YAML 1.2: `1: x` has an integer key; rule files want strings, keep the text.
            key = str(k_node.value)
        return key

    def build_mapping(self, node: MappingNode, json_path: JsonPath) -> dict[str, Any]:
        """A mapping: its own keys, then (for keys it does not write) those of its merges."""
        own: dict[str, tuple[Node, Node]] = {}
        merges: list[MappingNode] = []
        for k_node, v_node in node.value:
            if k_node.tag == _MERGE:
                merges.extend(self.merge_sources(v_node, json_path))
                continue
            key = self.key_of(k_node, json_path, report=True)
            if key is None:
                continue
            if key in own:
                self.problem(k_node, f"duplicate key {key!r}", (*json_path, key))
                continue
            own[key] = (k_node, v_node)
        result: dict[str, Any] = {}
        for merged in merges:
            for key, k_node, v_node in self.merged_pairs(merged):
                if key not in own and key not in result:  # the earlier merge wins
                    result[key] = self.build(v_node, (*json_path, key), k_node)
        for key, (k_node, v_node) in own.items():
            result[key] = self.build(v_node, (*json_path, key), k_node)
        return result

    def merge_sources(self, value: Node, json_path: JsonPath) -> list[MappingNode]:
        """The mappings a merge key names: one mapping, or a list of them."""
        items = value.value if isinstance(value, SequenceNode) else [value]
        if all(isinstance(item, MappingNode) for item in items):
            return list(items)
        self.problem(value, "invalid merge: '<<' takes a mapping or a list of mappings", json_path)
        return []

    def merged_pairs(self, node: MappingNode) -> list[tuple[str, Node, Node]]:
        """Every ``(key, key node, value node)`` a mapping gives to a merge, its own merges
        included; computed once per mapping, without recursion (merges can chain far)."""
        stack = [node]
        while stack:
            top = stack[-1]
            if id(top) in self._merged:
                stack.pop()
                continue
            sources = [
                source
                for k_node, v_node in top.value
                if k_node.tag == _MERGE
                for source in (v_node.value if isinstance(v_node, SequenceNode) else [v_node])
                if isinstance(source, MappingNode)
            ]
            waiting = [s for s in sources if id(s) not in self._merged]
            if waiting:
                stack.extend(waiting)
                continue
            pairs: list[tuple[str, Node, Node]] = []
            seen: set[str] = set()
            for k_node, v_node in top.value:
                if k_node.tag == _MERGE:
                    continue
                key = self.key_of(k_node, (), report=False)
                if key is not None and key not in seen:
                    seen.add(key)
                    pairs.append((key, k_node, v_node))
            for source in sources:
                for key, k_node, v_node in self._merged[id(source)]:
                    if key not in seen:
                        seen.add(key)
                        pairs.append((key, k_node, v_node))
            self._merged[id(top)] = pairs
            stack.pop()
        return self._merged[id(node)]
