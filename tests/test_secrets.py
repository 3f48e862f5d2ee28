"""No credential reaches run history, the SQLite file, ``dunning-rules history`` or the logs,
even when the provider (or a proxy in front of it) answers with the request it got.

Each case runs one rule through :class:`dunning_rules.Engine` with a SQLite store in a temp
dir, against the provider's fake switched to echo mode (tests/httpfake.py: every answer
quotes the request line, every header and the body in each of the provider's error fields),
once with the credentials given to the adapter's constructor and once through the documented
environment variables. Then it looks for every credential, and for the encoded forms they
travel in, in everything the engine and the command line produced.
"""

from __future__ import annotations

import base64
import logging
import secrets as random
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import dunning_rules as dr
from dunning_rules import cli
from dunning_rules.actions.email import Email
from dunning_rules.actions.http import HTTP
from dunning_rules.actions.slack import Slack
from dunning_rules.actions.sms import TwilioSMS
from dunning_rules.actions.teams import Teams
from dunning_rules.actions.tickets import Ticket
from tests.actions.fakes_mail_llm import (
    ADAPTER_ENV,
    SendGridFake,
    SMTPFake,
    TLSFiles,
    fixture_tls_files,  # noqa: F401 (a fixture)
    load_event,
)
from tests.actions.fakes_messaging import MESSAGING_ENV, FakeSlack, FakeTeams, FakeTwilio
from tests.actions.fakes_tickets import FakeAsana, FakeEndpoint, FakeIntercom
from tests.httpfake import Vendor, echo_text

TICKET_ENV = ("ASANA_ACCESS_TOKEN", "ASANA_API_BASE", "INTERCOM_ACCESS_TOKEN", "INTERCOM_API_BASE")
SENDER = "billing@acme.example"
# The fake SMTP server runs in this process and logs what it receives: its log is the
# server's, not something this library wrote.
SERVER_LOGGERS = ("mail.log",)


def token(prefix: str = "", n: int = 16) -> str:
    """A fresh credential for one test: it cannot appear anywhere by chance."""
    return prefix + random.token_hex(n)


@dataclass
class Case:
    """One adapter with its credentials: ``build(env)`` sets the environment (env mode) or
    passes them to the constructor, and returns the adapter."""

    step_type: str
    step: str  # the YAML of the step's parameters, indented under the action
    fake: str  # which server answers
    credentials: dict[str, str]  # name -> value: every one must stay hidden
    build: Callable[[Any, pytest.MonkeyPatch, bool, dict[str, str]], object]


def _sendgrid(fake: Any, mp: pytest.MonkeyPatch, env: bool, c: dict[str, str]) -> object:
    if env:
        mp.setenv("SENDGRID_API_KEY", c["key"])
        mp.setenv("SENDGRID_API_BASE", fake.url)
        return Email(provider="sendgrid", sender=SENDER)
    return Email(
        provider="sendgrid", sender=SENDER, sendgrid_api_key=c["key"], sendgrid_api_base=fake.url
    )


def _slack_bot(fake: Any, mp: pytest.MonkeyPatch, env: bool, c: dict[str, str]) -> object:
    if env:
        mp.setenv("SLACK_BOT_TOKEN", c["token"])
        mp.setenv("SLACK_API_BASE", fake.api_base)
        return Slack()
    return Slack(token=c["token"], api_base=fake.api_base)


def _slack_hook(fake: Any, mp: pytest.MonkeyPatch, env: bool, c: dict[str, str]) -> object:
    url = f"{fake.url}/services/T0{c['team']}/B0{c['bot']}/{c['secret']}"
    if env:
        mp.setenv("SLACK_WEBHOOK_URL", url)
        return Slack()
    return Slack(webhook_url=url)


def _teams(fake: Any, mp: pytest.MonkeyPatch, env: bool, c: dict[str, str]) -> object:
    url = (
        f"{fake.url}/workflows/0f1e2d3c4b5a/triggers/manual/paths/invoke"
        f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={c['sig']}"
    )
    if env:
        mp.setenv("TEAMS_WEBHOOK_URL", url)
        return Teams()
    return Teams(webhook_url=url)


def _teams_legacy(fake: Any, mp: pytest.MonkeyPatch, env: bool, c: dict[str, str]) -> object:
    guid = "00000000-1111-2222-3333-444444444444"
    url = f"{fake.url}/webhookb2/{guid}@{guid}/IncomingWebhook/{c['secret']}/{guid}"
    if env:
        mp.setenv("TEAMS_WEBHOOK_URL", url)
        return Teams()
    return Teams(webhook_url=url)


def _twilio(fake: Any, mp: pytest.MonkeyPatch, env: bool, c: dict[str, str]) -> object:
    sid = FakeTwilio.ACCOUNT_SID
    if env:
        mp.setenv("TWILIO_ACCOUNT_SID", sid)
        mp.setenv("TWILIO_AUTH_TOKEN", c["token"])
        mp.setenv("TWILIO_API_BASE", fake.url)
        return TwilioSMS(from_="+14155552345")
    return TwilioSMS(
        account_sid=sid, auth_token=c["token"], api_base=fake.url, from_="+14155552345"
    )


