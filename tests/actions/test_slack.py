"""The ``slack`` step type, against a local fake of Slack's Web API and an incoming webhook."""

from __future__ import annotations

import socket

import jsonschema
import pytest
import requests

from dunning_rules.actions.slack import Slack, escape_mrkdwn, mrkdwn_sections
from dunning_rules.errors import AdapterError
from tests.actions.fakes_messaging import (
    FakeSlack,
    action_context,
    slack_error,
    slack_rate_limited,
    slack_webhook_error,
    vendor,
)
from tests.httpfake import Response

TEXT = "Payment failed for *Acme* ($10.00)"


def bot(slack, **options):
    return Slack(token=slack.token, api_base=slack.api_base, **options)


def webhook(slack, **options):
    return Slack(webhook_url=slack.webhook_url, **options)


def closed_port_url(path):
    """A URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


# -- escaping ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<https://evil.example|Pay here>", "&lt;https://evil.example|Pay here&gt;"),
        ("Smith & Sons", "Smith &amp; Sons"),
        ("&lt;", "&amp;lt;"),
        ("*bold* _it_", "*bold* _it_"),
    ],
    ids=["mention", "link", "ampersand", "already-escaped", "formatting-untouched"],
)
def test_escape_mrkdwn(value, expected):
    """escape_mrkdwn escapes &, < and > (ampersand first) and nothing else."""
    assert escape_mrkdwn(value) == expected


@pytest.mark.parametrize("param", ["text", "blocks"], ids=["text", "blocks"])
def test_the_engine_escapes_placeholder_values_with_escape_mrkdwn(param):
    """Slack.escapes maps `text` and `blocks` to escape_mrkdwn, so `<!channel>` pings nobody."""
    assert Slack.escapes[param]("<!channel>") == "&lt;!channel&gt;"


def test_long_text_is_split_into_sections_under_slacks_limit():
    """Text over 3000 characters becomes several sections, split at line ends."""
    line = "x" * 1999 + "\n"
    blocks = mrkdwn_sections(line * 3)

    assert [len(b["text"]["text"]) for b in blocks] == [2000, 2000, 2000]
    assert "".join(b["text"]["text"] for b in blocks) == line * 3


def test_a_long_line_is_never_cut_inside_an_escape():
    """A line over the limit is cut before an `&amp;` that straddles the limit."""
    text = "x" * 2997 + "&amp;" + "y" * 10
    blocks = mrkdwn_sections(text)

    assert [b["text"]["text"] for b in blocks] == ["x" * 2997, "&amp;" + "y" * 10]


# -- chat.postMessage -------------------------------------------------------------------------


def test_posts_json_with_a_bearer_token_and_a_mrkdwn_section(slack):
    """chat.postMessage gets the bot token, channel, text and one mrkdwn section block."""
    bot(slack)({"channel": "#billing-vip", "text": TEXT}, action_context())

    [request] = slack.requests
    assert request.method == "POST"
    assert request.path == "/api/chat.postMessage"
    assert request.headers["authorization"] == f"Bearer {FakeSlack.TOKEN}"
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert request.json() == {
        "channel": "#billing-vip",
        "text": TEXT,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": TEXT}}],
    }


def test_returns_the_channel_id_and_ts(slack):
    """The output is Slack's channel ID and the message ts."""
    output = bot(slack)({"channel": "#billing-vip", "text": TEXT}, action_context())

    assert output == {"channel": "C0BILLVIP02", "ts": "1503435957.000001"}


def test_blocks_and_thread_ts_are_passed_through(slack):
    """Given blocks and thread_ts are sent unchanged, with the text as the fallback."""
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Payment failed"}},
        {"type": "divider"},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "*Amount*\n$10.00"}]},
    ]
    step = {
        "channel": "C0BILLING01",
        "text": TEXT,
        "blocks": blocks,
        "thread_ts": "1503435956.000247",
    }
    bot(slack)(step, action_context())

    assert slack.requests[0].json() == step


def test_text_is_posted_as_given(slack):
    """The adapter does not escape again: the engine already escaped inserted values."""
    text = "VIP &lt;!channel&gt; failed, see <https://dashboard.stripe.com|Stripe>"
    bot(slack)({"channel": "#billing", "text": text}, action_context())

    assert slack.requests[0].json()["text"] == text


@pytest.mark.parametrize(
    "blocks",
    [[], "[]", [{"text": "no type"}], [{"type": "divider"}] * 51],
    ids=["empty", "string", "no-type", "too-many"],
)
def test_bad_blocks_are_a_final_error_and_nothing_is_sent(slack, blocks):
    """blocks must be a list of 1-50 mappings with a type."""
    with pytest.raises(AdapterError, match="'blocks'") as caught:
        bot(slack)({"channel": "#billing", "text": TEXT, "blocks": blocks}, action_context())

    assert caught.value.retryable is False
    assert slack.requests == []


def test_a_bad_thread_ts_is_a_final_error(slack):
    """thread_ts must look like a Slack ts."""
    with pytest.raises(AdapterError, match="thread_ts") as caught:
        bot(slack)(
            {"channel": "#billing", "text": TEXT, "thread_ts": "yesterday"}, action_context()
        )

    assert caught.value.retryable is False
    assert slack.requests == []


