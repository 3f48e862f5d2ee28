"""Local stand-ins for Asana, Intercom and a generic JSON endpoint, for the ``ticket`` and
``http`` step types.

Each one is a real HTTP server on 127.0.0.1 (tests/httpfake.py) that checks the credentials
and each request body against the vendor's request schema, and answers with the vendor's
response shapes, errors and rate limits included. A request that breaks the schema is a
failed check: the server answers 599 and ``check()`` (run by the ``serve_*`` helpers when the
test ends) raises it.

Schemas, extracted from the vendors' OpenAPI descriptions with the parts this library uses:

- Asana: Asana/openapi, ``defs/asana_oas.yaml``, ``POST /tasks`` (``TaskRequest`` inside a
  ``data`` envelope; ``opt_fields`` query; answers ``201 {"data": TaskResponse}``, errors
  ``{"errors": [{"message", "help"}]}``, 429 with ``Retry-After``).
- Intercom: intercom/Intercom-OpenAPI @ 019741b64c3ff069edeaa0146c8534214d676534,
  ``descriptions/2.11/api.intercom.io.yaml``: ``create_ticket_request`` (with
  ``ticket_request_custom_attributes``), ``create_conversation_request``, the ``ticket`` and
  ``message`` answers and the ``error`` list (``{"type": "error.list", "errors": [{"code",
  "message"}]}``).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

import jsonschema

from dunning_rules.actions.base import ActionContext
from tests.httpfake import Request, Response, Vendor

ASANA_TOKEN = "2/1204000000000000/1207000000000000:0123456789abcdef0123456789abcdef"
ASANA_PROJECT = "1204000000000001"
ASANA_WORKSPACE = "1204000000000999"
INTERCOM_TOKEN = "dG9rOmZha2VfaW50ZXJjb21fdG9rZW5fZm9yX3Rlc3Rz"
INTERCOM_TICKET_TYPE = "1234"
INTERCOM_CONTACT = "536e564f316c83104c000020"
ASANA_HELP = (
    "For more information on API status codes and how to handle them, read the docs on "
    "errors: https://developers.asana.com/docs/errors"
)

_GID = {"type": "string", "pattern": "^[0-9]+$"}
_F = TypeVar("_F", bound="_Fake")


def make_context(
    idempotency_key: str = "run-1:rule-1:0", event: dict[str, Any] | None = None
) -> ActionContext:
    """An ActionContext for one step, as the engine builds it."""
    return ActionContext(
        event=event if event is not None else {"id": "evt_1", "type": "invoice.payment_failed"},
        run_id="run-1",
        rule="rule-1",
        action_id="ticket",
        idempotency_key=idempotency_key,
        stripe_client=None,
        now=dt.datetime(2024, 7, 26, 12, 0, tzinfo=dt.timezone.utc),
    )


ASANA_CREATE_TASK: dict[str, Any] = {
    "type": "object",
    "required": ["data"],
    "additionalProperties": False,
    "properties": {
        "data": {
            "type": "object",
            "required": ["name"],
            "anyOf": [
                {"required": ["workspace"]},
                {"required": ["projects"]},
                {"required": ["parent"]},
            ],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string"},
                "notes": {"type": "string"},
                "html_notes": {"type": "string"},
                "projects": {"type": "array", "items": _GID},
                "workspace": _GID,
                "parent": {"anyOf": [_GID, {"type": "null"}]},
                "assignee": {"anyOf": [_GID, {"const": "me"}, {"type": "null"}]},
                "due_on": {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]},
                "due_at": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
                "followers": {"type": "array", "items": {"type": "string"}},
                "tags": {"type": "array", "items": {"type": "string"}},
                "completed": {"type": "boolean"},
                "custom_fields": {"type": "object"},
            },
        }
    },
}

_CUSTOM_ATTRIBUTES = {
    "type": "object",
    "additionalProperties": {
        "anyOf": [
            {"type": ["string", "null"]},
            {"type": "number"},
            {"type": "boolean"},
            {"type": "array"},
        ]
    },
}

INTERCOM_CREATE_TICKET: dict[str, Any] = {
    "type": "object",
    "required": ["ticket_type_id", "contacts"],
    "additionalProperties": False,
    "properties": {
        "ticket_type_id": {"type": "string"},
        "contacts": {
            "type": "array",
            "items": {
                "type": "object",
                "oneOf": [
                    {"properties": {"id": {"type": "string"}}, "required": ["id"]},
                    {
                        "properties": {"external_id": {"type": "string"}},
                        "required": ["external_id"],
                    },
                    {"properties": {"email": {"type": "string"}}, "required": ["email"]},
                ],
            },
        },
        "company_id": {"type": "string"},
        "created_at": {"type": "integer"},
        "ticket_attributes": _CUSTOM_ATTRIBUTES,
    },
}

INTERCOM_CREATE_CONVERSATION: dict[str, Any] = {
    "type": "object",
    "required": ["from", "body"],
    "additionalProperties": False,
    "properties": {
        "from": {
            "type": "object",
            "required": ["type", "id"],
            "properties": {
                "type": {"enum": ["lead", "user", "contact"]},
                "id": {"type": "string", "minLength": 24, "maxLength": 24},
            },
        },
        "body": {"type": "string"},
        "subject": {"type": "string"},
        "attachment_urls": {"type": "array", "maxItems": 10, "items": {"type": "string"}},
        "created_at": {"type": "integer"},
    },
}

# The ``ticket`` step's own contract for its ``http`` provider.
TICKET_HTTP_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["title", "body"],
    "properties": {"title": {"type": "string", "minLength": 1}, "body": {"type": "string"}},
}


def check_schema(schema: dict[str, Any], instance: Any, what: str) -> None:
    """Raise AssertionError with the first schema violation of ``instance``."""
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path)
        raise AssertionError(f"{what}: {where or '(root)'}: {errors[0].message}")


def _json_body(request: Request, what: str) -> Any:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/json"):
        raise AssertionError(f"{what}: Content-Type must be application/json, got {content_type!r}")
    return request.json()


class _Fake(Vendor):
    """A ticket-system fake: ids counted from 1, answers queued by the test."""

    def clear(self) -> None:
        self._ids = itertools.count(1)

    def _next_id(self) -> int:
        with self._lock:
            return next(self._ids)


class FakeAsana(_Fake):
    """Asana's ``POST /api/1.0/tasks``, for the projects in ``projects``."""

    def __init__(self, token: str = ASANA_TOKEN, projects: Iterable[str] = (ASANA_PROJECT,)):
        super().__init__()
        self.token = token
        self.projects = set(projects)

    @staticmethod
    def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        return Response(
            status, {"errors": [{"message": message, "help": ASANA_HELP}]}, headers or {}
        )

    @classmethod
    def rate_limited(cls, retry_after: int = 30) -> Response:
        return cls.error(
            429,
            "You have made too many requests recently. Please, be chill.",
            {"Retry-After": str(retry_after)},
        )

    def _handle(self, request: Request) -> Response:
        if request.method != "POST" or request.path != "/api/1.0/tasks":
            return self.error(404, f"No matching route for request: {request.path}")
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return self.error(401, "Not Authorized")
        body = _json_body(request, "asana POST /tasks")
        check_schema(ASANA_CREATE_TASK, body, "asana POST /tasks")
        for field in request.query.get("opt_fields", []):
            allowed = {"permalink_url", "name", "gid", "notes", "projects", "due_on", "assignee"}
            unknown = set(field.split(",")) - allowed
            assert not unknown, f"asana opt_fields: unexpected {sorted(unknown)}"
        forced = self.next_answer()
        if forced is not None:
            return forced
        data = body["data"]
        for project in data.get("projects", []):
            if project not in self.projects:
                return self.error(404, f"project: Unknown object: {project}")
        gid = f"12070000000{self._next_id():05d}"
        project = (data.get("projects") or ["0"])[0]
        task = {
            "gid": gid,
            "resource_type": "task",
            "resource_subtype": "default_task",
            "name": data["name"],
            "permalink_url": f"https://app.asana.com/1/{ASANA_WORKSPACE}/project/{project}"
            f"/task/{gid}",
        }
        return Response(201, {"data": task})


