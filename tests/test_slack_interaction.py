"""Slack interaction requests (the approval buttons): signature, replay window, the answer.

Forged or malformed requests are a SignatureError; correctly signed requests that are not an
answer to one of our approval buttons are an InteractionError; nothing else is raised.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import urllib.parse
from typing import Any

import pytest

import dunning_rules as dr
from dunning_rules._slack import (
    Answer,
    approval_value,
    parse_approval_value,
    parse_interaction,
)
from dunning_rules.testing import FixedClock, RecordingAdapter

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
STAMP = 1721954100
NOW = dt.datetime.fromtimestamp(STAMP, dt.timezone.utc)
RUN = "run_" + "0123456789abcdef" * 2
NONCE = "fedcba9876543210"
VALUE = f"{RUN}:2:{NONCE}"
RESPONSE_URL = "https://hooks.slack.com/actions/T111/111/random-value"


@pytest.fixture
def vector(fixtures_dir):
    folder = fixtures_dir / "vendors"
    data = json.loads((folder / "slack_signing_vector.json").read_text())
    body = (folder / data["body_file"]).read_bytes()
    assert hashlib.sha256(body).hexdigest() == data["body_sha256"]
    headers = {
        "Content-Type": data["content_type"],
        "X-Slack-Request-Timestamp": data["x_slack_request_timestamp"],
        "X-Slack-Signature": data["x_slack_signature"],
    }
    return data, body, headers


def payload_of(action_id: str = "dunning_approve", value: Any = VALUE, **changes: Any) -> dict:
    """A block_actions payload shaped like Slack's (a click in a channel message)."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": "U024BE7LH", "username": "ann", "name": "ann", "team_id": "T111"},
        "api_app_id": "A111",
        "container": {
            "type": "message",
            "message_ts": "1721954000.000100",
            "channel_id": "C111",
            "is_ephemeral": False,
        },
        "channel": {"id": "C111", "name": "billing"},
        "message": {"ts": "1721954000.000100", "text": "Send the reminder?"},
        "response_url": RESPONSE_URL,
        "actions": [
            {"action_id": action_id, "block_id": "dunning", "value": value, "type": "button"}
        ],
    }
    for key, new in changes.items():
        if new is None:
            payload.pop(key, None)
        else:
            payload[key] = new
    return payload


def form(payload: Any) -> bytes:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return urllib.parse.urlencode({"payload": text}).encode()


def signed(body: bytes, stamp: int | str = STAMP, secret: str = SECRET) -> dict[str, str]:
    base = b"v0:" + str(stamp).encode() + b":" + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(stamp), "X-Slack-Signature": signature}


def answer_of(payload: Any) -> Answer:
    body = form(payload)
    return parse_interaction(body, signed(body), SECRET, now=NOW)


# --- the signature and the request ---------------------------------------------------------------


def test_fixture_vector_verifies_and_its_unknown_action_is_ignored(vector):
    """The fixture request passes the signature check; its action_id 'a' is not ours."""
    data, body, headers = vector
    assert data["signing_secret"] == SECRET
    with pytest.raises(dr.InteractionError) as caught:
        parse_interaction(body, headers, SECRET, now=NOW)
    assert str(caught.value) == "action 'a' is not an approval button"


def test_fixture_vector_with_a_forged_signature_is_rejected(vector):
    """The fixture body with one hex digit of its signature changed is rejected."""
    _, body, headers = vector
    forged = dict(headers)
    last = forged["X-Slack-Signature"][-1]
    forged["X-Slack-Signature"] = forged["X-Slack-Signature"][:-1] + ("0" if last != "0" else "1")
    with pytest.raises(dr.SignatureError) as caught:
        parse_interaction(body, forged, SECRET, now=NOW)
    assert str(caught.value) == "Slack signature does not match"


@pytest.mark.parametrize(
    ("action_id", "approved"),
    [("dunning_approve", True), ("dunning_reject", False)],
    ids=["approve", "reject"],
)
def test_a_signed_button_click_is_parsed(action_id, approved):
    """A signed click gives the approval it answers, the answer, who clicked and where."""
    assert answer_of(payload_of(action_id)) == Answer(
        run_id=RUN,
        step=2,
        nonce=NONCE,
        approved=approved,
        user="U024BE7LH",
        user_name="ann",
        channel="C111",
        message_ts="1721954000.000100",
        response_url=RESPONSE_URL,
    )


def test_a_body_given_as_text_is_parsed():
    """The body may be given as str as well as bytes."""
    body = form(payload_of())
    assert parse_interaction(body.decode(), signed(body), SECRET, now=NOW).run_id == RUN


