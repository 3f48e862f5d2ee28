"""dunning_rules._redact: the one redaction for adapter errors, logs and stored records, and
the adapters' own use of it (without the engine's second pass)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from dunning_rules._redact import (
    REDACTED,
    RedactingFilter,
    collect_secrets,
    install_log_filter,
    redact,
    redact_url,
)
from dunning_rules.actions.email import Email
from dunning_rules.actions.http import HTTP
from dunning_rules.actions.slack import Slack
from dunning_rules.actions.sms import TwilioSMS
from dunning_rules.actions.teams import Teams
from dunning_rules.actions.tickets import Ticket
from dunning_rules.errors import AdapterError
from tests.actions.fakes_mail_llm import SendGridFake, make_ctx
from tests.actions.fakes_messaging import FakeSlack, FakeTeams, FakeTwilio, action_context
from tests.actions.fakes_tickets import FakeAsana, make_context


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("authorization: Bearer abc.def-123", f"authorization: {REDACTED}"),
        ("Proxy-Authorization: Basic dXNlcjpwYXNz", f"Proxy-Authorization: {REDACTED}"),
        ('{"Authorization": "Bearer x1y2z3"}', f'{{"Authorization": "{REDACTED}"}}'),
        ("sent Bearer 0123abcd to it", f"sent Bearer {REDACTED} to it"),
        ("GET /x?token=t0k3n&page=2", f"GET /x?token={REDACTED}&page=2"),
        ("api_key=k1&key=k2&sig=s3", f"api_key={REDACTED}&key={REDACTED}&sig={REDACTED}"),
        ('{"password": "hunter22"}', f'{{"password": "{REDACTED}"}}'),
        ("client_secret: abcdef", f"client_secret: {REDACTED}"),
        ("https://app:s3cret@db.example/x", f"https://app:{REDACTED}@db.example/x"),
        (
            "https://hooks.slack.com/services/T0ABC/B0DEF/xyz789secret",
            f"https://hooks.slack.com/services/{REDACTED}",
        ),
        ("https://acme.webhook.office.com/webhookb2/g@h/IncomingWebhook/s/i", None),
        ("token is xoxb-1234-5678-abcdef", f"token is {REDACTED}"),
        ("key SG.abcdefghij.klmnopqrstu sent", f"key {REDACTED} sent"),
    ],
    ids=[
        "authorization-header",
        "proxy-authorization",
        "authorization-json",
        "bearer",
        "token-query",
        "key-names",
        "password-json",
        "client-secret",
        "url-password",
        "slack-webhook",
        "teams-webhook",
        "slack-token",
        "sendgrid-key",
    ],
)
def test_credential_patterns_are_redacted(text: str, expected: str | None) -> None:
    """Each credential pattern is replaced by <redacted>, the text around it kept."""
    if expected is None:
        expected = f"https://acme.webhook.office.com/webhookb2/{REDACTED}"
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "The from address does not match a verified Sender Identity.",
        "I-Twilio-Idempotency-Token: dr_0123abcd",
        "Idempotency-Key: dr_0123abcd",
        "Basic information is missing",
        "channel_not_found",
    ],
    ids=["sendgrid-message", "twilio-idempotency", "idempotency", "prose-basic", "slack-code"],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    """Provider messages, idempotency keys and prose are not redacted."""
    assert redact(text) == text


def test_known_secrets_are_redacted_in_their_encoded_forms() -> None:
    """A known secret is replaced as it is and percent-encoded, longest first."""
    secret = "p@ss word/+1"
    text = f"a {secret} b p%40ss%20word%2F%2B1 c p%40ss+word%2F%2B1"
    assert redact(text, [secret]) == f"a {REDACTED} b {REDACTED} c {REDACTED}"


def test_a_very_short_secret_is_not_searched_for() -> None:
    """A secret shorter than four characters would blank out ordinary words: skipped."""
    assert redact("abc", ["abc"]) == "abc"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://app:pw@db.example:5432/x", f"postgresql://app:{REDACTED}@db.example:5432/x"),
        ("postgresql://app@db/x", "postgresql://app@db/x"),
        ("host=db password=pw dbname=x", f"host=db password={REDACTED} dbname=x"),
        ("host=db password='p w''x' dbname=x", f"host=db password={REDACTED} dbname=x"),
        ("postgres://db/x?password=pw&sslmode=require", None),
    ],
    ids=["url", "no-password", "keywords", "quoted-keyword", "query"],
)
def test_redact_url(url: str, expected: str | None) -> None:
    """Store URLs and libpq strings lose their password and keep the rest."""
    if expected is None:
        expected = f"postgres://db/x?password={REDACTED}&sslmode=require"
    assert redact_url(url) == expected


def test_collect_secrets_reads_every_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    """collect_secrets unites the adapters' `secrets` (constructor and environment), and
    skips an adapter without one or whose property raises."""

    class Broken:
        @property
        def secrets(self) -> tuple[str, ...]:
            raise RuntimeError("boom")

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-the-env")
    found = collect_secrets(
        [Slack(token="xoxb-from-python"), HTTP(headers={"X-Api-Key": "k-12345"}), Broken(), len]
    )
    assert {"xoxb-from-python", "xoxb-from-the-env", "k-12345"} <= found


def test_the_log_filter_redacts_urllib3_lines(caplog: pytest.LogCaptureFixture) -> None:
    """urllib3 logs each request's path and query at DEBUG; the filter removes secrets."""
    install_log_filter("tests.fake_urllib3")
    install_log_filter("tests.fake_urllib3")
    target = logging.getLogger("tests.fake_urllib3")
    assert sum(isinstance(f, RedactingFilter) for f in target.filters) == 1
    with caplog.at_level(logging.DEBUG, logger="tests.fake_urllib3"):
        target.debug('"%s %s HTTP/1.1" 202', "POST", "/invoke?sv=1.0&sig=s3cr3t")
    assert caplog.records[-1].getMessage() == f'"POST /invoke?sv=1.0&sig={REDACTED} HTTP/1.1" 202'


