"""One way for every HTTP adapter to call a provider: a timeout, checked headers, one error type.

A network error, HTTP 429 or a 5xx raises a retryable :class:`AdapterError`; any other 4xx a
final one. The message names the provider and the HTTP status, and quotes a short piece of the
provider's answer, redacted (:mod:`dunning_rules._redact`): the request's own credentials, the
``secrets`` the adapter passes, and anything that looks like a credential are replaced by
``<redacted>``, so a provider or proxy that echoes the request cannot put a key in run history.

Every header value is checked before anything is sent (:func:`check_header`): a line break,
a control character, an RFC 2047 encoded word or a character outside Latin-1 is a final
:class:`AdapterError`, never a retryable encoding failure and never a second header.
"""

from __future__ import annotations

import os
import re
import unicodedata
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

import requests

from .. import _redact
from ..errors import AdapterError

DEFAULT_TIMEOUT = 10.0
_SNIPPET = 300
# An RFC 2047 encoded word: some readers decode it into any text, line breaks included.
ENCODED_WORD = re.compile(r"=\?[^?]*\?[^?]*\?.*?\?=", re.DOTALL)
# Header names whose values are credentials, whatever the provider calls them.
_CREDENTIAL_HEADER = re.compile(r"(?i)authorization|api[-_]?key|token|secret|cookie|signature")


def control_characters(value: str, *, allow: str = "") -> list[str]:
    """The characters of ``value`` that could end a line or hide structure: C0 and C1
    controls, DEL, and the Unicode line and paragraph separators (except those in ``allow``)."""
    return [
        ch for ch in value if ch not in allow and (unicodedata.category(ch) in ("Cc", "Zl", "Zp"))
    ]


def check_header(name: str, value: str, *, provider: str) -> str:
    """``value`` if it is safe as the value of HTTP header ``name``; else a final error.

    Refused: CR, LF and every other control character (a tab is allowed, as HTTP allows it),
    U+2028/U+2029, an RFC 2047 encoded word, and any character outside Latin-1 (HTTP/1.1
    sends header values as Latin-1 bytes). The message names the header, not its value.
    """
    bad = control_characters(value, allow="\t")
    if bad:
        raise AdapterError(
            f"{provider}: header {name!r} contains a line break or control character "
            f"({', '.join(f'U+{ord(ch):04X}' for ch in sorted(set(bad)))}); nothing was sent",
            retryable=False,
        )
    if ENCODED_WORD.search(value):
        raise AdapterError(
            f"{provider}: header {name!r} contains an encoded word (=?...?=); nothing was sent",
            retryable=False,
        )
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise AdapterError(
            f"{provider}: header {name!r} has a character outside Latin-1, which HTTP headers "
            "cannot carry; nothing was sent",
            retryable=False,
        ) from None
    return value


def request_secrets(
    headers: Mapping[str, Any] | None, auth: Any = None, url: str | None = None
) -> tuple[str, ...]:
    """The credentials a request carries: credential-named header values (and the part of an
    ``Authorization`` value after its scheme), a basic-auth pair and its base64 form, and the
    password of the URL, if any."""
    found: list[str] = []
    for name, value in (headers or {}).items():
        if not isinstance(value, str) or "idempotency" in str(name).lower():
            continue
        if _CREDENTIAL_HEADER.search(str(name)):
            found.append(value)
            scheme, _, credential = value.partition(" ")
            if credential and scheme.isalpha():
                found.append(credential.strip())
    if isinstance(auth, tuple) and len(auth) == 2 and all(isinstance(a, str) for a in auth):
        found.extend([auth[1], _redact.basic_auth(auth[0], auth[1])])
    if url:
        password = urllib.parse.urlsplit(url).password
        if password:
            found.append(password)
    return tuple(found)


def send(
    method: str,
    url: str,
    *,
    provider: str,
    session: requests.Session | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    ok_statuses: tuple[int, ...] = (),
    secrets: Iterable[str] = (),
    **kwargs: Any,
) -> requests.Response:
    """Send one request and raise :class:`AdapterError` unless the answer is a success.

    ``kwargs`` go to :meth:`requests.Session.request` (``json``, ``data``, ``headers``,
    ``auth``). A 2xx status, or one in ``ok_statuses``, is a success. ``secrets`` are more
    values to keep out of the error message (the adapter's credentials).
    """
    headers = kwargs.get("headers") or {}
    for name, value in headers.items():
        if isinstance(value, str):
            check_header(str(name), value, provider=provider)
    _redact.install_log_filter()
    caller = session if session is not None else requests
    try:
        response = caller.request(method, url, timeout=timeout, **kwargs)
    except requests.Timeout as exc:
        raise AdapterError(
            f"{provider}: no answer within {timeout:g}s ({type(exc).__name__})", retryable=True
        ) from None
    except requests.RequestException as exc:
        # requests' own message holds the URL, which may carry a secret (webhook URLs do).
        raise AdapterError(
            f"{provider}: request failed: {type(exc).__name__}", retryable=True
        ) from None
    status = response.status_code
    if 200 <= status < 300 or status in ok_statuses:
        return response
    retryable = status == 429 or status >= 500
    known = (*secrets, *request_secrets(headers, kwargs.get("auth"), url))
    raise AdapterError(
        f"{provider}: HTTP {status}: {quote_answer(response.text, known)}",
        retryable=retryable,
        status=status,
    )


def quote_answer(text: str, secrets: Iterable[str] = (), *, limit: int = _SNIPPET) -> str:
    """A provider's answer as an error message may quote it: redacted first, then cut to
    ``limit`` characters (cutting first could leave half a secret that no longer matches)."""
    return _redact.redact(text, secrets)[:limit]


def setting(
    value: str | None, env: str, *, provider: str, environ: Mapping[str, str] | None = None
) -> str:
    """A credential or setting: the constructor's value, else the environment variable ``env``.

    Raises a final :class:`AdapterError` naming the variable when neither is set.
    """
    if value:
        return value
    found = (os.environ if environ is None else environ).get(env)
    if found:
        return found
    raise AdapterError(
        f"{provider}: no credentials: pass them to the adapter or set {env}", retryable=False
    )


def env_values(*names: str) -> tuple[str, ...]:
    """The values of the environment variables ``names`` that are set (for ``secrets``)."""
    return tuple(value for name in names if (value := os.environ.get(name)))
