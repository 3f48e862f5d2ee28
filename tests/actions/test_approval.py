"""The ``approval`` step type (Slack buttons), against a local fake of Slack's Web API."""

from __future__ import annotations

import jsonschema
import pytest

from dunning_rules._slack import approval_value
from dunning_rules.actions import slack as slack_module
from dunning_rules.actions.approval import SlackApproval
from dunning_rules.actions.base import approval_nonce
from dunning_rules.errors import AdapterError
from tests.actions.fakes_messaging import (
    FakeSlack,
    action_context,
    slack_error,
    slack_rate_limited,
    vendor,
)

RUN_ID = "run_0123456789abcdef0123456789abcdef"
VALUE = approval_value(RUN_ID, 0, approval_nonce(RUN_ID, 0))
TEXT = "*Payment failed* for `cus_QXg1o8vcGmoR32`: $10.00 USD (attempt 1)"
STEP = {"channel": "#billing", "text": TEXT}


def approval(slack, **options):
    return SlackApproval(token=slack.token, api_base=slack.api_base, **options)


def button(label, style, action_id):
    return {
        "type": "button",
        "action_id": action_id,
        "style": style,
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "value": VALUE,
    }


def test_posts_the_text_and_approve_reject_buttons(slack):
    """chat.postMessage gets a mrkdwn section and the two buttons, each naming the run, the
    approval's step and its nonce."""
    approval(slack)(dict(STEP), action_context(run_id=RUN_ID))

    [request] = slack.requests
    assert request.path == "/api/chat.postMessage"
    assert request.headers["authorization"] == f"Bearer {FakeSlack.TOKEN}"
    reject = button("Reject", "danger", "dunning_reject")
    reject["confirm"] = {
        "title": {"type": "plain_text", "text": "Reject?", "emoji": True},
        "text": {
            "type": "mrkdwn",
            "text": "The run is cancelled and its remaining steps do not run.",
        },
        "confirm": {"type": "plain_text", "text": "Reject", "emoji": True},
        "deny": {"type": "plain_text", "text": "Cancel", "emoji": True},
    }
    assert request.json() == {
        "channel": "#billing",
        "text": TEXT,
        "blocks": [
            {
                "type": "section",
                "block_id": "dunning_summary",
                "text": {"type": "mrkdwn", "text": TEXT},
            },
            {
                "type": "actions",
                "block_id": "dunning_approval",
                "elements": [button("Approve", "primary", "dunning_approve"), reject],
            },
        ],
    }


def test_follows_the_documented_approval_message_shape(slack):
    """The blocks have the vendor example's types, ids, styles and confirm dialog keys."""
    approval(slack)(dict(STEP), action_context(run_id=RUN_ID))
    expected = vendor("slack_chat_postMessage_approval_request.json")["blocks"]

    def shape(blocks):
        return [
            (
                b["type"],
                b.get("block_id"),
                [
                    (e["action_id"], e["style"], sorted(e.get("confirm", {})))
                    for e in b.get("elements", [])
                ],
            )
            for b in blocks
        ]

    assert shape(slack.requests[0].json()["blocks"]) == shape(expected)


def test_returns_channel_id_and_ts(slack):
    """The output is Slack's channel ID and the message ts (to update it later)."""
    output = approval(slack)(dict(STEP), action_context(run_id=RUN_ID))

    assert output == {"channel": "C0BILLING01", "ts": "1503435957.000001"}


def test_labels_can_be_changed(slack):
    """approve_label and reject_label rename the buttons and the confirm dialog."""
    step = {**STEP, "approve_label": "Send email", "reject_label": "Skip"}
    approval(slack)(step, action_context(run_id=RUN_ID))

    approve, reject = slack.requests[0].json()["blocks"][1]["elements"]
    assert approve["text"]["text"] == "Send email"
    assert reject["text"]["text"] == "Skip"
    assert reject["confirm"]["title"]["text"] == "Skip?"
    assert reject["confirm"]["confirm"]["text"] == "Skip"


def test_timeout_and_on_timeout_are_left_to_the_engine(slack):
    """timeout and on_timeout are accepted and not sent to Slack."""
    approval(slack)(
        {**STEP, "timeout": "48h", "on_timeout": "continue"}, action_context(run_id=RUN_ID)
    )

    assert set(slack.requests[0].json()) == {"channel", "text", "blocks"}


def test_placeholder_values_in_text_are_escaped():
    """SlackApproval escapes placeholder values in `text`."""
    assert SlackApproval.escapes["text"]("<!here>") == "&lt;!here&gt;"


def test_posting_goes_through_the_slack_module(slack, monkeypatch):
    """The approval reuses SlackWebAPI.post_message from the slack module."""
    calls = []
    original = slack_module.SlackWebAPI.post_message

    def spy(self, payload, **kwargs):
        calls.append(payload["channel"])
        return original(self, payload, **kwargs)

    monkeypatch.setattr(slack_module.SlackWebAPI, "post_message", spy)
    approval(slack)(dict(STEP), action_context(run_id=RUN_ID))

    assert calls == ["#billing"]
    assert len(slack.requests) == 1


