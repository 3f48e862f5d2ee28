"""The ``email`` step type against a real SMTP server and a fake SendGrid, on 127.0.0.1."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from dunning_rules.actions.email import Email, message_id
from dunning_rules.errors import AdapterError
from tests.actions.fakes_mail_llm import (
    SENDGRID_KEY,
    SMTP_PASSWORD,
    SMTP_USER,
    SendGridFake,
    SMTPFake,
    TLSFiles,
    fixture_clean_env,  # noqa: F401 (a fixture)
    fixture_sendgrid_server,  # noqa: F401 (a fixture)
    fixture_sendgrid_shared,  # noqa: F401 (a fixture)
    fixture_smtp_server,  # noqa: F401 (a fixture)
    fixture_smtp_ssl_server,  # noqa: F401 (a fixture)
    fixture_smtp_tls_server,  # noqa: F401 (a fixture)
    fixture_tls_files,  # noqa: F401 (a fixture)
    free_port,
    make_ctx,
)

pytestmark = pytest.mark.usefixtures("clean_env")

SENDER = "Acme Billing <billing@acme.example>"
KEY = "evt_1PgdA1B7WZ01zgkWdunn0001:card-declined:0"


def params(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "to": "jenny.rosen@example.com",
        "subject": "Your payment of $10.00 failed",
        "text": "Hi Jenny, please update your card: https://invoice.stripe.com/i/x",
    }
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def plain_smtp(server: SMTPFake, **options: Any) -> Email:
    return Email(host=server.host, port=server.port, security="none", sender=SENDER, **options)


# -- schema and escaping --------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        {"to": "{{ data.object.customer_email }}", "subject": "s", "text": "t"},
        {"to": ["a@example.com", "{{ settings.ops }}"], "subject": "s", "text": "t"},
        {
            "to": "a@example.com",
            "subject": "Invoice {{ data.object.number }}",
            "text": "t",
            "html": "<p>{{ data.object.customer_name }}</p>",
            "from": "Acme <billing@acme.example>",
            "reply_to": "help@acme.example",
            "cc": ["ops@acme.example"],
            "bcc": "audit@acme.example",
            "provider": "sendgrid",
        },
    ],
    ids=["template-to", "list-to", "every-key"],
)
def test_the_schema_accepts_raw_parameters(raw: dict[str, Any]) -> None:
    """Raw parameters with templates in them are valid."""
    jsonschema.Draft202012Validator(Email.params_schema).validate(raw)


@pytest.mark.parametrize(
    "raw",
    [
        {"subject": "s", "text": "t"},
        {"to": "a@example.com", "text": "t"},
        {"to": "a@example.com", "subject": "s"},
        {"to": "a@example.com", "subject": "s", "text": "t", "provider": "mailgun"},
        {"to": "a@example.com", "subject": "s", "text": "t", "api_key": "x"},
        {"to": [], "subject": "s", "text": "t"},
    ],
    ids=["no-to", "no-subject", "no-text", "unknown-provider", "unknown-key", "empty-to-list"],
)
def test_the_schema_rejects_bad_parameters(raw: dict[str, Any]) -> None:
    """Missing required keys, unknown keys and unknown providers are schema errors."""
    jsonschema.Draft202012Validator.check_schema(Email.params_schema)
    assert not jsonschema.Draft202012Validator(Email.params_schema).is_valid(raw)


def test_html_placeholders_are_escaped() -> None:
    """The engine's escape for ``html`` turns markup into text."""
    assert Email.escapes["html"]("<b>") == "&lt;b&gt;"
    assert Email.escapes["html"]('"x" & y') == "&quot;x&quot; &amp; y"


# -- SMTP ----------------------------------------------------------------------------------