def test_header_names_are_case_insensitive():
    """Headers are found whatever their case, as frameworks spell them."""
    body = form(payload_of())
    headers = {k.lower(): v for k, v in signed(body).items()}
    assert parse_interaction(body, headers, SECRET, now=NOW).approved is True


def test_a_tampered_body_is_rejected():
    """A body changed after signing (another run id) is rejected."""
    headers = signed(form(payload_of()))
    other = form(payload_of(value=f"run_{'f' * 32}:2:{NONCE}"))
    with pytest.raises(dr.SignatureError, match=r"^Slack signature does not match$"):
        parse_interaction(other, headers, SECRET, now=NOW)


def test_a_wrong_signing_secret_is_rejected():
    """A request signed with another secret is rejected."""
    body = form(payload_of())
    with pytest.raises(dr.SignatureError, match=r"^Slack signature does not match$"):
        parse_interaction(body, signed(body, secret="another"), SECRET, now=NOW)


@pytest.mark.parametrize("seconds", [360, -360], ids=["six-minutes-old", "six-minutes-ahead"])
def test_a_request_outside_five_minutes_is_a_replay(seconds):
    """A correctly signed request 6 minutes away from now is rejected as a replay."""
    body = form(payload_of())
    with pytest.raises(dr.SignatureError) as caught:
        parse_interaction(body, signed(body, stamp=STAMP - seconds), SECRET, now=NOW)
    assert str(caught.value) == "Slack request is older than 5 minutes (a replay?)"


def test_a_request_within_five_minutes_is_accepted():
    """A request signed 4 minutes ago is still accepted."""
    body = form(payload_of("dunning_reject"))
    answer = parse_interaction(body, signed(body, stamp=STAMP - 240), SECRET, now=NOW)
    assert answer.approved is False


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("X-Slack-Signature", "no x-slack-signature header"),
        ("X-Slack-Request-Timestamp", "no x-slack-request-timestamp header"),
    ],
    ids=["signature", "timestamp"],
)
def test_a_missing_header_is_rejected(missing, message):
    """A request without one of Slack's headers is rejected."""
    body = form(payload_of())
    headers = signed(body)
    del headers[missing]
    with pytest.raises(dr.SignatureError) as caught:
        parse_interaction(body, headers, SECRET, now=NOW)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "stamp",
    ["yesterday", "9" * 400, "-1721954100", "1721954100.5", "", " 1721954100", "\u0661\u0662"],
    ids=["word", "400-digits", "negative", "float", "empty", "space", "non-ascii-digits"],
)
def test_a_timestamp_that_is_not_whole_seconds_is_rejected(stamp):
    """X-Slack-Request-Timestamp must be ASCII digits; anything else is a SignatureError."""
    body = form(payload_of())
    headers = signed(body, stamp=stamp)
    with pytest.raises(dr.SignatureError) as caught:
        parse_interaction(body, headers, SECRET, now=NOW)
    assert str(caught.value) == "X-Slack-Request-Timestamp is not a number"


@pytest.mark.parametrize(
    "signature",
    ["v0=\u00e9", "v0=\ud800", "v1=" + "0" * 64, "v0=" + "0" * 63, "v0=" + "A" * 64, ""],
    ids=["non-ascii", "lone-surrogate", "other-scheme", "short", "upper-case", "empty"],
)
def test_a_signature_that_is_not_v0_hex_is_rejected(signature):
    """X-Slack-Signature must be v0= and 64 hex digits; anything else is a SignatureError."""
    body = form(payload_of())
    headers = {**signed(body), "X-Slack-Signature": signature}
    with pytest.raises(dr.SignatureError) as caught:
        parse_interaction(body, headers, SECRET, now=NOW)
    assert str(caught.value) == "X-Slack-Signature is not a v0 signature"


def test_an_empty_signing_secret_is_rejected():
    """No signing secret (an unset setting) is a SignatureError, never an HMAC with b''."""
    body = form(payload_of())
    with pytest.raises(dr.SignatureError, match=r"^no Slack signing secret$"):
        parse_interaction(body, signed(body, secret=""), "", now=NOW)


def test_a_header_given_twice_is_rejected():
    """Two X-Slack-Signature headers (in two spellings) make the request ambiguous."""
    body = form(payload_of())
    headers = signed(body)
    headers["x-slack-signature"] = headers["X-Slack-Signature"]
    with pytest.raises(dr.SignatureError, match=r"^more than one x-slack-signature header$"):
        parse_interaction(body, headers, SECRET, now=NOW)


def test_a_header_value_that_is_not_text_is_rejected():
    """A header value given as bytes is a SignatureError, not a TypeError."""
    body = form(payload_of())
    headers: dict[str, Any] = signed(body)
    headers["X-Slack-Signature"] = headers["X-Slack-Signature"].encode()
    with pytest.raises(dr.SignatureError, match=r"^the x-slack-signature header is not text$"):
        parse_interaction(body, headers, SECRET, now=NOW)


