"""Parse each JMESPath text once: the checks, the analysis and the code generator share the tree.

JMESPath's parser is pure Python and keeps no positions. :func:`parse` builds jmespath's tree
once per distinct text with one addition: each field node gets ``start``, the offset of its
first character, which :mod:`._paths` needs to point at a field. Every other key is jmespath's
own, so the interpreter (``ParsedResult(text, tree).search``) and :mod:`._compiler` read the tree
as jmespath built it. The tree is shared: nothing may change it. Parse errors are jmespath's,
raised on every call.

Two shortcuts make the same trees faster, and hand anything else to jmespath: :func:`_tokens`
makes jmespath's tokens with one regular expression, and :class:`_Common` parses the common
expressions (fields, literals, comparisons, ``&&``, ``||``, parentheses, calls) as jmespath's
Pratt parser does. tests/rules/test_parse.py compares both with jmespath's own lexer and parser
on the compliance suite and on generated expressions.

What depends on a text only is remembered by :func:`remembered`: for the whole of one load
(:func:`session`: every distinct text of the files once, however many there are), and in a small
cache for the process (a tree takes a few kilobytes, so the process keeps only the latest ones).
"""

from __future__ import annotations

import contextvars
import functools
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from jmespath import exceptions as jp_errors
from jmespath.parser import ParsedResult, Parser

__all__ = ["also_forget", "forget", "parse", "parsed_result", "remembered", "session"]

T = TypeVar("T")

_CACHES: list[Callable[[], None]] = []
"""How to empty each process cache of what a text gives (filled at import)."""

_SESSION: contextvars.ContextVar[dict[Any, Any] | None] = contextvars.ContextVar(
    "dunning_rules_parse_session", default=None
)


@contextmanager
def session() -> Iterator[None]:
    """Within it (one load), what :func:`remembered` functions find is kept until it ends."""
    if _SESSION.get() is not None:  # already inside one
        yield
        return
    token = _SESSION.set({})
    try:
        yield
    finally:
        _SESSION.reset(token)


def remembered(maxsize: int) -> Callable[[Callable[[str], T]], Callable[[str], T]]:
    """Remember a function of one text: for the current :func:`session`, and in an LRU cache of
    ``maxsize`` for the process. An exception is not remembered (it is raised again)."""

    def decorate(function: Callable[[str], T]) -> Callable[[str], T]:
        cached = functools.lru_cache(maxsize=maxsize)(function)

        @functools.wraps(function)
        def wrapper(text: str) -> T:
            memo = _SESSION.get()
            if memo is None:
                return cached(text)
            key = (wrapper, text)
            try:
                found: T = memo[key]
            except KeyError:
                found = memo[key] = cached(text)
            return found

        _CACHES.append(cached.cache_clear)
        return wrapper

    return decorate


def also_forget(clear: Callable[[], None]) -> None:
    """Have :func:`forget` call ``clear`` too (another cache of what a text gives)."""
    _CACHES.append(clear)


def forget() -> None:
    """Empty the process caches of what texts give (to measure a first load)."""
    for clear in _CACHES:
        clear()


_SIMPLE = {
    ".": "dot",
    "*": "star",
    "]": "rbracket",
    ",": "comma",
    ":": "colon",
    "@": "current",
    "(": "lparen",
    ")": "rparen",
    "{": "lbrace",
    "}": "rbrace",
}
_PAIRS = {  # two characters: (type, value, end - start) as jmespath's lexer writes them
    "[]": ("flatten", "[]", 2),
    "[?": ("filter", "[?", 2),
    "||": ("or", "||", 1),
    "&&": ("and", "&&", 1),
    "<=": ("lte", "<=", 1),
    ">=": ("gte", ">=", 1),
    "!=": ("ne", "!=", 1),
    "==": ("eq", "==", 1),
}
_SINGLES = {  # one character that may start a pair: (type, end - start)
    "[": ("lbracket", 1),
    "|": ("pipe", 0),
    "&": ("expref", 0),
    "<": ("lt", 0),
    ">": ("gt", 0),
    "!": ("not", 0),
}
_TOKEN = re.compile(
    r"[ \t\n\r]*(?:"  # whitespace, then a token
    r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<pair>\[\]|\[\?|\|\||&&|<=|>=|!=|==)"
    r"|(?P<single>[.*\],:@(){}\[|&<>!])"
    r"|(?P<number>-?[0-9]+)"
    r"|(?P<raw>'[^'\\]*')"
    r"|(?P<literal>`[^`\\]*`)"
    r")"
)
_WHITESPACE = " \t\n\r"


def _tokens(expression: str) -> list[dict[str, Any]] | None:
    """The tokens jmespath's lexer makes of ``expression``, the same dicts, or None for text
    this one leaves to it: a quoted identifier, an escape, a literal that is not JSON, or
    anything it refuses (so its errors, and its warning on old literals, stay its own)."""
    if not expression:
        return None
    out: list[dict[str, Any]] = []
    add = out.append
    length = len(expression)
    end = 0
    match = _TOKEN.match
    while (found := match(expression, end)) is not None:
        kind = found.lastgroup
        assert kind is not None
        start = found.start(kind)
        end = found.end()
        text = found.group(kind)
        if kind == "name":
            add({"type": "unquoted_identifier", "value": text, "start": start, "end": end})
        elif kind == "single":
            simple = _SIMPLE.get(text)
            if simple is not None:
                add({"type": simple, "value": text, "start": start, "end": end})
            else:
                name, width = _SINGLES[text]
                add({"type": name, "value": text, "start": start, "end": start + width})
        elif kind == "pair":
            name, spelled, width = _PAIRS[text]
            add({"type": name, "value": spelled, "start": start, "end": start + width})
        elif kind == "number":
            add({"type": "number", "value": int(text), "start": start, "end": end})
        else:  # raw or literal
            value: Any = text[1:-1]
            if kind == "literal":
                try:
                    value = json.loads(value)
                except ValueError:
                    return None
            # jmespath's quirk: a delimited token's "end" is its length, one less at the end.
            size = end - start - (1 if end == length else 0)
            add({"type": "literal", "value": value, "start": start, "end": size})
    if end < length and expression[end:].strip(_WHITESPACE):
        return None  # something the pattern does not take: jmespath's lexer decides
    add({"type": "eof", "value": "", "start": length, "end": length})
    return out


