"""Email tried as an attacker would: event text that tries to become headers, recipients or
links, against a real SMTP server (aiosmtpd) and the SendGrid fake, on 127.0.0.1."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import dunning_rules as dr
from dunning_rules.actions.email import Email, message_id
from dunning_rules.errors import AdapterError
from tests.actions.fakes_mail_llm import (
    SENDGRID_KEY,
    SendGridFake,
    SMTPFake,
    fixture_clean_env,  # noqa: F401 (a fixture)
    fixture_sendgrid_server,  # noqa: F401 (a fixture)
    fixture_sendgrid_shared,  # noqa: F401 (a fixture)
    fixture_smtp_server,  # noqa: F401 (a fixture)
    load_event,
    make_ctx,
)

pytestmark = pytest.mark.usefixtures("clean_env")

SENDER = "Acme Billing <billing@acme.example>"
KEY = "evt_1PgdA1B7WZ01zgkWdunn0001:card-declined:0"
# Decodes (RFC 2047) to "Jenny\r\nReply-To: attacker@evil.example".
ENCODED_WORD = "=?utf-8?q?Jenny=0D=0AReply-To:_attacker@evil.example?="


def params(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "to": "jenny.rosen@example.com",
        "subject": "Your payment failed",
        "text": "Please update your card.",
    }
    values.update(changes)
    return values


def smtp(server: SMTPFake) -> Email:
    return Email(host=server.host, port=server.port, security="none", sender=SENDER)


def sendgrid(server: SendGridFake) -> Email:
    return Email(
        provider="sendgrid",
        sendgrid_api_key=SENDGRID_KEY,
        sendgrid_api_base=server.url,
        sender=SENDER,
    )


def engine_with(adapter: Email, step: str, customer: dict[str, Any]) -> tuple[dr.Engine, Any]:
    rules = dr.load_rules(
        "version: 1\nrules:\n  - name: notify\n    on: invoice.payment_failed\n"
        f"    actions:\n      - type: email\n{step}"
    )
    event = copy.deepcopy(load_event())
    event["data"]["object"].update(customer)
    return dr.Engine(rules, adapters={"email": adapter}), event


ENCODED_WORD_VALUES = {
    "subject": ENCODED_WORD,
    "to": f"{ENCODED_WORD} <jenny.rosen@example.com>",
    "from": f"{ENCODED_WORD} <billing@acme.example>",
    "reply_to": f"{ENCODED_WORD} <help@acme.example>",
    "cc": [f"{ENCODED_WORD} <ops@acme.example>"],
    "bcc": "=?utf-8?q?x=3E=2C_evil=40evil.example?=@acme.example",
}


@pytest.mark.parametrize("field", list(ENCODED_WORD_VALUES), ids=list(ENCODED_WORD_VALUES))
def test_smtp_refuses_an_encoded_word_in_any_header(smtp_server: SMTPFake, field: str) -> None:
    """An RFC 2047 encoded word in a header value or display name fails for good and no SMTP
    session is opened (the email package would decode it into a line break and a header)."""
    with pytest.raises(AdapterError, match=f"^email: {field} contains an RFC 2047") as info:
        smtp(smtp_server)(params(**{field: ENCODED_WORD_VALUES[field]}), make_ctx())
    assert info.value.retryable is False
    assert (smtp_server.greetings, smtp_server.messages) == (0, [])


def test_sendgrid_refuses_an_encoded_word(sendgrid_server: SendGridFake) -> None:
    """SendGrid gets the same refusal, before any request."""
    with pytest.raises(AdapterError, match="subject contains an RFC 2047 encoded word"):
        sendgrid(sendgrid_server)(params(subject=f"Hi {ENCODED_WORD}"), make_ctx())
    assert sendgrid_server.requests == []


@pytest.mark.parametrize(
    ("char", "kind"),
    [
        ("\x85", "line break"),
        ("\u2029", "line break"),
        ("\x9b", "control character"),
        ("\x08", "control character"),
    ],
    ids=["nel", "paragraph-separator", "c1-csi", "backspace"],
)
@pytest.mark.parametrize("field", ["subject", "to"], ids=["subject", "display-name"])
def test_smtp_refuses_unicode_breaks_and_c1_controls(
    smtp_server: SMTPFake, char: str, kind: str, field: str
) -> None:
    """NEL, U+2029 and C0/C1 controls in a header or display name fail before sending."""
    value = f"Jenny{char}Bcc: victim@evil.example"
    if field == "to":
        value = f"Jenny{char}Rosen <jenny.rosen@example.com>"
    with pytest.raises(AdapterError, match=f"{field} contains a {kind}"):
        smtp(smtp_server)(params(**{field: value}), make_ctx())
    assert smtp_server.greetings == 0


@pytest.mark.parametrize(
    "name",
    ['Jenny" <evil@evil.example>, "x', 'Jenny\\" Rosen', 'Je"nny'],
    ids=["closing-quote", "backslash", "quote"],
)
def test_a_quote_or_backslash_in_a_display_name_is_refused(
    smtp_server: SMTPFake, name: str
) -> None:
    """A display name that could close its quotes is refused, not rewritten."""
    with pytest.raises(AdapterError, match=r"^email: to: .* is not an email address"):
        smtp(smtp_server)(params(to=f"{name} <jenny.rosen@example.com>"), make_ctx())
    assert smtp_server.greetings == 0


def test_a_comma_in_a_display_name_adds_no_recipient_by_smtp(smtp_server: SMTPFake) -> None:
    """`Doe, Jane; x <a>` goes to one recipient: the received message has exactly the expected
    headers, the name quoted in To, and the body as rendered."""
    smtp(smtp_server)(
        params(to="Rosen, Jenny; evil@evil.example <jenny.rosen@example.com>"), make_ctx()
    )
    [mail] = smtp_server.messages
    assert mail.rcpt_tos == ["jenny.rosen@example.com"]
    msg = mail.message
    assert list(msg.keys()) == [
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "Content-Type",
        "Content-Transfer-Encoding",
        "MIME-Version",
    ]
    assert [a.addr_spec for a in msg["To"].addresses] == ["jenny.rosen@example.com"]
    assert msg["To"].addresses[0].display_name == "Rosen, Jenny; evil@evil.example"
    assert b'To: "Rosen, Jenny; evil@evil.example" <jenny.rosen@example.com>' in mail.data
    assert msg["Message-ID"] == message_id(KEY)
    assert msg.get_content() == "Please update your card.\n"


def test_a_comma_in_a_display_name_is_quoted_for_sendgrid(sendgrid_server: SendGridFake) -> None:
    """SendGrid splits an unquoted name at , and ; (a second recipient): the name is sent in
    double quotes, and the request fits SendGrid's schema."""
    sendgrid(sendgrid_server)(
        params(to="Rosen, Jenny <jenny.rosen@example.com>", cc="Ops; Team <ops@acme.example>"),
        make_ctx(),
    )
    [request] = sendgrid_server.requests
    personalization = request.json()["personalizations"][0]
    assert personalization["to"] == [{"email": "jenny.rosen@example.com", "name": '"Rosen, Jenny"'}]
    assert personalization["cc"] == [{"email": "ops@acme.example", "name": '"Ops; Team"'}]


