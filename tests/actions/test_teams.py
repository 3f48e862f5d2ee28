"""The ``teams`` step type, against local fakes of a Workflows and a legacy Teams webhook."""

from __future__ import annotations

import copy
import socket

import jsonschema
import pytest

from dunning_rules.actions.teams import Teams
from dunning_rules.errors import AdapterError
from tests.actions.fakes_messaging import (
    FakeTeams,
    action_context,
    check_teams_message,
    teams_error,
    teams_legacy_failure,
    vendor,
)
from tests.httpfake import Response

STEP = {
    "title": "Payment failed",
    "text": "Acme Corp could not pay invoice in_1Pgc6tB7WZ01zgkWu9fdqL6I.",
    "facts": {"Customer": "cus_QXg1o8vcGmoR32", "Amount": "$10.00 USD", "Attempt": 1},
    "url": "https://invoice.stripe.com/i/acct_1/test_123",
    "url_title": "Open invoice",
}


def test_posts_the_envelope_with_an_adaptive_card(teams):
    """The webhook gets the message envelope around an Adaptive Card 1.5 built from the step."""
    Teams(webhook_url=teams.webhook_url)(copy.deepcopy(STEP), action_context())

    [request] = teams.requests
    assert request.method == "POST"
    assert request.path == FakeTeams.WORKFLOW_PATH
    assert request.query["sig"] == [FakeTeams.SIG]
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.5",
                    "body": [
                        {
                            "type": "RichTextBlock",
                            "inlines": [
                                {
                                    "type": "TextRun",
                                    "text": "Payment failed",
                                    "weight": "Bolder",
                                    "size": "Medium",
                                }
                            ],
                        },
                        {
                            "type": "RichTextBlock",
                            "inlines": [{"type": "TextRun", "text": STEP["text"]}],
                        },
                        *(
                            {
                                "type": "RichTextBlock",
                                "inlines": [
                                    {"type": "TextRun", "text": f"{label}: ", "weight": "Bolder"},
                                    {"type": "TextRun", "text": value},
                                ],
                            }
                            for label, value in [
                                ("Customer", "cus_QXg1o8vcGmoR32"),
                                ("Amount", "$10.00 USD"),
                                ("Attempt", "1"),
                            ]
                        ),
                    ],
                    "actions": [
                        {"type": "Action.OpenUrl", "title": "Open invoice", "url": STEP["url"]}
                    ],
                },
            }
        ],
    }


def test_a_workflow_202_returns_an_empty_output(teams):
    """Workflows answer 202 Accepted; the output is {}."""
    assert Teams(webhook_url=teams.webhook_url)(copy.deepcopy(STEP), action_context()) == {}


def test_a_legacy_webhooks_200_1_is_success(legacy):
    """A legacy incoming webhook answers 200 `1`; the step succeeds with {}."""
    output = Teams(webhook_url=legacy.webhook_url)(copy.deepcopy(STEP), action_context())

    assert output == {}
    assert len(legacy.posts) == 1


def test_minimal_step_has_no_factset_or_actions(teams):
    """Without facts and url the card is two RichTextBlocks and no actions."""
    Teams(webhook_url=teams.webhook_url)({"title": "T", "text": "x"}, action_context())

    card = teams.cards()[0]
    assert [block["type"] for block in card["body"]] == ["RichTextBlock", "RichTextBlock"]
    assert "actions" not in card


def test_fact_values_become_text(teams):
    """Numbers, booleans and null in facts are sent as strings."""
    step = {"title": "T", "text": "x", "facts": {"n": 3, "f": 2.5, "b": True, "none": None}}
    Teams(webhook_url=teams.webhook_url)(step, action_context())

    facts = [block["inlines"] for block in teams.cards()[0]["body"][2:]]
    assert [(label["text"], value["text"]) for label, value in facts] == [
        ("n: ", "3"),
        ("f: ", "2.5"),
        ("b: ", "true"),
        ("none: ", ""),
    ]


def test_event_values_cannot_change_the_card_structure(teams):
    """A value full of JSON and card syntax stays the text of its TextRun."""
    hostile = '"}]}, {"type": "Action.Submit", "data": {}}, {"text": "'
    Teams(webhook_url=teams.webhook_url)({"title": hostile, "text": hostile}, action_context())

    card = teams.cards()[0]
    assert [block["inlines"][0]["text"] for block in card["body"]] == [hostile, hostile]
    assert "actions" not in card


