"""Verify Slack interaction requests (the approval buttons) and read which button was clicked."""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import SignatureError

__all__ = ["APPROVE", "REJECT", "Answer", "parse_interaction", "verify_slack_signature"]

APPROVE = "dunning_approve"
REJECT = "dunning_reject"
WINDOW = 300  # seconds: Slack's advice for rejecting replays


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    run_id: str
    approved: bool
    user: str | None


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise SignatureError(f"no {name} header")


def verify_slack_signature(
    body: bytes, headers: Mapping[str, str], signing_secret: str, *, now: _dt.datetime
) -> None:
    """Slack's v0 scheme: ``v0=`` + HMAC-SHA256(secret, ``v0:timestamp:body``), 5-minute window."""
    stamp = _header(headers, "x-slack-request-timestamp")
    signature = _header(headers, "x-slack-signature")
    try:
        sent = int(stamp)
    except ValueError:
        raise SignatureError("X-Slack-Request-Timestamp is not a number") from None
    if abs(now.timestamp() - sent) > WINDOW:
        raise SignatureError("Slack request is older than 5 minutes (a replay?)")
    base = b"v0:" + stamp.encode() + b":" + body
    expected = "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise SignatureError("Slack signature does not match")


def parse_interaction(
    body: bytes | str, headers: Mapping[str, str], signing_secret: str, *, now: _dt.datetime
) -> Answer:
    """Verify the request, then read the approval button from its ``payload=`` form field."""
    raw = body.encode() if isinstance(body, str) else body
    verify_slack_signature(raw, headers, signing_secret, now=now)
    form = urllib.parse.parse_qs(raw.decode("utf-8"))
    try:
        payload = json.loads(form["payload"][0])
        action = payload["actions"][0]
        action_id, run_id = action["action_id"], action["value"]
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        raise SignatureError(f"not a Slack block_actions request: {exc}") from None
    if action_id not in (APPROVE, REJECT):
        raise SignatureError(f"unknown action {action_id!r}")
    user = payload.get("user") or {}
    return Answer(run_id=run_id, approved=action_id == APPROVE, user=user.get("id"))