def _asana(fake: Any, mp: pytest.MonkeyPatch, env: bool, c: dict[str, str]) -> object:
    if env:
        mp.setenv("ASANA_ACCESS_TOKEN", c["token"])
        mp.setenv("ASANA_API_BASE", fake.url)
        return Ticket()
    return Ticket(asana_token=c["token"], asana_api_base=fake.url)


def _intercom(fake: Any, mp: pytest.MonkeyPatch, env: bool, c: dict[str, str]) -> object:
    if env:
        mp.setenv("INTERCOM_ACCESS_TOKEN", c["token"])
        mp.setenv("INTERCOM_API_BASE", fake.url)
        return Ticket()
    return Ticket(intercom_token=c["token"], intercom_api_base=fake.url)


def _ticket_http(fake: Any, mp: pytest.MonkeyPatch, env: bool, c: dict[str, str]) -> object:
    # No environment variables for this provider: the credentials are Python-only.
    return Ticket(
        endpoints={"crm": f"{fake.url}/tickets?token={c['query']}"},
        http_headers={"Authorization": f"Bearer {c['bearer']}"},
    )


def _http(fake: Any, mp: pytest.MonkeyPatch, env: bool, c: dict[str, str]) -> object:
    return HTTP(headers={"Authorization": f"Bearer {c['bearer']}", "X-Api-Key": c["api_key"]})


EMAIL_STEP = (
    "provider: sendgrid\n        to: jenny@example.com\n        subject: s\n        text: t"
)
CASES = {
    "sendgrid": Case("email", EMAIL_STEP, "sendgrid", {"key": "SG.{a}.{b}"}, _sendgrid),
    "slack-bot": Case(
        "slack", "channel: '#billing'\n        text: hi", "slack", {"token": "xoxb-{a}"}, _slack_bot
    ),
    "slack-webhook": Case(
        "slack",
        "text: hi",
        "slack",
        {"team": "{a}", "bot": "{b}", "secret": "{c}"},
        _slack_hook,
    ),
    "teams": Case("teams", "title: t\n        text: x", "teams", {"sig": "{a}"}, _teams),
    "teams-legacy": Case(
        "teams", "title: t\n        text: x", "legacy", {"secret": "{a}"}, _teams_legacy
    ),
    "twilio": Case(
        "sms",
        "to: '+14155550100'\n        body: b\n        send_window: false",
        "twilio",
        {"token": "{a}"},
        _twilio,
    ),
    "asana": Case(
        "ticket",
        "provider: asana\n        title: t\n        project: '1204000000000001'",
        "asana",
        {"token": "2/1204000000000000/1207000000000000:{a}"},
        _asana,
    ),
    "intercom": Case(
        "ticket",
        "provider: intercom\n        title: t\n        ticket_type_id: '1234'\n"
        "        email: jenny@example.com",
        "intercom",
        {"token": "dG9r{a}"},
        _intercom,
    ),
    "ticket-http": Case(
        "ticket",
        "provider: http\n        title: t\n        endpoint: crm",
        "endpoint",
        {"query": "{a}", "bearer": "{b}"},
        _ticket_http,
    ),
    "http": Case(
        "http",
        "url: '{url}/hook'\n        json: {{a: 1}}",
        "endpoint",
        {"bearer": "{a}", "api_key": "{b}"},
        _http,
    ),
}


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, Vendor]]:
    with (
        SendGridFake() as sendgrid,
        FakeSlack() as slack,
        FakeTeams() as teams,
        FakeTeams(legacy=True) as legacy,
        FakeTwilio() as twilio,
        FakeAsana() as asana,
        FakeIntercom() as intercom,
        FakeEndpoint() as endpoint,
    ):
        yield {
            "sendgrid": sendgrid,
            "slack": slack,
            "teams": teams,
            "legacy": legacy,
            "twilio": twilio,
            "asana": asana,
            "intercom": intercom,
            "endpoint": endpoint,
        }


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in {*ADAPTER_ENV, *MESSAGING_ENV, *TICKET_ENV}:
        monkeypatch.delenv(name, raising=False)


def forms(secret: str) -> set[str]:
    """A credential and the encodings it travels in."""
    b64 = base64.b64encode(secret.encode()).decode()
    return {secret, urllib.parse.quote(secret, safe=""), b64}


