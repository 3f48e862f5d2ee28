"""The ``approval`` step type: ask a human in Slack, with Approve and Reject buttons.

The adapter only announces the request (``chat.postMessage`` with a bot token); the engine
then pauses the run until ``Engine.resume`` (called by ``Engine.handle_slack_interaction`` when
someone presses a button). Both buttons carry ``<run id>:<step index>:<nonce>`` as their
``value``, so that a click answers only the approval that asked; their ``action_id`` is
``dunning_approve`` or ``dunning_reject``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from .._slack import approval_value
from . import _http
from .slack import SlackWebAPI, escape_mrkdwn, mrkdwn_sections, optional_text, required_text

if TYPE_CHECKING:
    import requests

    from .base import ActionContext

__all__ = ["APPROVE_ACTION_ID", "REJECT_ACTION_ID", "SlackApproval"]

logger = logging.getLogger(__name__)

APPROVE_ACTION_ID = "dunning_approve"
REJECT_ACTION_ID = "dunning_reject"
SUMMARY_BLOCK_ID = "dunning_summary"
ACTIONS_BLOCK_ID = "dunning_approval"

PROVIDER = "slack approval"
# Slack wants an interaction answered within 3 s: updating the message must not take longer.
_ANSWER_TIMEOUT = 2.0
# Slack's limits for a button's text and a confirm dialog's title.
_BUTTON_TEXT_LIMIT = 75
_CONFIRM_TITLE_LIMIT = 100


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _label(params: Mapping[str, Any], name: str, default: str) -> str:
    label = optional_text(params, name, provider=PROVIDER) or default
    return label[:_BUTTON_TEXT_LIMIT]


def approval_blocks(
    text: str, *, value: str, approve_label: str = "Approve", reject_label: str = "Reject"
) -> list[dict[str, Any]]:
    """The message's blocks: the mrkdwn ``text``, then the Approve and Reject buttons, both
    carrying ``value`` (see :func:`dunning_rules._slack.approval_value`)."""
    approve = {
        "type": "button",
        "action_id": APPROVE_ACTION_ID,
        "style": "primary",
        "text": _plain(approve_label),
        "value": value,
    }
    reject = {
        "type": "button",
        "action_id": REJECT_ACTION_ID,
        "style": "danger",
        "text": _plain(reject_label),
        "value": value,
        "confirm": {
            "title": _plain(f"{reject_label}?"[:_CONFIRM_TITLE_LIMIT]),
            "text": {
                "type": "mrkdwn",
                "text": "The run is cancelled and its remaining steps do not run.",
            },
            "confirm": _plain(reject_label),
            "deny": _plain("Cancel"),
        },
    }
    return [
        *mrkdwn_sections(text, block_id=SUMMARY_BLOCK_ID),
        {"type": "actions", "block_id": ACTIONS_BLOCK_ID, "elements": [approve, reject]},
    ]


class SlackApproval:
    """The ``approval`` step type: a Slack message with Approve / Reject buttons.

    Parameters: ``channel`` and ``text`` (required), optional ``approve_label`` and
    ``reject_label``; ``timeout`` and ``on_timeout`` belong to the engine, which reads them
    from the step. Needs a bot token (``token=`` or ``SLACK_BOT_TOKEN``). Output:
    ``{"channel": <channel ID>, "ts": <message ts>}``.
    """

    params_schema: ClassVar[dict[str, Any]] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "channel": {"type": "string", "minLength": 1},
            "text": {"type": "string", "minLength": 1},
            # The rule file's duration: a number and a unit, s, m, h, d or w.
            "timeout": {
                "type": "string",
                "pattern": r"^\s*[0-9]+(\.[0-9]+)?\s*(s|m|h|d|w)\s*$",
            },
            "on_timeout": {"enum": ["cancel", "continue"]},
            "approve_label": {"type": "string", "minLength": 1},
            "reject_label": {"type": "string", "minLength": 1},
        },
        "required": ["channel", "text"],
        "additionalProperties": False,
    }
    escapes: ClassVar[dict[str, Callable[[str], str]]] = {"text": escape_mrkdwn}

    def __init__(
        self,
        *,
        token: str | None = None,
        api_base: str | None = None,
        timeout: float = _http.DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        self._api = SlackWebAPI(token=token, api_base=api_base, timeout=timeout, session=session)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(timeout={self._api.timeout!r})"

    @property
    def secrets(self) -> tuple[str, ...]:
        """The credentials this adapter holds (constructor or environment), for redaction."""
        return tuple(v for v in (self._api.token, os.environ.get("SLACK_BOT_TOKEN")) if v)

    def __call__(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any] | None:
        channel = required_text(params, "channel", provider=PROVIDER)
        text = required_text(params, "text", provider=PROVIDER)
        blocks = approval_blocks(
            text,
            value=approval_value(ctx.run_id, ctx.index, ctx.approval_nonce),
            approve_label=_label(params, "approve_label", "Approve"),
            reject_label=_label(params, "reject_label", "Reject"),
        )
        answer = self._api.post_message({"channel": channel, "text": text, "blocks": blocks})
        logger.info("slack approval: asked in %s (run %s)", answer.get("channel"), ctx.run_id)
        return {"channel": answer.get("channel"), "ts": answer.get("ts")}

    def answered(self, request: Mapping[str, Any], answer: Mapping[str, Any]) -> None:
        """Update the request's message once it is answered: who answered and when, in place of
        the buttons (``chat.update``). ``request`` is the approval step's record: its rendered
        ``params`` (the text) and ``output`` (``channel``, ``ts``); ``answer`` holds
        ``approved``, ``by`` and ``answered_at``."""
        output = request.get("output") or {}
        channel, ts = output.get("channel"), output.get("ts")
        if not channel or not ts:
            return
        params = request.get("params") or {}
        verdict = "Approved" if answer.get("approved") else "Rejected"
        who = f"<@{escape_mrkdwn(str(answer['by']))}>" if answer.get("by") else "someone"
        line = f"*{verdict}* by {who} at {escape_mrkdwn(str(answer.get('answered_at')))}"
        text = str(params.get("text") or "")
        blocks = [
            *(mrkdwn_sections(text, block_id=SUMMARY_BLOCK_ID) if text else []),
            {"type": "context", "elements": [{"type": "mrkdwn", "text": line}]},
        ]
        payload = {
            "channel": channel,
            "ts": ts,
            "text": f"{verdict}: {text}"[:3000],
            "blocks": blocks,
        }
        self._api.call("chat.update", payload, timeout=min(self._api.timeout, _ANSWER_TIMEOUT))

    def refused(self, where: Mapping[str, Any], user: str | None, reason: str) -> None:
        """Tell the person whose click changed nothing why (``chat.postEphemeral``)."""
        channel = where.get("channel")
        if not channel or not user:
            return
        payload = {"channel": channel, "user": user, "text": f"Nothing done: {reason}."}
        self._api.call(
            "chat.postEphemeral", payload, timeout=min(self._api.timeout, _ANSWER_TIMEOUT)
        )
