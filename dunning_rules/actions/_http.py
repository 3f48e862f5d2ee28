"""One way for every HTTP adapter to call a provider: a timeout, and one error type.

A network error, HTTP 429 or a 5xx raises a retryable :class:`AdapterError`; any other 4xx a
final one. The message names the provider and the HTTP status, and quotes a short piece of the
provider's answer, never the request's credentials.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import requests

from ..errors import AdapterError

DEFAULT_TIMEOUT = 10.0
_SNIPPET = 300


def send(
    method: str,
    url: str,
    *,
    provider: str,
    session: requests.Session | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    ok_statuses: tuple[int, ...] = (),
    **kwargs: Any,
) -> requests.Response:
    """Send one request and raise :class:`AdapterError` unless the answer is a success.

    ``kwargs`` go to :meth:`requests.Session.request` (``json``, ``data``, ``headers``,
    ``auth``). A 2xx status, or one in ``ok_statuses``, is a success.
    """
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
    raise AdapterError(
        f"{provider}: HTTP {status}: {response.text[:_SNIPPET]}",
        retryable=retryable,
        status=status,
    )


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
