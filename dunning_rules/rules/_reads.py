"""What a rule set can read of an event, and a check of just those parts.

``Engine.simulate`` must see the event as ``handle`` sees it: in its JSON wire form (see
:mod:`dunning_rules._event`). Checking a whole event takes a walk over every value of it (tens of
microseconds for a Stripe invoice, more than the rules take), yet a rule set reads a few fields.
:func:`event_reads` finds, from the expressions of every rule, which parts of an event they can
read: the fields along each path, and the values read whole (compared, passed to a function,
rendered, or taken by a projection, a filter or ``*``). The engine's own reads are added (the
id, type, object, ``created``, ``account``, the preferred locales and, when a step may have a
send window, the addresses it takes the recipient's zone from). :meth:`Reads.fits` (and
:meth:`Reads.checker`, the same check as generated code) then says whether those parts are
already in wire form: exact ``dict`` objects on the way, and every value read whole made only
of dicts with ``str`` keys, lists, strings every store can hold, ints, finite floats, booleans
and null.

When they are, the rules read nothing that the wire form would have differently, and the event
is used as it is. When they are not (a Decimal, a tuple, a dict subclass, a NaN on a path a rule
reads), the caller converts the whole event as ``handle`` does, which converts it or refuses it.
What no rule reads is not looked at: an event that ``handle`` would refuse for a NaN in a field
no rule reads is simulated, not refused.

An expression that cannot be followed (one that does not parse, or nests beyond what is walked)
reads the whole event.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import fields, is_dataclass
from typing import Any

from .._event import MAX_EVENT_DEPTH, _is_wire, _storable
from ._delivery import ZONE_FALLBACKS
from ._parse import parse
from .expressions import Expression

__all__ = ["ENGINE_READS", "WINDOW_READS", "Reads", "event_reads", "rule_expressions"]

ENGINE_READS = (
    ("id",),
    ("type",),
    ("created",),
    ("account",),
    ("data", "object", "preferred_locales"),
    ("data", "object", "customer", "preferred_locales"),
)
"""Fields the engine reads itself, whole (besides ``data.object``, which must be an object)."""

WINDOW_READS = tuple(tuple(path.split(".")) for path in ZONE_FALLBACKS)
"""The addresses a send window reads for the recipient's zone, whole."""

_NOT_EVENT = frozenset({"settings", "vars", "steps"})
"""Root fields of the expression scope that are not the event's (the scope puts its own)."""

_JSON_KEY = re.compile(r"-?[0-9][0-9.eE+-]*|true|false|null")
"""Field names that a key other than a string becomes in JSON (``5``, ``1.5``, ``true``)."""

_MISSING = object()
_MAX_WALK = 100  # nesting of one expression's tree that is followed; deeper reads everything


