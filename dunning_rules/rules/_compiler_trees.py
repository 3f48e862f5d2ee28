"""Walk jmespath ASTs without recursion: chains, their nesting, the paths they start with.

JMESPath's parser groups a chain to the left: ``a.b.c`` is ``subexpression(subexpression(a,
b), c)`` and a path of 5,000 fields is 5,000 levels deep, as is ``x || y || ...``. Everything
here walks such trees with a stack, so the compiler (:mod:`._compiler_codegen`) generates a
chain one step after another and the loader measures :func:`nesting` without recursion.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = [
    "MAX_HOISTED",
    "SHARED_CALLS",
    "Node",
    "comparison_key",
    "flatten_chain",
    "flatten_same",
    "leading_fields",
    "nesting",
    "root_comparisons",
]

Node = Mapping[str, Any]

# Root field paths longer than this are not loaded ahead (see _compiler): real conditions read
# data.object.x.y at most, and counting every prefix of a 5,000-field path would be quadratic.
MAX_HOISTED = 8

_CHAINS = ("subexpression", "index_expression")
# Node types whose nesting with their own kind is a chain: generated one after another, never
# by recursion, so ``a.b.c...``, ``a | b | c`` and ``a || b || c`` are as long as the text.
_FAMILIES = {
    "subexpression": _CHAINS,
    "index_expression": _CHAINS,
    "pipe": ("pipe",),
    "or_expression": ("or_expression",),
    "and_expression": ("and_expression",),
}


def flatten_same(node: Node) -> list[Node]:
    """The operands of a chain of ``node``'s family, left to right, without recursion.

    A subexpression/index expression gives its steps (each applies to the previous result); a
    pipe its stages; ``||`` and ``&&`` their operands. Each family is associative, so the way
    the parser grouped it (``a.b.c`` is ``(a.b).c``, 10,000 levels deep for a long path) does
    not matter.
    """
    family = _FAMILIES.get(node["type"], ())
    steps: list[Node] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if current["type"] in family:
            stack.extend(reversed(current["children"]))
        else:
            steps.append(current)
    return steps


def flatten_chain(node: Node) -> list[Node]:
    """The steps of a subexpression/index expression: each applies to the previous result."""
    return flatten_same(node)


def nesting(tree: Node) -> int:
    """How deeply ``tree`` nests, which bounds how deep generating its code recurses: a level
    per node inside another, where the steps of a chain (see :func:`flatten_same`) stand at the
    chain's own level and a JSON literal adds its own nesting. ``a.b`` is 0, ``[a.b, c]`` and
    ``abs(a)`` 1, ``[[a]]`` and ```[[1]]``` 2: as many as the brackets around the deepest part."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(tree, 0)]
    while stack:
        node, level = stack.pop()
        if not isinstance(node, Mapping) or "type" not in node:
            continue
        deepest = max(deepest, level)
        kind = node["type"]
        if kind == "literal":
            deepest = max(deepest, level + _value_depth(node.get("value")))
            continue
        if kind in _FAMILIES:  # the steps of a chain stand side by side, at its level
            stack.extend((step, level) for step in flatten_same(node))
            continue
        for child in node.get("children", ()):
            if isinstance(child, Mapping):
                stack.append((child, level + 1))
    return deepest


def _value_depth(value: Any) -> int:
    """The nesting of lists and objects in a JSON value (0 for a scalar), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, level + 1)
            stack.extend(
                (v, level + 1) for v in (item.values() if isinstance(item, dict) else item)
            )
    return deepest


def leading_fields(steps: list[Node], limit: int | None = None) -> tuple[str, ...]:
    """The field names a chain starts with: ``data, object`` of ``data.object.x[0]``; at most
    ``limit`` of them."""
    names: list[str] = []
    for step in steps:
        if step["type"] != "field" or len(names) == limit:
            break
        names.append(step["value"])
    return tuple(names)


_SCALARS = (str, int, float, bool, type(None))


SHARED_CALLS = frozenset({"contains", "ends_with", "length", "starts_with"})
"""jmespath's own functions (pure) that a batch may call once for many conditions."""


def comparison_key(node: Node) -> tuple[Any, ...] | None:
    """What identifies a comparison of root paths and scalar literals (``data.object.currency
    == 'usd'``), or a call of one of SHARED_CALLS on them (``ends_with(data.object.email,
    '@x.io')``), so that one written in many conditions is evaluated once; None for others.

    Literals are told apart by type and ``repr`` (``1``, ``1.0`` and ``true`` differ)."""
    kind = node["type"]
    if kind == "comparator":
        if len(node["children"]) != 2:
            return None
        parts: list[Any] = [node["value"]]
    elif kind == "function_expression" and node["value"] in SHARED_CALLS:
        parts = ["call", node["value"]]
    else:
        return None
    for child in node["children"]:
        kind = child["type"]
        if kind == "literal":
            value = child["value"]
            if type(value) not in _SCALARS or (type(value) is float and not math.isfinite(value)):
                return None
            parts.append(("literal", type(value).__name__, repr(value)))
            continue
        steps = flatten_same(child) if kind == "subexpression" else [child]
        names = leading_fields(steps, MAX_HOISTED)
        if not names or len(names) != len(steps):
            return None
        parts.append(("path", names))
    return tuple(parts)


def root_comparisons(tree: Node) -> Iterator[Node]:
    """The comparisons and calls ``tree`` makes on the value it is applied to: its own, and
    those of the operands of its ``&&``, ``||`` and ``!`` (without recursion)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        kind = node["type"]
        if kind in ("comparator", "function_expression"):
            yield node
        elif kind in ("and_expression", "or_expression"):
            stack.extend(reversed(flatten_same(node)))
        elif kind == "not_expression":
            stack.append(node["children"][0])