def test_markdown_in_event_values_is_shown_as_plain_text(teams):
    """Title and text go into TextRuns, which Teams does not read as Markdown: a customer
    named like a link stays text."""
    link = "[pay here](https://evil.example)"
    Teams(webhook_url=teams.webhook_url)({"title": link, "text": link}, action_context())

    card = teams.cards()[0]
    assert {block["type"] for block in card["body"]} == {"RichTextBlock"}
    assert {run["type"] for block in card["body"] for run in block["inlines"]} == {"TextRun"}


def test_a_named_webhook_is_looked_up_in_the_adapters_webhooks(teams):
    """`webhook: billing` picks the URL given as webhooks={"billing": ...}."""
    adapter = Teams(webhooks={"billing": teams.webhook_url, "ops": "https://unused.invalid/x"})

    adapter({**STEP, "webhook": "billing"}, action_context())

    assert len(teams.posts) == 1


def test_an_unknown_webhook_name_is_final_and_lists_names_not_urls(teams):
    """An unknown name fails for good, naming the known names but no URL."""
    adapter = Teams(webhooks={"billing": teams.webhook_url})

    with pytest.raises(AdapterError) as caught:
        adapter({**STEP, "webhook": "sales"}, action_context())

    assert str(caught.value) == (
        "teams: no webhook named 'sales' was given to the adapter (known: billing)"
    )
    assert caught.value.retryable is False
    assert teams.requests == []


def test_reads_the_url_from_the_environment(teams, monkeypatch):
    """TEAMS_WEBHOOK_URL is read when the step runs."""
    adapter = Teams()
    monkeypatch.setenv("TEAMS_WEBHOOK_URL", teams.webhook_url)

    adapter(copy.deepcopy(STEP), action_context())

    assert len(teams.posts) == 1


def test_no_url_is_a_final_error_naming_the_variable():
    """Without a URL the error names TEAMS_WEBHOOK_URL."""
    with pytest.raises(AdapterError, match="TEAMS_WEBHOOK_URL") as caught:
        Teams()(copy.deepcopy(STEP), action_context())

    assert caught.value.retryable is False


@pytest.mark.parametrize(
    ("status", "retryable"), [(429, True), (502, True), (413, False)], ids=["429", "502", "413"]
)
def test_a_legacy_200_reporting_an_http_error_is_a_failure(legacy, status, retryable):
    """HTTP 200 with "...returned HTTP error N" fails; retryable for 429 and 5xx."""
    legacy.queue(teams_legacy_failure(status))

    with pytest.raises(AdapterError, match=f"HTTP error {status}") as caught:
        Teams(webhook_url=legacy.webhook_url)(copy.deepcopy(STEP), action_context())

    assert caught.value.retryable is retryable
    assert caught.value.status == status


@pytest.mark.parametrize(
    ("answer", "retryable"),
    [
        (teams_error(502, "BadGateway", "The flow's backend is unavailable."), True),
        (Response(503, "Service Unavailable"), True),
        (teams_error(429, "WorkflowTriggeredTooManyTimes", "Rate limit exceeded."), True),
        (teams_error(400, "InvalidRequestContent", "The request content is not valid."), False),
    ],
    ids=["502", "503", "429", "400"],
)
def test_http_errors_are_classified_and_hide_the_signature(teams, answer, retryable):
    """Teams 5xx and 429 are retryable, 400 final; the URL's sig is not in the message."""
    teams.queue(answer)

    with pytest.raises(AdapterError) as caught:
        Teams(webhook_url=teams.webhook_url)(copy.deepcopy(STEP), action_context())

    assert caught.value.retryable is retryable
    assert caught.value.status == answer.status
    assert FakeTeams.SIG not in str(caught.value)


def test_a_wrong_signature_is_final_and_stays_out_of_the_error(teams):
    """A Workflows 401 is final; the wrong sig is not in the message."""
    url = teams.webhook_url.replace(FakeTeams.SIG, "wrongSig987654321")

    with pytest.raises(AdapterError, match="HTTP 401") as caught:
        Teams(webhook_url=url)(copy.deepcopy(STEP), action_context())

    assert caught.value.retryable is False
    assert "wrongSig987654321" not in str(caught.value)


