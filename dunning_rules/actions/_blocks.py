"""Block Kit that a rule file writes, with text that placeholders fill in.

``blocks`` are structure from the rule file; a ``{{ }}`` placeholder may fill in text, never
add blocks. Two checks keep it so:

- when the engine is built, :data:`BLOCKS_SCHEMA` (with :data:`BLOCKS_DEFS`, part of the
  ``slack`` step's ``params_schema``) refuses ``blocks: "{{ ... }}"`` unless it names a
  setting (``{{ settings.blocks }}``: the rule file's author wrote it), and inside literal
  blocks allows a whole-value placeholder (one that keeps its expression's type) only where
  Block Kit holds a string: a text object's ``text``, the URL fields, ``alt_text``,
  ``fallback``, ``author_name``, ``provider_name``;
- when the step runs, :func:`checked_blocks` checks that each of those fields holds a string
  and takes the engine's mrkdwn escaping back out of URL fields (``url``, ``*_url``: they are
  not mrkdwn, so a link keeps its ``&``), which must be absolute http(s) URLs.
"""

from __future__ import annotations

from typing import Any

from ..errors import AdapterError
from ._links import web_url_problem

__all__ = ["BLOCKS_DEFS", "BLOCKS_SCHEMA", "checked_blocks", "unescape_mrkdwn"]


def checked_blocks(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A checked copy of rendered ``blocks`` (see the module's docstring); a final
    :class:`AdapterError` naming the field (``blocks[1].elements[0].url``) otherwise."""
    return [_checked(block, f"blocks[{number}]") for number, block in enumerate(blocks)]


def unescape_mrkdwn(text: str) -> str:
    """Undo :func:`escape_mrkdwn` (for fields that are not mrkdwn, such as URLs)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _is_url_key(key: str) -> bool:
    return key == "url" or key.endswith("_url")


def _checked(value: Any, where: str) -> Any:
    """A copy of one rendered Block Kit value: URL fields unescaped and checked, and every
    field that a whole-value placeholder may fill holding a string (not structure)."""
    if isinstance(value, list):
        return [_checked(item, f"{where}[{n}]") for n, item in enumerate(value)]
    if not isinstance(value, dict):
        return value
    is_text = value.get("type") in _TEXT_TYPES
    out: dict[str, Any] = {}
    for key, item in value.items():
        here = f"{where}.{key}"
        if key in _STRING_KEYS or (is_text and key == "text"):
            if not isinstance(item, str):
                raise AdapterError(
                    f"slack: {here} must be text, not {type(item).__name__}: a placeholder "
                    "may fill in text, never add Block Kit structure",
                    retryable=False,
                )
            if _is_url_key(key):
                item = unescape_mrkdwn(item)
                problem = web_url_problem(item)
                if problem is not None:
                    raise AdapterError(
                        f"slack: {here} {problem}: refusing to post the link", retryable=False
                    )
            out[key] = item
        else:
            out[key] = _checked(item, here)
    return out


_TEXT_TYPES = ("mrkdwn", "plain_text")
# Block Kit fields that hold a string, which a whole-value placeholder may fill.
_STRING_KEYS = frozenset(
    {"url", "image_url", "title_url", "video_url", "thumbnail_url", "alt_text", "fallback",
     "author_name", "provider_name"}
)  # fmt: skip
# A string that is one placeholder and nothing else: it keeps the expression's type.
_WHOLE = r"\{\{(?:(?!\}\})[\s\S])*\}\}"
# ... naming a setting, which the rule file's author wrote.
_SETTING = r"\{\{\s*settings(?:\.[A-Za-z_][A-Za-z0-9_]*|\[[0-9]+\])*\s*\}\}"
_NOT_WHOLE = {"if": {"type": "string"}, "then": {"pattern": f"^(?!(?!{_SETTING}$){_WHOLE}$)"}}


def _blocks_defs() -> dict[str, Any]:
    fields = {key: True for key in _STRING_KEYS}
    return {
        "value": {
            "if": {"type": "object"},
            "then": {"$ref": "#/$defs/object"},
            "else": {
                "if": {"type": "array"},
                "then": {"items": {"$ref": "#/$defs/value"}},
                "else": _NOT_WHOLE,
            },
        },
        "object": {
            "if": {
                "properties": {"type": {"enum": list(_TEXT_TYPES)}},
                "required": ["type"],
            },
            "then": {
                "properties": {**fields, "text": True},
                "additionalProperties": {"$ref": "#/$defs/value"},
            },
            "else": {
                "properties": fields,
                "additionalProperties": {"$ref": "#/$defs/value"},
            },
        },
    }


BLOCKS_SCHEMA: dict[str, Any] = {
    "if": {"type": "string"},
    "then": {"pattern": f"^{_SETTING}$"},
    "else": {
        "type": "array",
        "minItems": 1,
        "items": {"type": "object", "$ref": "#/$defs/object"},
    },
}
"""The ``blocks`` parameter as the rule file may write it: a list of blocks, or exactly
``"{{ settings.<name> }}"``; inside the list, a whole-value placeholder only where Block Kit
holds a string (a text object's ``text``, URL fields, ``alt_text``, ``fallback``...)."""


BLOCKS_DEFS: dict[str, Any] = _blocks_defs()
