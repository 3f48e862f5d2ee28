"""Slack, Teams and Twilio tried as an attacker would: event text that tries to become
mentions, links, Block Kit structure or extra form fields, against the local fakes (each
request checked against the vendor's schema)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import dunning_rules as dr
from dunning_rules.actions.slack import Slack
from dunning_rules.actions.sms import TwilioSMS
from dunning_rules.actions.teams import Teams
from dunning_rules.errors import AdapterError
from tests.actions.fakes_mail_llm import load_event
from tests.actions.fakes_messaging import FakeVendor, action_context

MENTIONS = "Jenny <!channel> <!here> <@U024BE7LH> <https://evil.example|pay here> & co"
ESCAPED = (
    "Jenny &lt;!channel&gt; &lt;!here&gt; &lt;@U024BE7LH&gt; "
    "&lt;https://evil.example|pay here&gt; &amp; co"
)


def rules(step: str) -> dr.RuleSet:
    return dr.load_rules(
        "version: 1\nsettings:\n  blocks: [{type: divider}]\nrules:\n  - name: notify\n"
        f"    on: invoice.payment_failed\n    actions:\n      - type: slack\n{step}"
    )


def event_with(**fields: Any) -> dict[str, Any]:
    event = copy.deepcopy(load_event())
    event["data"]["object"].update(fields)
    return event


def bot(slack: FakeVendor) -> Slack:
    return Slack(token=slack.token, api_base=slack.api_base)  # type: ignore[attr-defined]


# -- Slack ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["bot", "webhook"], ids=["bot", "webhook"])
def test_event_mentions_and_links_stay_text(slack: Any, mode: str) -> None:
    """`<!channel>`, `<!here>`, `<@U..>` and `<url|text>` from the event reach Slack escaped,
    in the text and in the section built from it, by the Web API and by a webhook."""
    adapter = bot(slack) if mode == "bot" else Slack(webhook_url=slack.webhook_url)
    channel = "        channel: '#billing'\n" if mode == "bot" else ""
    engine = dr.Engine(
        rules(f"{channel}        text: 'Failed: {{{{ data.object.customer_name }}}}'\n"),
        adapters={"slack": adapter},
    )
    [record] = engine.handle(event_with(customer_name=MENTIONS)).actions
    assert record.status == "ok", record.error
    [body] = slack.posted if mode == "bot" else slack.webhook_posts
    assert body["text"] == f"Failed: {ESCAPED}"
    assert body["blocks"] == [{"type": "section", "text": {"type": "mrkdwn", "text": body["text"]}}]


@pytest.mark.parametrize(
    "blocks",
    [
        "\"{{ data.object.lines.data[*].{type: 'section', text: {type: 'mrkdwn', "
        'text: description} } }}"',
        "[{type: section, fields: \"{{ data.object.lines.data[*].{type: 'mrkdwn', "
        'text: description} }}"}]',
        '[{type: section, text: "{{ data.object.metadata }}"}]',
        '["{{ data.object.metadata }}"]',
    ],
    ids=["blocks-from-event", "fields-from-event", "text-object", "item"],
)
def test_blocks_from_a_placeholder_are_refused_when_the_engine_is_built(
    slack: Any, blocks: str
) -> None:
    """Block Kit structure that a placeholder would build from event data is a rule-file
    error, at the blocks parameter: placeholders fill in text, never blocks."""
    step = f"        channel: '#billing'\n        text: t\n        blocks: {blocks}\n"
    with pytest.raises(dr.RuleFileError) as info:
        dr.Engine(rules(step), adapters={"slack": bot(slack)})
    [problem] = info.value.problems
    assert problem.json_path.startswith("$.rules[0].actions[0].blocks")
    assert problem.message.startswith("slack parameter blocks: a placeholder may fill in text")
    assert slack.requests == []


def test_blocks_from_a_setting_are_structure(slack: Any) -> None:
    """`blocks: "{{ settings.blocks }}"` is structure the rule file's author wrote: posted."""
    engine = dr.Engine(
        rules(
            "        channel: '#billing'\n        text: t\n"
            "        blocks: '{{ settings.blocks }}'\n"
        ),
        adapters={"slack": bot(slack)},
    )
    [record] = engine.handle(event_with()).actions
    assert record.status == "ok", record.error
    assert slack.posted[0]["blocks"] == [{"type": "divider"}]


BUTTON_STEP = """        channel: '#billing'
        text: t
        blocks:
          - type: section
            text: {type: mrkdwn, text: "*{{ data.object.customer_name }}*"}
            accessory:
              type: image
              image_url: "{{ data.object.metadata.logo }}"
              alt_text: "{{ data.object.customer_name }}"
          - type: actions
            elements:
              - type: button
                text: {type: plain_text, text: Pay}
                url: "{{ data.object.hosted_invoice_url }}"
"""


