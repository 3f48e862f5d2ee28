"""The ``sms`` step type (Twilio), against a local fake of Twilio's Messages API."""

from __future__ import annotations

import base64

import jsonschema
import pytest
import requests

from dunning_rules.actions.sms import TwilioSMS, is_e164
from dunning_rules.errors import AdapterError
from tests.actions.fakes_messaging import (
    TWILIO_INVALID_TO,
    TWILIO_SERVICE_UNAVAILABLE,
    TWILIO_TOO_MANY_REQUESTS,
    FakeTwilio,
    action_context,
)

SENDER = "+14155552345"
CUSTOMER = "+14155550123"
STEP = {"to": CUSTOMER, "body": "Your payment of $10.00 failed."}


def make_sms(twilio, **options):
    options.setdefault("from_", SENDER)
    return TwilioSMS(
        account_sid=twilio.account_sid,
        auth_token=twilio.auth_token,
        api_base=twilio.url,
        **options,
    )


def test_posts_the_form_to_the_accounts_messages_endpoint(twilio):
    """The message is a form POST to the account's Messages.json with basic auth."""
    make_sms(twilio)(dict(STEP), action_context())

    [request] = twilio.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{FakeTwilio.ACCOUNT_SID}/Messages.json"
    basic = base64.b64encode(f"{FakeTwilio.ACCOUNT_SID}:{FakeTwilio.AUTH_TOKEN}".encode())
    assert request.headers["authorization"] == f"Basic {basic.decode()}"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.form() == {
        "To": [CUSTOMER],
        "From": [SENDER],
        "Body": ["Your payment of $10.00 failed."],
    }


def test_sends_the_idempotency_key_in_twilios_header(twilio):
    """ctx.idempotency_key goes into the I-Twilio-Idempotency-Token header."""
    make_sms(twilio)(dict(STEP), action_context(idempotency_key="evt_9:vip:2"))

    assert twilio.requests[0].headers["i-twilio-idempotency-token"] == "evt_9:vip:2"


def test_a_retried_step_sends_one_message(twilio):
    """Two calls with one idempotency key make Twilio send one message, same sid."""
    sms = make_sms(twilio)
    first = sms(dict(STEP), action_context())
    second = sms(dict(STEP), action_context())

    assert len(twilio.messages) == 1
    assert first == second


def test_returns_sid_status_and_to(twilio):
    """The output is the new message's sid, status and recipient, and nothing else."""
    output = make_sms(twilio)(dict(STEP), action_context())

    assert output == {"sid": f"SM{1:032x}", "status": "queued", "to": CUSTOMER}


@pytest.mark.parametrize(
    ("adapter_options", "step", "expected"),
    [
        ({}, {}, {"From": [SENDER]}),
        ({}, {"from": "+14155559999"}, {"From": ["+14155559999"]}),
        ({}, {"from": "AcmeBilling"}, {"From": ["AcmeBilling"]}),
        ({}, {"from": "55123"}, {"From": ["55123"]}),
        (
            {},
            {"messaging_service_sid": "MG" + "1" * 32},
            {"MessagingServiceSid": ["MG" + "1" * 32]},
        ),
        (
            {"from_": None, "messaging_service_sid": "MG" + "2" * 32},
            {},
            {"MessagingServiceSid": ["MG" + "2" * 32]},
        ),
    ],
    ids=[
        "adapter-default-from",
        "step-from-wins",
        "alphanumeric-sender",
        "short-code",
        "step-messaging-service",
        "adapter-messaging-service",
    ],
)
def test_sends_exactly_one_sender(twilio, adapter_options, step, expected):
    """The step's sender wins over the adapter's default, and only one sender is sent."""
    make_sms(twilio, **adapter_options)({**STEP, **step}, action_context())

    form = twilio.requests[0].form()
    assert {k: v for k, v in form.items() if k in ("From", "MessagingServiceSid")} == expected