_POWER: dict[str, int] = Parser.BINDING_POWER
_COMPARATORS = frozenset({"eq", "ne", "lt", "lte", "gt", "gte"})


class _Unsupported(Exception):
    """The tokens hold something :class:`_Common` leaves to jmespath's parser."""


class _Common:
    """jmespath's Pratt parser, step for step, for what rule conditions are mostly made of:
    fields, ``.``, literals, comparisons, ``&&``, ``||``, parentheses and function calls. Its
    trees are the ones jmespath builds (``start`` in field nodes, as :class:`_PlacedParser`
    writes it). Anything else, an error included, raises :class:`_Unsupported`, and jmespath's
    parser reads the tokens: its trees and its errors are the reference."""

    __slots__ = ("index", "tokens")

    def __init__(self, tokens: list[dict[str, Any]]) -> None:
        self.tokens = tokens
        self.index = 0

    def parse(self) -> Any:
        tree = self.expression(0)
        if self.tokens[self.index]["type"] != "eof":
            raise _Unsupported
        return tree

    def expression(self, power: int) -> Any:  # jmespath's _expression(binding_power)
        tokens = self.tokens
        token = tokens[self.index]
        self.index += 1
        kind = token["type"]
        left: dict[str, Any]
        if kind == "unquoted_identifier":
            left = {"type": "field", "children": [], "value": token["value"]}
            left["start"] = token["start"]
        elif kind == "literal":
            left = {"type": "literal", "value": token["value"], "children": []}
        elif kind == "lparen":
            left = self.expression(0)
            if tokens[self.index]["type"] != "rparen":
                raise _Unsupported
            self.index += 1
        else:
            raise _Unsupported
        while True:
            kind = tokens[self.index]["type"]
            if power >= _POWER[kind]:
                return left
            self.index += 1
            if kind == "dot":  # _token_led_dot, for a field on the right
                if tokens[self.index]["type"] != "unquoted_identifier":
                    raise _Unsupported
                right = self.expression(_POWER["dot"])
                if left["type"] == "subexpression":
                    left["children"].append(right)
                else:
                    left = {"type": "subexpression", "children": [left, right]}
            elif kind in _COMPARATORS:
                right = self.expression(_POWER[kind])
                left = {"type": "comparator", "children": [left, right], "value": kind}
            elif kind == "and":
                left = {"type": "and_expression", "children": [left, self.expression(3)]}
            elif kind == "or":
                left = {"type": "or_expression", "children": [left, self.expression(2)]}
            elif kind == "lparen" and left["type"] == "field":  # a function call
                args = []
                while tokens[self.index]["type"] != "rparen":
                    args.append(self.expression(0))
                    following = tokens[self.index]["type"]
                    if following == "comma":
                        self.index += 1
                        if tokens[self.index]["type"] == "rparen":
                            raise _Unsupported
                    elif following != "rparen":
                        raise _Unsupported
                self.index += 1
                left = {"type": "function_expression", "children": args, "value": left["value"]}
            else:
                raise _Unsupported


class _PlacedParser(Parser):  # type: ignore[misc]  # jmespath is untyped
    """JMESPath's parser, with ``start`` written into field nodes. Its tokens come from
    :func:`_tokens` (a regular expression, several times faster than jmespath's lexer, which
    reads one character per call) where that can make them, and :class:`_Common` builds the
    tree of the common expressions (about twice as fast as jmespath's method per token)."""

    def _parse(self, expression: str) -> Any:
        tokens = _tokens(expression)
        if tokens is None:
            return super()._parse(expression)
        try:
            return ParsedResult(expression, _Common(tokens).parse())
        except _Unsupported:
            pass
        self._tokens = tokens
        self._index = 0
        parsed = self._expression(binding_power=0)
        if self._current_token() != "eof":
            token = self._lookahead_token(0)
            raise jp_errors.ParseError(
                token["start"], token["value"], token["type"], f"Unexpected token: {token['value']}"
            )
        return ParsedResult(expression, parsed)

    def _token_nud_unquoted_identifier(self, token: dict[str, Any]) -> dict[str, Any]:
        node: dict[str, Any] = super()._token_nud_unquoted_identifier(token)
        node["start"] = token["start"]
        return node

    def _token_nud_quoted_identifier(self, token: dict[str, Any]) -> dict[str, Any]:
        node: dict[str, Any] = super()._token_nud_quoted_identifier(token)
        node["start"] = token["start"] + 1
        return node


@remembered(maxsize=512)
def parse(expression: str) -> Any:
    """The tree of ``expression`` (shared: read it, never change it); jmespath's errors."""
    # _do_parse: jmespath's parse() without its own cache, which this one replaces.
    return _PlacedParser()._do_parse(expression).parsed


def parsed_result(expression: str) -> Any:
    """jmespath's ``ParsedResult`` for ``expression``, on the shared tree (its interpreter)."""
    return ParsedResult(expression, parse(expression))
