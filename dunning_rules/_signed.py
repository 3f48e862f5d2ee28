"""Reading the body of a signed request: its exact bytes for the MAC, then its text and JSON.

Shared by the Stripe webhook check (``_webhooks``) and the Slack interaction check (``_slack``).
Nothing here trusts the body: every failure is a :class:`SignatureError` or a ``ValueError``
that the caller turns into one.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import SignatureError

__all__ = ["BOM", "body_bytes", "body_text", "strict_json"]

BOM = "\ufeff"


def body_bytes(body: object, *, who: str) -> bytes:
    """The bytes the sender signed: a bytes-like body as it is, a str body as UTF-8.

    A str that cannot be UTF-8 (it holds a lone surrogate) was not what anyone signed.
    """
    if isinstance(body, bytes):
        return body
    if isinstance(body, (bytearray, memoryview)):
        return bytes(body)
    if isinstance(body, str):
        try:
            return body.encode("utf-8")
        except UnicodeEncodeError:
            raise SignatureError(
                f"the {who} body is not valid text (it holds a lone surrogate)"
            ) from None
    raise SignatureError(f"the {who} body must be bytes or str, not {type(body).__name__}")


def body_text(raw: bytes, *, who: str) -> str:
    """The signed bytes read as UTF-8 (strictly: a body that is not UTF-8 is malformed)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SignatureError(f"the signed {who} body is not UTF-8 text") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def strict_json(text: str) -> Any:
    """``json.loads`` without the NaN and Infinity extensions; ``ValueError`` for anything else
    that is not JSON, nesting too deep for the parser included."""
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None
