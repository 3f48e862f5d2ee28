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
from yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from ..errors import Location, Problem
from .limits import (
    MAX_ALIAS_EXPANSION,
    MAX_ALIASES,
    MAX_FILE_BYTES,
    MAX_INTEGER_DIGITS,
    MAX_YAML_DEPTH,
    format_count,
)

__all__ = ["JsonPath", "SourceMap", "format_path", "parse_yaml", "size_problem", "text_size"]

JsonPath = tuple["str | int", ...]

_BOOL = "tag:yaml.org,2002:bool"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_INT = "tag:yaml.org,2002:int"
_MERGE = "tag:yaml.org,2002:merge"


class _Resolver(Resolver):
    """YAML 1.2 booleans; timestamps stay strings."""


_Resolver.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_BOOL, _TIMESTAMP)]
    for first, resolvers in Resolver.yaml_implicit_resolvers.items()
}
_Resolver.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class _LimitError(Exception):
    """A document past one of the bounds of :mod:`.limits`, at ``mark``."""

    def __init__(self, message: str, mark: Any) -> None:  # a Mark (pure or libyaml's) or None
        super().__init__(message)
        self.message = message
        self.mark = mark


class _Loader(Reader, Scanner, Parser, Composer, SafeConstructor, _Resolver):
    """PyYAML's safe loader that counts while it composes: nesting, aliases, nodes.

    An alias is the very node its anchor names (PyYAML shares it), so the document's own nodes
    are ``nodes`` and what aliases make of it is measured afterwards by :meth:`check_expansion`.
    """

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        _Resolver.__init__(self)
        self.nodes = 0
        self.depth = 0
        self.aliases: list[tuple[Node, str, Any]] = []  # the node, its anchor, the alias's mark
        self.open_anchors: set[str] = set()

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in the stubs
        if isinstance(event, AliasEvent):
            if len(self.aliases) >= MAX_ALIASES:
                raise _LimitError(
                    f"the file has more than {format_count(MAX_ALIASES)} aliases", event.start_mark
                )
            if event.anchor in self.open_anchors:
                raise _LimitError(
                    f"alias *{event.anchor} is inside the value it names (a recursive alias)",
                    event.start_mark,
                )
            node = super().compose_node(parent, index)
            if node is not None:
                self.aliases.append((node, str(event.anchor), event.start_mark))
            return node
        self.nodes += 1
        if not isinstance(event, (SequenceStartEvent, MappingStartEvent)):
            return super().compose_node(parent, index)
        self.depth += 1
        if self.depth > MAX_YAML_DEPTH:
            raise _LimitError(
                f"mappings and lists nest more than {MAX_YAML_DEPTH} levels deep", event.start_mark
            )
        anchor = event.anchor
        if anchor is not None:
            self.open_anchors.add(anchor)
        node = super().compose_node(parent, index)
        if anchor is not None:
            self.open_anchors.discard(anchor)
        self.depth -= 1
        return node

    def check_expansion(self, root: Node) -> None:
        """Refuse a document that aliases make more than MAX_ALIAS_EXPANSION times bigger."""
        if not self.aliases:
            return
        cap = MAX_ALIAS_EXPANSION * self.nodes
        sizes = _expanded_sizes(root, cap)
        if sizes[id(root)] <= cap:
            return
        node, anchor, mark = max(self.aliases, key=lambda a: sizes[id(a[0])])
        size = sizes[id(node)]
        stands = f"more than {format_count(cap)}" if size > cap else format_count(size)
        raise _LimitError(
            f"aliases expand the document to more than {format_count(cap)} nodes, "
            f"{MAX_ALIAS_EXPANSION} times the {format_count(self.nodes)} nodes it writes "
            f"(*{anchor} alone stands for {stands})",
            mark,
        )


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _expanded_sizes(root: Node, cap: int) -> dict[int, int]:
    """Each node's size with every alias counted as what it names, by ``id``; at most cap + 1.

    Iterative, and each node's size is computed once: the graph is acyclic (the loader refuses
    recursive aliases), and sizes saturate, so a billion-laughs file costs its own size.
    """
    sizes: dict[int, int] = {}
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            total = 1
            for child in _children(node):
                total = min(total + sizes[id(child)], cap + 1)
            sizes[id(node)] = total
        elif id(node) not in sizes:
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    return sizes


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
        self._lines: list[str] | None = None

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


def _construct(loader: _Loader, node: ScalarNode) -> tuple[Any, str | None]:
    """A scalar's value, or its text and a problem where its tag cannot read it.

    PyYAML's constructors fail with plain errors on explicitly tagged values they cannot read
    (``!!int x``, ``!!bool``, ``!!timestamp x``), and with a YAMLError on unknown tags.
    """
    if node.tag == _INT and ":" in node.value and len(node.value) > MAX_INTEGER_DIGITS:
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


def parse_yaml(text: str, path: str) -> tuple[Any, SourceMap, list[Problem]]:
    """Parse one YAML document; return its data, its source map and the problems found."""
    source = SourceMap(path, text)
    size = text_size(text)
    if size > MAX_FILE_BYTES:
        return None, source, [size_problem(path, size)]
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

    def __init__(self, loader: _Loader, source: SourceMap) -> None:
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