def test_a_text_body_with_a_lone_surrogate_is_rejected():
    """A str body that holds a lone surrogate cannot have been signed: SignatureError."""
    body = form(payload_of())
    with pytest.raises(dr.SignatureError) as caught:
        parse_interaction(body.decode() + "\ud800", signed(body), SECRET, now=NOW)
    assert (
        str(caught.value) == "the Slack request body is not valid text (it holds a lone surrogate)"
    )


def test_a_signed_body_that_is_not_utf8_is_rejected():
    """A correctly signed body that is not UTF-8 is malformed: SignatureError."""
    body = b"payload=\xff"
    with pytest.raises(dr.SignatureError, match=r"^the signed Slack request body is not UTF-8"):
        parse_interaction(body, signed(body), SECRET, now=NOW)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"command=/dunning&text=hi", "no payload field"),
        (form(payload_of()) + b"&" + form(payload_of()), "more than one payload field"),
        (b"payload=%FF", "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"),
        (form("{not json"), "payload is not JSON: "),
        (form("NaN"), "payload is not JSON: NaN is not a JSON value"),
        (form("[" * 50_000), "payload is not JSON: nested too deeply"),
        (form([payload_of()]), "payload is not a JSON object"),
    ],
    ids=["no-payload", "two-payloads", "bad-percent-escape", "not-json", "nan", "deep", "list"],
)
def test_a_signed_body_that_is_not_an_interaction_request_is_rejected(body, reason):
    """A correctly signed body that is not a form with one JSON-object payload is malformed."""
    with pytest.raises(dr.SignatureError) as caught:
        parse_interaction(body, signed(body), SECRET, now=NOW)
    assert str(caught.value).startswith(f"not a Slack interaction request: {reason}")


# --- signed, but not an answer we give: InteractionError ----------------------------------------


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            {"type": "view_submission", "user": {"id": "U1"}, "view": {}},
            "a Slack 'view_submission' interaction is not an approval answer",
        ),
        (
            {"type": "shortcut", "callback_id": "x", "user": {"id": "U1"}},
            "a Slack 'shortcut' interaction is not an approval answer",
        ),
        (
            {"type": "message_action", "callback_id": "x", "user": {"id": "U1"}},
            "a Slack 'message_action' interaction is not an approval answer",
        ),
        ({"user": {"id": "U1"}}, "a Slack untyped interaction is not an approval answer"),
        (payload_of("other_button"), "action 'other_button' is not an approval button"),
        (payload_of(actions=[]), "the block_actions payload has no actions"),
        (payload_of(actions="dunning_approve"), "the block_actions payload has no actions"),
        (payload_of(actions=["dunning_approve"]), "action None is not an approval button"),
        (
            payload_of(actions=payload_of()["actions"] * 2),
            "the payload holds more than one approval button",
        ),
        (payload_of(user="U024BE7LH"), "the interaction does not say which Slack user clicked"),
        (payload_of(user=None), "the interaction does not say which Slack user clicked"),
        (payload_of(user={"id": 7}), "the interaction does not say which Slack user clicked"),
        (payload_of(value=12345), "the button's value is not text: 12345"),
        (payload_of(value=None), "the button's value is not text: None"),
        (payload_of(value=RUN), "a button from an older version; ask again"),
        (payload_of(value=f"{RUN}:2"), f"the button's value is not an approval value: '{RUN}:2'"),
    ],
    ids=[
        "view-submission",
        "shortcut",
        "message-action",
        "no-type",
        "other-action-id",
        "actions-empty",
        "actions-not-a-list",
        "action-not-an-object",
        "two-approval-buttons",
        "user-a-string",
        "user-missing",
        "user-id-a-number",
        "value-a-number",
        "value-missing",
        "value-older-version",
        "value-without-nonce",
    ],
)
def test_a_signed_interaction_we_do_not_answer_is_an_interaction_error(payload, message):
    """Each signed interaction that is not a click on our approval button: InteractionError."""
    with pytest.raises(dr.InteractionError) as caught:
        answer_of(payload)
    assert str(caught.value) == message


def test_an_approval_among_other_actions_is_found():
    """A payload whose actions hold one approval button after another element reads it."""
    other = {"action_id": "other", "value": "x", "type": "button"}
    actions = [other, *payload_of("dunning_reject")["actions"]]
    assert answer_of(payload_of(actions=actions)).approved is False


# --- where the message is, and who clicked -------------------------------------------------