def test_reads_credentials_sender_and_base_from_the_environment(twilio, monkeypatch):
    """With no constructor options, the TWILIO_* variables are read when the step runs."""
    sms = TwilioSMS()
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", FakeTwilio.ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", FakeTwilio.AUTH_TOKEN)
    monkeypatch.setenv("TWILIO_MESSAGING_SERVICE_SID", "MG" + "3" * 32)
    monkeypatch.setenv("TWILIO_API_BASE", twilio.url)

    output = sms(dict(STEP), action_context())

    assert output["to"] == CUSTOMER
    assert twilio.requests[0].form()["MessagingServiceSid"] == ["MG" + "3" * 32]


def test_missing_auth_token_is_a_final_error_naming_the_variable(twilio):
    """Without an auth token the step fails for good, names TWILIO_AUTH_TOKEN, sends nothing."""
    sms = TwilioSMS(account_sid=FakeTwilio.ACCOUNT_SID, api_base=twilio.url, from_=SENDER)

    with pytest.raises(AdapterError, match="TWILIO_AUTH_TOKEN") as caught:
        sms(dict(STEP), action_context())

    assert caught.value.retryable is False
    assert twilio.requests == []


def test_missing_sender_is_a_final_error(twilio):
    """Without from, messaging_service_sid or a default, nothing is sent."""
    with pytest.raises(AdapterError, match="no sender") as caught:
        make_sms(twilio, from_=None)(dict(STEP), action_context())

    assert caught.value.retryable is False
    assert twilio.requests == []


@pytest.mark.parametrize(
    "number",
    ["14155550123", "+1415555", "+1234567890123456", "+1 415 555 0123", "+1415555012a", ""],
    ids=["no-plus", "seven-digits", "sixteen-digits", "spaces", "letter", "empty"],
)
def test_to_must_be_e164_and_nothing_is_sent(twilio, number):
    """A `to` that is not + and 8-15 digits fails for good before any request."""
    with pytest.raises(AdapterError) as caught:
        make_sms(twilio)({**STEP, "to": number}, action_context())

    assert caught.value.retryable is False
    assert twilio.requests == []


@pytest.mark.parametrize(
    "sender", ["4155552345", "+1 (415) 555-2345", "+12"], ids=["no-plus", "formatted", "short"]
)
def test_a_numeric_from_must_be_e164(twilio, sender):
    """A `from` that is a phone number, not a short code, must be E.164; nothing is sent."""
    with pytest.raises(AdapterError, match=r"'from' is not an E\.164") as caught:
        make_sms(twilio)({**STEP, "from": sender}, action_context())

    assert caught.value.retryable is False
    assert twilio.requests == []


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("+14155550123", True),
        ("+123456789012345", True),
        ("+1234567", False),
        ("+\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19", False),
    ],
    ids=["us", "fifteen-digits", "seven-digits", "fullwidth-digits"],
)
def test_is_e164(number, expected):
    """is_e164 accepts + and 8-15 ASCII digits only."""
    assert is_e164(number) is expected


def test_a_body_over_1600_characters_is_refused_before_sending(twilio):
    """Twilio's 1600-character limit is checked locally: a final error, nothing sent."""
    with pytest.raises(AdapterError, match="1601 characters") as caught:
        make_sms(twilio)({**STEP, "body": "x" * 1601}, action_context())

    assert caught.value.retryable is False
    assert twilio.requests == []


def test_twilio_400_is_final_and_quotes_code_message_and_more_info(twilio):
    """Twilio's 400 error JSON (code 21211) becomes a final error with its details."""
    twilio.queue(TWILIO_INVALID_TO)

    with pytest.raises(AdapterError) as caught:
        make_sms(twilio)(dict(STEP), action_context())

    assert str(caught.value) == (
        "twilio: HTTP 400: error 21211: The 'To' number +15005550001 is not a valid phone "
        "number. (https://www.twilio.com/docs/errors/21211)"
    )
    assert caught.value.retryable is False
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("answer", "status"),
    [(TWILIO_TOO_MANY_REQUESTS, 429), (TWILIO_SERVICE_UNAVAILABLE, 503)],
    ids=["429", "503"],
)
def test_rate_limits_and_server_errors_are_retryable(twilio, answer, status):
    """HTTP 429 and 5xx from Twilio are retryable failures."""
    twilio.queue(answer)

    with pytest.raises(AdapterError) as caught:
        make_sms(twilio)(dict(STEP), action_context())

    assert caught.value.retryable is True
    assert caught.value.status == status


