"""The ``slack`` step type: post a message to Slack.

Two ways to post, chosen by the credentials the adapter finds (first match wins):

1. a bot token (constructor ``token``) -> ``chat.postMessage``, to the step's ``channel``;
2. an incoming webhook (constructor ``webhook_url``) -> the webhook's own channel;
3. the environment variable ``SLACK_BOT_TOKEN`` -> as 1;
4. the environment variable ``SLACK_WEBHOOK_URL`` -> as 2.

Event values must not become Slack markup: :func:`escape_mrkdwn` escapes ``&``, ``<`` and
``>``, and the adapter declares it in ``escapes`` so the engine applies it to every value a
``{{ }}`` placeholder inserts into ``text`` and ``blocks``. A customer named ``<!channel>``
then pings nobody, and ``<https://evil.example|pay here>`` is shown as text.

``blocks`` are structure written in the rule file; placeholders may fill in text, never
blocks (see ``Slack.params_schema``). ``blocks: "{{ ... }}"`` is refused when the engine is
built unless it names a setting (``{{ settings.blocks }}``, which the rule file's author
wrote); inside literal blocks a whole-value placeholder may only fill a string field (a text
object's ``text``, a URL, ``alt_text``...), and the adapter checks that it did. URL fields
(``url``, ``image_url``, ``*_url``) are not mrkdwn: the adapter takes the engine's escaping
back out of them, so ``&`` stays ``&``, and sends only absolute http(s) URLs.

This module also holds what other Slack-based adapters reuse: :class:`SlackWebAPI` (one way
to call ``chat.postMessage``), :func:`mrkdwn_sections` and :func:`post_to_secret_url` (a
POST to a URL that is itself a credential, such as a webhook URL, with the URL kept out of
every error message).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from .. import _redact
from ..errors import AdapterError
from . import _http
from ._blocks import BLOCKS_DEFS, BLOCKS_SCHEMA, checked_blocks

if TYPE_CHECKING:
    import requests

    from .base import ActionContext

__all__ = [
    "DEFAULT_API_BASE",
    "Slack",
    "SlackWebAPI",
    "escape_mrkdwn",
    "mrkdwn_sections",
    "optional_text",
    "post_to_secret_url",
    "required_text",
]

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://slack.com/api"
PROVIDER = "slack"

# Slack's limit for the text of one section block.
SECTION_TEXT_LIMIT = 3000
# Slack's limit for the number of blocks in one message.
BLOCKS_LIMIT = 50

# ``ok: false`` errors after which the same request may succeed later.
RETRYABLE_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
    }
)

_TS = re.compile(r"[0-9]+\.[0-9]+")


def escape_mrkdwn(text: str) -> str:
    """Escape the three characters that Slack's mrkdwn treats as control characters.

    ``&`` becomes ``&amp;``, ``<`` ``&lt;`` and ``>`` ``&gt;``, so ``<!channel>`` or
    ``<https://x|click>`` inside a value is shown as text, not as a mention or a link.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn_sections(text: str, *, block_id: str | None = None) -> list[dict[str, Any]]:
    """Section blocks with mrkdwn ``text``, split at line ends to stay under Slack's limit.

    A section holds at most 3000 characters; longer text becomes several sections (a line
    longer than the limit is cut, never inside an ``&amp;``-style escape). ``block_id`` is
    given to the first section.
    """
    chunks: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > SECTION_TEXT_LIMIT:
            cut = _safe_cut(line, SECTION_TEXT_LIMIT)
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:cut])
            line = line[cut:]
        if len(current) + len(line) > SECTION_TEXT_LIMIT:
            chunks.append(current)
            current = ""
        current += line
    if current or not chunks:
        chunks.append(current)
    blocks: list[dict[str, Any]] = []
    for number, chunk in enumerate(chunks):
        block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": chunk}}
        if number == 0 and block_id is not None:
            block["block_id"] = block_id
        blocks.append(block)
    return blocks


def _safe_cut(line: str, limit: int) -> int:
    """Where to cut ``line`` at or before ``limit`` without splitting an ``&...;`` escape."""
    amp = line.rfind("&", max(0, limit - 5), limit)
    if amp != -1 and ";" not in line[amp:limit]:
        return amp if amp > 0 else limit
    return limit


def post_to_secret_url(
    url: str,
    payload: Mapping[str, Any],
    *,
    provider: str,
    timeout: float,
    session: requests.Session | None = None,
    secrets: tuple[str, ...] = (),
) -> requests.Response:
    """POST ``payload`` as JSON to ``url``, a URL that is itself a credential.

    Errors are :class:`AdapterError` as from :func:`_http.send`, with the URL (and its path
    and query, which hold the secret) and ``secrets`` replaced by ``<redacted>`` and no
    chained exception, so neither the message nor a logged traceback shows the secret.
    """
    hidden = (*_redact.url_secrets(url), *secrets)
    try:
        return _http.send(
            "POST",
            url,
            provider=provider,
            session=session,
            timeout=timeout,
            secrets=hidden,
            json=payload,
        )
    except AdapterError as exc:
        message = _redact.redact(str(exc), hidden)
        error = AdapterError(message, retryable=exc.retryable, status=exc.status)
    raise error from None


