"""One redaction for every error message, log line and stored record that adapters produce.

:func:`redact` replaces two kinds of secret with ``<redacted>``:

- the credential values an adapter holds (its ``secrets``, see :func:`collect_secrets`), in
  the forms they travel in: as they are, percent-encoded and, for passwords sent with HTTP
  basic auth or SMTP AUTH, base64-encoded;
- anything that looks like a credential, whoever holds it: the value of an ``Authorization``
  header, ``Bearer``/``Basic`` credentials, ``token=``, ``api_key=``, ``key=``, ``sig=``,
  ``password=``, ``secret=`` (query strings, forms, JSON and libpq keyword strings), the
  password of a URL (``scheme://user:pass@host``), Slack webhook paths
  (``/services/T…/B…/…``), Teams webhook paths (``/webhookb2/…``), Slack tokens
  (``xoxb-…``) and SendGrid keys (``SG.….…``).

:func:`redact_url` is for store URLs (``postgresql://user:pw@host/db`` or
``host=db password=pw``): the password goes, the rest stays readable.
"""

from __future__ import annotations

import base64
import logging
import re
import urllib.parse
from collections.abc import Iterable

__all__ = [
    "MIN_SECRET",
    "REDACTED",
    "RedactingFilter",
    "basic_auth",
    "collect_secrets",
    "derived_forms",
    "install_log_filter",
    "redact",
    "redact_known",
    "redact_url",
    "url_secrets",
]

REDACTED = "<redacted>"
# A known secret shorter than this is not searched for: it would blank out ordinary words.
MIN_SECRET = 4

# Names whose value is a credential, in `name=value`, `name: value` and `"name": "value"`.
# ("idempotency_key" and "I-Twilio-Idempotency-Token" are not secrets: left alone.)
_NAMED = re.compile(
    r"""(?ix)
    (?<![\w-])
    (?P<name>
        (?:[\w-]*[_-])?
        (?:access[_-]?token|auth[_-]?token|refresh[_-]?token|token|api[_-]?key|apikey|key
          |sig|signature|password|passwd|pwd|secret|client[_-]?secret|authorization)
    )
    (?P<sep>["']?\s*[:=]\s*["']?)
    (?P<value>[^\s&"',;}<>\]]+)
    """
)
_NOT_SECRET_NAMES = ("idempotency", "idempotency_key", "idempotency-key")
# An Authorization header: the whole value (scheme and credentials) to the end of the line.
_AUTH_HEADER = re.compile(
    r"""(?im)(?P<head>\b(?:proxy-)?authorization["']?\s*[:=]\s*["']?)(?P<value>[^"'\r\n,}]+)"""
)
# A credential after its scheme: it holds a digit or one of . _ ~ + / = - (prose does not).
_SCHEME_CREDENTIAL = re.compile(
    r"\b(?P<scheme>[Bb]earer|[Bb]asic)\s+(?=[\w.~+/=:-]*[0-9._~+/=-])[\w.~+/=:-]{4,}"
)
_URL_PASSWORD = re.compile(
    r"(?i)(?P<head>\b[a-z][a-z0-9+.-]*://[^\s/:@?#]*):(?P<value>[^\s/@?#]*)@"
)
_SLACK_WEBHOOK = re.compile(r"/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+")
_TEAMS_WEBHOOK = re.compile(r"(?i)(?P<head>/webhook(?:b2)?/)[^\s\"'<>]+")
_SLACK_TOKEN = re.compile(r"\bxox[abeoprs]-[A-Za-z0-9-]+|\bxapp-[A-Za-z0-9-]+")
_SENDGRID_KEY = re.compile(r"\bSG\.[\w-]+\.[\w-]+")
# libpq keyword strings: password='it''s' or password=value.
_LIBPQ_PASSWORD = re.compile(
    r"(?i)(?P<head>\b(?:ssl)?password\s*=\s*)(?P<value>'(?:[^'\\]|\\.|'')*'|[^\s]+)"
)


def derived_forms(secret: str) -> tuple[str, ...]:
    """``secret`` as it may appear in an echo: itself and percent-encoded."""
    forms = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}
    return tuple(form for form in forms if len(form) >= MIN_SECRET)


