"""A Slack approval from request to answer, against the local Slack fake: the click is answered
at once, the message is updated with who answered, the rest runs in a worker; a stale click
changes nothing and its clicker is told why."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse

import pytest

import dunning_rules as dr
from dunning_rules.actions.approval import SlackApproval
from dunning_rules.testing import FixedClock, RecordingAdapter

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
RULES = """
version: 1
rules:
  - name: ask
    on: invoice.payment_failed
    actions:
      - type: approval
        channel: "#billing"
        text: "Send *{{ data.object.customer_name }}* the reminder?"
      - {type: email, to: x@example.com, subject: s, text: t}
"""


def click(slack, action: str, at: float) -> tuple[bytes, dict[str, str]]:
    """A signed block_actions request for the button ``action`` of the last posted message."""
    posted = slack.posted[-1]
    button = next(
        element
        for block in posted["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == action
    )
    payload = {
        "type": "block_actions",
        "user": {"id": "U024BE7LH", "username": "ana"},
        "container": {"type": "message", "channel_id": "C0BILLING01", "message_ts": posted["ts"]},
        "channel": {"id": "C0BILLING01", "name": "billing"},
        "actions": [{"action_id": action, "value": button["value"], "type": "button"}],
    }
    body = ("payload=" + urllib.parse.quote(json.dumps(payload))).encode()
    stamp = str(int(at))
    digest = hmac.new(SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    return body, {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }


def make(slack):
    clock = FixedClock()
    email = RecordingAdapter()
    approval = SlackApproval(token=slack.token, api_base=slack.api_base)
    engine = dr.Engine(
        dr.load_rules(RULES), adapters={"approval": approval, "email": email}, clock=clock
    )
    return engine, clock, email


def test_a_click_is_answered_at_once_and_the_message_shows_who(slack, failed_event):
    """Approve: the interaction returns with the run due (no email yet), the Slack message is
    updated in place (who and when, no buttons), and run_due sends the email."""
    engine, clock, email = make(slack)
    engine.handle(failed_event)
    began = time.monotonic()
    outcome = engine.handle_slack_interaction(
        *click(slack, "dunning_approve", clock.now.timestamp()), SECRET
    )
    assert time.monotonic() - began < 2
    (run,) = outcome.runs
    assert (run.status, email.calls) == ("waiting", [])
    (update,) = slack.updated
    assert update["ts"] == slack.posted[0]["ts"]
    assert update["channel"] == "C0BILLING01"
    assert all(block["type"] != "actions" for block in update["blocks"])
    assert "*Approved* by <@U024BE7LH>" in update["blocks"][-1]["elements"][0]["text"]
    assert "Jenny Rosen" in update["blocks"][0]["text"]["text"]
    (later,) = engine.run_due()
    assert later.runs[0].status == "completed"
    assert len(email.calls) == 1


def test_a_second_click_changes_nothing_and_says_why(slack, failed_event):
    """A click on Reject after Approve: ApprovalNotPendingError, the run goes on as approved,
    and the clicker gets an ephemeral message with the reason."""
    engine, clock, email = make(slack)
    engine.handle(failed_event)
    engine.handle_slack_interaction(*click(slack, "dunning_approve", clock.now.timestamp()), SECRET)
    with pytest.raises(dr.ApprovalNotPendingError, match="already approved by U024BE7LH"):
        engine.handle_slack_interaction(
            *click(slack, "dunning_reject", clock.now.timestamp()), SECRET
        )
    (note,) = slack.ephemeral
    assert note["user"] == "U024BE7LH"
    assert "already approved" in note["text"]
    engine.run_due()
    assert engine.runs()[0].status == "completed"
    assert len(email.calls) == 1


def test_a_failed_message_update_is_a_warning_not_a_lost_answer(slack, failed_event):
    """When Slack refuses the update, the answer is kept and the outcome warns."""
    engine, clock, email = make(slack)
    engine.handle(failed_event)
    slack.posted[0]["ts"] = "1.000000"  # the fake no longer knows the message
    outcome = engine.handle_slack_interaction(
        *click(slack, "dunning_approve", clock.now.timestamp()), SECRET
    )
    assert outcome.runs[0].status == "waiting"
    assert "message_not_found" in outcome.warnings[-1]
    engine.run_due()
    assert len(email.calls) == 1
