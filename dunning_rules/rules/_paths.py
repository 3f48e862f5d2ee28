"""The paths an expression reads, each with the offset of its first character.

JMESPath's parser keeps no positions, so :func:`expression_paths` reads the tree of
:func:`._parse.parse`, which has each identifier's offset in its field node, and walks it keeping
track of what ``@`` is: the root at the top, an element of a list inside a projection or filter,
the left side's result on the right of a pipe. A path is a tuple of :data:`Segment`; a field
read where ``@`` is not known (inside ``sort_by(list, &field)``) is no path. What a text reads
depends on the text only, so each distinct text is walked once per process.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jmespath import exceptions as jp_errors

from ._parse import parse, remembered
from ._stripe_types import EACH, INDEX

__all__ = ["Comparison", "Segment", "expression_paths", "placeholders"]

Segment = tuple[str, int]
"""A field name (or EACH / INDEX) and its offset in the expression (-1 for EACH / INDEX)."""

_ORDERING = ("lt", "lte", "gt", "gte")


@dataclass(frozen=True, slots=True)
class Comparison:
    """``path <op> other`` where ``other`` is a literal (``literal``) or another path."""

    op: str
    path: tuple[Segment, ...]
    literal: Any
    other: tuple[Segment, ...] | None
    ordering: bool


class _Path:
    """A path as a chain of parents, so a long chain costs one node per segment."""

    __slots__ = ("name", "parent", "start")

    def __init__(self, parent: _Path | None, name: str, start: int) -> None:
        self.parent = parent
        self.name = name
        self.start = start

    def segments(self) -> tuple[Segment, ...]:
        out: list[Segment] = []
        node: _Path | None = self
        while node is not None:
            out.append((node.name, node.start))
            node = node.parent
        return tuple(reversed(out))


_ROOT = _Path(None, "", -1)  # ``@`` at the top: the root


@dataclass(slots=True)
class _Found:
    leaves: dict[_Path, None]  # the paths no other path extends, in order
    comparisons: list[Comparison]

    def extend(self, at: _Path, name: str, start: int) -> _Path:
        path = _Path(at, name, start)
        self.leaves.pop(at, None)
        self.leaves[path] = None
        return path


Paths = tuple[tuple[Segment, ...], ...]


def expression_paths(expression: str) -> tuple[Paths, tuple[Comparison, ...]] | None:
    """The longest paths from the root that ``expression`` reads, and its comparisons of a
    path with a literal or a path; None when it does not parse (the loader reports that)."""
    try:
        return _read(expression)
    except (jp_errors.JMESPathError, ValueError, RecursionError):
        return None


@remembered(maxsize=4096)
def _read(expression: str) -> tuple[Paths, tuple[Comparison, ...]]:
    found = _Found({}, [])
    _visit(parse(expression), _ROOT, found)
    return tuple(_segments(p) for p in found.leaves), tuple(found.comparisons)


def _segments(path: _Path | None) -> tuple[Segment, ...]:
    return path.segments()[1:] if path is not None else ()


# Nodes whose first child may be a chain as long as the expression: walked in a loop.
_CHAINS = frozenset(
    {
        "subexpression",
        "index_expression",
        "flatten",
        "projection",
        "filter_projection",
        "pipe",
        "or_expression",
        "and_expression",
    }
)


def _children(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [c for c in node.get("children", ()) if isinstance(c, dict)]  # jmespath's nodes


def _visit(node: Mapping[str, Any], at: _Path | None, found: _Found) -> _Path | None:
    """Record the paths under ``node`` with ``@`` at ``at``; return the path of its value.

    A chain (``a.b.c``, ``a || b || c``) nests in its first child, as deep as it is long:
    its spine is walked in a loop, so only the nesting the loader bounds recurses.
    """
    spine: list[tuple[Mapping[str, Any], list[Mapping[str, Any]]]] = []
    children = _children(node)
    while children and node["type"] in _CHAINS:
        spine.append((node, children))
        node = children[0]
        children = _children(node)
    value = _leaf(node, children, at, found)
    for parent, parent_children in reversed(spine):
        value = _apply(parent, parent_children, value, at, found)
    return value


def _apply(
    node: Mapping[str, Any],
    children: list[Mapping[str, Any]],
    left: _Path | None,
    at: _Path | None,
    found: _Found,
) -> _Path | None:
    """The value of a chain node, given the value of its first child."""
    kind = node["type"]
    rest = children[1:]
    if kind == "subexpression" or kind == "pipe":
        for child in rest:
            left = _visit(child, left, found)
        return left
    if kind == "index_expression":
        return found.extend(left, INDEX, -1) if left is not None else None
    if kind == "flatten":
        return left
    if kind in ("projection", "filter_projection"):
        each = found.extend(left, EACH, -1) if left is not None else None
        for child in reversed(rest):  # a filter's condition, then the right side
            _visit(child, each, found)
        return None
    for child in rest:  # or, and: the right side reads from @ too
        _visit(child, at, found)
    return None


def _leaf(
    node: Mapping[str, Any], children: list[Mapping[str, Any]], at: _Path | None, found: _Found
) -> _Path | None:
    kind = node.get("type")
    if kind == "field":
        if at is None:
            return None
        return found.extend(at, str(node["value"]), int(node.get("start", -1)))
    if kind in ("current", "identity"):
        return at
    if kind == "comparator":
        sides = [_visit(child, at, found) for child in children]
        _compare(str(node["value"]), children, [_segments(s) if s else None for s in sides], found)
        return None
    if kind == "expref":
        _visit(children[0], None, found)
        return None
    if kind == "value_projection":
        _visit(children[0], at, found)
        _visit(children[1], None, found)
        return None
    for child in children:
        _visit(child, at, found)
    return None


def _compare(op: str, children: list[Mapping[str, Any]], sides: list[Any], found: _Found) -> None:
    if len(children) != 2:
        return
    ordering = op in _ORDERING
    for mine, theirs, node in ((0, 1, children[1]), (1, 0, children[0])):
        path = sides[mine]
        if path is None:
            continue
        if node.get("type") == "literal":
            found.comparisons.append(Comparison(op, path, node["value"], None, ordering))
        elif sides[theirs] is not None and mine == 0:
            found.comparisons.append(Comparison(op, path, None, sides[theirs], ordering))


def placeholders(text: str) -> Iterator[tuple[str, int]]:
    """Each ``{{ expr }}`` of a template: the expression and its offset in ``text``.

    The same split as the compiler's: a placeholder ends at the first ``}}``.
    """
    position = 0
    while True:
        opening = text.find("{{", position)
        if opening < 0:
            return
        closing = text.find("}}", opening + 2)
        if closing < 0:
            return
        inner = text[opening + 2 : closing]
        body = inner.strip()
        if body:
            yield body, opening + 2 + len(inner) - len(inner.lstrip())
        position = closing + 2