def test_smtp_sends_one_message(smtp_server: SMTPFake) -> None:
    """SMTP delivers to to + cc + bcc, with the headers set and no Bcc header."""
    out = plain_smtp(smtp_server)(
        params(cc="ops@acme.example", bcc=["audit@acme.example"], reply_to="help@acme.example"),
        make_ctx(),
    )
    assert out == {
        "provider": "smtp",
        "message_id": message_id(KEY),
        "to": ["jenny.rosen@example.com"],
    }
    [mail] = smtp_server.messages
    assert mail.mail_from == "billing@acme.example"
    assert mail.rcpt_tos == ["jenny.rosen@example.com", "ops@acme.example", "audit@acme.example"]
    msg = mail.message
    assert msg["From"] == SENDER
    assert msg["To"] == "jenny.rosen@example.com"
    assert msg["Cc"] == "ops@acme.example"
    assert msg["Reply-To"] == "help@acme.example"
    assert msg["Bcc"] is None
    assert msg["Subject"] == "Your payment of $10.00 failed"
    assert msg["Date"] == "Sat, 01 Aug 2026 09:30:00 +0000"
    assert msg["Message-ID"] == message_id(KEY)
    assert msg.get_content_type() == "text/plain"
    assert (
        msg.get_content() == "Hi Jenny, please update your card: https://invoice.stripe.com/i/x\n"
    )


def test_smtp_sends_html_as_an_alternative(smtp_server: SMTPFake) -> None:
    """With ``html``, the message is multipart/alternative: the text, then the HTML as given."""
    html = "<p>Hi &lt;Jenny&gt;</p>"
    plain_smtp(smtp_server)(params(html=html), make_ctx())
    msg = smtp_server.messages[0].message
    assert msg.get_content_type() == "multipart/alternative"
    parts = [(part.get_content_type(), part.get_content()) for part in msg.iter_parts()]
    assert parts == [
        ("text/plain", "Hi Jenny, please update your card: https://invoice.stripe.com/i/x\n"),
        ("text/html", html + "\n"),
    ]


def test_the_message_id_is_stable_per_step(smtp_server: SMTPFake) -> None:
    """A re-sent step has the same Message-ID; another step gets another one."""
    email = plain_smtp(smtp_server)
    email(params(), make_ctx())
    email(params(), make_ctx())
    email(params(), make_ctx(idempotency_key="evt_2:card-declined:0"))
    ids = [mail.message["Message-ID"] for mail in smtp_server.messages]
    assert ids[0] == ids[1] != ids[2]
    assert ids[0].startswith("<")
    assert ids[0].endswith("@dunning-rules>")


def test_a_non_ascii_name_is_encoded(smtp_server: SMTPFake) -> None:
    """Non-ASCII display names and subjects are encoded, and read back unchanged."""
    plain_smtp(smtp_server)(
        params(to="Zoë Ünal <zoe@example.com>", subject="Paiement échoué"), make_ctx()
    )
    mail = smtp_server.messages[0]
    assert b"Zo\xc3\xab" not in mail.data.split(b"\r\n\r\n")[0]
    assert mail.message["To"] == "Zoë Ünal <zoe@example.com>"
    assert mail.message["Subject"] == "Paiement échoué"