def test_url_fields_keep_their_ampersands(slack: Any) -> None:
    """A button `url` and an `image_url` inserted from the event are not mrkdwn-escaped (the
    link keeps `&`), while the mrkdwn text next to them is escaped once."""
    engine = dr.Engine(rules(BUTTON_STEP), adapters={"slack": bot(slack)})
    event = event_with(
        customer_name="<!channel> & co",
        hosted_invoice_url="https://invoice.example/i?a=1&b=2",
        metadata={"logo": "https://cdn.example/logo.png?w=64&h=64"},
    )
    [record] = engine.handle(event).actions
    assert record.status == "ok", record.error
    [section, actions] = slack.posted[0]["blocks"]
    assert section["text"]["text"] == "*&lt;!channel&gt; &amp; co*"
    assert section["accessory"]["image_url"] == "https://cdn.example/logo.png?w=64&h=64"
    assert actions["elements"][0]["url"] == "https://invoice.example/i?a=1&b=2"


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:x",
     "/relative/path", "https://"],
    ids=["javascript", "data", "vbscript", "relative", "no-host"],
)  # fmt: skip
def test_a_button_link_must_be_http(slack: Any, url: str) -> None:
    """A button url that is not an absolute http(s) URL fails for good; nothing is posted."""
    engine = dr.Engine(rules(BUTTON_STEP), adapters={"slack": bot(slack)})
    event = event_with(hosted_invoice_url=url, metadata={"logo": "https://cdn.example/l.png"})
    [record] = engine.handle(event).actions
    assert record.status == "failed"
    assert record.error is not None
    assert record.error.startswith("slack: blocks[1].elements[0].url ")
    assert slack.requests == []


def test_a_whole_placeholder_in_a_url_field_must_render_text(slack: Any) -> None:
    """A URL field whose placeholder renders an object is refused at run time: a
    placeholder may fill in text, never add structure."""
    engine = dr.Engine(rules(BUTTON_STEP), adapters={"slack": bot(slack)})
    event = event_with(metadata={"logo": {"type": "section"}})
    [record] = engine.handle(event).actions
    assert record.status == "failed"
    assert record.error == (
        "slack: blocks[0].accessory.image_url must be text, not dict: a placeholder may fill "
        "in text, never add Block Kit structure"
    )
    assert slack.requests == []


# -- Teams ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "data:text/html,x", "vbscript:x", " javascript:alert(1)"],
    ids=["javascript", "data", "vbscript", "leading-space"],
)
def test_a_teams_button_link_must_be_http(teams: Any, url: str) -> None:
    """The card's Action.OpenUrl takes only absolute http(s) URLs; nothing is posted."""
    adapter = Teams(webhook_url=teams.webhook_url)
    with pytest.raises(AdapterError, match="'url' must be an http") as info:
        adapter({"title": "t", "text": "x", "url": url}, action_context())
    assert info.value.retryable is False
    assert teams.requests == []


def test_teams_text_with_markup_stays_plain(teams: Any) -> None:
    """Markdown and HTML from the event go into TextRuns as they are: the card is valid
    Adaptive Card 1.5 and holds no link but the button."""
    text = "[pay here](https://evil.example) <a href='https://evil.example'>x</a> **bold**"
    Teams(webhook_url=teams.webhook_url)(
        {"title": text, "text": text, "facts": {"Customer": text}}, action_context()
    )
    [card] = teams.cards()
    runs = [i for block in card["body"] for i in block["inlines"]]
    assert all(run["type"] == "TextRun" for run in runs)
    assert [run["text"] for run in runs] == [text, text, "Customer: ", text]
    assert "actions" not in card


# -- Twilio ---------------------------------------------------------------------------------


def test_form_syntax_in_an_sms_adds_no_field(twilio: Any) -> None:
    """`&` and `=` in the body stay in Body: the form Twilio gets has exactly To, From and
    Body, each once, with the body as rendered."""
    body = "Pay now&To=%2B15005550006&From=+15005550001&StatusCallback=https://evil.example"
    TwilioSMS(
        account_sid=twilio.account_sid,
        auth_token=twilio.auth_token,
        api_base=twilio.url,
        from_="+14155552345",
    )({"to": "+14155550100", "body": body}, action_context())
    [request] = twilio.requests
    assert request.form() == {"To": ["+14155550100"], "From": ["+14155552345"], "Body": [body]}


@pytest.mark.parametrize(
    "sender", ["Acme\r\nX: 1", "Acme\x85", "Acme\u2028"], ids=["crlf", "nel", "line-separator"]
)
def test_an_sms_sender_with_a_control_character_is_refused(twilio: Any, sender: str) -> None:
    """An alphanumeric sender holding a line break or control character fails for good."""
    adapter = TwilioSMS(
        account_sid=twilio.account_sid, auth_token=twilio.auth_token, api_base=twilio.url
    )
    with pytest.raises(AdapterError, match="'from' contains a control character"):
        adapter({"to": "+14155550100", "body": "b", "from": sender}, action_context())
    assert twilio.requests == []


def test_event_supplied_blocks_are_a_readable_rule_file_error():
    """blocks: "{{ data... }}" is refused when the engine is built, with a message that says
    what to write instead, at the value's place."""
    import dunning_rules as dr

    text = (
        "version: 1\nrules:\n  - name: r\n    on: invoice.payment_failed\n    actions:\n"
        '      - {type: slack, channel: "#b", text: t, blocks: "{{ data.object.metadata.b }}"}\n'
    )
    with pytest.raises(dr.RuleFileError) as caught:
        dr.Engine(dr.load_rules(text))
    assert str(caught.value) == (
        "<string>:6:47: $.rules[0].actions[0].blocks: rule 'r': slack parameter blocks: a "
        "placeholder may fill in text, never add blocks: write a list of blocks, or exactly "
        '"{{ settings.<name> }}"'
    )
