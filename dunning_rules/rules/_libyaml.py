"""Compose a rule file on libyaml: the nodes, marks and counts the pure-Python path composes.

PyYAML's pure-Python scanner and parser take most of the time of loading a big rule file
(0.9 s for a thousand rules, against 0.03 s for libyaml's events). :func:`compose` reads
libyaml's events (PyYAML's ``CParser``, in its wheels) and composes PyYAML's own node classes
from them in a loop, counting what :mod:`.limits` bounds as the Python composer of
:mod:`.locations` does. It never reports a problem itself: any error, any bound passed and any
text where libyaml is known to read differently raises :class:`Fallback`, and the caller reads
the text again on the pure-Python path, whose answer (its data, or its problem and the place
of it) is then the answer. So the answer never depends on whether libyaml is installed.

Where the two differ (found by comparing both on generated texts: tests/rules/test_libyaml.py
and tests/rules/test_fuzz_load.py), the text goes to the pure-Python path:

- before parsing (:func:`differs`): a tab anywhere (PyYAML refuses tabs where libyaml takes
  them, ``a:\\tb``, and places its other tab errors elsewhere); ``#`` right after a block
  scalar's indicators (``>#``, refused by PyYAML); a byte order mark (libyaml leaves it out of
  the marks' index); a text that does not end with a line break (libyaml adds one at the end,
  so the marks of what stands there differ);
- while composing, inside a flow collection: a plain scalar with a ``?`` (``[a?]``: PyYAML
  ends a plain scalar there and refuses the rest), an empty value (``{a: }``: the two place
  it at different ends of the gap), and a tag (``[!a,b c]``: PyYAML's tag goes on past the
  comma, libyaml's ends there).

Two spellings differ harmlessly and are made PyYAML's: a plain scalar's style (libyaml's
``''``, PyYAML's None), and an empty value tagged ``!`` (plain-implicit in PyYAML, so
``a: !`` is null).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .limits import MAX_ALIASES, MAX_YAML_DEPTH

CParser: Any
try:  # PyYAML's binding of libyaml, in its wheels; a source build may lack it
    from yaml import _yaml

    CParser = _yaml.CParser
except ImportError:  # pragma: no cover - the wheels this project installs have it
    CParser = None

__all__ = ["Fallback", "available", "compose", "differs"]

Alias = tuple[Node, str, Any]  # the node, its anchor, the alias's mark

_PLAIN = (True, False)

_DIFFERENT = re.compile(r"\t|\ufeff|[|>][0-9+-]*#")
"""Text that libyaml reads otherwise than PyYAML (see the module docstring); so is a text that
does not end with a line break."""


class Fallback(Exception):
    """Read this text on the pure-Python path (an error, a bound, or a known difference)."""


@functools.cache
def available() -> bool:
    """libyaml is there, and bounds its own nesting (so its C code cannot exhaust the stack:
    libyaml 0.2.5 and later refuse nesting past a thousand levels)."""
    if CParser is None:  # pragma: no cover - see the import
        return False
    for deep in ("[" * 5000, "- " * 5000 + "x"):
        parser = CParser(deep)
        try:
            while not isinstance(parser.get_event(), StreamEndEvent):
                pass
        except Exception:  # any refusal is libyaml's own bound
            continue
        finally:
            parser.dispose()
        return False  # pragma: no cover - an old libyaml
    return True


def differs(text: str) -> bool:
    """True for text the two paths may read differently: it goes to the pure-Python path."""
    return not text.endswith("\n") or _DIFFERENT.search(text) is not None


def compose(
    text: str, resolve: Callable[[Any, Any, Any], str], *, guarded: bool = True
) -> tuple[Node | None, int, list[Alias]]:
    """The root node of the single document in ``text`` (None: no document), the number of
    nodes it writes and its aliases. ``resolve`` is the resolver's ``resolve``.

    Raises :class:`Fallback` for anything the pure-Python path must read (and perhaps report);
    ``guarded=False`` reads on where libyaml's marks are known to differ (to show they do).
    """
    if CParser is None:  # pragma: no cover - see the import
        raise Fallback("no libyaml")
    try:
        parser = CParser(text)
    except Exception as exc:  # a str that is not UTF-8 (a lone surrogate)
        raise Fallback(str(exc)) from None
    try:
        return _compose(parser, resolve, guarded)
    except Fallback:
        raise
    except Exception as exc:  # libyaml's errors; the pure-Python path reports its own
        raise Fallback(str(exc)) from None
    finally:
        parser.dispose()


def _compose(
    parser: Any, resolve: Callable[[Any, Any, Any], str], guarded: bool
) -> tuple[Node | None, int, list[Alias]]:
    get = parser.get_event
    get()  # STREAM-START
    event = get()
    if type(event) is StreamEndEvent:
        return None, 0, []
    tags: dict[str, str] = {}  # plain scalar -> its resolved tag, once per text
    anchors: dict[str, Node] = {}
    open_anchors: set[str] = set()
    aliases: list[Alias] = []
    # Each open collection: [node, anchor, the key waiting for its value].
    stack: list[list[Any]] = []
    nodes = 0
    root: Node | None = None
    while True:
        event = get()
        kind = type(event)
        if kind is ScalarEvent:
            nodes += 1
            tag = event.tag
            if guarded and stack and stack[-1][0].flow_style:
                if tag is not None:
                    raise Fallback("a tag inside a flow collection")
                if not event.style and "?" in event.value:
                    raise Fallback("a '?' in a plain scalar in a flow collection")
                if not event.style and not event.value and event.anchor is None:
                    raise Fallback("an empty value in a flow collection")
            if tag is None or tag == "!":
                # PyYAML's parser: the tag "!" makes any scalar plain-implicit.
                implicit = _PLAIN if tag == "!" else event.implicit
                if implicit[0]:
                    value = event.value
                    tag = tags.get(value)
                    if tag is None:
                        tag = tags[value] = resolve(ScalarNode, value, implicit)
                else:
                    tag = resolve(ScalarNode, event.value, implicit)
            node: Node = ScalarNode(
                tag, event.value, event.start_mark, event.end_mark, style=event.style or None
            )
            anchor = event.anchor
            if anchor is not None:
                if anchor in anchors:
                    raise Fallback("a duplicate anchor")
                anchors[anchor] = node
        elif kind is SequenceStartEvent or kind is MappingStartEvent:
            nodes += 1
            if len(stack) >= MAX_YAML_DEPTH:
                raise Fallback("nested too deeply")
            is_mapping = kind is MappingStartEvent
            node_class = MappingNode if is_mapping else SequenceNode
            tag = event.tag
            if guarded and tag is not None and stack and stack[-1][0].flow_style:
                raise Fallback("a tag inside a flow collection")
            if tag is None or tag == "!":
                tag = resolve(node_class, None, event.implicit)
            collection = node_class(tag, [], event.start_mark, None, flow_style=event.flow_style)
            anchor = event.anchor
            if anchor is not None:
                if anchor in anchors:
                    raise Fallback("a duplicate anchor")
                anchors[anchor] = collection
                open_anchors.add(anchor)
            stack.append([collection, anchor, None])
            continue
        elif kind is SequenceEndEvent or kind is MappingEndEvent:
            node, anchor, _ = stack.pop()
            node.end_mark = event.end_mark
            if anchor is not None:
                open_anchors.discard(anchor)
        elif kind is AliasEvent:
            if len(aliases) >= MAX_ALIASES:
                raise Fallback("too many aliases")
            anchor = event.anchor
            if anchor in open_anchors or anchor not in anchors:
                raise Fallback("a recursive or undefined alias")
            node = anchors[anchor]
            aliases.append((node, str(anchor), event.start_mark))
        elif kind is DocumentEndEvent:
            break
        else:  # pragma: no cover - libyaml sends no other event inside a document
            raise Fallback(f"unexpected {kind.__name__}")
        if not stack:
            root = node
            continue
        top = stack[-1]
        parent = top[0]
        if type(parent) is SequenceNode:
            parent.value.append(node)
        elif top[2] is None:
            top[2] = node
        else:
            parent.value.append((top[2], node))
            top[2] = None
    if type(get()) is not StreamEndEvent:
        raise Fallback("more than one document")
    return root, nodes, aliases