def test_channel_not_found_is_final(slack):
    """ok:false channel_not_found on HTTP 200 is a final failure."""
    with pytest.raises(AdapterError, match="channel_not_found") as caught:
        approval(slack)({**STEP, "channel": "#gone"}, action_context(run_id=RUN_ID))

    assert caught.value.retryable is False


def test_http_429_is_retryable(slack):
    """Slack's HTTP 429 with Retry-After is retryable."""
    slack.queue(slack_rate_limited(retry_after=5))

    with pytest.raises(AdapterError, match="Retry-After: 5s") as caught:
        approval(slack)(dict(STEP), action_context(run_id=RUN_ID))

    assert caught.value.retryable is True


def test_ratelimited_ok_false_is_retryable(slack):
    """ok:false ratelimited is retryable."""
    slack.queue(slack_error("ratelimited"))

    with pytest.raises(AdapterError, match="ratelimited") as caught:
        approval(slack)(dict(STEP), action_context(run_id=RUN_ID))

    assert caught.value.retryable is True


def test_a_wrong_token_is_final_and_stays_out_of_the_error(slack):
    """invalid_auth is final and the token is not in the message."""
    token = "xoxb-5555555555-notTheBotToken"

    with pytest.raises(AdapterError, match="invalid_auth") as caught:
        SlackApproval(token=token, api_base=slack.api_base)(
            dict(STEP), action_context(run_id=RUN_ID)
        )

    assert caught.value.retryable is False
    assert token not in str(caught.value)


def test_no_token_is_a_final_error_naming_the_variable(slack, monkeypatch):
    """Without a token (constructor or SLACK_BOT_TOKEN) nothing is sent."""
    monkeypatch.setenv("SLACK_API_BASE", slack.api_base)

    with pytest.raises(AdapterError, match="SLACK_BOT_TOKEN") as caught:
        SlackApproval()(dict(STEP), action_context(run_id=RUN_ID))

    assert caught.value.retryable is False
    assert slack.requests == []


def test_reads_the_token_from_the_environment(slack, monkeypatch):
    """SLACK_BOT_TOKEN and SLACK_API_BASE are read when the step runs."""
    adapter = SlackApproval()
    monkeypatch.setenv("SLACK_BOT_TOKEN", FakeSlack.TOKEN)
    monkeypatch.setenv("SLACK_API_BASE", slack.api_base)

    assert adapter(dict(STEP), action_context(run_id=RUN_ID))["channel"] == "C0BILLING01"


@pytest.mark.parametrize(
    "step",
    [{"channel": "#billing"}, {"text": TEXT}, {**STEP, "text": 5}],
    ids=["text", "channel", "int"],
)
def test_missing_or_bad_parameters_are_final(slack, step):
    """channel and text must be non-empty strings after rendering; nothing is sent."""
    with pytest.raises(AdapterError, match="must be a non-empty string") as caught:
        approval(slack)(step, action_context(run_id=RUN_ID))

    assert caught.value.retryable is False
    assert slack.requests == []


def test_a_slow_answer_is_a_retryable_timeout(slack):
    """A server that answers after the 0.2 s timeout gives a retryable error."""
    slack.stall(5)

    with pytest.raises(AdapterError, match=r"no answer within 0\.2s") as caught:
        approval(slack, timeout=0.2)(dict(STEP), action_context(run_id=RUN_ID))

    assert caught.value.retryable is True


VALIDATOR = jsonschema.Draft202012Validator(SlackApproval.params_schema)


def test_params_schema_is_a_valid_draft_2020_12_schema():
    """params_schema itself is a valid JSON Schema."""
    jsonschema.Draft202012Validator.check_schema(SlackApproval.params_schema)


@pytest.mark.parametrize(
    "step",
    [
        {"channel": "#billing", "text": "Retry {{ data.object.id }}?"},
        {"channel": "#billing", "text": "t", "timeout": "48h", "on_timeout": "cancel"},
        {"channel": "#billing", "text": "t", "timeout": "1.5d", "on_timeout": "continue"},
        {"channel": "#billing", "text": "t", "timeout": "2w"},
        {"channel": "#billing", "text": "t", "approve_label": "Go", "reject_label": "Stop"},
    ],
    ids=["template", "timeout-cancel", "decimal-timeout", "weeks", "labels"],
)
def test_params_schema_accepts_good_steps(step):
    """Good raw steps pass the schema."""
    assert list(VALIDATOR.iter_errors(step)) == []


@pytest.mark.parametrize(
    "step",
    [
        {"text": "t"},
        {"channel": "#billing"},
        {"channel": "#billing", "text": "t", "on_timeout": "approve"},
        {"channel": "#billing", "text": "t", "timeout": "2 days"},
        {"channel": "#billing", "text": "t", "timeout": "1d12h"},
        {"channel": "#billing", "text": "t", "token": "xoxb-1"},
    ],
    ids=[
        "missing-channel",
        "missing-text",
        "bad-on-timeout",
        "bad-timeout",
        "compound-timeout",
        "credential",
    ],
)
def test_params_schema_rejects_bad_steps(step):
    """A step missing `channel:` or `text:`, or with a bad option, fails."""
    assert list(VALIDATOR.iter_errors(step)) != []