class Reads:
    """The parts of a value that may be read: some fields, every element, or all of it."""

    __slots__ = ("each", "fields", "json_keys", "level", "whole")

    def __init__(self, level: int = 1) -> None:
        self.fields: dict[str, Reads] = {}
        self.each: Reads | None = None
        self.whole = False
        self.json_keys = False  # a field name a non-string key could stand for
        self.level = level  # the nesting of the values it stands for (the event: 1)

    def field(self, name: str) -> Reads:
        if self.level > MAX_EVENT_DEPTH:  # no event that is kept nests deeper: read it all
            self.whole = True
            return self
        found = self.fields.get(name)
        if found is None:
            found = self.fields[name] = Reads(self.level + 1)
            if _JSON_KEY.fullmatch(name):
                self.json_keys = True
        return found

    def element(self) -> Reads:
        if self.level > MAX_EVENT_DEPTH:
            self.whole = True
            return self
        if self.each is None:
            self.each = Reads(self.level + 1)
        return self.each

    def path(self, names: Iterable[str]) -> Reads:
        node = self
        for name in names:
            node = node.field(name)
        return node

    def fits(self, value: Any, depth: int = 1) -> bool:
        """True when every part of ``value`` that may be read is in wire form."""
        if self.whole:
            return _wire_item(value, depth)
        kind = type(value)
        if kind is dict:
            if depth > MAX_EVENT_DEPTH or (self.json_keys and not _str_keys(value)):
                return False
            for name, reads in self.fields.items():
                item = value.get(name, _MISSING)
                if item is not _MISSING and not reads.fits(item, depth + 1):
                    return False
            return True
        if kind is list:
            if depth > MAX_EVENT_DEPTH:
                return False
            each = self.each
            return each is None or all(each.fits(item, depth + 1) for item in value)
        return _wire_item(value, depth)

    def checker(self) -> Callable[[Any], bool]:
        """:meth:`fits` of the root, as one generated function (a few microseconds an event:
        the tree is known, so the walk is straight-line code)."""
        if self.whole:
            return lambda event: _wire_item(event, 1)
        lines = ["def fits(v0):"]
        self._emit(lines, "v0", 1, 1)
        lines.append("    return True")
        namespace: dict[str, Any] = {
            "_wire": _wire_item,
            "_storable": _storable,
            "_str_keys": _str_keys,
            "_M": _MISSING,
        }
        try:  # field names enter only through repr()
            exec("\n".join(lines) + "\n", namespace)
        except (SyntaxError, RecursionError, MemoryError):  # nested past what Python compiles
            return self.fits
        fits: Callable[[Any], bool] = namespace["fits"]
        return fits

    def _emit(self, lines: list[str], name: str, depth: int, indent: int) -> None:
        """Statements that return False unless ``name`` (at ``depth``) fits."""
        pad = "    " * indent
        if self.whole:
            lines += [
                f"{pad}t = type({name})",
                f"{pad}if t is str:",
                f"{pad}    if '\\x00' in {name} or not ({name}.isascii() or _storable({name})):",
                f"{pad}        return False",
                f"{pad}elif not (t is int or t is bool or {name} is None) and not _wire({name}, "
                f"{depth}):",
                f"{pad}    return False",
            ]
            return
        if depth > MAX_EVENT_DEPTH:
            lines += [
                f"{pad}if type({name}) is dict or type({name}) is list:",
                f"{pad}    return False",
            ]
        child = f"v{depth}"
        lines.append(f"{pad}if type({name}) is dict:")
        body = len(lines)
        if self.json_keys:
            lines += [f"{pad}    if not _str_keys({name}):", f"{pad}        return False"]
        for field_name, reads in self.fields.items():
            lines.append(f"{pad}    {child} = {name}.get({field_name!r}, _M)")
            lines.append(f"{pad}    if {child} is not _M:")
            reads._emit(lines, child, depth + 1, indent + 2)
        if len(lines) == body:
            lines.append(f"{pad}    pass")
        lines.append(f"{pad}elif type({name}) is list:")
        if self.each is not None:
            lines.append(f"{pad}    for {child} in {name}:")
            self.each._emit(lines, child, depth + 1, indent + 2)
        else:
            lines.append(f"{pad}    pass")
        lines += [f"{pad}elif not _wire({name}, {depth}):", f"{pad}    return False"]


def _str_keys(value: dict[Any, Any]) -> bool:
    try:
        "".join(value)
    except TypeError:
        return False
    return True


def _wire_item(value: Any, depth: int) -> bool:
    kind = type(value)
    if kind is str:
        return _storable(value)
    if kind is int or kind is bool or value is None:
        return True
    if kind is float:
        return bool(value - value == 0)  # finite: inf - inf and nan - nan are nan
    return _is_wire(value, depth, strings=True)


def event_reads(expressions: Iterable[Expression], *, windows: bool = True) -> Reads:
    """What ``expressions`` (evaluated on the scope's root) and the engine read of an event;
    with ``windows`` (some step may have a send window), the addresses too."""
    root = Reads()
    root.field("data").field("object")
    for names in (*ENGINE_READS, *(WINDOW_READS if windows else ())):
        root.path(names).whole = True
    for expression in expressions:
        if root.whole:
            break
        try:
            tree = parse(expression.source)
            _Walk(root).consume(tree, root, 0)
        except Exception:  # cannot be followed (RecursionError, too deep): read it all
            root.whole = True
    return root


