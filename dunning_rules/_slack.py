"""Verify Slack interaction requests (the approval buttons) and read which button was clicked.

Three layers, each with its own error:

* the request itself: Slack's v0 signature over the exact body, the 5-minute window, and a
  body that is a form with one ``payload`` field holding a JSON object. Anything forged or
  malformed there is a :class:`SignatureError` (an endpoint answers 400);
* the payload: a correctly signed interaction that is not an answer to one of our approval
  buttons (another button or shortcut of the same app, a view submission, an odd shape) is an
  :class:`InteractionError` (an endpoint answers 200 and ignores it);
* an approval button's ``value``: ``<run_id>:<step index>:<nonce>``, built by
  :func:`approval_value` and read back by :func:`parse_approval_value`, so that an answer
  names the approval that asked.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._signed import body_bytes, body_text, strict_json
from .errors import InteractionError, SignatureError

__all__ = [
    "APPROVE",
    "REJECT",
    "Answer",
    "approval_value",
    "parse_approval_value",
    "parse_interaction",
    "verify_slack_signature",
]

APPROVE = "dunning_approve"
REJECT = "dunning_reject"
WINDOW = 300  # seconds: Slack's advice for rejecting replays

_TIMESTAMP = re.compile(r"[0-9]{1,12}", re.ASCII)
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}", re.ASCII)
_RUN_ID = r"run_[0-9a-f]{32}"
_STEP = r"0|[1-9][0-9]{0,5}"
_NONCE = r"[0-9a-f]{16}"
_VALUE = re.compile(rf"({_RUN_ID}):({_STEP}):({_NONCE})", re.ASCII)
_MAX_STEP = 10**6
OLDER_BUTTON = "a button from an older version; ask again"


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """One click on an approval button, and where the message it was in lives.

    ``run_id``, ``step`` and ``nonce`` name the approval that asked; ``user`` is the Slack
    user id of who clicked and ``user_name`` their username where the payload has one.
    ``channel`` and ``message_ts`` locate the message (to update it afterwards) and
    ``response_url`` is Slack's https URL for answering the click; each may be None.
    """

    run_id: str
    step: int
    nonce: str
    approved: bool
    user: str
    user_name: str | None
    channel: str | None
    message_ts: str | None
    response_url: str | None


def _show(value: object) -> str:
    """Untrusted text for a message: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def approval_value(run_id: str, step: int, nonce: str) -> str:
    """The ``value`` of an approval button: ``<run_id>:<step index>:<nonce>``.

    Raises :class:`InteractionError` for parts that :func:`parse_approval_value` would not read
    back (so no button is ever sent that cannot be answered): ``run_id`` is ``run_`` and 32
    lowercase hex digits, ``step`` an int from 0 to 999999, ``nonce`` 16 lowercase hex digits.
    """
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < _MAX_STEP:
        raise InteractionError(f"an approval's step index is an int from 0 to 999999, not {step!r}")
    if not isinstance(run_id, str) or not isinstance(nonce, str):
        raise InteractionError("an approval's run id and nonce are strings")
    value = f"{run_id}:{step}:{nonce}"
    if not _VALUE.fullmatch(value):
        raise InteractionError(
            f"not an approval value: run id {_show(run_id)} (run_ and 32 hex digits), "
            f"nonce {_show(nonce)} (16 hex digits)"
        )
    return value


def parse_approval_value(value: str) -> tuple[str, int, str]:
    """``(run_id, step, nonce)`` from an approval button's value; :class:`InteractionError`
    for anything :func:`approval_value` does not build."""
    return _read_value(value)


def _read_value(value: object) -> tuple[str, int, str]:
    if not isinstance(value, str):
        raise InteractionError(f"the button's value is not text: {_show(value)}")
    found = _VALUE.fullmatch(value)
    if found is None:
        if ":" not in value:
            raise InteractionError(OLDER_BUTTON)
        raise InteractionError(f"the button's value is not an approval value: {_show(value)}")
    run_id, step, nonce = found.groups()
    return run_id, int(step), nonce


def _header(headers: Mapping[str, str], name: str) -> str:
    """The one header called ``name`` (any case); two of them are a malformed request."""
    found: list[object] = [
        value for key, value in headers.items() if isinstance(key, str) and key.lower() == name
    ]
    if not found:
        raise SignatureError(f"no {name} header")
    if len(found) > 1:
        raise SignatureError(f"more than one {name} header")
    value = found[0]
    if not isinstance(value, str):
        raise SignatureError(f"the {name} header is not text")
    return value


