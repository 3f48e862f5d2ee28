"""What Stripe sends, read from stripe-python's own type annotations.

The event types are the ``Literal`` of ``stripe.Event.type``; the object an event carries in
``data.object`` is a resource class (``invoice.*`` -> ``stripe.Invoice``), found from the
type's prefix with a small table of exceptions; the fields of a resource, of its nested
classes, of list objects (``ListObject[...]``) and expandable fields (``Union[str, X]``) come
from the classes' annotations. stripe is imported on first use only (never by ``import
dunning_rules``), and everything read is cached for the life of the process.

A path is walked segment by segment over *alternatives*: the shapes a value may have
(``customer`` is an id string or a ``Customer``). A field is known when one alternative has
it; an alternative that accepts any key (``metadata``, an untyped object) accepts the rest of
the path.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import re
import sys
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ANY",
    "EACH",
    "INDEX",
    "Alternative",
    "Missing",
    "event_types",
    "json_kinds",
    "resources_for",
    "type_name",
    "walk",
]

EACH = "[*]"
"""A path segment: every element of a list (a projection or a filter)."""
INDEX = "[0]"
"""A path segment: one element of a list."""

# Event type prefixes whose object is not the resource their name spells.
_EXCEPTIONS: dict[str, tuple[str, ...]] = {
    "account.external_account": ("BankAccount", "Card"),
    "customer.source": ("Source", "Card", "BankAccount"),
    "application_fee.refund": ("ApplicationFeeRefund",),
    "source.transaction": ("SourceTransaction",),
    "invoiceitem": ("InvoiceItem",),
}
# The fields every list object has (stripe-python annotates only some of them).
_LIST_FIELDS = ("data", "has_more", "object", "url", "total_count")


@dataclass(frozen=True, slots=True)
class Alternative:
    """One shape a value may have.

    ``kind``: ``object`` (``cls`` gives its fields), ``list`` (``item``: an annotation),
    ``map`` (any key; ``item``: the values' annotation), ``list_object``, ``any``, or a JSON
    scalar: ``string``, ``integer``, ``number``, ``boolean``.
    """

    kind: str
    cls: Any = None
    item: Any = None


ANY = Alternative("any")


@dataclass(frozen=True, slots=True)
class Missing:
    """A path that leaves the types: segment ``index`` is no field of ``owners``."""

    index: int
    name: str
    owners: tuple[Alternative, ...]
    known: tuple[str, ...]


def _stripe() -> Any:
    import stripe

    return stripe


@functools.cache
@functools.cache
def event_types() -> tuple[str, ...]:
    """Every event type stripe-python's ``stripe.Event.type`` lists, sorted."""
    stripe = _stripe()
    hint = stripe.Event.__annotations__["type"]
    return tuple(sorted(a for a in typing.get_args(hint) if isinstance(a, str)))


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def _namespace(name: str) -> Any | None:
    """stripe's sub-package ``name`` (``billing``, ``issuing``), or None."""
    if not re.fullmatch(r"[a-z_]+", name):
        return None
    try:
        if importlib.util.find_spec(f"stripe.{name}") is None:
            return None
        return importlib.import_module(f"stripe.{name}")
    except ImportError:  # pragma: no cover - a broken install
        return None


def _resource(module: Any, name: str) -> Any | None:
    cls = getattr(module, name, None)
    if isinstance(cls, type) and isinstance(getattr(cls, "OBJECT_NAME", None), str):
        return cls
    return None


def _candidates(prefix: str) -> list[tuple[Any, str]]:
    stripe = _stripe()
    if prefix in _EXCEPTIONS:
        return [(stripe, name) for name in _EXCEPTIONS[prefix]]
    found: list[tuple[Any, str]] = []
    head, _, rest = prefix.partition(".")
    if rest:
        namespace = _namespace(head)
        if namespace is not None:
            found.append((namespace, _camel(rest.replace(".", "_"))))
        found.append((stripe, _camel(prefix.rsplit(".", 1)[1])))
    else:
        found.append((stripe, _camel(prefix)))
        space, _, name = prefix.partition("_")
        namespace = _namespace(space) if name else None
        if namespace is not None:
            found.append((namespace, _camel(name)))
    return found


@functools.cache
def resources_for(event_type: str) -> tuple[Any, ...]:
    """The resource classes an event of ``event_type`` carries; () when not known."""
    prefix = event_type.rsplit(".", 1)[0] if "." in event_type else event_type
    if prefix in _EXCEPTIONS:
        classes = [_resource(m, n) for m, n in _candidates(prefix)]
        return tuple(c for c in classes if c is not None)
    for module, name in _candidates(prefix):
        cls = _resource(module, name)
        if cls is not None:
            return (cls,)
    return ()


def type_name(alternative: Alternative) -> str:
    """``Invoice``, ``Invoice.Parent``, ``a list``, ``a string``: for messages."""
    if alternative.kind == "object":
        return str(alternative.cls.__qualname__)
    if alternative.kind == "list_object":
        return "a list object"
    return {
        "list": "a list",
        "map": "a mapping",
        "any": "any value",
        "integer": "an integer",
        "number": "a number",
        "string": "a string",
        "boolean": "a boolean",
    }[alternative.kind]


# -- annotations ------------------------------------------------------------------------------


@functools.cache
def _imports_of(module_name: str) -> dict[str, tuple[str, str]]:
    """``alias -> (module, name)`` of a stripe module's ``if TYPE_CHECKING:`` imports."""
    module = sys.modules.get(module_name)
    path = getattr(module, "__file__", None)
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
    except (OSError, SyntaxError, ValueError):  # pragma: no cover - a broken install
        return {}
    found: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom) and statement.module:
                    for alias in statement.names:
                        found[alias.asname or alias.name] = (statement.module, alias.name)
    return found


