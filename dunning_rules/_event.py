"""Events at the door: any Python form of a Stripe event, in its JSON wire form, checked once.

``handle``, ``simulate`` and ``replay`` take a parsed event dict, a ``stripe.Event``, a dict
subclass (dj-stripe's), or a mapping; all of them become the same plain JSON value, as Stripe
sent it, before any rule sees them. stripe-python turns ``*_decimal`` fields into
:class:`decimal.Decimal`; on the wire they are strings, and so they are here. Whatever no store
can hold is refused with :class:`~dunning_rules.errors.EventError` before anything is stored:
lone surrogates, NUL characters, NaN and infinities, cycles, objects other than JSON values,
and nesting deeper than :data:`MAX_EVENT_DEPTH`.
"""

from __future__ import annotations

import decimal
import json
import re
from collections.abc import Mapping
from typing import Any

from .errors import EventError

__all__ = ["MAX_EVENT_DEPTH", "THIN_EVENT", "wire_event", "wire_event_text"]

THIN_EVENT = (
    "the body is a Stripe thin event (v2.core.event), which carries no data.object; "
    "dunning_rules reads v1 snapshot events: give the webhook endpoint (event destination) "
    "the snapshot payload for the invoice.* events it needs, or fetch the related object "
    "with the API first and pass a v1 event to Engine.handle"
)

MAX_EVENT_DEPTH = 64
"""How deeply objects and lists may nest in an event (Stripe's deepest payloads nest about 11
levels: an invoice's line items with their price and its tiers)."""

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_NOT_BRACKET_OR_QUOTE = bytes(code for code in range(256) if chr(code) not in '[]{}"')


def _plain(value: object) -> object:
    """JSON's fallback: Decimals as Stripe writes them, stripe objects as their dicts."""
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        return str(value)
    if isinstance(value, Mapping):
        return dict(value)
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if isinstance(value, (list, tuple)):
        return list(value)
    raise TypeError(f"a {type(value).__name__} is not a JSON value")


_ENCODE = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_plain
).encode


def _too_deep(text: str, encoded: bytes) -> bool:
    """True when the JSON ``text`` (``encoded`` in UTF-8) nests objects and lists deeper than
    MAX_EVENT_DEPTH."""
    if '\\"' in text:  # a quote inside a string: take strings out the careful way
        brackets = _NOT_BRACKET.sub("", _STRING.sub("", text)).encode()
    else:  # every quote opens or closes a string: what lies between odd and even ones is out
        kept = encoded.translate(None, _NOT_BRACKET_OR_QUOTE)
        brackets = b"".join(kept.split(b'"')[0::2])
    for _ in range(MAX_EVENT_DEPTH):
        shorter = brackets.replace(b"{}", b"").replace(b"[]", b"")
        if shorter == brackets:
            return False
        brackets = shorter
    return bool(brackets)


def _is_wire(value: Any, depth: int, strings: bool) -> bool:
    """True when ``value`` (at nesting ``depth``) is already in wire form: exact dicts with
    str keys, lists, str, int, float, bool and None, no deeper than MAX_EVENT_DEPTH; with
    ``strings``, also no NaN or infinity and only strings every store can hold.

    One level at a time, without recursion or a call per value; the strings (keys too) are
    checked together at the end, joined.
    """
    level = [value]
    texts: list[str] = []
    add = texts.append
    for _ in range(MAX_EVENT_DEPTH - depth + 1):
        deeper: list[Any] = []
        push = deeper.append
        for container in level:
            items: Any
            if type(container) is dict:
                try:
                    keys = "".join(container)  # raises unless every key is a str
                except TypeError:
                    return False
                if strings:
                    add(keys)
                items = container.values()
            elif type(container) is list:
                items = container
            else:
                return False
            for item in items:
                if item is None:  # the commonest value of a Stripe object
                    continue
                kind = type(item)
                if kind is str:
                    if strings:
                        add(item)
                elif kind is dict or kind is list:
                    push(item)
                elif kind is int or kind is bool:
                    pass
                elif kind is not float or (strings and item - item != 0):  # inf, nan
                    return False
        if not deeper:
            break
        level = deeper
    else:
        return False
    return not strings or _storable("".join(texts))


def _storable(text: str) -> bool:
    """No NUL, no lone surrogate."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def wire_event(event: Any) -> dict[str, Any]:
    """``event`` as the plain JSON object Stripe sent; :class:`EventError` when it cannot be one.

    An event that is already plain JSON (what ``json.loads`` gives) is returned as it is, once
    checked; anything else becomes a new dict. The caller's object is never changed. Only the
    shape every Stripe event has is checked here (a mapping);
    :func:`~dunning_rules.rules.planner.check_event` checks its fields.
    """
    if type(event) is dict and _is_wire(event, 1, strings=True):
        return event
    return wire_event_text(event)[0]


def wire_event_text(event: Any) -> tuple[dict[str, Any], str]:
    """:func:`wire_event`, and the event's JSON text (what the stores keep: encoded once)."""
    if type(event) is dict and _is_wire(event, 1, strings=False):  # the encoder checks the rest
        text = _encode(event)
        return event, text
    if not isinstance(event, Mapping):
        to_dict = getattr(event, "to_dict", None)
        if not callable(to_dict):
            raise EventError(f"a Stripe event is a mapping, not {type(event).__name__}")
        event = to_dict()
        if not isinstance(event, Mapping):
            raise EventError(f"a Stripe event is a mapping, not {type(event).__name__}")
    text = _encode(event)
    encoded = text.encode("utf-8")
    if _too_deep(text, encoded):
        raise EventError(f"event nests deeper than {MAX_EVENT_DEPTH} levels")
    wire: dict[str, Any] = json.loads(text)
    return wire, text


def _encode(event: Any) -> str:
    """``event`` as JSON text; :class:`EventError` for what no store can hold."""
    try:
        text = _ENCODE(event)
    except RecursionError:
        raise EventError(f"event nests deeper than {MAX_EVENT_DEPTH} levels") from None
    except ValueError as exc:  # a cycle, NaN or an infinity
        raise EventError(f"event is not JSON: {exc}") from None
    except TypeError as exc:
        raise EventError(f"event is not JSON: {exc}") from None
    try:
        if not text.isascii():
            text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EventError(
            f"event holds text that is not Unicode (a lone surrogate at {exc.start})"
        ) from None
    if "\\u0000" in text:
        raise EventError("event holds a NUL character, which no store can keep")
    return text