def test_wrong_credentials_are_final_and_the_token_stays_out_of_the_error(twilio):
    """Twilio's 401 (20003) is final, and the auth token is not in the message."""
    token = "not-the-right-token-5a5a5a"
    sms = TwilioSMS(
        account_sid=FakeTwilio.ACCOUNT_SID, auth_token=token, api_base=twilio.url, from_=SENDER
    )

    with pytest.raises(AdapterError, match="error 20003: Authenticate") as caught:
        sms(dict(STEP), action_context())

    assert caught.value.retryable is False
    assert token not in str(caught.value)
    assert token not in repr(sms)


def test_the_output_holds_no_credentials(twilio):
    """Neither the account SID nor the auth token appears in the output."""
    output = make_sms(twilio)(dict(STEP), action_context())

    assert FakeTwilio.AUTH_TOKEN not in repr(output)
    assert FakeTwilio.ACCOUNT_SID not in repr(output)


def test_a_slow_answer_is_a_retryable_timeout(twilio):
    """A server that answers after the 0.2 s timeout gives a retryable error."""
    twilio.stall(5)

    with pytest.raises(AdapterError, match=r"no answer within 0\.2s") as caught:
        make_sms(twilio, timeout=0.2)(dict(STEP), action_context())

    assert caught.value.retryable is True


def test_the_fake_refuses_a_form_without_a_sender(twilio):
    """The fake checks Twilio's conditional rule: one of From / MessagingServiceSid."""
    answer = requests.post(
        twilio.url + f"/2010-04-01/Accounts/{FakeTwilio.ACCOUNT_SID}/Messages.json",
        data={"To": CUSTOMER, "Body": "hi"},
        auth=(FakeTwilio.ACCOUNT_SID, FakeTwilio.AUTH_TOKEN),
        timeout=5,
    )

    assert answer.status_code == 599
    [error] = twilio.take_errors()
    assert "exactly one of ['From', 'MessagingServiceSid']" in str(error)


VALIDATOR = jsonschema.Draft202012Validator(TwilioSMS.params_schema)


def test_params_schema_is_a_valid_draft_2020_12_schema():
    """params_schema itself is a valid JSON Schema."""
    jsonschema.Draft202012Validator.check_schema(TwilioSMS.params_schema)


@pytest.mark.parametrize(
    "step",
    [
        {"to": "{{ data.object.customer_phone }}", "body": "Hi {{ data.object.customer_name }}"},
        {"to": "+14155550123", "body": "hi", "from": "+14155552345"},
        {"to": "+14155550123", "body": "hi", "messaging_service_sid": "{{ settings.mss }}"},
    ],
    ids=["templates", "from", "messaging-service"],
)
def test_params_schema_accepts_good_steps(step):
    """Good raw steps, templates included, pass the schema."""
    assert list(VALIDATOR.iter_errors(step)) == []


@pytest.mark.parametrize(
    "step",
    [
        {"body": "hi"},
        {"to": "+14155550123"},
        {"to": "+14155550123", "body": "hi", "auth_token": "secret"},
        {"to": "+1", "body": "hi", "from": "+14155552345", "messaging_service_sid": "MG1"},
    ],
    ids=["missing-to", "missing-body", "credential-in-rule-file", "two-senders"],
)
def test_params_schema_rejects_bad_steps(step):
    """A step missing `to:` or `body:`, with an unknown key or two senders fails."""
    assert list(VALIDATOR.iter_errors(step)) != []