def test_a_bot_token_needs_a_channel(slack):
    """Without a channel, posting with a bot token fails for good, sending nothing."""
    with pytest.raises(AdapterError, match="'channel' is required") as caught:
        bot(slack)({"text": TEXT}, action_context())

    assert caught.value.retryable is False
    assert slack.requests == []


def test_ok_false_channel_not_found_on_http_200_is_final(slack):
    """Slack's HTTP 200 {"ok": false, "error": "channel_not_found"} is a final failure."""
    with pytest.raises(AdapterError) as caught:
        bot(slack)({"channel": "#no-such-channel", "text": TEXT}, action_context())

    assert str(caught.value) == "slack: chat.postMessage failed: channel_not_found"
    assert caught.value.retryable is False
    assert caught.value.status == 200


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        ("not_in_channel", False),
        ("is_archived", False),
        ("invalid_blocks", False),
        ("ratelimited", True),
        ("internal_error", True),
        ("fatal_error", True),
        ("service_unavailable", True),
    ],
    ids=lambda value: str(value),
)
def test_ok_false_errors_are_classified(slack, error, retryable):
    """Each ok:false error is final or retryable as Slack documents it."""
    slack.queue(slack_error(error))

    with pytest.raises(AdapterError, match=error) as caught:
        bot(slack)({"channel": "#billing", "text": TEXT}, action_context())

    assert caught.value.retryable is retryable


def test_slacks_messages_are_quoted_in_the_error(slack):
    """response_metadata.messages explain an invalid_blocks error."""
    slack.queue(
        slack_error(
            "invalid_blocks",
            messages=["[ERROR] must be a string [json-pointer:/blocks/0/text/text]"],
        )
    )

    with pytest.raises(AdapterError) as caught:
        bot(slack)({"channel": "#billing", "text": TEXT}, action_context())

    assert str(caught.value) == (
        "slack: chat.postMessage failed: invalid_blocks "
        "([ERROR] must be a string [json-pointer:/blocks/0/text/text])"
    )


def test_http_429_is_retryable_and_names_retry_after(slack):
    """HTTP 429 with Retry-After is a retryable failure that says how long to wait."""
    slack.queue(slack_rate_limited(retry_after=30))

    with pytest.raises(AdapterError) as caught:
        bot(slack)({"channel": "#billing", "text": TEXT}, action_context())

    assert str(caught.value) == "slack: chat.postMessage: HTTP 429: rate limited (Retry-After: 30s)"
    assert caught.value.retryable is True
    assert caught.value.status == 429


def test_http_5xx_is_retryable(slack):
    """An HTTP 503 from Slack is retryable."""
    slack.queue(Response(503, "upstream connect error"))

    with pytest.raises(AdapterError) as caught:
        bot(slack)({"channel": "#billing", "text": TEXT}, action_context())

    assert caught.value.retryable is True
    assert caught.value.status == 503


def test_a_wrong_token_is_final_and_stays_out_of_the_error(slack):
    """invalid_auth is final; the token is neither in the message nor in repr(adapter)."""
    token = "xoxb-9999999999-wrongWrongWrong"
    adapter = Slack(token=token, api_base=slack.api_base)

    with pytest.raises(AdapterError, match="invalid_auth") as caught:
        adapter({"channel": "#billing", "text": TEXT}, action_context())

    assert caught.value.retryable is False
    assert token not in str(caught.value)
    assert token not in repr(adapter)


def test_reads_the_bot_token_and_api_base_from_the_environment(slack, monkeypatch):
    """With no constructor options, SLACK_BOT_TOKEN and SLACK_API_BASE are read at call time."""
    adapter = Slack()
    monkeypatch.setenv("SLACK_BOT_TOKEN", FakeSlack.TOKEN)
    monkeypatch.setenv("SLACK_API_BASE", slack.api_base)

    output = adapter({"channel": "#collections", "text": TEXT}, action_context())

    assert output["channel"] == "C0COLLECT03"
    assert FakeSlack.TOKEN not in repr(output)


def test_no_credentials_is_a_final_error_naming_both_variables(slack):
    """Without a token or webhook, the error names SLACK_BOT_TOKEN and SLACK_WEBHOOK_URL."""
    with pytest.raises(AdapterError, match="SLACK_BOT_TOKEN or SLACK_WEBHOOK_URL") as caught:
        Slack()({"channel": "#billing", "text": TEXT}, action_context())

    assert caught.value.retryable is False


def test_a_slow_answer_is_a_retryable_timeout(slack):
    """A server that answers after the 0.2 s timeout gives a retryable error."""
    slack.stall(5)

    with pytest.raises(AdapterError, match=r"no answer within 0\.2s") as caught:
        bot(slack, timeout=0.2)({"channel": "#billing", "text": TEXT}, action_context())

    assert caught.value.retryable is True


# -- incoming webhook -------------------------------------------------------------------------