def everything_produced(
    engine: dr.Engine,
    outcome: dr.Outcome,
    store_dir: Path,
    store_url: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> dict[str, str]:
    """What a user, an operator or an attacker with the files could read afterwards."""
    seen = {"outcome": repr(outcome), "runs": repr(engine.runs())}
    for path in sorted(store_dir.glob("runs.db*")):  # the database, its -wal and -shm
        seen[path.name] = path.read_bytes().decode("latin-1")
    engine.close()
    for path in sorted(store_dir.glob("runs.db*")):
        seen[f"{path.name} (closed)"] = path.read_bytes().decode("latin-1")
    capsys.readouterr()
    assert cli.main(["history", "--store", store_url, "--json"]) == 0
    seen["history --json"] = capsys.readouterr().out
    assert cli.main(["history", "--store", store_url]) == 0
    seen["history"] = capsys.readouterr().out
    lines = []
    for record in caplog.records:
        if record.name.startswith(SERVER_LOGGERS):
            continue
        lines.append(record.getMessage())
        if record.exc_info:
            lines.append(logging.Formatter().formatException(record.exc_info))
    seen["logs"] = "\n".join(lines)
    return seen


def run_case(
    case: Case,
    fake: Vendor,
    credentials: dict[str, str],
    adapter: object,
    status: int,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> dict[str, str]:
    step = case.step.replace("{url}", fake.url).replace("{{", "{").replace("}}", "}")
    rules = dr.load_rules(
        "version: 1\nrules:\n  - name: leak-check\n    on: invoice.payment_failed\n"
        f"    actions:\n      - type: {case.step_type}\n        {step}\n"
    )
    store_url = f"sqlite:///{tmp_path / 'runs.db'}"
    fake.reset()
    fake.echo(status)
    caplog.set_level(logging.DEBUG)
    engine = dr.Engine(rules, adapters={case.step_type: adapter}, store=store_url)
    outcome = engine.handle(load_event())
    assert fake.requests, "the adapter sent nothing: the test would prove nothing"
    echoed = echo_text(fake.requests[-1])
    held = [
        value
        for value in credentials.values()
        if value in echoed or any(form in echoed for form in forms(value))
    ]
    assert held, "the echo does not hold the credential: the test would prove nothing"
    return everything_produced(engine, outcome, tmp_path, store_url, caplog, capsys)


@pytest.mark.parametrize("status", [200, 400], ids=["echo-200", "echo-400"])
@pytest.mark.parametrize("env", [False, True], ids=["constructor", "environment"])
@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_no_credential_is_kept_or_logged(
    name: str,
    env: bool,
    status: int,
    fakes: dict[str, Vendor],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A provider that echoes the request (headers included) in its answer puts no credential
    into the outcome, engine.runs(), the SQLite files, history (JSON and text) or the logs."""
    case = CASES[name]
    fill = {"a": token(), "b": token(), "c": token()}
    credentials = {k: v.format(**fill) for k, v in case.credentials.items()}
    if name == "twilio":  # basic auth sends the SID and the token as one base64 string
        pair = f"{FakeTwilio.ACCOUNT_SID}:{credentials['token']}"
        credentials["basic"] = base64.b64encode(pair.encode()).decode()
    fake = fakes[case.fake]
    adapter = case.build(fake, monkeypatch, env, credentials)
    seen = run_case(case, fake, credentials, adapter, status, tmp_path, caplog, capsys)
    leaks = [
        (where, label)
        for label, value in credentials.items()
        for secret in forms(value)
        for where, text in seen.items()
        if secret in text
    ]
    assert leaks == []


def test_the_echo_reaches_the_step_error(
    fakes: dict[str, Vendor],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The echoed request is quoted in the step's error, with the credential redacted: the
    redaction hides the secret, not the provider's answer."""
    case = CASES["http"]
    credentials = {"bearer": token(), "api_key": token()}
    fake = fakes["endpoint"]
    seen = run_case(
        case, fake, credentials, case.build(fake, monkeypatch, False, credentials), 400,
        tmp_path, caplog, capsys,
    )  # fmt: skip
    assert "authorization: Bearer <redacted>" in seen["outcome"] or (
        "authorization: <redacted>" in seen["outcome"]
    )
    assert "POST /hook HTTP/1.1" in seen["outcome"]


def test_smtp_replies_are_redacted(
    tls_files: TLSFiles,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An SMTP server whose error reply quotes the AUTH exchange (the password and its
    base64 forms) leaves no password in history, the SQLite files or the logs."""
    user, password = "billing@acme.example", token("pw-")
    plain = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
    with SMTPFake("starttls", tls=tls_files, credentials={user: password}) as server:
        server.reply_to_data(f"554 5.7.1 rejected: AUTH PLAIN {plain} LOGIN {password}")
        for name, value in {
            "SMTP_HOST": server.host,
            "SMTP_PORT": str(server.port),
            "SMTP_USERNAME": user,
            "SMTP_PASSWORD": password,
            "SMTP_SECURITY": "starttls",
        }.items():
            monkeypatch.setenv(name, value)
        adapter = Email(provider="smtp", sender=SENDER, ssl_context=tls_files.client_context())
        rules = dr.load_rules(
            "version: 1\nrules:\n  - name: leak-check\n    on: invoice.payment_failed\n"
            "    actions:\n      - type: email\n        to: jenny@example.com\n"
            "        subject: s\n        text: t\n"
        )
        store_url = f"sqlite:///{tmp_path / 'runs.db'}"
        caplog.set_level(logging.DEBUG)
        engine = dr.Engine(rules, adapters={"email": adapter}, store=store_url)
        outcome = engine.handle(load_event())
        assert server.logins == [(user, password)]
        seen = everything_produced(engine, outcome, tmp_path, store_url, caplog, capsys)
    assert "554" in seen["outcome"]
    assert [where for where, text in seen.items() if password in text or plain in text] == []
