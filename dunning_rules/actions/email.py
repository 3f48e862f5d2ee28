"""The ``email`` step type: one message, by SMTP or through SendGrid.

Parameters (after rendering): ``to`` (an address or a list), ``subject``, ``text``, and
optionally ``html``, ``from``, ``reply_to``, ``cc``, ``bcc`` and ``provider`` (``smtp`` or
``sendgrid``). An address is ``jane@example.com`` or ``Jane Doe <jane@example.com>``.

Every address and header value is checked before any connection is opened, and headers are
built from :mod:`email.headerregistry` objects, so no inserted text can become structure. A
final :class:`~dunning_rules.errors.AdapterError` fails the step, and nothing is sent, for:

- a line break (CR, LF, NEL, U+2028, U+2029...) or any other control character in a header
  value (``to``, ``from``, ``subject``, ``reply_to``, ``cc``, ``bcc``, display names);
- an RFC 2047 encoded word (``=?utf-8?q?...?=``) in one of them: the email package would
  decode it into any text, line breaks included. It is refused, not rewritten, so what is
  sent is what the rule rendered;
- an address that does not parse as exactly one mailbox, or a display name holding ``<``,
  ``>``, ``"`` or ``\\``. A display name with ``,`` or ``;`` is quoted (SMTP) or sent in
  double quotes (SendGrid, which otherwise reads the comma as a second recipient);
- in ``html``, a link or source (``href``, ``src``...) whose scheme is not http, https,
  mailto, tel or cid (``javascript:``, ``data:``, ``vbscript:``...).

Output: ``{"provider": "smtp" | "sendgrid", "message_id": ..., "to": [addresses]}``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import logging
import os
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, ClassVar

import requests

from .. import _redact
from ..errors import AdapterError
from . import _http
from ._links import check_html_links
from ._mailbox import Mailbox, check_header_params, mailboxes, parse_mailbox
from .base import ActionContext

__all__ = ["Email", "message_id"]

logger = logging.getLogger(__name__)

PROVIDERS = ("smtp", "sendgrid")
SECURITY_MODES = ("starttls", "ssl", "none")
DEFAULT_SENDGRID_API_BASE = "https://api.sendgrid.com"
_DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
_SENDGRID_FINAL = (400, 401, 403, 404, 405, 413, 415)

_ADDRESSES: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "minLength": 1},
        {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
    ]
}


@dataclass(frozen=True, slots=True)
class _Message:
    """A checked message, ready for either provider."""

    sender: Mailbox
    to: tuple[Mailbox, ...]
    cc: tuple[Mailbox, ...]
    bcc: tuple[Mailbox, ...]
    reply_to: tuple[Mailbox, ...]
    subject: str
    text: str
    html: str | None


def _fail(message: str) -> AdapterError:
    return AdapterError(f"email: {message}", retryable=False)


def _optional_text(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _fail(f"{name} must be text, not {type(value).__name__}")
    return value


def _required_text(params: dict[str, Any], name: str) -> str:
    value = _optional_text(params, name)
    if value is None or not value.strip():
        raise _fail(f"{name} is empty")
    return value


def _html_body(params: dict[str, Any]) -> str | None:
    """The ``html`` part, with every link and source checked (:func:`check_html_links`)."""
    body = _optional_text(params, "html")
    if body is not None:
        problem = check_html_links(body)
        if problem is not None:
            raise _fail(f"html: {problem}: refusing to send")
    return body


def message_id(idempotency_key: str) -> str:
    """The Message-ID for a step: the same for every attempt of one step of one run."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    return f"<{digest}@dunning-rules>"