@dataclass(frozen=True, slots=True, kw_only=True)
class SlackWebAPI:
    """Calls Slack's Web API ``chat.postMessage`` with a bot token.

    ``token`` defaults to the environment variable ``SLACK_BOT_TOKEN`` and ``api_base`` to
    ``SLACK_API_BASE`` or ``https://slack.com/api``, both read when a message is posted.
    """

    token: str | None = field(default=None, repr=False)
    api_base: str | None = None
    timeout: float = _http.DEFAULT_TIMEOUT
    session: requests.Session | None = None

    def resolve_token(self) -> str:
        """The bot token; a final :class:`AdapterError` naming ``SLACK_BOT_TOKEN`` if none."""
        return _http.setting(self.token, "SLACK_BOT_TOKEN", provider=PROVIDER)

    def post_message(
        self, payload: Mapping[str, Any], *, token: str | None = None
    ) -> dict[str, Any]:
        """Post one message; return Slack's answer (a dict with ``ok: true``).

        HTTP 429 (with its ``Retry-After``), 5xx and the ``ok: false`` errors in
        ``RETRYABLE_ERRORS`` raise a retryable :class:`AdapterError`; other failures
        (``channel_not_found``, ``not_in_channel``, ``invalid_auth``...) a final one.
        """
        return self.call("chat.postMessage", payload, token=token)

    def call(
        self,
        method: str,
        payload: Mapping[str, Any],
        *,
        token: str | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Call the Web API ``method`` (``chat.postMessage``, ``chat.update``,
        ``chat.postEphemeral``) with a JSON body; errors as :meth:`post_message` says."""
        bearer = token if token is not None else self.resolve_token()
        base = self.api_base or _env("SLACK_API_BASE") or DEFAULT_API_BASE
        response = _http.send(
            "POST",
            base.rstrip("/") + "/" + method,
            provider=PROVIDER,
            session=self.session,
            timeout=timeout if timeout is not None else self.timeout,
            ok_statuses=(429,),
            secrets=(bearer,),
            json=dict(payload),
            headers={
                "Authorization": f"Bearer {bearer}",
                "Content-Type": "application/json; charset=utf-8",
            },
        )
        if response.status_code == 429:
            wait = response.headers.get("Retry-After")
            after = f" (Retry-After: {wait}s)" if wait else ""
            raise AdapterError(
                f"slack: {method}: HTTP 429: rate limited{after}",
                retryable=True,
                status=429,
            )
        try:
            answer = response.json()
        except ValueError:
            raise AdapterError(
                f"slack: {method}: HTTP {response.status_code}: the answer is not "
                f"JSON: {_http.quote_answer(response.text, (bearer,), limit=200)!r}",
                retryable=False,
                status=response.status_code,
            ) from None
        if not isinstance(answer, dict) or answer.get("ok") is not True:
            raise _slack_failure(answer, response.status_code, (bearer,), method)
        metadata = answer.get("response_metadata")
        warnings = metadata.get("warnings") if isinstance(metadata, dict) else None
        if warnings or answer.get("warning"):
            logger.debug(
                "slack: %s warnings: %s",
                method,
                _redact.redact(str(warnings or answer.get("warning")), (bearer,)),
            )
        return answer


def _slack_failure(
    answer: Any, status: int, secrets: tuple[str, ...] = (), method: str = "chat.postMessage"
) -> AdapterError:
    """The :class:`AdapterError` for an ``ok: false`` answer."""
    error = answer.get("error") if isinstance(answer, dict) else None
    code = error if isinstance(error, str) else "unknown_error"
    message = f"slack: {method} failed: {_http.quote_answer(code, secrets, limit=100)}"
    details = answer.get("response_metadata", {}) if isinstance(answer, dict) else {}
    notes = details.get("messages") if isinstance(details, dict) else None
    if isinstance(notes, list) and notes:
        message += " (" + _http.quote_answer("; ".join(str(n) for n in notes[:3]), secrets) + ")"
    return AdapterError(message, retryable=code in RETRYABLE_ERRORS, status=status)


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


def required_text(params: Mapping[str, Any], name: str, *, provider: str = PROVIDER) -> str:
    """A string parameter that must be there and not blank, checked after rendering."""
    value = params.get(name)
    if not isinstance(value, str) or not value.strip():
        got = "nothing" if value is None else repr(value)[:60]
        raise AdapterError(
            f"{provider}: the parameter {name!r} must be a non-empty string, not {got}",
            retryable=False,
        )
    return value


def optional_text(params: Mapping[str, Any], name: str, *, provider: str = PROVIDER) -> str | None:
    """A string parameter that may be missing, null or empty (all mean "not given")."""
    value = params.get(name)
    if value is None or value == "":
        return None
    return required_text(params, name, provider=provider)


def _blocks(params: Mapping[str, Any], text: str) -> list[dict[str, Any]]:
    """The step's ``blocks`` (checked, URL fields restored), or mrkdwn sections of ``text``."""
    blocks = params.get("blocks")
    if blocks is None:
        return mrkdwn_sections(text)
    if not isinstance(blocks, list) or not all(
        isinstance(b, dict) and isinstance(b.get("type"), str) for b in blocks
    ):
        raise AdapterError(
            "slack: 'blocks' must be a list of Block Kit blocks (mappings with a 'type')",
            retryable=False,
        )
    if not 1 <= len(blocks) <= BLOCKS_LIMIT:
        raise AdapterError(
            f"slack: 'blocks' must hold 1 to {BLOCKS_LIMIT} blocks, not {len(blocks)}",
            retryable=False,
        )
    return checked_blocks(blocks)


def _thread_ts(params: Mapping[str, Any]) -> str | None:
    value = params.get("thread_ts")
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _TS.fullmatch(value):
        raise AdapterError(
            f"slack: 'thread_ts' must be a message timestamp like 1503435956.000247, not {value!r}",
            retryable=False,
        )
    return value


class Slack:
    """The ``slack`` step type: a message by ``chat.postMessage`` or an incoming webhook.

    Parameters: ``channel`` (needed with a bot token), ``text`` (required), optional
    ``blocks`` (Block Kit, passed through) and ``thread_ts``. Output:
    ``{"channel": <channel ID>, "ts": <message ts>}``; for a webhook both are None.
    """

    params_schema: ClassVar[dict[str, Any]] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "channel": {"type": "string", "minLength": 1},
            "text": {"type": "string", "minLength": 1},
            "blocks": BLOCKS_SCHEMA,
            "thread_ts": {"type": "string"},
        },
        "required": ["text"],
        "additionalProperties": False,
        "$defs": BLOCKS_DEFS,
    }
    param_messages: ClassVar[dict[str, str]] = {
        "blocks": "a placeholder may fill in text, never add blocks: write a list of blocks, "
        'or exactly "{{ settings.<name> }}"'
    }
    escapes: ClassVar[dict[str, Callable[[str], str]]] = {
        "text": escape_mrkdwn,
        "blocks": escape_mrkdwn,
    }

    def __init__(
        self,
        *,
        token: str | None = None,
        webhook_url: str | None = None,
        api_base: str | None = None,
        timeout: float = _http.DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        self._api = SlackWebAPI(token=token, api_base=api_base, timeout=timeout, session=session)
        self._webhook_url = webhook_url
        self._timeout = timeout
        self._session = session

    def __repr__(self) -> str:
        return f"{type(self).__name__}(timeout={self._timeout!r})"

    @property
    def secrets(self) -> tuple[str, ...]:
        """The credentials this adapter holds (constructor or environment), for redaction."""
        found = [v for v in (self._api.token, _env("SLACK_BOT_TOKEN")) if v]
        for url in (self._webhook_url, _env("SLACK_WEBHOOK_URL")):
            if url:
                found.extend(_redact.url_secrets(url))
        return tuple(found)

    def __call__(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any] | None:
        text = required_text(params, "text")
        channel = optional_text(params, "channel")
        blocks = _blocks(params, text)
        thread_ts = _thread_ts(params)

        token, webhook_url = self._credentials()
        if webhook_url is not None:
            if channel is not None:
                ctx.warn(
                    "slack: 'channel' is ignored: an incoming webhook posts to its own channel"
                )
            body: dict[str, Any] = {"text": text, "blocks": blocks}
            if thread_ts is not None:
                body["thread_ts"] = thread_ts
            post_to_secret_url(
                webhook_url,
                body,
                provider="slack webhook",
                timeout=self._timeout,
                session=self._session,
                secrets=self.secrets,
            )
            logger.info("slack: posted by incoming webhook (run %s)", ctx.run_id)
            return {"channel": None, "ts": None}

        if channel is None:
            raise AdapterError(
                "slack: the parameter 'channel' is required to post with a bot token",
                retryable=False,
            )
        payload: dict[str, Any] = {"channel": channel, "text": text, "blocks": blocks}
        if thread_ts is not None:
            payload["thread_ts"] = thread_ts
        answer = self._api.post_message(payload, token=token)
        logger.info("slack: posted to %s (run %s)", answer.get("channel"), ctx.run_id)
        return {"channel": answer.get("channel"), "ts": answer.get("ts")}

    def _credentials(self) -> tuple[str | None, str | None]:
        """(token, None) or (None, webhook URL): constructor first, then the environment."""
        if self._api.token:
            return self._api.token, None
        if self._webhook_url:
            return None, self._webhook_url
        token = _env("SLACK_BOT_TOKEN")
        if token:
            return token, None
        url = _env("SLACK_WEBHOOK_URL")
        if url:
            return None, url
        raise AdapterError(
            "slack: no credentials: pass token= or webhook_url= to the adapter, "
            "or set SLACK_BOT_TOKEN or SLACK_WEBHOOK_URL",
            retryable=False,
        )
