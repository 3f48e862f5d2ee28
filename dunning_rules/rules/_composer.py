"""Compose a YAML document within the bounds of :mod:`.limits`, booleans read as YAML 1.2.

PyYAML follows YAML 1.1, where ``on``, ``yes``, ``no`` and ``off`` are booleans and ``NO``
(Norway) is false: :class:`_Resolver` reads booleans as YAML 1.2 does, only ``true`` and
``false`` (any case pattern the core schema allows), and leaves dates as strings. Both paths
of :func:`.locations.parse_yaml` resolve tags with it.

:class:`_Loader` is the pure-Python path's composer: PyYAML's, counting while it composes the
nesting of mappings and lists, the aliases, and the nodes the document writes; an alias inside
the value it names is refused. :func:`check_expansion` then measures what the aliases make of
the document (the libyaml path, :mod:`._libyaml`, counts the same and measures the same way).
A bound passed raises :class:`_LimitError` at the place where it was passed.
"""

from __future__ import annotations

import re
from typing import Any

from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from .limits import (
    MAX_ALIAS_EXPANSION,
    MAX_ALIASES,
    MAX_YAML_DEPTH,
    format_count,
)

__all__ = ["check_expansion"]

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
        check_expansion(root, self.nodes, self.aliases)


def check_expansion(root: Node, nodes: int, aliases: list[tuple[Node, str, Any]]) -> None:
    """Refuse a document that aliases make more than MAX_ALIAS_EXPANSION times bigger than
    the ``nodes`` it writes."""
    if not aliases:
        return
    cap = MAX_ALIAS_EXPANSION * nodes
    sizes = _expanded_sizes(root, cap)
    if sizes[id(root)] <= cap:
        return
    node, anchor, mark = max(aliases, key=lambda a: sizes[id(a[0])])
    size = sizes[id(node)]
    stands = f"more than {format_count(cap)}" if size > cap else format_count(size)
    raise _LimitError(
        f"aliases expand the document to more than {format_count(cap)} nodes, "
        f"{MAX_ALIAS_EXPANSION} times the {format_count(nodes)} nodes it writes "
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