def rule_expressions(value: Any, seen: set[int] | None = None) -> Iterator[Expression]:
    """Every :class:`Expression` held by ``value`` (a rule, its steps, templates, windows)."""
    seen = set() if seen is None else seen
    stack = [value]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, Expression):
            yield item
        elif isinstance(item, (list, tuple, frozenset, set)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif is_dataclass(item) and not isinstance(item, type):
            stack.extend(getattr(item, f.name) for f in fields(item))


class _Walk:
    """One expression's tree, followed from the root: ``consume`` marks what its value reads."""

    def __init__(self, root: Reads) -> None:
        self.root = root

    def consume(self, node: dict[str, Any], at: Reads | None, depth: int) -> None:
        """``node``, applied to ``at`` (None: not the event's), is read whole."""
        found = self.value(node, at, depth)
        if found is not None:
            found.whole = True

    def value(self, node: dict[str, Any], at: Reads | None, depth: int) -> Reads | None:
        """Where in the event ``node``'s value lies (None: not the event's, or already read
        whole), marking what it reads on the way."""
        if depth > _MAX_WALK:
            raise RecursionError("expression nests too deeply to follow")
        kind = node["type"]
        children = node.get("children", ())
        if kind == "field":
            if at is None or (at is self.root and node["value"] in _NOT_EVENT):
                return None
            return at.field(node["value"])
        if kind in ("current", "identity"):
            return at
        if kind in ("literal", "raw_literal"):
            return None
        if kind in ("subexpression", "pipe", "index_expression"):
            return self._chain(node, at, depth)
        if kind == "index":
            return at.element() if at is not None else None
        if kind == "slice":
            return at
        if kind == "projection":
            left = self.value(children[0], at, depth + 1)
            self.consume(children[1], left.element() if left is not None else None, depth + 1)
            return None
        if kind == "filter_projection":
            left = self.value(children[0], at, depth + 1)
            each = left.element() if left is not None else None
            self.consume(children[2], each, depth + 1)
            self.consume(children[1], each, depth + 1)
            return None
        if kind in ("value_projection", "flatten"):
            self.consume(children[0], at, depth + 1)
            if kind == "value_projection" and len(children) > 1:
                self.consume(children[1], None, depth + 1)  # applied to parts read whole
            return None
        if kind == "expref":
            self.consume(children[0], None, depth + 1)  # applied to arguments read whole
            return None
        if kind == "key_val_pair":
            self.consume(children[0], at, depth + 1)
            return None
        if kind in ("or_expression", "and_expression"):
            self._same(node, kind, at, depth)
            return None
        # comparator, not_expression, multi_select_*, function_expression and any other node:
        # every child is applied to ``at`` and read whole; ``at`` itself when the node is unknown
        known = kind in (
            "comparator",
            "not_expression",
            "multi_select_list",
            "multi_select_dict",
            "function_expression",
        )
        if not known and at is not None:
            at.whole = True
        for child in children:
            self.consume(child, at, depth + 1)
        return None

    def _chain(self, node: dict[str, Any], at: Reads | None, depth: int) -> Reads | None:
        """``a.b.c``, ``a[0]``, ``a | b``: each child applied to the one before's value;
        left-deep trees are followed without recursion."""
        rights: list[dict[str, Any]] = []
        while node["type"] in ("subexpression", "pipe", "index_expression"):
            rights.extend(reversed(node["children"][1:]))
            node = node["children"][0]
        found = self.value(node, at, depth + 1)
        for right in reversed(rights):
            found = self.value(right, found, depth + 1)
        return found

    def _same(self, node: dict[str, Any], kind: str, at: Reads | None, depth: int) -> None:
        """``a || b || c``: every operand read whole, the chain followed without recursion."""
        stack = [node]
        while stack:
            item = stack.pop()
            if item["type"] == kind:
                stack.extend(item["children"])
            else:
                self.consume(item, at, depth + 1)
