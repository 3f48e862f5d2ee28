"""The ``teams`` step type: post an Adaptive Card to a Microsoft Teams channel.

The target is a Workflows ("Post to a channel when a webhook request is received") or a
legacy incoming-webhook URL. Such a URL is a credential, so it never comes from the rule
file: the adapter takes ``webhook_url=`` (or ``TEAMS_WEBHOOK_URL``), or a mapping
``webhooks={"billing": url}`` whose names the step picks with ``webhook: billing``.

Event values go into the card as JSON strings, so they cannot change the card's structure;
text goes into ``TextRun``s, which Teams shows as plain text (no Markdown, no links), and
the button's ``url`` must be an absolute http(s) URL (``javascript:``, ``data:`` and the
like are refused). Errors quote the webhook's answer redacted: the URL, its ``sig`` and
anything else that looks like a credential never reach run history or logs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from .. import _redact
from ..errors import AdapterError
from . import _http
from ._links import web_url_problem
from .slack import optional_text, post_to_secret_url, required_text

if TYPE_CHECKING:
    import requests

    from .base import ActionContext

__all__ = ["Teams", "adaptive_card", "teams_message"]

logger = logging.getLogger(__name__)

PROVIDER = "teams"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.5"

# A legacy connector answers HTTP 200 with a text like this when Teams refused the message.
_HTTP_ERROR = re.compile(r"HTTP error (\d{3})")


def adaptive_card(
    *,
    title: str,
    text: str,
    facts: Mapping[str, str] | None = None,
    url: str | None = None,
    url_title: str = "Open",
) -> dict[str, Any]:
    """An Adaptive Card 1.5: a bold title, the text, the facts and one ``Action.OpenUrl``.

    Title, text and facts go into ``TextRun``s, which Teams shows as plain text: a
    ``TextBlock`` or a ``FactSet`` would render Markdown, so a customer named
    ``[pay here](https://evil.example)`` would become a link.
    """
    body: list[dict[str, Any]] = [
        {
            "type": "RichTextBlock",
            "inlines": [{"type": "TextRun", "text": title, "weight": "Bolder", "size": "Medium"}],
        },
        {"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": text}]},
    ]
    # Not a FactSet: Teams reads Markdown in fact titles and values too.
    for label, value in (facts or {}).items():
        body.append(
            {
                "type": "RichTextBlock",
                "inlines": [
                    {"type": "TextRun", "text": f"{label}: ", "weight": "Bolder"},
                    {"type": "TextRun", "text": value},
                ],
            }
        )
    card: dict[str, Any] = {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
    }
    if url is not None:
        card["actions"] = [{"type": "Action.OpenUrl", "title": url_title, "url": url}]
    return card


def teams_message(card: Mapping[str, Any]) -> dict[str, Any]:
    """The webhook envelope around one Adaptive Card."""
    return {
        "type": "message",
        "attachments": [{"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": card}],
    }


class Teams:
    """The ``teams`` step type: an Adaptive Card through a Workflows or incoming webhook.

    Parameters: ``title`` and ``text`` (required), optional ``facts`` (label -> value),
    ``url`` and ``url_title`` (a button that opens the URL) and ``webhook`` (a name from the
    adapter's ``webhooks``). Output: ``{}``.
    """

    params_schema: ClassVar[dict[str, Any]] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "title": {"type": "string", "minLength": 1},
            "text": {"type": "string", "minLength": 1},
            "facts": {
                "anyOf": [
                    {
                        "type": "object",
                        "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
                    },
                    {"type": "string", "pattern": r"\{\{"},
                ]
            },
            "url": {"type": "string", "minLength": 1},
            "url_title": {"type": "string", "minLength": 1},
            "webhook": {"type": "string", "minLength": 1},
        },
        "required": ["title", "text"],
        "dependentRequired": {"url_title": ["url"]},
        "additionalProperties": False,
    }

    def __init__(
        self,
        *,
        webhook_url: str | None = None,
        webhooks: Mapping[str, str] | None = None,
        timeout: float = _http.DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        self._webhook_url = webhook_url
        self._webhooks = dict(webhooks or {})
        self._timeout = timeout
        self._session = session

    def __repr__(self) -> str:
        names = sorted(self._webhooks)
        return f"{type(self).__name__}(webhooks={names!r}, timeout={self._timeout!r})"

    @property
    def secrets(self) -> tuple[str, ...]:
        """The webhook URLs this adapter holds (constructor or environment) and the parts of
        them that are the secret, for redaction."""
        urls = [self._webhook_url, *self._webhooks.values(), *_http.env_values("TEAMS_WEBHOOK_URL")]
        return tuple(part for url in urls if url for part in _redact.url_secrets(url))

    def __call__(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any] | None:
        card = adaptive_card(
            title=required_text(params, "title", provider=PROVIDER),
            text=required_text(params, "text", provider=PROVIDER),
            facts=_facts(params.get("facts")),
            url=_link(params),
            url_title=optional_text(params, "url_title", provider=PROVIDER) or "Open",
        )
        url = self._url(params)
        secrets = (*_redact.url_secrets(url), *self.secrets)
        response = post_to_secret_url(
            url,
            teams_message(card),
            provider=PROVIDER,
            timeout=self._timeout,
            session=self._session,
            secrets=secrets,
        )
        _check_answer(response, secrets)
        logger.info("teams: card posted (HTTP %s, run %s)", response.status_code, ctx.run_id)
        return {}

    def _url(self, params: Mapping[str, Any]) -> str:
        """The webhook URL: the named one, else the constructor's, else ``TEAMS_WEBHOOK_URL``."""
        name = optional_text(params, "webhook", provider=PROVIDER)
        if name is not None:
            try:
                return self._webhooks[name]
            except KeyError:
                known = ", ".join(sorted(self._webhooks)) or "none"
                raise AdapterError(
                    f"teams: no webhook named {name!r} was given to the adapter (known: {known})",
                    retryable=False,
                ) from None
        return _http.setting(self._webhook_url, "TEAMS_WEBHOOK_URL", provider=PROVIDER)


def _facts(value: Any) -> dict[str, str] | None:
    """``facts`` as label -> text; numbers and booleans as JSON would show them."""
    if value is None or value == {}:
        return None
    if not isinstance(value, Mapping):
        raise AdapterError(
            f"teams: 'facts' must be a mapping of label to value, not {type(value).__name__}",
            retryable=False,
        )
    facts: dict[str, str] = {}
    for label, item in value.items():
        if isinstance(item, (dict, list)):
            raise AdapterError(
                f"teams: the fact {str(label)!r} must be a single value, not a "
                f"{type(item).__name__}",
                retryable=False,
            )
        if item is None:
            text = ""
        elif isinstance(item, bool):
            text = "true" if item else "false"
        else:
            text = str(item)
        facts[str(label)] = text
    return facts


def _link(params: Mapping[str, Any]) -> str | None:
    url = optional_text(params, "url", provider=PROVIDER)
    if url is not None and web_url_problem(url) is not None:
        raise AdapterError(
            f"teams: 'url' must be an http(s) URL, not {url[:80]!r}", retryable=False
        )
    return url


def _check_answer(response: requests.Response, secrets: tuple[str, ...] = ()) -> None:
    """Raise for an HTTP 2xx answer that reports a failure (legacy connectors do that)."""
    text = response.text.strip()
    if text in ("", "1"):
        return
    quoted = _http.quote_answer(text, secrets)
    found = _HTTP_ERROR.search(text)
    if found is not None:
        status = int(found.group(1))
        raise AdapterError(
            f"teams: HTTP {response.status_code}, but the webhook reports: {quoted}",
            retryable=status == 429 or status >= 500,
            status=status,
        )
    if "fail" in text.lower() or "error" in text.lower():
        raise AdapterError(
            f"teams: HTTP {response.status_code}, but the webhook reports: {quoted}",
            retryable=False,
            status=response.status_code,
        )
    logger.debug("teams: unexpected answer %r", _http.quote_answer(text, secrets, limit=100))