# -- the adapters redact at the source ------------------------------------------------------


@pytest.fixture(scope="module")
def echo_fakes() -> Any:
    with (
        FakeSlack() as slack,
        FakeTeams() as teams,
        FakeTwilio() as twilio,
        SendGridFake() as sendgrid,
        FakeAsana() as asana,
    ):
        yield {
            "slack": slack,
            "teams": teams,
            "twilio": twilio,
            "sendgrid": sendgrid,
            "asana": asana,
        }


SECRET = "s3cr3t-0123456789abcdef"


def _call(name: str, fake: Any) -> None:
    if name == "slack":
        Slack(token=f"xoxb-{SECRET}", api_base=fake.api_base)(
            {"channel": "#billing", "text": "t"}, action_context()
        )
    elif name == "teams":
        Teams(webhook_url=f"{fake.url}/workflows/w/invoke?sv=1.0&sig={SECRET}")(
            {"title": "t", "text": "x"}, action_context()
        )
    elif name == "twilio":
        TwilioSMS(
            account_sid=fake.account_sid, auth_token=SECRET, api_base=fake.url, from_="+14155552345"
        )({"to": "+14155550100", "body": "b"}, action_context())
    elif name == "sendgrid":
        Email(
            provider="sendgrid",
            sender="billing@acme.example",
            sendgrid_api_key=f"SG.{SECRET}.x",
            sendgrid_api_base=fake.url,
        )({"to": "a@example.com", "subject": "s", "text": "t"}, make_ctx())
    else:
        Ticket(asana_token=SECRET, asana_api_base=fake.url)(
            {"provider": "asana", "title": "t", "project": "1204000000000001"}, make_context()
        )


ECHOES = [("slack", 200), ("slack", 400), ("teams", 200), ("teams", 400), ("twilio", 200),
          ("twilio", 400), ("sendgrid", 400), ("asana", 200), ("asana", 400)]  # fmt: skip


@pytest.mark.parametrize(("name", "status"), ECHOES, ids=[f"{n}-{s}" for n, s in ECHOES])
def test_an_echoed_request_is_redacted_by_the_adapter(
    echo_fakes: Any, name: str, status: int
) -> None:
    """The adapter's own error quotes the provider's echo of the request with every
    credential replaced, before the engine sees it."""
    fake = echo_fakes[name]
    fake.reset()
    fake.echo(status)
    with pytest.raises(AdapterError) as info:
        _call(name, fake)
    assert fake.requests
    assert SECRET not in str(info.value)
    assert SECRET[:12] not in str(info.value)