def test_an_unreachable_webhook_is_retryable_and_hides_the_url():
    """A refused connection is retryable and its message holds no part of the secret URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}{FakeTeams.LEGACY_PATH}"

    with pytest.raises(AdapterError) as caught:
        Teams(webhook_url=url)(copy.deepcopy(STEP), action_context())

    assert caught.value.retryable is True
    assert "fakeLegacySecret" not in str(caught.value)


def test_a_slow_answer_is_a_retryable_timeout(teams):
    """A server that answers after the 0.2 s timeout gives a retryable error."""
    teams.stall(5)

    with pytest.raises(AdapterError, match=r"no answer within 0\.2s") as caught:
        Teams(webhook_url=teams.webhook_url, timeout=0.2)(copy.deepcopy(STEP), action_context())

    assert caught.value.retryable is True


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"url": "javascript:alert(1)"}, "'url' must be an http"),
        ({"facts": ["a", "b"]}, "'facts' must be a mapping"),
        ({"facts": {"a": {"b": 1}}}, "must be a single value"),
        ({"title": ""}, "'title' must be a non-empty string"),
    ],
    ids=["url", "facts-list", "nested-fact", "empty-title"],
)
def test_bad_rendered_values_are_final_and_nothing_is_sent(teams, change, match):
    """Values checked after rendering fail for good before any request."""
    with pytest.raises(AdapterError, match=match) as caught:
        Teams(webhook_url=teams.webhook_url)({**STEP, **change}, action_context())

    assert caught.value.retryable is False
    assert teams.requests == []


def test_the_adapters_repr_shows_webhook_names_only(teams):
    """repr(adapter) names the webhooks but shows no URL."""
    adapter = Teams(webhook_url=teams.webhook_url, webhooks={"billing": teams.webhook_url})

    assert FakeTeams.SIG not in repr(adapter)
    assert "billing" in repr(adapter)


# -- the fake's checks ------------------------------------------------------------------------


def test_the_fakes_check_accepts_the_documented_dunning_card():
    """The vendor's example message passes the fake's Teams checks."""
    check_teams_message(vendor("teams_webhook_dunning_card_example.json"))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("actions", 0, "type"), "Action.Submit"),
        (("body", 0, "text"), 5),
        (("version",), "1.2"),
    ],
    ids=["action-submit", "text-not-a-string", "old-version"],
)
def test_the_fakes_check_refuses_bad_cards(path, value):
    """Action.Submit (unsupported by webhooks), schema violations and other versions fail."""
    message = copy.deepcopy(vendor("teams_webhook_dunning_card_example.json"))
    target = message["attachments"][0]["content"]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value

    with pytest.raises((AssertionError, jsonschema.ValidationError)):
        check_teams_message(message)


# -- params_schema ----------------------------------------------------------------------------

VALIDATOR = jsonschema.Draft202012Validator(Teams.params_schema)


def test_params_schema_is_a_valid_draft_2020_12_schema():
    """params_schema itself is a valid JSON Schema."""
    jsonschema.Draft202012Validator.check_schema(Teams.params_schema)


@pytest.mark.parametrize(
    "step",
    [
        {"title": "Payment failed", "text": "{{ data.object.customer_name }} failed to pay"},
        STEP,
        {"title": "t", "text": "x", "facts": "{{ vars.facts }}", "webhook": "billing"},
        {"title": "t", "text": "x", "facts": {"Amount": "{{ money(`1`, 'usd') }}", "n": 2}},
    ],
    ids=["template", "full", "facts-template", "fact-values"],
)
def test_params_schema_accepts_good_steps(step):
    """Good raw steps pass the schema."""
    assert list(VALIDATOR.iter_errors(step)) == []


@pytest.mark.parametrize(
    "step",
    [
        {"text": "x"},
        {"title": "t"},
        {"title": "t", "text": "x", "webhook_url": "https://example.webhook.office.com/x"},
        {"title": "t", "text": "x", "url_title": "Open"},
        {"title": "t", "text": "x", "facts": {"a": {"b": 1}}},
    ],
    ids=["missing-title", "missing-text", "url-in-rule-file", "url-title-alone", "nested-fact"],
)
def test_params_schema_rejects_bad_steps(step):
    """A step missing `title:` or `text:`, holding a webhook URL or a bad option fails."""
    assert list(VALIDATOR.iter_errors(step)) != []
