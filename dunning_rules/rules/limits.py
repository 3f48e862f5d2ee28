"""The bounds every rule file is held to, so that no file can exhaust the machine.

A rule file may come from an author who is careless or hostile: loading it must take time and
memory in proportion to its size, and nothing it says may overflow later, in the engine. Each
bound is checked when the file is loaded, and a file past one is a
:class:`~dunning_rules.errors.RuleFileError` at the place, naming the bound.
docs/rule-files.md ("Limits") lists them for users.

The nesting bounds also keep every recursive step (PyYAML's composer, jsonschema, the
JMESPath parser and the code generator) far from Python's recursion limit: the deepest file
they allow loads with 450 of the default 1,000 frames already taken by the caller.
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .locations import JsonPath

__all__ = [
    "MAX_ALIASES",
    "MAX_ALIAS_EXPANSION",
    "MAX_CONDITION_DEPTH",
    "MAX_DURATION",
    "MAX_EXPRESSION_DEPTH",
    "MAX_EXPRESSION_LENGTH",
    "MAX_FILE_BYTES",
    "MAX_INTEGER_DIGITS",
    "MAX_RETRY_ATTEMPTS",
    "MAX_YAML_DEPTH",
    "condition_too_deep",
    "excerpt",
    "format_count",
    "format_duration",
    "retry_problem",
]

MAX_FILE_BYTES = 10_000_000
"""The longest rule file, in bytes of UTF-8 (text given as a ``str`` too)."""

MAX_ALIASES = 10_000
"""YAML aliases (``*name``, merge keys ``<<: *name`` included) in one file."""

MAX_ALIAS_EXPANSION = 100
"""Aliases may make a document at most this many times as many nodes (scalars, mappings,
lists) as the file itself writes: each alias counts as every node of the value it names."""

MAX_YAML_DEPTH = 64
"""Mappings and lists nested inside each other in one document."""

MAX_EXPRESSION_LENGTH = 10_000
"""Characters in one JMESPath expression (a condition, a ``key``, a lookup argument or the
inside of one ``{{ }}`` placeholder)."""

MAX_EXPRESSION_DEPTH = 64
"""Levels of nesting inside one expression: brackets, parentheses, braces, function calls,
projections, filters, ``!`` and JSON literals. A chain (``a.b[0].c``, ``a | b``, ``a || b``,
``a && b``) is as long as the length bound allows and adds no level."""

MAX_CONDITION_DEPTH = 32
"""``all``, ``any`` and ``not`` nested inside each other in one condition. A list of ``all``
or ``any`` may be as long as the file allows."""

MAX_DURATION = _dt.timedelta(days=400)
"""The longest duration anywhere in a rule file: ``wait`` ``duration``, ``approval``
``timeout``, ``retry.backoff``, and the longest retry delay, ``backoff * 2**(attempts-2)``.
:func:`~dunning_rules.rules.model.parse_duration` refuses longer ones at run time too."""

MAX_RETRY_ATTEMPTS = 20
"""``retry.attempts``, the first attempt included (also the JSON Schema's maximum)."""

MAX_INTEGER_DIGITS = 4300
"""Characters of a YAML integer written in base 60 (``1:30:00``), like Python's own limit on
decimal integers (``sys.int_info.default_max_str_digits``): converting longer ones takes time
that grows with the square of their length."""


def format_count(number: int) -> str:
    """``32768`` -> ``'32,768'``."""
    return f"{number:,}"


def format_duration(delta: _dt.timedelta) -> str:
    """A duration as a rule file writes it: in the largest unit that writes it exactly
    (``400d``, ``36h``, ``90s``), else in days to one decimal (``433.9d``)."""
    seconds = delta.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    if seconds >= 86400:
        return f"{seconds / 86400:.1f}d"
    return f"{seconds:g}s"


def retry_problem(attempts: int, backoff: _dt.timedelta) -> str | None:
    """What is wrong with retries whose last delay, ``backoff * 2**(attempts-2)``, is longer
    than MAX_DURATION (None: nothing). Counts past MAX_RETRY_ATTEMPTS are the schema's."""
    if not 2 <= attempts <= MAX_RETRY_ATTEMPTS:
        return None
    longest = backoff * (1 << (attempts - 2))
    if longest <= MAX_DURATION:
        return None
    return (
        f"the last of {attempts} attempts waits {format_duration(longest)} "
        f"(backoff {format_duration(backoff)} doubled {attempts - 2} times), "
        f"longer than the longest duration allowed, {format_duration(MAX_DURATION)}"
    )


EXCERPT = 60
"""Characters of the source line shown on each side of an expression error's caret."""


def excerpt(line: str, column: int) -> tuple[str, int]:
    """A long line cut to the part around ``column`` (so a 30,000-character expression does
    not make a 30,000-character message), and the column of the caret in it."""
    if len(line) <= 2 * EXCERPT:
        return line, column
    start = max(0, column - 1 - EXCERPT)
    end = min(len(line), column - 1 + EXCERPT)
    text, caret = line[start:end], column - start
    if start > 0:
        text, caret = "..." + text, caret + 3
    if end < len(line):
        text += "..."
    return text, caret


def condition_too_deep(raw: Any, json_path: JsonPath) -> JsonPath | None:
    """The path of the first ``all``/``any``/``not`` nested past MAX_CONDITION_DEPTH, if any
    (found without recursion, before the condition is compiled)."""
    stack: list[tuple[Any, JsonPath, int]] = [(raw, json_path, 0)]
    while stack:
        node, path, depth = stack.pop()
        if not isinstance(node, dict):
            continue
        if depth >= MAX_CONDITION_DEPTH:
            return path
        children: list[tuple[Any, JsonPath]] = []
        for word in ("all", "any"):
            items = node.get(word)
            children += (
                [(c, (*path, word, i)) for i, c in enumerate(items)]
                if isinstance(items, list)
                else []
            )
        if "not" in node:
            children.append((node["not"], (*path, "not")))
        stack.extend((child, at, depth + 1) for child, at in reversed(children))
    return None