def test_the_reported_attack_through_the_engine_sends_nothing(smtp_server: SMTPFake) -> None:
    """A customer named with an encoded word, inserted into `subject` by a placeholder, fails
    the step for good: no Reply-To, no blank line, no phishing body reaches the server."""
    attack = (
        "=?utf-8?q?Jenny=0D=0AReply-To:_attacker@evil.example=0D=0AX-Evil:_1"
        "=0D=0A=0D=0APlease_pay_at_https://evil.example?="
    )
    engine, event = engine_with(
        smtp(smtp_server),
        "        to: jenny.rosen@example.com\n"
        '        subject: "Hi {{ data.object.customer_name }}, your payment failed"\n'
        "        text: Please update your card.\n",
        {"customer_name": attack},
    )
    [record] = engine.handle(event).actions
    assert record.status == "failed"
    assert record.error is not None
    assert record.error.startswith("email: subject contains an RFC 2047 encoded word")
    assert (smtp_server.greetings, smtp_server.messages) == (0, [])


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(document.cookie)", " JaVaScRiPt:alert(1)", "data:text/html,<b>x</b>",
     "vbscript:msgbox(1)", "java\tscript:alert(1)"],
    ids=["javascript", "mixed-case", "data", "vbscript", "tab-inside"],
)  # fmt: skip
def test_an_event_url_that_runs_code_never_reaches_an_href(smtp_server: SMTPFake, url: str) -> None:
    """A link built from event data must be http(s) (or mailto/tel/cid): `javascript:`,
    `data:` and `vbscript:` fail the step and nothing is sent."""
    engine, event = engine_with(
        smtp(smtp_server),
        "        to: jenny.rosen@example.com\n"
        "        subject: Your payment failed\n"
        "        text: Please update your card.\n"
        "        html: '<p><a href=\"{{ data.object.hosted_invoice_url }}\">Pay now</a></p>'\n",
        {"hosted_invoice_url": url},
    )
    [record] = engine.handle(event).actions
    assert record.status == "failed"
    assert record.error is not None
    assert "<a href> links to a" in record.error
    assert smtp_server.messages == []


def test_inserted_html_is_escaped_once(smtp_server: SMTPFake) -> None:
    """Text a placeholder inserts into `html` is escaped exactly once: markup from the event
    is shown as text, and a link's `&` is `&amp;` in the attribute, never `&amp;amp;`."""
    engine, event = engine_with(
        smtp(smtp_server),
        "        to: jenny.rosen@example.com\n"
        "        subject: Your payment failed\n"
        "        text: Please update your card.\n"
        "        html: '<p>Hi {{ data.object.customer_name }}</p>"
        '<a href="{{ data.object.hosted_invoice_url }}">Pay</a>\'\n',
        {
            "customer_name": '<img src=x onerror="alert(1)">',
            "hosted_invoice_url": "https://pay.example/i?a=1&b=2",
        },
    )
    [record] = engine.handle(event).actions
    assert record.status == "ok", record.error
    [mail] = smtp_server.messages
    html_part = next(p for p in mail.message.iter_parts() if p.get_content_type() == "text/html")
    assert html_part.get_content() == (
        "<p>Hi &lt;img src=x onerror=&quot;alert(1)&quot;&gt;</p>"
        '<a href="https://pay.example/i?a=1&amp;b=2">Pay</a>\n'
    )