class FakeIntercom(_Fake):
    """Intercom's ``POST /tickets`` and ``POST /conversations`` (API version 2.11)."""

    def __init__(self, token: str = INTERCOM_TOKEN) -> None:
        super().__init__()
        self.token = token

    @staticmethod
    def error(status: int, code: str, message: str) -> Response:
        return Response(
            status,
            {
                "type": "error.list",
                "request_id": "e097e446-9ae6-44a8-8e13-2bf3008b87ef",
                "errors": [{"code": code, "message": message}],
            },
        )

    @classmethod
    def rate_limited(cls) -> Response:
        answer = cls.error(429, "rate_limit_exceeded", "You have exceeded the rate limit.")
        answer.headers.update({"X-RateLimit-Limit": "10000", "X-RateLimit-Remaining": "0"})
        return answer

    def _handle(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return self.error(401, "unauthorized", "Access Token Invalid")
        version = request.headers.get("intercom-version")
        assert version == "2.11", f"Intercom-Version must be 2.11, got {version!r}"
        accept = request.headers.get("accept", "")
        assert "application/json" in accept, f"Accept must allow JSON, got {accept!r}"
        if request.method == "POST" and request.path == "/tickets":
            body = _json_body(request, "intercom POST /tickets")
            check_schema(INTERCOM_CREATE_TICKET, body, "intercom POST /tickets")
            return self.next_answer() or self._ticket(body)
        if request.method == "POST" and request.path == "/conversations":
            body = _json_body(request, "intercom POST /conversations")
            check_schema(INTERCOM_CREATE_CONVERSATION, body, "intercom POST /conversations")
            return self.next_answer() or self._conversation(body)
        return self.error(404, "not_found", "Resource Not Found")

    def _ticket(self, body: dict[str, Any]) -> Response:
        if body["ticket_type_id"] != INTERCOM_TICKET_TYPE:
            return self.error(404, "not_found", "Ticket type not found")
        number = self._next_id()
        contact = body["contacts"][0]
        return Response(
            200,
            {
                "type": "ticket",
                "id": str(600 + number),
                "ticket_id": str(30 + number),
                "category": "Customer",
                "ticket_attributes": body.get("ticket_attributes", {}),
                "ticket_state": {
                    "type": "ticket_state",
                    "id": "8481",
                    "category": "submitted",
                    "internal_label": "Submitted",
                    "external_label": "Submitted",
                },
                "ticket_type": {
                    "type": "ticket_type",
                    "id": INTERCOM_TICKET_TYPE,
                    "name": "Billing",
                },
                "contacts": {
                    "type": "contact.list",
                    "contacts": [
                        {
                            "type": "contact",
                            "id": contact.get("id", "6762f2d81bb69f9f2193bc54"),
                            "external_id": None,
                        }
                    ],
                },
                "admin_assignee_id": "0",
                "team_assignee_id": "0",
                "created_at": 1734537944,
                "updated_at": 1734537946,
                "open": True,
                "snoozed_until": None,
                "is_shared": True,
            },
        )

    def _conversation(self, body: dict[str, Any]) -> Response:
        if body["from"]["id"] != INTERCOM_CONTACT:
            return self.error(404, "not_found", "User Not Found")
        number = self._next_id()
        return Response(
            200,
            {
                "type": "user_message",
                "id": str(403918300 + number),
                "created_at": 1719492797,
                "body": body["body"],
                "message_type": "inapp",
                "conversation_id": str(360 + number),
            },
        )


class FakeEndpoint(_Fake):
    """A JSON endpoint of your own: records requests and answers ``answer`` (default 201 with
    an ``id`` and a ``url``), or the responses given to :meth:`queue`.

    With ``schema``, every request's JSON body is checked against it.
    """

    def __init__(self, answer: Response | None = None, schema: dict[str, Any] | None = None):
        super().__init__()
        self.answer = answer
        self.schema = schema

    def _handle(self, request: Request) -> Response:
        if self.schema is not None:
            check_schema(self.schema, _json_body(request, "endpoint"), "endpoint")
        forced = self.next_answer()
        if forced is not None:
            return forced
        if self.answer is not None:
            return self.answer
        number = self._next_id()
        return Response(
            201, {"id": f"T-{number}", "url": f"https://tickets.example.com/T-{number}"}
        )


def serve_asana() -> Iterator[FakeAsana]:
    """For fixtures: ``yield from serve_asana()``."""
    with FakeAsana() as fake:
        yield fake
        fake.check()


def serve_intercom() -> Iterator[FakeIntercom]:
    """For fixtures: ``yield from serve_intercom()``."""
    with FakeIntercom() as fake:
        yield fake
        fake.check()


def serve_endpoint(
    answer: Response | None = None, schema: dict[str, Any] | None = None
) -> Iterator[FakeEndpoint]:
    """For fixtures: ``yield from serve_endpoint()``."""
    with FakeEndpoint(answer, schema) as fake:
        yield fake
        fake.check()
