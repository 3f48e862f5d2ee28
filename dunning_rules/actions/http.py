"""The ``http`` step type: call any HTTP endpoint with JSON.

The request carries an ``Idempotency-Key`` header (the step's ``ctx.idempotency_key``) unless
the rule sets one. A header value that holds a line break, any other control character, an
RFC 2047 encoded word or a character outside Latin-1 is refused before anything is sent (a
final failure), so an event value can never add a header. Credentials for the endpoint belong
in the adapter's ``headers`` (Python), not in the rule file; they are kept out of error
messages and of the step's output (an endpoint that echoes the request gets them replaced by
``<redacted>``).
"""

from __future__ import annotations

import logging
import math
import re
import urllib.parse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from .. import _redact
from ..errors import AdapterError
from ._http import DEFAULT_TIMEOUT, check_header, request_secrets, send

if TYPE_CHECKING:
    import requests

    from .base import ActionContext

__all__ = ["HTTP"]

logger = logging.getLogger(__name__)

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
TEXT_LIMIT = 10_000
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP header name (RFC 9110 token)
_BAD_VALUE = re.compile(r"[\x00-\x20\x7f-\x9f\u2028\u2029]")


def _fail(message: str) -> AdapterError:
    return AdapterError(f"http: {message}", retryable=False)


def _check_url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail("'url' must be a non-empty string")
    url = value.strip()
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise _fail("'url' must be an absolute http or https URL")
    if _BAD_VALUE.search(url):
        raise _fail("'url' must not contain spaces, line breaks or control characters")
    return url


def _check_headers(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail("'headers' must be a mapping of header names to text")
    headers: dict[str, str] = {}
    for name, item in value.items():
        if not isinstance(name, str) or not _TOKEN.match(name):
            raise _fail(f"header name {name!r} is not a valid HTTP header name")
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise _fail(f"header {name!r} must be text, got {type(item).__name__}")
        headers[name] = check_header(name, str(item), provider="http")
    return headers


def _check_timeout(value: Any, default: float) -> float:
    if value is None or value == "":
        return default
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise _fail(f"'timeout' must be a number of seconds, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(seconds) or seconds <= 0:
        raise _fail(f"'timeout' must be a positive number of seconds, got {value!r}")
    return seconds


def _truncate(text: str, limit: int = TEXT_LIMIT) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", errors="ignore")


def _scrub(value: Any, secrets: tuple[str, ...]) -> Any:
    """``value`` (a JSON answer) with the request's credentials replaced in every string:
    the output is stored in run history, and an endpoint may echo what it was sent."""
    if not secrets:
        return value
    if isinstance(value, str):
        return _redact.redact_known(value, secrets)
    if isinstance(value, list):
        return [_scrub(item, secrets) for item in value]
    if isinstance(value, dict):
        return {key: _scrub(item, secrets) for key, item in value.items()}
    return value


class HTTP:
    """``http``: send one request and return ``{"status", "json", "text"}``.

    Keyword-only settings, all optional: ``headers`` sent with every request (credentials
    such as ``Authorization`` go here, never in the rule file; a rule's header of the same
    name wins), ``timeout`` in seconds (default 10; a step's ``timeout`` overrides it) and a
    ``requests.Session``.
    """

    params_schema: ClassVar[dict[str, Any]] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["url"],
        "properties": {
            "url": {"type": "string", "minLength": 1},
            "method": {"enum": list(METHODS)},
            "headers": {
                "type": "object",
                "propertyNames": {"pattern": _TOKEN.pattern},
                "additionalProperties": {"type": ["string", "number"]},
            },
            "json": {},
            "timeout": {"type": ["number", "string"]},
        },
        "additionalProperties": False,
    }

    def __init__(
        self,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        self._headers = dict(headers or {})
        self._timeout = timeout
        self._session = session

    def __repr__(self) -> str:
        return f"{type(self).__name__}(headers={sorted(self._headers)!r})"

    @property
    def secrets(self) -> tuple[str, ...]:
        """The credential headers given to the constructor (``Authorization``, ``X-Api-Key``,
        any name with token, key, secret or signature in it), for redaction."""
        return request_secrets(self._headers)

    def __call__(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any] | None:
        url = _check_url(params.get("url"))
        method = params.get("method") or "POST"
        if method not in METHODS:
            raise _fail(f"'method' must be one of {', '.join(METHODS)}, got {method!r}")
        rule_headers = _check_headers(params.get("headers"))
        timeout = _check_timeout(params.get("timeout"), self._timeout)
        headers = {"Accept": "application/json", **self._headers}
        lower = {name.lower(): name for name in headers}
        for name, value in rule_headers.items():
            headers.pop(lower.get(name.lower(), name), None)
            headers[name] = value
        if not any(name.lower() == "idempotency-key" for name in headers):
            headers["Idempotency-Key"] = ctx.idempotency_key
        kwargs: dict[str, Any] = {}
        if "json" in params:
            kwargs["json"] = params["json"]
        secrets = (*self.secrets, *request_secrets(headers, url=url))
        response = send(
            method,
            url,
            provider="http",
            session=self._session,
            timeout=timeout,
            secrets=secrets,
            headers=headers,
            allow_redirects=False,
            **kwargs,
        )
        body: Any = None
        text: str | None = None
        if response.content:
            try:
                body = _scrub(response.json(), secrets)
            except ValueError:
                text = _truncate(_redact.redact_known(response.text, secrets))
        logger.info("http %s answered %s", method, response.status_code)
        return {"status": response.status_code, "json": body, "text": text}