def test_a_webhook_gets_text_and_blocks(slack):
    """An incoming webhook gets {text, blocks} as JSON at its own URL."""
    webhook(slack)({"text": TEXT}, action_context())

    [request] = slack.requests
    assert request.path == FakeSlack.WEBHOOK_PATH
    assert request.headers["content-type"] == "application/json"
    assert "authorization" not in request.headers
    assert request.json() == {
        "text": TEXT,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": TEXT}}],
    }


def test_a_webhook_returns_null_channel_and_ts(slack):
    """A webhook does not say where the message went: the output is null channel and ts."""
    assert webhook(slack)({"text": TEXT}, action_context()) == {"channel": None, "ts": None}


def test_a_webhook_ignores_channel_with_a_warning(slack):
    """`channel` cannot move a webhook's message: it is left out, and the step warns."""
    ctx = action_context()
    webhook(slack)({"channel": "#billing", "text": TEXT}, ctx)

    assert "channel" not in slack.requests[0].json()
    assert ctx.warnings == [
        "slack: 'channel' is ignored: an incoming webhook posts to its own channel"
    ]


def test_the_webhook_url_may_come_from_the_environment(slack, monkeypatch):
    """SLACK_WEBHOOK_URL is read when the step runs."""
    adapter = Slack()
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.webhook_url)

    adapter({"text": TEXT}, action_context())

    assert slack.webhook_posts == [slack.requests[0].json()]


@pytest.mark.parametrize(
    ("answer", "retryable"),
    [
        (slack_webhook_error(400, "invalid_payload"), False),
        (slack_webhook_error(403, "action_prohibited"), False),
        (slack_webhook_error(410, "channel_is_archived"), False),
        (slack_webhook_error(429, "rate_limited"), True),
        (slack_webhook_error(500, "rollup_error"), True),
    ],
    ids=["400", "403", "410", "429", "500"],
)
def test_webhook_errors_are_classified_and_hide_the_url(slack, answer, retryable):
    """A webhook's 4xx is final, 429/5xx retryable; the secret URL path is not in the error."""
    slack.queue(answer)

    with pytest.raises(AdapterError, match=answer.body) as caught:
        webhook(slack)({"text": TEXT}, action_context())

    assert caught.value.retryable is retryable
    assert "fakeWebhookSecret" not in str(caught.value)


def test_an_unreachable_webhook_is_retryable_and_hides_the_url():
    """A refused connection is retryable; the URL, which is the secret, is redacted."""
    url = closed_port_url(FakeSlack.WEBHOOK_PATH)

    with pytest.raises(AdapterError) as caught:
        Slack(webhook_url=url, timeout=2)({"text": TEXT}, action_context())

    assert caught.value.retryable is True
    assert "fakeWebhookSecret" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__ is True


# -- the fake itself --------------------------------------------------------------------------


def test_the_fake_accepts_slacks_documented_approval_request(slack):
    """The fake's checks accept the vendor's own Block Kit example."""
    answer = requests.post(
        slack.api_base + "/chat.postMessage",
        json=vendor("slack_chat_postMessage_approval_request.json") | {"channel": "C0BILLING01"},
        headers={
            "Authorization": f"Bearer {FakeSlack.TOKEN}",
            "Content-Type": "application/json; charset=utf-8",
        },
        timeout=5,
    )

    assert answer.json()["ok"] is True


def test_the_fake_refuses_a_section_over_3000_characters(slack):
    """The fake enforces Block Kit's limit on a section's text."""
    answer = requests.post(
        slack.webhook_url,
        json={"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]},
        timeout=5,
    )

    assert answer.status_code == 599
    assert len(slack.take_errors()) == 1


# -- params_schema ----------------------------------------------------------------------------

VALIDATOR = jsonschema.Draft202012Validator(Slack.params_schema)


def test_params_schema_is_a_valid_draft_2020_12_schema():
    """params_schema itself is a valid JSON Schema."""
    jsonschema.Draft202012Validator.check_schema(Slack.params_schema)


@pytest.mark.parametrize(
    "step",
    [
        {"channel": "#billing", "text": "Failed: {{ data.object.customer_name }}"},
        {"text": "webhook message"},
        {"channel": "C0BILLING01", "text": "t", "blocks": [{"type": "divider"}]},
        {"channel": "#b", "text": "t", "blocks": "{{ settings.blocks }}"},
        {"channel": "#b", "text": "t", "thread_ts": "{{ steps.first.ts }}"},
    ],
    ids=["template", "webhook", "blocks", "blocks-template", "thread"],
)
def test_params_schema_accepts_good_steps(step):
    """Good raw steps pass the schema."""
    assert list(VALIDATOR.iter_errors(step)) == []


@pytest.mark.parametrize(
    "step",
    [
        {"channel": "#billing"},
        {"channel": "#billing", "text": ""},
        {"channel": "#billing", "text": "t", "token": "xoxb-1"},
        {"channel": "#billing", "text": "t", "blocks": {"type": "divider"}},
    ],
    ids=["missing-text", "empty-text", "credential-in-rule-file", "blocks-not-a-list"],
)
def test_params_schema_rejects_bad_steps(step):
    """A step missing `text:`, with an unknown key or bad blocks fails."""
    assert list(VALIDATOR.iter_errors(step)) != []
