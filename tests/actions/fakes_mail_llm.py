"""Fake mail and model servers on 127.0.0.1 for the ``email`` and ``llm`` step tests.

- :class:`SMTPFake`: an aiosmtpd server (plain, STARTTLS or implicit TLS, with or without
  AUTH) that records every message it accepts.
- :class:`SendGridFake`: ``POST /v3/mail/send``; checks each request against SendGrid's schema
  (tests/fixtures/vendors/sendgrid_mail_send.json) and answers like SendGrid.
- :class:`LLMFake`: an OpenAI-compatible ``POST /v1/chat/completions`` (and
  ``/chat/completions``) plus Anthropic's ``POST /v1/messages``; the test sets the answer (a
  draft, an HTTP error, a delay) and the server records the requests.

Use the fixtures by importing them into a test module: each is defined as ``fixture_<name>``
and registered as ``<name>`` (``from tests.actions.fakes_mail_llm import fixture_smtp_server``
gives the fixture ``smtp_server``), so test arguments do not shadow imported names.
``litellm_module`` imports litellm once per session (it takes seconds).
"""

from __future__ import annotations

import datetime as dt
import email.parser
import email.policy
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from dunning_rules.actions.base import ActionContext
from tests.httpfake import Request, Response, Vendor
from tests.paths import FIXTURES

VENDORS = FIXTURES / "vendors"
EVENTS = FIXTURES / "stripe" / "events"

SMTP_USER = "billing@acme.example"
SMTP_PASSWORD = "app-password-1234"  # a test value, not a secret
SENDGRID_KEY = "SG.test-key.0123456789"  # a test value, not a secret
LLM_KEY = "sk-test-dummy"  # a test value, not a secret

# Environment variables the adapters read: a test starts without any of them.
ADAPTER_ENV = (
    "DUNNING_EMAIL_FROM",
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_USERNAME",
    "SMTP_PASSWORD",
    "SMTP_SECURITY",
    "SENDGRID_API_KEY",
    "SENDGRID_API_BASE",
    "DUNNING_LLM_API_BASE",
)


def load_event(name: str = "invoice.payment_failed") -> dict[str, Any]:
    """A Stripe event from tests/fixtures/stripe/events."""
    return json.loads((EVENTS / f"{name}.json").read_text())  # type: ignore[no-any-return]


def make_ctx(**changes: Any) -> ActionContext:
    """An ActionContext for one step, on the invoice.payment_failed fixture event."""
    values: dict[str, Any] = {
        "event": load_event(),
        "run_id": "run_1",
        "rule": "card-declined",
        "action_id": "notify",
        "idempotency_key": "evt_1PgdA1B7WZ01zgkWdunn0001:card-declined:0",
        "stripe_client": None,
        "now": dt.datetime(2026, 8, 1, 9, 30, tzinfo=dt.timezone.utc),
        "index": 0,
        "step_type": "email",
    }
    values.update(changes)
    return ActionContext(**values)


@pytest.fixture(name="clean_env")
def fixture_clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove the adapters' environment variables, so the machine's own cannot leak in."""
    for name in ADAPTER_ENV:
        monkeypatch.delenv(name, raising=False)


# -- TLS ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TLSFiles:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts only this self-signed certificate."""
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(name="tls_files", scope="session")
def fixture_tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed: cannot make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    files = TLSFiles(cert=folder / "cert.pem", key=folder / "key.pem")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(files.key), "-out", str(files.cert)],
        check=True,
        capture_output=True,
        timeout=30,
    )  # fmt: skip
    return files


# -- SMTP -----------------------------------------------------------------------------------


@dataclass
class ReceivedMail:
    """One message the SMTP server accepted: the envelope and the raw data."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool

    @property
    def message(self) -> EmailMessage:
        data = self.data.replace(b"\r\n", b"\n")
        parsed = email.parser.BytesParser(policy=email.policy.default).parsebytes(data)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class _SMTPHandler:
    messages: list[ReceivedMail] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # address -> SMTP reply
    data_reply: str | None = None
    greetings: int = 0  # EHLOs seen: a client that opened a session

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        self.greetings += 1
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply is not None:
            return self.data_reply
        self.messages.append(
            ReceivedMail(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                data=envelope.original_content or envelope.content,
                tls=session.ssl is not None,
            )
        )
        return "250 2.0.0 Message accepted for delivery"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (right now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class SMTPFake:
    """An SMTP server on 127.0.0.1: ``security`` is ``none``, ``starttls`` or ``ssl``.

    With ``credentials`` it offers AUTH (over TLS only) and, under STARTTLS, requires it.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        security: str = "none",
        *,
        tls: TLSFiles | None = None,
        credentials: dict[str, str] | None = None,
    ) -> None:
        self.security = security
        self.credentials = credentials or {}
        self.handler = _SMTPHandler()
        self.port = free_port()
        kwargs: dict[str, Any] = {"server_hostname": "localhost", "ready_timeout": 5.0}
        if self.credentials:
            kwargs["authenticator"] = self._authenticate
        if security == "starttls":
            assert tls is not None
            kwargs.update(
                tls_context=tls.server_context(),
                require_starttls=True,
                auth_required=bool(self.credentials),
            )
        elif security == "ssl":
            assert tls is not None
            # Implicit TLS: aiosmtpd only sees STARTTLS as TLS, so allow AUTH on this socket.
            kwargs.update(ssl_context=tls.server_context(), auth_require_tls=False)
        self.controller = Controller(self.handler, hostname=self.host, port=self.port, **kwargs)

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        username, password = auth_data.login.decode(), auth_data.password.decode()
        self.handler.logins.append((username, password))
        ok = self.credentials.get(username) == password
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535

    @property
    def messages(self) -> list[ReceivedMail]:
        return self.handler.messages

    @property
    def logins(self) -> list[tuple[str, str]]:
        return self.handler.logins

    @property
    def greetings(self) -> int:
        """How many SMTP sessions a client opened (EHLO)."""
        return self.handler.greetings

    def refuse(self, address: str, reply: str = "550 5.1.1 No such user") -> None:
        """Answer RCPT TO for ``address`` with ``reply``."""
        self.handler.refuse[address] = reply

    def reply_to_data(self, reply: str) -> None:
        """Answer DATA with ``reply`` (e.g. ``451 4.3.0 Try again later``)."""
        self.handler.data_reply = reply

    def __enter__(self) -> SMTPFake:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