def url_secrets(url: str) -> tuple[str, ...]:
    """A URL that is itself a credential (a webhook URL) and the parts that hold the secret:
    the path with its query, the path, the query and each query value."""
    parts = urllib.parse.urlsplit(url)
    found = [url]
    if parts.query:
        found.append(f"{parts.path}?{parts.query}")
        found.append(parts.query)
        found.extend(value for _, value in urllib.parse.parse_qsl(parts.query) if value)
    if len(parts.path) > 1:
        found.append(parts.path)
    return tuple(part for part in found if len(part) >= MIN_SECRET)


def basic_auth(username: str, password: str) -> str:
    """The base64 credentials of an HTTP ``Authorization: Basic`` header."""
    return base64.b64encode(f"{username}:{password}".encode()).decode()


def redact_known(text: str, secrets: Iterable[str]) -> str:
    """``text`` with only the given secrets (and their encoded forms) replaced: for data
    such as a step's output, where a credential-looking pattern may be a real value."""
    forms: set[str] = set()
    for secret in secrets:
        if isinstance(secret, str) and len(secret) >= MIN_SECRET:
            forms.update(derived_forms(secret))
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, REDACTED)
    return text


def _named(match: re.Match[str]) -> str:
    name = match.group("name")
    if name.lower().startswith(_NOT_SECRET_NAMES) or "idempotency" in name.lower():
        return match.group(0)
    if match.group("value") == REDACTED or match.group("value").startswith("<redacted"):
        return match.group(0)
    return f"{name}{match.group('sep')}{REDACTED}"


def _patterns(text: str) -> str:
    text = _AUTH_HEADER.sub(lambda m: f"{m.group('head')}{REDACTED}", text)
    text = _SCHEME_CREDENTIAL.sub(lambda m: f"{m.group('scheme')} {REDACTED}", text)
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}:{REDACTED}@", text)
    text = _SLACK_WEBHOOK.sub(f"/services/{REDACTED}", text)
    text = _TEAMS_WEBHOOK.sub(lambda m: f"{m.group('head')}{REDACTED}", text)
    text = _SLACK_TOKEN.sub(REDACTED, text)
    text = _SENDGRID_KEY.sub(REDACTED, text)
    return _NAMED.sub(_named, text)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every known secret and every credential-looking value replaced by
    ``<redacted>``. Known secrets go first (longest first), then the patterns."""
    return _patterns(redact_known(text, secrets))


def redact_url(url: str) -> str:
    """A store URL or libpq connection string without its password.

    ``postgresql://app:pw@db/x`` gives ``postgresql://app:<redacted>@db/x``, and
    ``host=db password='p w'`` gives ``host=db password=<redacted>``.
    """
    if "://" in url:
        return _patterns(_URL_PASSWORD.sub(lambda m: f"{m.group('head')}:{REDACTED}@", url))
    return _patterns(_LIBPQ_PASSWORD.sub(lambda m: f"{m.group('head')}{REDACTED}", url))


def collect_secrets(adapters: Iterable[object]) -> frozenset[str]:
    """Every credential the adapters hold: the union of their ``secrets`` (a tuple of strings;
    an adapter without one holds none it declares). An adapter whose ``secrets`` raises is
    skipped, so one broken plugin cannot stop the others' redaction."""
    found: set[str] = set()
    for adapter in adapters:
        try:
            values = getattr(adapter, "secrets", ())
            items = tuple(values) if values is not None else ()
        except Exception:  # a third-party adapter's property: never let it break redaction
            continue
        found.update(item for item in items if isinstance(item, str) and len(item) >= MIN_SECRET)
    return frozenset(found)


class RedactingFilter(logging.Filter):
    """A logging filter that passes every record with its message redacted (patterns only).

    The adapters put it on ``urllib3.connectionpool``, which logs each request's path and
    query at DEBUG: a webhook URL there is a credential.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record whose arguments do not format: leave it to logging
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def install_log_filter(name: str = "urllib3.connectionpool") -> None:
    """Put one :class:`RedactingFilter` on the logger ``name`` (idempotent)."""
    target = logging.getLogger(name)
    if not any(isinstance(existing, RedactingFilter) for existing in target.filters):
        target.addFilter(RedactingFilter())
