"""The ``ticket`` step type: open a task or ticket for a person to follow up.

``provider`` picks where: ``asana`` (a task in a project), ``intercom`` (a ticket, or with
``kind: conversation`` a conversation) or ``http`` (a JSON POST to your own endpoint). Every
provider's output is ``{"provider", "id", "url"}``, so a later step can link the ticket with
``{{ steps.ticket.url }}``. Text from the event is sent as plain text, never as markup.

Credentials come from the constructor or the environment (``ASANA_ACCESS_TOKEN``,
``INTERCOM_ACCESS_TOKEN``), read when a step runs, never from the rule file. Errors quote the
provider's answer redacted (the tokens, the ``http`` provider's credential headers and
endpoint URLs, and anything that looks like a credential become ``<redacted>``), and every
request header is checked before sending: a line break, control character, encoded word or
non-Latin-1 character in one is a final failure.
"""

from __future__ import annotations

import logging
import os
import re
import urllib.parse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from .. import _redact
from ..errors import AdapterError
from ._http import DEFAULT_TIMEOUT, env_values, request_secrets, send, setting

if TYPE_CHECKING:
    import requests

    from .base import ActionContext

__all__ = ["Ticket"]

logger = logging.getLogger(__name__)

ASANA_API_BASE = "https://app.asana.com"
INTERCOM_API_BASE = "https://api.intercom.io"
INTERCOM_VERSION = "2.11"
INTERCOM_URL_TEMPLATE = "https://app.intercom.com/a/inbox/{workspace_id}/inbox/conversation/{id}"

_COMMON = ("provider", "title", "body")
_ASANA = ("project", "workspace", "assignee", "due_on")
_INTERCOM = ("kind", "ticket_type_id", "email", "contact_id", "attributes")
_HTTP = ("url", "endpoint", "fields", "id_field", "url_field")
_GID = {"type": ["string", "integer"], "minLength": 1}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _provider_is(name: str) -> dict[str, Any]:
    return {"properties": {"provider": {"const": name}}, "required": ["provider"]}


def _only(*groups: tuple[str, ...]) -> dict[str, Any]:
    return {"propertyNames": {"enum": [key for group in groups for key in group]}}


def _text(params: Mapping[str, Any], name: str, provider: str, *, required: bool = False) -> str:
    """A rendered text parameter: strings as they are, numbers as text."""
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise AdapterError(f"ticket ({provider}): {name!r} is empty", retryable=False)
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise AdapterError(
            f"ticket ({provider}): {name!r} must be text, got {type(value).__name__}",
            retryable=False,
        )
    return str(value)


def _mapping(params: Mapping[str, Any], name: str, provider: str) -> dict[str, Any]:
    value = params.get(name)
    if value is None or value == "":
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise AdapterError(
            f"ticket ({provider}): {name!r} must be a mapping with string keys", retryable=False
        )
    return dict(value)


def _answer_json(response: requests.Response, provider: str) -> Any:
    try:
        return response.json()
    except ValueError:
        # The ticket may exist: retrying could open a second one, so this is final.
        raise AdapterError(
            f"ticket ({provider}): HTTP {response.status_code} answer is not JSON",
            retryable=False,
            status=response.status_code,
        ) from None


def _hide_url(text: str, url: str, name: str) -> str:
    """``text`` without ``url`` or its path and query, which may hold a secret."""
    for secret in sorted(_redact.url_secrets(url), key=len, reverse=True):
        text = text.replace(secret, name)
    return text


def _dig(data: Any, path: str) -> Any:
    """``data["a"]["b"]`` for ``path`` ``"a.b"``; None where a key is missing."""
    for part in path.split("."):
        if not isinstance(data, Mapping):
            return None
        data = data.get(part)
    return data