@pytest.fixture(name="smtp_server")
def fixture_smtp_server() -> Iterator[SMTPFake]:
    """A plain SMTP server (no TLS, no AUTH)."""
    with SMTPFake("none") as server:
        yield server


@pytest.fixture(name="smtp_tls_server")
def fixture_smtp_tls_server(tls_files: TLSFiles) -> Iterator[SMTPFake]:
    """An SMTP server that requires STARTTLS and then AUTH as SMTP_USER/SMTP_PASSWORD."""
    with SMTPFake("starttls", tls=tls_files, credentials={SMTP_USER: SMTP_PASSWORD}) as server:
        yield server


@pytest.fixture(name="smtp_ssl_server")
def fixture_smtp_ssl_server(tls_files: TLSFiles) -> Iterator[SMTPFake]:
    """An SMTP server on implicit TLS (port 465 style) that offers AUTH."""
    with SMTPFake("ssl", tls=tls_files, credentials={SMTP_USER: SMTP_PASSWORD}) as server:
        yield server


# -- SendGrid -------------------------------------------------------------------------------


def _sendgrid_contract() -> dict[str, Any]:
    return json.loads((VENDORS / "sendgrid_mail_send.json").read_text())  # type: ignore[no-any-return]


SENDGRID_401 = {
    "errors": [
        {
            "message": "The provided authorization grant is invalid, expired, or revoked",
            "field": None,
        }
    ]
}


