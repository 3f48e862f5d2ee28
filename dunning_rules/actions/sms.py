"""The ``sms`` step type: send a text message with Twilio's Messages API.

``POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json``, form-encoded, with HTTP basic
auth (account SID and auth token) and the step's idempotency key in Twilio's
``I-Twilio-Idempotency-Token`` header, so a retried step does not send a second message.

``To``, ``From`` and ``Body`` are form fields, percent-encoded by the client: a ``&`` or ``=``
in an event value stays inside its field and cannot add one (``To`` must be E.164, and a
sender holding a control character is refused). Twilio's answers are quoted redacted: the
auth token, the basic-auth credentials and anything that looks like a credential are
replaced by ``<redacted>``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from .. import _redact
from ..errors import AdapterError
from . import _http

if TYPE_CHECKING:
    import requests

    from .base import ActionContext

__all__ = ["DEFAULT_API_BASE", "TwilioSMS", "is_e164"]

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.twilio.com"
PROVIDER = "twilio"
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
# Twilio refuses a body longer than this (error 21617).
BODY_LIMIT = 1600

_E164 = re.compile(r"\+[0-9]{8,15}")
# A sender made only of phone-number characters is a number and must be E.164 ...
_NUMBER_LIKE = re.compile(r"[0-9+().\s-]+")
# ... unless it is a short code.
_SHORT_CODE = re.compile(r"[0-9]{5,6}")
_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
# Every status: the adapter reads Twilio's error JSON itself.
_ANY_STATUS = tuple(range(300, 600))


def is_e164(number: str) -> bool:
    """Whether ``number`` is an E.164 phone number: ``+`` then 8 to 15 digits."""
    return _E164.fullmatch(number) is not None


class TwilioSMS:
    """The ``sms`` step type: one SMS through Twilio.

    Parameters: ``to`` and ``body`` (required), and at most one of ``from`` and
    ``messaging_service_sid`` (else the adapter's default sender). Credentials: constructor
    ``account_sid`` / ``auth_token`` or ``TWILIO_ACCOUNT_SID`` / ``TWILIO_AUTH_TOKEN``; default
    sender: constructor ``from_`` / ``messaging_service_sid`` or ``TWILIO_FROM`` /
    ``TWILIO_MESSAGING_SERVICE_SID``; ``api_base`` or ``TWILIO_API_BASE``. Output:
    ``{"sid", "status", "to"}`` from Twilio's answer.
    """

    params_schema: ClassVar[dict[str, Any]] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "to": {"type": "string", "minLength": 1},
            "body": {"type": "string", "minLength": 1},
            "from": {"type": "string", "minLength": 1},
            "messaging_service_sid": {"type": "string", "minLength": 1},
        },
        "required": ["to", "body"],
        "not": {"required": ["from", "messaging_service_sid"]},
        "additionalProperties": False,
    }

    def __init__(
        self,
        *,
        account_sid: str | None = None,
        auth_token: str | None = None,
        from_: str | None = None,
        messaging_service_sid: str | None = None,
        api_base: str | None = None,
        timeout: float = _http.DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._from = from_
        self._messaging_service_sid = messaging_service_sid
        self._api_base = api_base
        self._timeout = timeout
        self._session = session

    def __repr__(self) -> str:
        return f"{type(self).__name__}(timeout={self._timeout!r})"

    @property
    def secrets(self) -> tuple[str, ...]:
        """The auth token this adapter holds (constructor or environment), and the basic-auth
        credentials it makes of it, for redaction."""
        sid = self._account_sid or _env("TWILIO_ACCOUNT_SID") or ""
        found: list[str] = []
        for token in (self._auth_token, _env("TWILIO_AUTH_TOKEN")):
            if token:
                found.extend([token, _redact.basic_auth(sid, token)])
        return tuple(found)

    def __call__(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any] | None:
        to = _string(params, "to")
        if not is_e164(to):
            raise AdapterError(
                f"twilio: 'to' is not an E.164 phone number (+ then 8 to 15 digits): {to!r}",
                retryable=False,
            )
        body = _string(params, "body")
        if len(body) > BODY_LIMIT:
            raise AdapterError(
                f"twilio: 'body' is {len(body)} characters long; Twilio takes at most {BODY_LIMIT}",
                retryable=False,
            )
        sender = self._sender(params)

        account_sid = _http.setting(self._account_sid, "TWILIO_ACCOUNT_SID", provider=PROVIDER)
        auth_token = _http.setting(self._auth_token, "TWILIO_AUTH_TOKEN", provider=PROVIDER)
        if _ACCOUNT_SID.fullmatch(account_sid) is None:
            raise AdapterError(
                "twilio: the account SID must be 'AC' and 32 hex digits", retryable=False
            )
        base = self._api_base or _env("TWILIO_API_BASE") or DEFAULT_API_BASE
        url = f"{base.rstrip('/')}/2010-04-01/Accounts/{quote(account_sid, safe='')}/Messages.json"

        response = _http.send(
            "POST",
            url,
            provider=PROVIDER,
            session=self._session,
            timeout=self._timeout,
            ok_statuses=_ANY_STATUS,
            secrets=self.secrets,
            data={"To": to, **sender, "Body": body},
            auth=(account_sid, auth_token),
            headers={IDEMPOTENCY_HEADER: ctx.idempotency_key, "Accept": "application/json"},
        )
        secrets = (auth_token, _redact.basic_auth(account_sid, auth_token), *self.secrets)
        if response.status_code >= 300:
            raise _twilio_error(response, secrets)
        answer = _json(response, secrets)
        sid = answer.get("sid")
        if not isinstance(sid, str):
            raise AdapterError(
                f"twilio: HTTP {response.status_code}: the answer has no message sid",
                retryable=False,
                status=response.status_code,
            )
        logger.info("twilio: message %s is %s (run %s)", sid, answer.get("status"), ctx.run_id)
        return {"sid": sid, "status": answer.get("status"), "to": answer.get("to", to)}

    def _sender(self, params: Mapping[str, Any]) -> dict[str, str]:
        """``{"From": ...}`` or ``{"MessagingServiceSid": ...}``: the step's, else the default."""
        if params.get("from"):
            return {"From": _sender_number(_string(params, "from"))}
        if params.get("messaging_service_sid"):
            return {"MessagingServiceSid": _string(params, "messaging_service_sid")}
        if self._from:
            return {"From": _sender_number(self._from)}
        if self._messaging_service_sid:
            return {"MessagingServiceSid": self._messaging_service_sid}
        if number := _env("TWILIO_FROM"):
            return {"From": _sender_number(number)}
        if service := _env("TWILIO_MESSAGING_SERVICE_SID"):
            return {"MessagingServiceSid": service}
        raise AdapterError(
            "twilio: no sender: give the step 'from' or 'messaging_service_sid', pass from_= "
            "or messaging_service_sid= to the adapter, or set TWILIO_FROM or "
            "TWILIO_MESSAGING_SERVICE_SID",
            retryable=False,
        )


def _sender_number(sender: str) -> str:
    """``sender`` unchanged; a phone number (not a short code) must be E.164."""
    if _http.control_characters(sender):
        raise AdapterError("twilio: 'from' contains a control character", retryable=False)
    if _NUMBER_LIKE.fullmatch(sender) and not _SHORT_CODE.fullmatch(sender) and not is_e164(sender):
        raise AdapterError(
            f"twilio: 'from' is not an E.164 phone number (+ then 8 to 15 digits): {sender!r}",
            retryable=False,
        )
    return sender


def _string(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value.strip():
        got = "nothing" if value is None else repr(value)[:60]
        raise AdapterError(
            f"twilio: the parameter {name!r} must be a non-empty string, not {got}",
            retryable=False,
        )
    return value


def _json(response: requests.Response, secrets: tuple[str, ...] = ()) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise AdapterError(
            f"twilio: HTTP {response.status_code}: the answer is not a JSON object: "
            f"{_http.quote_answer(response.text, secrets, limit=200)!r}",
            retryable=False,
            status=response.status_code,
        )
    return answer


def _twilio_error(response: requests.Response, secrets: tuple[str, ...] = ()) -> AdapterError:
    """The error for a Twilio failure, with its ``code``, ``message`` and ``more_info``
    (redacted: a proxy may answer with what it was sent)."""
    status = response.status_code
    retryable = status == 429 or status >= 500
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if isinstance(answer, dict) and ("code" in answer or "message" in answer):
        message = f"twilio: HTTP {status}: error {answer.get('code')}: {answer.get('message')}"
        if answer.get("more_info"):
            message += f" ({answer['more_info']})"
    else:
        message = f"twilio: HTTP {status}: {response.text}"
    return AdapterError(
        _http.quote_answer(message, secrets, limit=400), retryable=retryable, status=status
    )


def _env(name: str) -> str | None:
    return os.environ.get(name) or None