def verify_slack_signature(
    body: bytes, headers: Mapping[str, str], signing_secret: str, *, now: _dt.datetime
) -> None:
    """Slack's v0 scheme: ``v0=`` + HMAC-SHA256(secret, ``v0:timestamp:body``), 5-minute window.

    Raises :class:`SignatureError` for a missing, repeated or malformed header, a timestamp
    more than 5 minutes from ``now`` either way, or a signature that does not match.
    """
    if not isinstance(signing_secret, str) or not signing_secret.strip():
        raise SignatureError("no Slack signing secret")
    try:
        key = signing_secret.encode("utf-8")
    except UnicodeEncodeError:
        raise SignatureError("the Slack signing secret is not valid text") from None
    raw = body_bytes(body, who="Slack request")
    stamp = _header(headers, "x-slack-request-timestamp")
    signature = _header(headers, "x-slack-signature")
    if not _TIMESTAMP.fullmatch(stamp):
        raise SignatureError("X-Slack-Request-Timestamp is not a number")
    if abs(int(now.timestamp()) - int(stamp)) > WINDOW:
        raise SignatureError("Slack request is older than 5 minutes (a replay?)")
    if not _SIGNATURE.fullmatch(signature):
        raise SignatureError("X-Slack-Signature is not a v0 signature")
    base = b"v0:" + stamp.encode("ascii") + b":" + raw
    expected = "v0=" + hmac.new(key, base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii")):
        raise SignatureError("Slack signature does not match")


def _payload(raw: bytes) -> dict[str, Any]:
    """The JSON object in the form's one ``payload`` field; SignatureError when the signed
    body is not that (it is not an interaction request at all)."""
    text = body_text(raw, who="Slack request")
    try:
        form = urllib.parse.parse_qs(text, keep_blank_values=True, errors="strict")
    except (ValueError, UnicodeDecodeError) as exc:
        raise SignatureError(f"not a Slack interaction request: {exc}") from None
    fields = form.get("payload", [])
    if len(fields) != 1:
        problem = "no payload field" if not fields else "more than one payload field"
        raise SignatureError(f"not a Slack interaction request: {problem}")
    try:
        payload = strict_json(fields[0])
    except ValueError as exc:
        raise SignatureError(
            f"not a Slack interaction request: payload is not JSON: {exc}"
        ) from None
    if not isinstance(payload, dict):
        raise SignatureError("not a Slack interaction request: payload is not a JSON object")
    return payload


def _text(mapping: object, key: str) -> str | None:
    """``mapping[key]`` when the mapping is a dict and the value non-empty text, else None."""
    if not isinstance(mapping, dict):
        return None
    value = mapping.get(key)
    return value if isinstance(value, str) and value else None


def _https_url(value: object) -> str | None:
    """An absolute https URL, or None (anything else in the payload is not used)."""
    if not isinstance(value, str) or not value.isascii() or not value.isprintable():
        return None
    if any(ch.isspace() for ch in value):
        return None
    try:
        parts = urllib.parse.urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme == "https" and parts.hostname else None


def _approval_action(payload: dict[str, Any]) -> dict[str, Any]:
    """The one approval button the payload's ``actions`` holds; InteractionError otherwise."""
    kind = payload.get("type")
    if kind != "block_actions":
        shown = _show(kind) if isinstance(kind, str) else "untyped"
        raise InteractionError(f"a Slack {shown} interaction is not an approval answer")
    actions = payload.get("actions")
    if not isinstance(actions, list) or not actions:
        raise InteractionError("the block_actions payload has no actions")
    ours = [a for a in actions if isinstance(a, dict) and a.get("action_id") in (APPROVE, REJECT)]
    if not ours:
        first = actions[0]
        action_id = first.get("action_id") if isinstance(first, dict) else None
        raise InteractionError(f"action {_show(action_id)} is not an approval button")
    if len(ours) > 1:
        raise InteractionError("the payload holds more than one approval button")
    return ours[0]


def _read_answer(payload: dict[str, Any]) -> Answer:
    """The :class:`Answer` in a signed interaction payload; InteractionError for a payload that
    is not a click on one of our approval buttons, or that lacks who clicked."""
    action = _approval_action(payload)
    run_id, step, nonce = _read_value(action.get("value"))
    user = payload.get("user")
    user_id = _text(user, "id")
    if user_id is None:
        raise InteractionError("the interaction does not say which Slack user clicked")
    container = payload.get("container")
    return Answer(
        run_id=run_id,
        step=step,
        nonce=nonce,
        approved=action["action_id"] == APPROVE,
        user=user_id,
        user_name=_text(user, "username") or _text(user, "name"),
        channel=_text(payload.get("channel"), "id") or _text(container, "channel_id"),
        message_ts=_text(container, "message_ts") or _text(payload.get("message"), "ts"),
        response_url=_https_url(payload.get("response_url")),
    )


def parse_interaction(
    body: bytes | str, headers: Mapping[str, str], signing_secret: str, *, now: _dt.datetime
) -> Answer:
    """Verify the request, then read the approval button from its ``payload=`` form field.

    Raises :class:`SignatureError` for a forged, stale or malformed request and
    :class:`InteractionError` for a correctly signed one that is not an answer to an approval.
    """
    raw = body_bytes(body, who="Slack request")
    verify_slack_signature(raw, headers, signing_secret, now=now)
    return _read_answer(_payload(raw))