def test_channel_and_ts_come_from_the_container_when_the_payload_has_no_channel_or_message():
    """Without channel and message, container.channel_id and container.message_ts are used."""
    answer = answer_of(payload_of(channel=None, message=None))
    assert (answer.channel, answer.message_ts) == ("C111", "1721954000.000100")


def test_message_ts_comes_from_the_message_when_the_container_has_none():
    """Without a container, message.ts is the message's ts and channel.id its channel."""
    answer = answer_of(payload_of(container=None, message={"ts": "1.2"}))
    assert (answer.channel, answer.message_ts) == ("C111", "1.2")


def test_where_is_none_when_the_payload_does_not_say():
    """No channel, container, message or response_url: each is None, the answer still reads."""
    answer = answer_of(payload_of(channel=None, container=None, message=None, response_url=None))
    assert (answer.channel, answer.message_ts, answer.response_url) == (None, None, None)


def test_user_name_falls_back_to_name():
    """Without user.username, user.name is the user's name."""
    answer = answer_of(payload_of(user={"id": "U1", "name": "bob"}))
    assert (answer.user, answer.user_name) == ("U1", "bob")


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.slack.com/actions/1",
        "javascript:alert(1)",
        "https://",
        "https://hooks.slack.com/a b",
        "https://hooks.slack.com/\u00e9",
        "https://hooks.slack.com/\n",
        42,
    ],
    ids=["http", "javascript", "no-host", "space", "non-ascii", "newline", "number"],
)
def test_a_response_url_that_is_not_plain_https_is_dropped(url):
    """Only an absolute https URL is kept as response_url; anything else is None."""
    assert answer_of(payload_of(response_url=url)).response_url is None


# --- the button's value -------------------------------------------------------------------------


def test_approval_value_is_run_step_and_nonce():
    """approval_value joins the run id, the step index and the nonce with colons."""
    assert approval_value(RUN, 2, NONCE) == VALUE


@pytest.mark.parametrize("step", [0, 7, 999_999], ids=["first", "seventh", "largest"])
def test_parse_approval_value_reads_back_what_approval_value_builds(step):
    """parse_approval_value(approval_value(r, s, n)) is (r, s, n)."""
    assert parse_approval_value(approval_value(RUN, step, NONCE)) == (RUN, step, NONCE)


@pytest.mark.parametrize(
    ("run_id", "step", "nonce"),
    [
        ("run_x", 0, NONCE),
        (RUN.upper(), 0, NONCE),
        (RUN, -1, NONCE),
        (RUN, 10**6, NONCE),
        (RUN, True, NONCE),
        (RUN, "2", NONCE),
        (RUN, 0, NONCE[:-1]),
        (RUN, 0, NONCE.upper()),
        (RUN, 0, f"{NONCE}:x"),
    ],
    ids=[
        "short-run-id",
        "upper-run-id",
        "negative-step",
        "step-too-large",
        "bool-step",
        "str-step",
        "short-nonce",
        "upper-nonce",
        "colon-in-nonce",
    ],
)
def test_approval_value_refuses_parts_it_could_not_read_back(run_id, step, nonce):
    """approval_value raises InteractionError rather than build an unanswerable button."""
    with pytest.raises(dr.InteractionError):
        approval_value(run_id, step, nonce)


@pytest.mark.parametrize(
    "value",
    [f"{RUN}:02:{NONCE}", f"{RUN}:2:{NONCE}\n", f"{RUN}:\u0662:{NONCE}", f"{RUN}:2:{NONCE}:x"],
    ids=["leading-zero", "trailing-newline", "non-ascii-digit", "extra-part"],
)
def test_parse_approval_value_refuses_near_misses(value):
    """A value that approval_value would not build is an InteractionError."""
    with pytest.raises(dr.InteractionError, match=r"^the button's value is not an approval value"):
        parse_approval_value(value)


# --- through the engine --------------------------------------------------------------------------

APPROVAL_RULES = """version: 1
rules:
  - name: ask
    on: invoice.payment_failed
    actions:
      - {type: approval, channel: "#billing", text: "Send the reminder?"}
"""


def test_the_engine_ignores_a_signed_interaction_that_is_not_an_approval(failed_event):
    """handle_slack_interaction raises InteractionError for a view_submission; the run waits on."""
    clock = FixedClock(NOW)
    engine = dr.Engine(
        dr.load_rules(APPROVAL_RULES),
        adapters={"approval": RecordingAdapter()},
        clock=clock,
    )
    engine.handle(failed_event)
    body = form({"type": "view_submission", "user": {"id": "U1"}, "view": {}})
    with pytest.raises(dr.InteractionError):
        engine.handle_slack_interaction(body, signed(body), SECRET)
    assert [run.status for run in engine.runs()] == ["awaiting_approval"]
