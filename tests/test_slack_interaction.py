"""Slack interaction requests (the approval buttons): signature, replay window, the answer."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import urllib.parse

import pytest

import dunning_rules as dr
from dunning_rules._slack import parse_interaction

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
STAMP = 1721954100
NOW = dt.datetime.fromtimestamp(STAMP, dt.timezone.utc)


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


def block_actions(action_id: str, value: str, user: str = "U024BE7LH") -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": "ann", "team_id": "T111"},
        "actions": [
            {"action_id": action_id, "block_id": "dunning", "value": value, "type": "button"}
        ],
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()


def signed(body: bytes, stamp: int = STAMP, secret: str = SECRET) -> dict[str, str]:
    base = b"v0:" + str(stamp).encode() + b":" + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(stamp), "X-Slack-Signature": signature}


def test_fixture_vector_verifies_and_its_unknown_action_is_rejected(vector):
    """The fixture request passes the signature check; its action_id 'a' is not ours."""
    data, body, headers = vector
    assert data["signing_secret"] == SECRET
    with pytest.raises(dr.SignatureError) as caught:
        parse_interaction(body, headers, SECRET, now=NOW)
    assert str(caught.value) == "unknown action 'a'"


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
    """A signed approve or reject click gives the run id, the answer and the user."""
    body = block_actions(action_id, "run_0123abcd")
    answer = parse_interaction(body, signed(body), SECRET, now=NOW)
    assert (answer.run_id, answer.approved, answer.user) == ("run_0123abcd", approved, "U024BE7LH")


def test_a_body_given_as_text_is_parsed():
    """The body may be given as str as well as bytes."""
    body = block_actions("dunning_approve", "run_x")
    assert parse_interaction(body.decode(), signed(body), SECRET, now=NOW).run_id == "run_x"


def test_header_names_are_case_insensitive():
    """Headers are found whatever their case, as frameworks spell them."""
    body = block_actions("dunning_approve", "run_x")
    headers = {k.lower(): v for k, v in signed(body).items()}
    assert parse_interaction(body, headers, SECRET, now=NOW).approved is True


def test_a_tampered_body_is_rejected():
    """A body changed after signing (another run id) is rejected."""
    body = block_actions("dunning_approve", "run_x")
    headers = signed(body)
    with pytest.raises(dr.SignatureError, match=r"^Slack signature does not match$"):
        parse_interaction(block_actions("dunning_approve", "run_y"), headers, SECRET, now=NOW)


def test_a_wrong_signing_secret_is_rejected():
    """A request signed with another secret is rejected."""
    body = block_actions("dunning_approve", "run_x")
    with pytest.raises(dr.SignatureError, match=r"^Slack signature does not match$"):
        parse_interaction(body, signed(body, secret="another"), SECRET, now=NOW)


@pytest.mark.parametrize("seconds", [360, -360], ids=["six-minutes-old", "six-minutes-ahead"])
def test_a_request_outside_five_minutes_is_a_replay(seconds):
    """A correctly signed request 6 minutes away from now is rejected as a replay."""
    body = block_actions("dunning_approve", "run_x")
    headers = signed(body, stamp=STAMP - seconds)
    with pytest.raises(dr.SignatureError) as caught:
        parse_interaction(body, headers, SECRET, now=NOW)
    assert str(caught.value) == "Slack request is older than 5 minutes (a replay?)"


def test_a_request_within_five_minutes_is_accepted():
    """A request signed 4 minutes ago is still accepted."""
    body = block_actions("dunning_reject", "run_x")
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
    body = block_actions("dunning_approve", "run_x")
    headers = signed(body)
    del headers[missing]
    with pytest.raises(dr.SignatureError) as caught:
        parse_interaction(body, headers, SECRET, now=NOW)
    assert str(caught.value) == message


def test_a_timestamp_that_is_not_a_number_is_rejected():
    """X-Slack-Request-Timestamp must be a number."""
    body = block_actions("dunning_approve", "run_x")
    headers = signed(body)
    headers["X-Slack-Request-Timestamp"] = "yesterday"
    with pytest.raises(dr.SignatureError, match="is not a number"):
        parse_interaction(body, headers, SECRET, now=NOW)


def test_a_signed_request_that_is_not_block_actions_is_rejected():
    """A correctly signed body without a payload field is rejected."""
    body = b"command=/dunning&text=hi"
    with pytest.raises(dr.SignatureError, match=r"^not a Slack block_actions request: "):
        parse_interaction(body, signed(body), SECRET, now=NOW)
