"""Turn jsonschema's errors on a rule file into short messages that say what to write."""

from __future__ import annotations

import difflib
from typing import Any

from .locations import JsonPath

__all__ = ["explain", "missing_keys", "unknown_keys"]


_JSON_TYPES = {
    dict: "a mapping",
    list: "a list",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    type(None): "null",
}
_WANTED = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "boolean": "true or false",
    "integer": "an integer",
    "number": "a number",
    "null": "null",
}


def _describe(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def missing_keys(error: Any) -> list[str]:
    """The key a ``required`` error is about: jsonschema reports each missing key as an error
    of its own, so only the one its message names."""
    return [
        k
        for k in error.validator_value
        if k not in error.instance and error.message.startswith(f"{k!r} ")
    ]


def unknown_keys(error: Any) -> list[tuple[str, str]]:
    """``(key, hint)`` for each key an ``additionalProperties`` error is about; the hint is
    `` (did you mean 'x'?)`` for a near known key, else empty."""
    allowed = sorted(error.schema.get("properties", {}))
    out = []
    for key in error.instance:
        if key not in allowed:
            near = difflib.get_close_matches(key, allowed, n=1)
            out.append((key, f" (did you mean {near[0]!r}?)" if near else ""))
    return out


def explain(error: Any) -> list[tuple[JsonPath, str, bool]]:
    """Turn one jsonschema error into (json path, message, point at the key) triples."""
    path: JsonPath = tuple(error.absolute_path)
    validator = error.validator
    instance = error.instance
    if validator == "required":
        return [(path, f"missing required key {k!r}", False) for k in missing_keys(error)]
    if validator == "additionalProperties":
        known = ", ".join(sorted(error.schema.get("properties", {})))
        return [
            ((*path, key), f"unknown key {key!r}{hint}; known keys: {known}", True)
            for key, hint in unknown_keys(error)
        ]
    if validator == "type":
        wanted = error.validator_value
        names = [wanted] if isinstance(wanted, str) else list(wanted)
        text = " or ".join(_WANTED.get(n, n) for n in names)
        return [(path, f"must be {text}, not {_describe(instance)}", False)]
    if validator == "const":
        return [(path, f"must be {error.validator_value!r}, not {instance!r}", False)]
    if validator == "enum":
        choices = ", ".join(repr(v) for v in error.validator_value)
        return [(path, f"must be one of {choices}, not {instance!r}", False)]
    if validator == "pattern":
        if "(s|m|h|d|w)" in error.validator_value:
            return [
                (
                    path,
                    f"not a duration: {instance!r} (use a number and s, m, h, d or w: '3d')",
                    False,
                )
            ]
        return [(path, f"{instance!r} does not match {error.validator_value!r}", False)]
    if validator == "maximum":
        return [(path, f"must be at most {error.validator_value}, not {instance!r}", False)]
    if validator == "minimum":
        return [(path, f"must be at least {error.validator_value}, not {instance!r}", False)]
    if validator == "minItems":
        return [(path, "must not be empty", False)]
    if validator == "minLength":
        return [(path, "must not be empty", False)]
    if validator == "oneOf" and error.schema.get("description", "").startswith("A JMESPath"):
        return [
            (
                path,
                "a condition is a JMESPath string, or a mapping with one key: "
                "'all' or 'any' (a list of conditions) or 'not' (a condition)",
                False,
            )
        ]
    if validator == "anyOf" and error.context:
        # A duration or a placeholder: the duration's own message says how to write one.
        return explain(error.context[0])
    if validator == "oneOf" and error.context:
        # An event type or a list of them: report the deepest reason.
        best = max(error.context, key=lambda e: len(e.absolute_path))
        return explain(best)
    return [(path, error.message, False)]