class Email:
    """The ``email`` step type: send one message by SMTP or through SendGrid.

    Every option is keyword-only and optional; a missing one is read from its environment
    variable when a step runs: ``sender`` (``DUNNING_EMAIL_FROM``), ``host`` (``SMTP_HOST``),
    ``port`` (``SMTP_PORT``), ``username``/``password`` (``SMTP_USERNAME``/``SMTP_PASSWORD``),
    ``security`` (``SMTP_SECURITY``: ``starttls``, ``ssl`` or ``none``),
    ``sendgrid_api_key`` (``SENDGRID_API_KEY``) and ``sendgrid_api_base``
    (``SENDGRID_API_BASE``). ``provider`` is the default for steps without ``provider:``.
    ``ssl_context`` verifies the SMTP server (default: the system's trusted certificates).
    """

    params_schema: ClassVar[dict[str, Any]] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["to", "subject", "text"],
        "additionalProperties": False,
        "properties": {
            "to": _ADDRESSES,
            "subject": {"type": "string", "minLength": 1},
            "text": {"type": "string", "minLength": 1},
            "html": {"type": "string"},
            "from": {"type": "string", "minLength": 1},
            "reply_to": _ADDRESSES,
            "cc": _ADDRESSES,
            "bcc": _ADDRESSES,
            "provider": {"enum": list(PROVIDERS)},
        },
    }
    # The engine applies escapes[param] to each value that a placeholder inserts into param.
    escapes: ClassVar[dict[str, Callable[[str], str]]] = {"html": html.escape}

    def __init__(
        self,
        *,
        provider: str | None = None,
        sender: str | None = None,
        host: str | None = None,
        port: int | None = None,
        username: str | None = None,
        password: str | None = None,
        security: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
        sendgrid_api_key: str | None = None,
        sendgrid_api_base: str | None = None,
        session: requests.Session | None = None,
        timeout: float = _http.DEFAULT_TIMEOUT,
    ) -> None:
        if provider is not None and provider not in PROVIDERS:
            raise ValueError(f"provider must be one of {PROVIDERS}, not {provider!r}")
        if security is not None and security not in SECURITY_MODES:
            raise ValueError(f"security must be one of {SECURITY_MODES}, not {security!r}")
        self.provider = provider
        self.sender = sender
        self.host = host
        self.port = port
        self.username = username
        self._password = password
        self.security = security
        self.ssl_context = ssl_context
        self.local_hostname = local_hostname
        self._sendgrid_api_key = sendgrid_api_key
        self.sendgrid_api_base = sendgrid_api_base
        self.session = session
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"Email(provider={self.provider!r}, host={self.host!r})"

    @property
    def secrets(self) -> tuple[str, ...]:
        """The credentials this adapter holds (constructor or environment), in the forms they
        travel in (SMTP AUTH sends them base64-encoded), for redaction."""
        found = [
            value
            for value in (
                self._password,
                self._sendgrid_api_key,
                *_http.env_values("SMTP_PASSWORD", "SENDGRID_API_KEY"),
            )
            if value
        ]
        username = self.username or os.environ.get("SMTP_USERNAME") or ""
        for password in list(found):
            found.append(base64.b64encode(password.encode()).decode())
            found.append(base64.b64encode(f"\0{username}\0{password}".encode()).decode())
        return tuple(found)

    def __call__(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        provider = params.get("provider") or self.provider or "smtp"
        if provider not in PROVIDERS:
            raise _fail(f"provider must be one of {', '.join(PROVIDERS)}, not {provider!r}")
        message = self._build(params)
        if provider == "sendgrid":
            sent_id = self._send_sendgrid(message, ctx)
        else:
            sent_id = self._send_smtp(message, ctx)
        logger.info(
            "email sent via %s to %d recipient(s), message id %s",
            provider,
            len(message.to) + len(message.cc) + len(message.bcc),
            sent_id,
        )
        return {
            "provider": provider,
            "message_id": sent_id,
            "to": [box.addr for box in message.to],
        }

    # -- deciding -----------------------------------------------------------------------

    def _build(self, params: dict[str, Any]) -> _Message:
        """Check every parameter; raise a final AdapterError before anything is sent."""
        check_header_params(params)
        sender_value = params.get("from") or self.sender or os.environ.get("DUNNING_EMAIL_FROM")
        if not sender_value:
            raise _fail("no sender: set from:, pass sender= to Email, or set DUNNING_EMAIL_FROM")
        if not isinstance(sender_value, str):
            raise _fail("from must be one address")
        check_header_params({"from": sender_value})
        return _Message(
            sender=parse_mailbox(sender_value, "from"),
            to=mailboxes(params.get("to"), "to", required=True),
            cc=mailboxes(params.get("cc"), "cc", required=False),
            bcc=mailboxes(params.get("bcc"), "bcc", required=False),
            reply_to=mailboxes(params.get("reply_to"), "reply_to", required=False),
            subject=_required_text(params, "subject"),
            text=_required_text(params, "text"),
            html=_html_body(params),
        )

    # -- SMTP ---------------------------------------------------------------------------

    def _smtp_settings(self) -> tuple[str, int, str]:
        host = self.host or os.environ.get("SMTP_HOST")
        if not host:
            raise _fail("no SMTP server: pass host= to Email or set SMTP_HOST")
        security = self.security or os.environ.get("SMTP_SECURITY") or None
        raw_port: int | str | None = self.port or os.environ.get("SMTP_PORT") or None
        try:
            port = int(raw_port) if raw_port is not None else None
        except ValueError:
            raise _fail(f"SMTP_PORT must be a number, not {raw_port!r}") from None
        if security is None:
            security = "ssl" if port == 465 else "starttls"
        security = security.lower()
        if security not in SECURITY_MODES:
            raise _fail(f"SMTP_SECURITY must be one of {', '.join(SECURITY_MODES)}")
        return host, port or _DEFAULT_PORTS[security], security

    def _send_smtp(self, message: _Message, ctx: ActionContext) -> str:
        host, port, security = self._smtp_settings()
        username = self.username or os.environ.get("SMTP_USERNAME") or None
        password = None
        if username is not None:
            if security == "none":
                raise _fail("refusing to send the SMTP password without TLS (SMTP_SECURITY=none)")
            password = _http.setting(self._password, "SMTP_PASSWORD", provider="email: smtp")
        mail = self._smtp_message(message, ctx)
        recipients = [box.addr for box in (*message.to, *message.cc, *message.bcc)]
        context = self.ssl_context or ssl.create_default_context()
        try:
            client: smtplib.SMTP
            if security == "ssl":
                client = smtplib.SMTP_SSL(
                    host,
                    port,
                    local_hostname=self.local_hostname,
                    timeout=self.timeout,
                    context=context,
                )
            else:
                client = smtplib.SMTP(
                    host, port, local_hostname=self.local_hostname, timeout=self.timeout
                )
            with client:
                if security == "starttls":
                    client.starttls(context=context)
                if username is not None and password is not None:
                    client.login(username, password)
                refused = client.send_message(
                    mail, from_addr=message.sender.addr, to_addrs=recipients
                )
        except smtplib.SMTPException as exc:
            raise _smtp_error(exc, self.secrets) from None
        except ssl.SSLError as exc:
            raise AdapterError(
                f"email: smtp: TLS with {host}:{port} failed: {exc}", retryable=False
            ) from None
        except OSError as exc:
            raise AdapterError(
                f"email: smtp: cannot reach {host}:{port}: {exc}", retryable=True
            ) from None
        if refused:
            ctx.warn(f"email: the SMTP server refused {len(refused)} recipient(s)")
        return str(mail["Message-ID"])

    def _smtp_message(self, message: _Message, ctx: ActionContext) -> EmailMessage:
        # Headers from headerregistry objects: the policy quotes and encodes names itself,
        # and nothing in a value is parsed again as header syntax.
        mail = EmailMessage()
        mail["From"] = message.sender.address()
        mail["To"] = tuple(box.address() for box in message.to)
        if message.cc:
            mail["Cc"] = tuple(box.address() for box in message.cc)
        if message.reply_to:
            mail["Reply-To"] = tuple(box.address() for box in message.reply_to)
        mail["Subject"] = message.subject
        mail["Date"] = format_datetime(ctx.now)
        mail["Message-ID"] = message_id(ctx.idempotency_key)
        mail.set_content(message.text)
        if message.html is not None:
            mail.add_alternative(message.html, subtype="html")
        return mail

    # -- SendGrid -----------------------------------------------------------------------

    def _send_sendgrid(self, message: _Message, ctx: ActionContext) -> str | None:
        api_key = _http.setting(self._sendgrid_api_key, "SENDGRID_API_KEY", provider="sendgrid")
        base = (
            self.sendgrid_api_base
            or os.environ.get("SENDGRID_API_BASE")
            or DEFAULT_SENDGRID_API_BASE
        ).rstrip("/")
        response = _http.send(
            "POST",
            f"{base}/v3/mail/send",
            provider="sendgrid",
            session=self.session,
            timeout=self.timeout,
            ok_statuses=_SENDGRID_FINAL,
            secrets=(api_key, *self.secrets),
            json=_sendgrid_body(message, ctx.idempotency_key),
            headers={"Authorization": f"Bearer {api_key}"},
        )
        if response.status_code in _SENDGRID_FINAL:
            detail = _redact.redact(_sendgrid_errors(response), (api_key, *self.secrets))
            raise AdapterError(
                f"sendgrid: HTTP {response.status_code}: {detail}",
                retryable=False,
                status=response.status_code,
            )
        return response.headers.get("X-Message-Id")


def _sendgrid_body(message: _Message, idempotency_key: str) -> dict[str, Any]:
    """The JSON body of ``POST /v3/mail/send`` for ``message``."""
    personalization: dict[str, Any] = {"to": [box.sendgrid() for box in message.to]}
    if message.cc:
        personalization["cc"] = [box.sendgrid() for box in message.cc]
    if message.bcc:
        personalization["bcc"] = [box.sendgrid() for box in message.bcc]
    # SendGrid has no idempotency header; custom_args travel with the message's events.
    # (The spec types the top-level custom_args as a string, so they go here, as an object.)
    personalization["custom_args"] = {"idempotency_key": idempotency_key}
    content = [{"type": "text/plain", "value": message.text}]
    if message.html:
        content.append({"type": "text/html", "value": message.html})
    body: dict[str, Any] = {
        "personalizations": [personalization],
        "from": message.sender.sendgrid(),
        "subject": message.subject,
        "content": content,
    }
    if len(message.reply_to) == 1:
        body["reply_to"] = message.reply_to[0].sendgrid()
    elif message.reply_to:
        body["reply_to_list"] = [box.sendgrid() for box in message.reply_to]
    return body


def _sendgrid_errors(response: requests.Response) -> str:
    """SendGrid's own messages from a ``{"errors": [...]}`` answer."""
    try:
        errors = response.json().get("errors")
        messages = [
            f"{error['message']} (field {error['field']})"
            if error.get("field")
            else str(error["message"])
            for error in errors
        ]
    except (ValueError, AttributeError, TypeError, KeyError):
        return _http.quote_answer(response.text) or response.reason
    return _http.quote_answer("; ".join(messages), limit=600) or response.reason


def _smtp_error(exc: smtplib.SMTPException, secrets: tuple[str, ...] = ()) -> AdapterError:
    """Classify an SMTP failure: 4xx replies and dropped connections may pass on retry.

    The server's reply is quoted redacted: a server may echo what it was sent."""
    code: int | None = getattr(exc, "smtp_code", None)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [reply[0] for reply in exc.recipients.values()]
        retryable = bool(codes) and all(400 <= c < 500 for c in codes)
        return AdapterError(
            f"email: smtp: every recipient was refused (codes {sorted(set(codes))})",
            retryable=retryable,
        )
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return AdapterError(
            f"email: smtp: login refused ({code}): check SMTP_USERNAME and SMTP_PASSWORD",
            retryable=False,
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return AdapterError(
            f"email: smtp: {_http.quote_answer(str(exc), secrets)}", retryable=False
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return AdapterError(
            f"email: smtp: the server disconnected: {_http.quote_answer(str(exc), secrets)}",
            retryable=True,
        )
    detail = getattr(exc, "smtp_error", b"")
    text = detail.decode(errors="replace") if isinstance(detail, bytes) else str(exc)
    retryable = code is not None and 400 <= code < 500
    return AdapterError(
        f"email: smtp: {code}: {_http.quote_answer(text, secrets)}", retryable=retryable
    )