class SendGridFake(Vendor):
    """``POST /v3/mail/send`` as SendGrid answers it: 202 with ``X-Message-Id`` by default.

    Each request is checked against the vendor schema (a violation fails the test); a wrong
    API key gets SendGrid's 401. Queue other answers with :meth:`answer`.
    """

    def __init__(self) -> None:
        contract = _sendgrid_contract()
        self.schema: dict[str, Any] = contract["request_schema"]
        self.validator = jsonschema.Draft4Validator(
            self.schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
        )
        self.error_validator = jsonschema.Draft4Validator(contract["responses"]["400"]["schema"])
        super().__init__()

    def answer(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        """Answer the next request with ``status`` and ``body`` instead of 202."""
        if status == 400:
            self.error_validator.validate(body)
        self.queue(Response(status, body, headers or {}))

    def _handle(self, request: Request) -> Response:
        assert (request.method, request.path) == ("POST", "/v3/mail/send")
        assert request.headers["content-type"].startswith("application/json")
        if request.headers.get("authorization") != f"Bearer {SENDGRID_KEY}":
            return Response(401, SENDGRID_401)
        body = request.json()
        self.validator.validate(body)
        unknown = set(body) - set(self.schema["properties"])
        assert not unknown, f"keys SendGrid does not know: {unknown}"
        queued = self.next_answer()
        if queued is not None:
            return queued
        return Response(202, None, {"X-Message-Id": f"sg-msg-{len(self.requests)}"})


@pytest.fixture(name="sendgrid_shared", scope="session")
def fixture_sendgrid_shared() -> Iterator[SendGridFake]:
    """One SendGrid server for the session (stopping a server takes half a second)."""
    with SendGridFake() as fake:
        yield fake


@pytest.fixture(name="sendgrid_server")
def fixture_sendgrid_server(sendgrid_shared: SendGridFake) -> Iterator[SendGridFake]:
    """The fake SendGrid, with no requests recorded and no answers queued."""
    sendgrid_shared.reset()
    yield sendgrid_shared
    sendgrid_shared.server.check()


# -- OpenAI-compatible and Anthropic model server ---------------------------------------------

_OPENAI_REQUEST = {
    "type": "object",
    "required": ["model", "messages"],
    "properties": {
        "model": {"type": "string", "minLength": 1},
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["role", "content"],
                "properties": {
                    "role": {"enum": ["system", "developer", "user", "assistant"]},
                    "content": {"type": "string"},
                },
            },
        },
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "max_tokens": {"type": "integer", "minimum": 1},
        "max_completion_tokens": {"type": "integer", "minimum": 1},
        "stream": {"const": False},
    },
}
_ANTHROPIC_REQUEST = {
    "type": "object",
    "required": ["model", "messages", "max_tokens"],
    "properties": {
        "model": {"type": "string", "minLength": 1},
        "max_tokens": {"type": "integer", "minimum": 1},
        "system": {
            "anyOf": [
                {"type": "string"},
                {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["type", "text"],
                        "properties": {"type": {"const": "text"}, "text": {"type": "string"}},
                    },
                },
            ]
        },
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["role", "content"],
                "properties": {"role": {"enum": ["user", "assistant"]}},
            },
        },
        "temperature": {"type": "number", "minimum": 0, "maximum": 1},
    },
}
_OPENAI_PATHS = ("/v1/chat/completions", "/chat/completions")
_OPENAI_ERRORS = {
    401: ("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
    429: ("Rate limit reached for requests", "requests", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request.", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
}
_ANTHROPIC_ERRORS = {
    401: ("authentication_error", "invalid x-api-key"),
    429: ("rate_limit_error", "Number of requests has exceeded your rate limit"),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}


class LLMFake(Vendor):
    """A model server whose answer the test sets: ``draft``, ``status`` and ``delay``.

    Serves ``POST /v1/chat/completions`` and ``POST /chat/completions`` (OpenAI shape) and
    ``POST /v1/messages`` (Anthropic shape); checks each request's body, and records it.
    """

    DRAFT = "Hi Jenny, your payment did not go through. Please pay at https://pay.example/i/1."

    def __init__(self) -> None:
        self._released = threading.Event()
        super().__init__()

    def clear(self) -> None:
        self.draft, self.status, self.delay = self.DRAFT, 200, 0.0

    def reset(self) -> None:
        """Back to the default answer; a delayed answer still waiting is let go."""
        self._released.set()
        self._released = threading.Event()
        super().reset()

    def answer(self, draft: str | None = None, *, status: int = 200, delay: float = 0.0) -> None:
        """Set what the next requests get."""
        if draft is not None:
            self.draft = draft
        self.status = status
        self.delay = delay

    def last_json(self) -> dict[str, Any]:
        assert self.requests, "the model server got no request"
        body: dict[str, Any] = self.requests[-1].json()
        return body

    def _handle(self, request: Request) -> Response:
        if self.delay:
            self._released.wait(self.delay)
            return Response(504, {"error": {"message": "the client should have given up"}})
        if request.method == "POST" and request.path in _OPENAI_PATHS:
            return self._openai(request)
        if request.method == "POST" and request.path == "/v1/messages":
            return self._anthropic(request)
        return Response(404, {"error": {"message": f"Unknown path {request.path}"}})

    def _openai(self, request: Request) -> Response:
        assert request.headers.get("authorization") == f"Bearer {LLM_KEY}"
        body = request.json()
        jsonschema.validate(body, _OPENAI_REQUEST)
        if self.status != 200:
            message, kind, code = _OPENAI_ERRORS[self.status]
            error = {"message": message, "type": kind, "param": None, "code": code}
            return Response(self.status, {"error": error})
        return Response(
            200,
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": 1785576600,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": self.draft, "refusal": None},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160},
                "system_fingerprint": "fp_test",
            },
        )

    def _anthropic(self, request: Request) -> Response:
        assert request.headers.get("x-api-key") == LLM_KEY
        assert request.headers.get("anthropic-version")
        body = request.json()
        jsonschema.validate(body, _ANTHROPIC_REQUEST)
        if self.status != 200:
            kind, message = _ANTHROPIC_ERRORS[self.status]
            return Response(
                self.status, {"type": "error", "error": {"type": kind, "message": message}}
            )
        return Response(
            200,
            {
                "id": f"msg_{len(self.requests)}",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": [{"type": "text", "text": self.draft}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 120, "output_tokens": 40},
            },
        )

    def __exit__(self, *exc: object) -> None:
        self._released.set()  # let a delayed answer go before the server stops
        super().__exit__(*exc)


@pytest.fixture(name="litellm_module", scope="session")
def fixture_litellm_module() -> Any:
    """litellm, imported once for the whole session (the import takes seconds)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    litellm = pytest.importorskip("litellm")
    litellm.suppress_debug_info = True
    return litellm


@pytest.fixture(name="llm_shared", scope="session")
def fixture_llm_shared() -> Iterator[LLMFake]:
    """One model server for the session (stopping a server takes half a second)."""
    with LLMFake() as fake:
        yield fake


@pytest.fixture(name="llm_server")
def fixture_llm_server(llm_shared: LLMFake, litellm_module: Any) -> Iterator[LLMFake]:
    """The fake model server, answering the default draft, with no requests recorded."""
    llm_shared.reset()
    yield llm_shared
    llm_shared.server.check()