def _resolve(name: str, owner: Any) -> Any:
    """A forward reference of ``owner``'s annotations, or ``Any`` when it cannot be found."""
    target = _imports_of(getattr(owner, "__module__", "")).get(name)
    try:
        if target is not None:
            return getattr(importlib.import_module(target[0]), target[1])
        found = getattr(_stripe(), name, None)
    except (ImportError, AttributeError):  # pragma: no cover - a broken install
        return Any
    return found if isinstance(found, type) else Any


@functools.cache
def _fields(cls: Any) -> dict[str, tuple[Any, Any]]:
    """``name -> (annotation, owning class)`` of a StripeObject class and its bases."""
    stripe_object = _stripe().StripeObject
    found: dict[str, tuple[Any, Any]] = {}
    for klass in reversed(cls.__mro__):
        if klass is stripe_object or not issubclass(klass, stripe_object):
            continue
        for name, hint in vars(klass).get("__annotations__", {}).items():
            if name.startswith("_") or typing.get_origin(hint) is typing.ClassVar:
                continue
            found[name] = (hint, klass)
    if isinstance(getattr(cls, "OBJECT_NAME", None), str) and "object" not in found:
        found["object"] = (str, cls)
    return found


def _alternatives(hint: Any, owner: Any) -> tuple[Alternative, ...]:
    """The shapes an annotation allows; None is left out (any field may be null)."""
    if isinstance(hint, typing.ForwardRef):
        hint = _resolve(hint.__forward_arg__, owner)
    if isinstance(hint, str):
        hint = _resolve(hint, owner)
    if hint is type(None):
        return ()
    if hint is Any or hint is object:
        return (ANY,)
    scalar = {str: "string", int: "integer", float: "number", bool: "boolean"}.get(hint)
    if scalar is not None:
        return (Alternative(scalar),)
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union:
        out: list[Alternative] = []
        for arg in args:
            for alternative in _alternatives(arg, owner):
                if alternative not in out:
                    out.append(alternative)
        return tuple(out)
    if origin is typing.Literal:
        kinds = {_literal_kind(a) for a in args}
        return tuple(Alternative(k) for k in sorted(kinds))
    if origin in (list, Sequence, tuple):
        return (Alternative("list", item=(args[0] if args else Any, owner)),)
    if origin is dict:
        return (Alternative("map", item=(args[1] if len(args) > 1 else Any, owner)),)
    stripe = _stripe()
    base = origin if isinstance(origin, type) else hint
    if isinstance(base, type):
        if issubclass(base, stripe.ListObject):
            return (Alternative("list_object", item=(args[0] if args else Any, owner)),)
        if base.__name__ == "UntypedStripeObject" or base is stripe.StripeObject:
            return (Alternative("map", item=(args[0] if args else Any, owner)),)
        if issubclass(base, stripe.StripeObject):
            return (Alternative("object", cls=base),)
        if issubclass(base, dict):
            return (Alternative("map", item=(Any, owner)),)
    return (ANY,)


def _literal_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def json_kinds(alternatives: Sequence[Alternative]) -> frozenset[str] | None:
    """The JSON types a value of these shapes may have (``number`` for integers); None: any."""
    kinds: set[str] = set()
    for alternative in alternatives:
        kind = alternative.kind
        if kind == "any":
            return None
        kinds.add(
            {"integer": "number", "list": "array", "list_object": "object", "map": "object"}.get(
                kind, kind
            )
        )
    return frozenset(kinds)


# -- walking a path ---------------------------------------------------------------------------


def _child(alternative: Alternative, segment: str) -> tuple[Alternative, ...] | None:
    """What ``segment`` gives on one alternative; None: it has no such field."""
    kind = alternative.kind
    if kind == "any":
        return (ANY,)
    if segment in (EACH, INDEX):
        if kind == "list":
            hint, owner = alternative.item
            return _alternatives(hint, owner)
        return ()  # indexing something that is no list gives null
    if kind == "map":
        hint, owner = alternative.item
        return _alternatives(hint, owner)
    if kind == "list_object":
        if segment == "data":
            return (Alternative("list", item=alternative.item),)
        if segment in _LIST_FIELDS:
            return (Alternative("boolean" if segment == "has_more" else "string"),)
        return None
    if kind == "object":
        field = _fields(alternative.cls).get(segment)
        if field is None:
            return None
        return _alternatives(field[0], field[1])
    return None


def known_fields(alternative: Alternative) -> tuple[str, ...]:
    if alternative.kind == "object":
        return tuple(sorted(_fields(alternative.cls)))
    if alternative.kind == "list_object":
        return _LIST_FIELDS
    return ()


def walk(
    roots: Sequence[Alternative], segments: Sequence[str]
) -> tuple[Alternative, ...] | Missing:
    """The shapes at the end of ``segments`` from ``roots``, or where the path leaves them.

    A field that no alternative has is :class:`Missing` (a field of a string or a number is
    too: it is always null). An index into something that is no list ends the walk.
    """
    current = tuple(roots)
    for index, segment in enumerate(segments):
        following: list[Alternative] = []
        owners: list[Alternative] = []
        for alternative in current:
            found = _child(alternative, segment)
            if found is None:
                owners.append(alternative)
                continue
            following.extend(a for a in found if a not in following)
        if not following:
            if owners and segment not in (EACH, INDEX):
                known = sorted({name for owner in owners for name in known_fields(owner)})
                return Missing(index, segment, tuple(owners), tuple(known))
            return ()
        if ANY in following:
            return (ANY,)
        current = tuple(following)
    return current


def roots_of(classes: Sequence[Any]) -> tuple[Alternative, ...]:
    """The alternatives of resource classes."""
    return tuple(Alternative("object", cls=cls) for cls in classes)