def test_starttls_login_from_the_environment(
    smtp_tls_server: SMTPFake, tls_files: TLSFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Settings come from SMTP_* at call time; STARTTLS is used, then AUTH, then the mail."""
    email = Email(ssl_context=tls_files.client_context())
    monkeypatch.setenv("SMTP_HOST", smtp_tls_server.host)
    monkeypatch.setenv("SMTP_PORT", str(smtp_tls_server.port))
    monkeypatch.setenv("SMTP_USERNAME", SMTP_USER)
    monkeypatch.setenv("SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("DUNNING_EMAIL_FROM", "billing@acme.example")
    out = email(params(), make_ctx())
    assert out["provider"] == "smtp"
    assert smtp_tls_server.logins == [(SMTP_USER, SMTP_PASSWORD)]
    [mail] = smtp_tls_server.messages
    assert mail.tls is True
    assert mail.message["From"] == "billing@acme.example"


def test_implicit_tls(smtp_ssl_server: SMTPFake, tls_files: TLSFiles) -> None:
    """``security="ssl"`` speaks TLS from the first byte (port 465 style) and logs in."""
    email = Email(
        host=smtp_ssl_server.host,
        port=smtp_ssl_server.port,
        security="ssl",
        username=SMTP_USER,
        password=SMTP_PASSWORD,
        ssl_context=tls_files.client_context(),
        sender=SENDER,
    )
    email(params(), make_ctx())
    assert smtp_ssl_server.logins == [(SMTP_USER, SMTP_PASSWORD)]
    assert len(smtp_ssl_server.messages) == 1


def test_a_wrong_password_is_final_and_not_quoted(
    smtp_tls_server: SMTPFake, tls_files: TLSFiles
) -> None:
    """A refused login fails for good, and the message does not hold the password."""
    email = Email(
        host=smtp_tls_server.host,
        port=smtp_tls_server.port,
        username=SMTP_USER,
        password="wrong-password-5678",
        ssl_context=tls_files.client_context(),
        sender=SENDER,
    )
    with pytest.raises(AdapterError, match="login refused") as info:
        email(params(), make_ctx())
    assert info.value.retryable is False
    assert "wrong-password-5678" not in str(info.value)
    assert smtp_tls_server.messages == []


def test_an_untrusted_certificate_is_final(smtp_tls_server: SMTPFake) -> None:
    """A server certificate that the system does not trust fails the step for good."""
    email = Email(host=smtp_tls_server.host, port=smtp_tls_server.port, sender=SENDER)
    with pytest.raises(AdapterError, match=r"TLS with 127\.0\.0\.1") as info:
        email(params(), make_ctx())
    assert info.value.retryable is False
    assert smtp_tls_server.messages == []


def test_no_password_without_tls(smtp_server: SMTPFake) -> None:
    """With ``security="none"`` the adapter refuses to log in, before connecting."""
    email = plain_smtp(smtp_server, username=SMTP_USER, password=SMTP_PASSWORD)
    with pytest.raises(AdapterError, match="without TLS"):
        email(params(), make_ctx())
    assert smtp_server.greetings == 0


@pytest.mark.parametrize(
    "field",
    ["to", "from", "subject", "reply_to", "cc", "bcc"],
    ids=["to", "from", "subject", "reply_to", "cc", "bcc"],
)
@pytest.mark.parametrize(
    "brk", ["\r\n", "\n", "\r", "\u2028"], ids=["crlf", "lf", "cr", "line-separator"]
)
def test_a_line_break_in_a_header_sends_nothing(
    smtp_server: SMTPFake, field: str, brk: str
) -> None:
    """A line break in a header value fails for good before any connection is opened."""
    value = f"jenny.rosen@example.com{brk}Bcc: victim@evil.example"
    if field == "subject":
        value = f"Payment failed{brk}Bcc: victim@evil.example"
    with pytest.raises(AdapterError, match=f"{field} contains a line break") as info:
        plain_smtp(smtp_server)(params(**{field: value}), make_ctx())
    assert info.value.retryable is False
    assert smtp_server.greetings == 0
    assert smtp_server.messages == []


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f"], ids=["nul", "escape", "delete"])
def test_a_control_character_in_a_header_sends_nothing(smtp_server: SMTPFake, char: str) -> None:
    """Other control characters in a header value fail for good too."""
    with pytest.raises(AdapterError, match="subject contains a control character"):
        plain_smtp(smtp_server)(params(subject=f"Payment{char}failed"), make_ctx())
    assert smtp_server.greetings == 0


def test_a_line_break_in_a_listed_address_sends_nothing(smtp_server: SMTPFake) -> None:
    """A line break in one address of a list is found too."""
    with pytest.raises(AdapterError, match="cc contains a line break"):
        plain_smtp(smtp_server)(params(cc=["a@example.com", "b@example.com\nX: y"]), make_ctx())
    assert smtp_server.greetings == 0


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("jenny", "exactly one '@'"),
        ("jenny@@example.com", "exactly one '@'"),
        ("@example.com", "exactly one '@'"),
        ("jenny@localhost", "a domain with a dot"),
        ("jenny@example..com", "a domain with a dot"),
        ("jenny rosen@example.com", "holds spaces"),
        ("a@example.com, b@example.com", "exactly one '@'"),
        ("jenny@exa(mple).com", "holds spaces or one of"),
        ("Jenny <<jenny@example.com>", "has '<' or '>' in its display name"),
    ],
    ids=[
        "no-at",
        "two-ats",
        "no-local-part",
        "no-dot",
        "double-dot",
        "space",
        "two-addresses",
        "comment",
        "double-bracket",
    ],
)
def test_a_bad_address_sends_nothing(smtp_server: SMTPFake, address: str, problem: str) -> None:
    """An address that does not parse fails for good, naming the parameter."""
    with pytest.raises(AdapterError, match=f"^email: to: .* is not an email address: .*{problem}"):
        plain_smtp(smtp_server)(params(to=address), make_ctx())
    assert smtp_server.greetings == 0


def test_an_empty_recipient_fails(smtp_server: SMTPFake) -> None:
    """A ``to`` that rendered to null (a customer without an email) fails for good."""
    with pytest.raises(AdapterError, match="to is empty") as info:
        plain_smtp(smtp_server)({"to": None, "subject": "s", "text": "t"}, make_ctx())
    assert info.value.retryable is False


def test_the_sender_comes_from_the_environment(
    smtp_server: SMTPFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without ``from`` or ``sender``, DUNNING_EMAIL_FROM is the sender; without it, an error."""
    email = Email(host=smtp_server.host, port=smtp_server.port, security="none")
    with pytest.raises(AdapterError, match="DUNNING_EMAIL_FROM"):
        email(params(), make_ctx())
    monkeypatch.setenv("DUNNING_EMAIL_FROM", "dunning@acme.example")
    email(params(), make_ctx())
    assert smtp_server.messages[0].mail_from == "dunning@acme.example"


def test_from_overrides_the_sender(smtp_server: SMTPFake) -> None:
    """A step's ``from`` wins over the constructor's ``sender``."""
    plain_smtp(smtp_server)(params(**{"from": "vip@acme.example"}), make_ctx())
    assert smtp_server.messages[0].mail_from == "vip@acme.example"


def test_no_smtp_host_is_a_final_error() -> None:
    """Without ``host`` or SMTP_HOST the step fails for good, naming the variable."""
    with pytest.raises(AdapterError, match="SMTP_HOST") as info:
        Email(sender=SENDER)(params(), make_ctx())
    assert info.value.retryable is False


def test_a_closed_port_is_retryable() -> None:
    """A server that cannot be reached may be back later: the error is retryable."""
    email = Email(host="127.0.0.1", port=free_port(), security="none", sender=SENDER, timeout=2)
    with pytest.raises(AdapterError, match="cannot reach") as info:
        email(params(), make_ctx())
    assert info.value.retryable is True


@pytest.mark.parametrize(
    ("reply", "retryable"),
    [("550 5.1.1 No such user", False), ("450 4.2.1 Mailbox busy", True)],
    ids=["550-final", "450-retryable"],
)
def test_a_refused_recipient(smtp_server: SMTPFake, reply: str, retryable: bool) -> None:
    """Every recipient refused: 5xx fails for good, 4xx may pass on retry."""
    smtp_server.refuse("jenny.rosen@example.com", reply)
    with pytest.raises(AdapterError, match="every recipient was refused") as info:
        plain_smtp(smtp_server)(params(), make_ctx())
    assert info.value.retryable is retryable
    assert smtp_server.messages == []


def test_a_partly_refused_message_warns(smtp_server: SMTPFake) -> None:
    """Some recipients refused: the others get the mail and the step warns."""
    smtp_server.refuse("ops@acme.example")
    ctx = make_ctx()
    plain_smtp(smtp_server)(params(cc="ops@acme.example"), ctx)
    assert smtp_server.messages[0].rcpt_tos == ["jenny.rosen@example.com"]
    assert ctx.warnings == ["email: the SMTP server refused 1 recipient(s)"]


@pytest.mark.parametrize(
    ("reply", "retryable"),
    [("451 4.3.0 Try again later", True), ("554 5.7.1 Message rejected", False)],
    ids=["451-retryable", "554-final"],
)
def test_a_refused_message(smtp_server: SMTPFake, reply: str, retryable: bool) -> None:
    """A DATA reply of 4xx is retryable, 5xx final; the message names the code."""
    smtp_server.reply_to_data(reply)
    with pytest.raises(AdapterError, match=reply.split()[0]) as info:
        plain_smtp(smtp_server)(params(), make_ctx())
    assert info.value.retryable is retryable


# -- SendGrid ------------------------------------------------------------------------------


def sendgrid(server: SendGridFake, **options: Any) -> Email:
    return Email(
        provider="sendgrid",
        sendgrid_api_key=SENDGRID_KEY,
        sendgrid_api_base=server.url,
        sender=SENDER,
        **options,
    )


def test_sendgrid_posts_the_mail(sendgrid_server: SendGridFake) -> None:
    """SendGrid gets the exact body, the Bearer key, and the idempotency key in custom_args."""
    out = sendgrid(sendgrid_server)(
        params(
            to=["Jenny Rosen <jenny.rosen@example.com>"],
            cc="ops@acme.example",
            bcc="audit@acme.example",
            reply_to="help@acme.example",
            html="<p>Hi</p>",
        ),
        make_ctx(),
    )
    assert out == {
        "provider": "sendgrid",
        "message_id": "sg-msg-1",
        "to": ["jenny.rosen@example.com"],
    }
    [request] = sendgrid_server.requests
    assert request.headers["authorization"] == f"Bearer {SENDGRID_KEY}"
    assert request.json() == {
        "personalizations": [
            {
                "to": [{"email": "jenny.rosen@example.com", "name": "Jenny Rosen"}],
                "cc": [{"email": "ops@acme.example"}],
                "bcc": [{"email": "audit@acme.example"}],
                "custom_args": {"idempotency_key": KEY},
            }
        ],
        "from": {"email": "billing@acme.example", "name": "Acme Billing"},
        "reply_to": {"email": "help@acme.example"},
        "subject": "Your payment of $10.00 failed",
        "content": [
            {
                "type": "text/plain",
                "value": "Hi Jenny, please update your card: https://invoice.stripe.com/i/x",
            },
            {"type": "text/html", "value": "<p>Hi</p>"},
        ],
    }


def test_sendgrid_uses_reply_to_list_for_several(sendgrid_server: SendGridFake) -> None:
    """Two reply-to addresses go into ``reply_to_list``."""
    sendgrid(sendgrid_server)(params(reply_to=["a@acme.example", "b@acme.example"]), make_ctx())
    body = sendgrid_server.requests[0].json()
    assert "reply_to" not in body
    assert body["reply_to_list"] == [{"email": "a@acme.example"}, {"email": "b@acme.example"}]


def test_sendgrid_settings_from_the_environment(
    sendgrid_server: SendGridFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SENDGRID_API_KEY and SENDGRID_API_BASE are read when the step runs."""
    email = Email(sender=SENDER)
    monkeypatch.setenv("SENDGRID_API_KEY", SENDGRID_KEY)
    monkeypatch.setenv("SENDGRID_API_BASE", sendgrid_server.url + "/")
    out = email(params(provider="sendgrid"), make_ctx())
    assert out["message_id"] == "sg-msg-1"
    assert len(sendgrid_server.requests) == 1


def test_sendgrid_without_a_key_sends_nothing(sendgrid_server: SendGridFake) -> None:
    """No API key anywhere: a final error naming SENDGRID_API_KEY, and no request."""
    email = Email(provider="sendgrid", sendgrid_api_base=sendgrid_server.url, sender=SENDER)
    with pytest.raises(AdapterError, match="SENDGRID_API_KEY") as info:
        email(params(), make_ctx())
    assert info.value.retryable is False
    assert sendgrid_server.requests == []


def test_sendgrid_bad_request_quotes_sendgrid(sendgrid_server: SendGridFake) -> None:
    """A 400 fails for good with SendGrid's own messages and fields."""
    sendgrid_server.answer(
        400,
        {
            "errors": [
                {
                    "message": "The from address does not match a verified Sender Identity.",
                    "field": "from",
                    "help": {},
                },
                {"message": "Invalid type. Expected: object", "field": None},
            ]
        },
    )
    with pytest.raises(AdapterError) as info:
        sendgrid(sendgrid_server)(params(), make_ctx())
    assert str(info.value) == (
        "sendgrid: HTTP 400: The from address does not match a verified Sender Identity. "
        "(field from); Invalid type. Expected: object"
    )
    assert (info.value.retryable, info.value.status) == (False, 400)


def test_sendgrid_wrong_key_is_final_and_not_quoted(sendgrid_server: SendGridFake) -> None:
    """A 401 fails for good and the message does not hold the key."""
    email = Email(
        provider="sendgrid",
        sendgrid_api_key="SG.wrong-key-999",
        sendgrid_api_base=sendgrid_server.url,
        sender=SENDER,
    )
    with pytest.raises(AdapterError, match="authorization grant is invalid") as info:
        email(params(), make_ctx())
    assert (info.value.retryable, info.value.status) == (False, 401)
    assert "SG.wrong-key-999" not in str(info.value)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (429, {"errors": [{"message": "too many requests", "field": None}]}),
        (500, {"errors": [{"message": "internal error", "field": None}]}),
        (503, ""),
    ],
    ids=["429", "500", "503"],
)
def test_sendgrid_busy_is_retryable(sendgrid_server: SendGridFake, status: int, body: Any) -> None:
    """429 and 5xx answers are retryable failures with the status."""
    sendgrid_server.answer(status, body)
    with pytest.raises(AdapterError, match=f"HTTP {status}") as info:
        sendgrid(sendgrid_server)(params(), make_ctx())
    assert (info.value.retryable, info.value.status) == (True, status)


def test_sendgrid_header_injection_sends_nothing(sendgrid_server: SendGridFake) -> None:
    """The header check runs for SendGrid too, before any request."""
    with pytest.raises(AdapterError, match="subject contains a line break"):
        sendgrid(sendgrid_server)(params(subject="Hi\r\nBcc: x@evil.example"), make_ctx())
    assert sendgrid_server.requests == []


def test_a_step_provider_overrides_the_default(
    smtp_server: SMTPFake, sendgrid_server: SendGridFake
) -> None:
    """``provider: smtp`` in a step wins over the constructor's ``provider="sendgrid"``."""
    email = sendgrid(sendgrid_server, host=smtp_server.host, port=smtp_server.port)
    email.security = "none"
    email(params(provider="smtp"), make_ctx())
    assert len(smtp_server.messages) == 1
    assert sendgrid_server.requests == []


def test_the_constructor_checks_its_options() -> None:
    """A wrong provider or security name is a programming error, raised at once."""
    with pytest.raises(ValueError, match="provider must be one of"):
        Email(provider="mailgun")
    with pytest.raises(ValueError, match="security must be one of"):
        Email(security="tls")