class Ticket:
    """``ticket``: create an Asana task, an Intercom ticket or conversation, or POST JSON.

    Keyword-only settings, all optional: ``asana_token`` (else ``ASANA_ACCESS_TOKEN``),
    ``intercom_token`` (else ``INTERCOM_ACCESS_TOKEN``), ``intercom_workspace_id`` (else
    ``INTERCOM_WORKSPACE_ID``; builds the Inbox ``url`` of the output), ``endpoints`` (names
    for the ``http`` provider's ``endpoint:``, so URLs with secrets stay out of rule files),
    ``http_headers`` (sent to every ``http`` provider request, e.g. ``Authorization``),
    ``asana_api_base`` / ``intercom_api_base`` (else ``ASANA_API_BASE`` /
    ``INTERCOM_API_BASE``), ``timeout`` in seconds and a ``requests.Session``.
    """

    params_schema: ClassVar[dict[str, Any]] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["provider", "title"],
        "properties": {
            "provider": {"enum": ["asana", "intercom", "http"]},
            "title": {"type": "string", "minLength": 1},
            "body": {"type": "string"},
            "project": _GID,
            "workspace": _GID,
            "assignee": _GID,
            "due_on": {"type": "string", "minLength": 1},
            "kind": {"enum": ["ticket", "conversation"]},
            "ticket_type_id": _GID,
            "email": {"type": "string", "minLength": 1},
            "contact_id": {"type": "string", "minLength": 1},
            "attributes": {"type": ["object", "string"]},
            "url": {"type": "string", "minLength": 1},
            "endpoint": {"type": "string", "minLength": 1},
            "fields": {"type": ["object", "string"]},
            "id_field": {"type": "string", "minLength": 1},
            "url_field": {"type": "string", "minLength": 1},
        },
        "additionalProperties": False,
        "allOf": [
            {
                "if": _provider_is("asana"),
                "then": {"required": ["project"], **_only(_COMMON, _ASANA)},
            },
            {
                "if": _provider_is("intercom"),
                "then": {
                    **_only(_COMMON, _INTERCOM),
                    "if": {"properties": {"kind": {"const": "conversation"}}, "required": ["kind"]},
                    "then": {"required": ["contact_id"]},
                    "else": {
                        "required": ["ticket_type_id"],
                        # a contact: 'email' unless 'contact_id' is given
                        "if": {"not": {"required": ["contact_id"]}},
                        "then": {"required": ["email"]},
                    },
                },
            },
            {
                "if": _provider_is("http"),
                "then": {
                    **_only(_COMMON, _HTTP),
                    # 'url' unless 'endpoint' is given, and not both
                    "if": {"not": {"required": ["endpoint"]}},
                    "then": {"required": ["url"]},
                    "else": {"not": {"required": ["url"]}},
                },
            },
        ],
    }

    def __init__(
        self,
        *,
        asana_token: str | None = None,
        intercom_token: str | None = None,
        intercom_workspace_id: str | None = None,
        intercom_url_template: str = INTERCOM_URL_TEMPLATE,
        endpoints: Mapping[str, str] | None = None,
        http_headers: Mapping[str, str] | None = None,
        asana_api_base: str | None = None,
        intercom_api_base: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        self._asana_token = asana_token
        self._intercom_token = intercom_token
        self._intercom_workspace_id = intercom_workspace_id
        self._intercom_url_template = intercom_url_template
        self._endpoints = dict(endpoints or {})
        self._http_headers = dict(http_headers or {})
        self._asana_api_base = asana_api_base
        self._intercom_api_base = intercom_api_base
        self._timeout = timeout
        self._session = session

    @property
    def secrets(self) -> tuple[str, ...]:
        """The credentials this adapter holds, for redaction: the Asana and Intercom tokens
        (constructor or environment), credential headers of ``http_headers`` and the parts
        of the ``endpoints`` URLs that may hold a secret."""
        found = [
            value
            for value in (
                self._asana_token,
                self._intercom_token,
                *env_values("ASANA_ACCESS_TOKEN", "INTERCOM_ACCESS_TOKEN"),
            )
            if value
        ]
        found.extend(request_secrets(self._http_headers))
        for url in self._endpoints.values():
            parts = urllib.parse.urlsplit(url)
            if parts.password:
                found.append(parts.password)
            found.extend(value for _, value in urllib.parse.parse_qsl(parts.query) if value)
        return tuple(found)

    def __call__(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any] | None:
        provider = params.get("provider")
        if provider == "asana":
            return self._asana(params)
        if provider == "intercom":
            return self._intercom(params)
        if provider == "http":
            return self._http(params, ctx)
        raise AdapterError(
            f"ticket: unknown provider {provider!r} (asana, intercom or http)", retryable=False
        )

    # -- Asana ----------------------------------------------------------------------------

    def _asana(self, params: Mapping[str, Any]) -> dict[str, Any]:
        provider = "asana"
        data: dict[str, Any] = {
            "name": _text(params, "title", provider, required=True),
            "notes": _text(params, "body", provider),
            "projects": [_text(params, "project", provider, required=True)],
        }
        for name in ("workspace", "assignee"):
            value = _text(params, name, provider)
            if value:
                data[name] = value
        due_on = _text(params, "due_on", provider)
        if due_on:
            if not _DATE.match(due_on):
                raise AdapterError(
                    f"ticket (asana): 'due_on' must be a date like 2024-05-31, got {due_on!r}",
                    retryable=False,
                )
            data["due_on"] = due_on
        token = setting(self._asana_token, "ASANA_ACCESS_TOKEN", provider=provider)
        base = (self._asana_api_base or os.environ.get("ASANA_API_BASE") or ASANA_API_BASE).rstrip(
            "/"
        )
        response = send(
            "POST",
            f"{base}/api/1.0/tasks",
            provider=provider,
            session=self._session,
            timeout=self._timeout,
            params={"opt_fields": "permalink_url,name"},
            secrets=(token, *self.secrets),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            json={"data": data},
        )
        task = _dig(_answer_json(response, provider), "data")
        gid = _dig(task, "gid")
        if not gid:
            raise AdapterError("ticket (asana): the answer has no data.gid", retryable=False)
        url = _dig(task, "permalink_url") or f"https://app.asana.com/0/{data['projects'][0]}/{gid}"
        logger.info("asana task %s created", gid)
        return {"provider": provider, "id": str(gid), "url": url}

    # -- Intercom -------------------------------------------------------------------------

    def _intercom(self, params: Mapping[str, Any]) -> dict[str, Any]:
        provider = "intercom"
        title = _text(params, "title", provider, required=True)
        body = _text(params, "body", provider)
        contact_id = _text(params, "contact_id", provider)
        kind = params.get("kind") or "ticket"
        if kind == "conversation":
            if not contact_id:
                raise AdapterError(
                    "ticket (intercom): a conversation needs 'contact_id' (Intercom's contact id)",
                    retryable=False,
                )
            path = "/conversations"
            payload: dict[str, Any] = {
                "from": {"type": "user", "id": contact_id},
                "body": f"{title}\n\n{body}" if body else title,
            }
        elif kind == "ticket":
            email = _text(params, "email", provider)
            if contact_id:
                contact = {"id": contact_id}
            elif email:
                contact = {"email": email}
            else:
                raise AdapterError(
                    "ticket (intercom): a ticket needs 'email' or 'contact_id'", retryable=False
                )
            attributes = _mapping(params, "attributes", provider)
            attributes.update(_default_title_=title, _default_description_=body)
            path = "/tickets"
            payload = {
                "ticket_type_id": _text(params, "ticket_type_id", provider, required=True),
                "contacts": [contact],
                "ticket_attributes": attributes,
            }
        else:
            raise AdapterError(
                f"ticket (intercom): unknown kind {kind!r} (ticket or conversation)",
                retryable=False,
            )
        token = setting(self._intercom_token, "INTERCOM_ACCESS_TOKEN", provider=provider)
        base = self._intercom_api_base or os.environ.get("INTERCOM_API_BASE") or INTERCOM_API_BASE
        response = send(
            "POST",
            base.rstrip("/") + path,
            provider=provider,
            session=self._session,
            timeout=self._timeout,
            secrets=(token, *self.secrets),
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "Intercom-Version": INTERCOM_VERSION,
            },
            json=payload,
        )
        answer = _answer_json(response, provider)
        if kind == "conversation":
            found = _dig(answer, "conversation_id") or _dig(answer, "id")
        else:
            found = _dig(answer, "id")
        if not found:
            raise AdapterError(f"ticket (intercom): the {kind} answer has no id", retryable=False)
        output: dict[str, Any] = {"provider": provider, "id": str(found), "url": None}
        workspace_id = self._intercom_workspace_id or os.environ.get("INTERCOM_WORKSPACE_ID")
        if workspace_id:
            output["url"] = self._intercom_url_template.format(workspace_id=workspace_id, id=found)
        if kind == "ticket" and _dig(answer, "ticket_id") is not None:
            output["ticket_id"] = str(_dig(answer, "ticket_id"))
        logger.info("intercom %s %s created", kind, found)
        return output

    # -- your own endpoint ----------------------------------------------------------------

    def _http(self, params: Mapping[str, Any], ctx: ActionContext) -> dict[str, Any]:
        provider = "http"
        endpoint = params.get("endpoint")
        if endpoint:
            if endpoint not in self._endpoints:
                known = ", ".join(sorted(self._endpoints)) or "none"
                raise AdapterError(
                    f"ticket (http): unknown endpoint {endpoint!r} (configured: {known})",
                    retryable=False,
                )
            url = self._endpoints[endpoint]
        else:
            url = _text(params, "url", provider, required=True)
            if not url.lower().startswith(("http://", "https://")):
                raise AdapterError(
                    "ticket (http): 'url' must be an http or https URL", retryable=False
                )
        payload = _mapping(params, "fields", provider)
        payload["title"] = _text(params, "title", provider, required=True)
        payload["body"] = _text(params, "body", provider)
        headers = {"Accept": "application/json", **self._http_headers}
        headers["Idempotency-Key"] = ctx.idempotency_key
        try:
            response = send(
                "POST",
                url,
                provider="ticket (http)",
                session=self._session,
                timeout=self._timeout,
                secrets=self.secrets,
                headers=headers,
                json=payload,
            )
        except AdapterError as exc:
            if not endpoint:
                raise
            # A named endpoint's URL may hold a secret: name the endpoint instead.
            message = _hide_url(str(exc), url, f"<endpoint {endpoint}>")
            raise AdapterError(message, retryable=exc.retryable, status=exc.status) from None
        id_field = _text(params, "id_field", provider) or "id"
        url_field = _text(params, "url_field", provider) or "url"
        try:
            answer = response.json()
        except ValueError:
            answer = None
        found = _dig(answer, id_field)
        if found is None:
            ctx.warn(f"ticket (http): the answer has no {id_field!r}")
        link = _dig(answer, url_field)
        return {
            "provider": provider,
            "id": None if found is None else str(found),
            "url": link if isinstance(link, str) else None,
        }
