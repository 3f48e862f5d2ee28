"""Local servers that answer like Twilio, Slack and Microsoft Teams, for the messaging steps.

Each fake is a context manager around :class:`tests.httpfake.FakeServer`::

    with FakeTwilio() as twilio:
        TwilioSMS(account_sid=twilio.account_sid, auth_token=twilio.auth_token,
                  api_base=twilio.url, from_="+14155552345")(params, ctx)
        assert twilio.messages[0]["Body"] == "..."

Every request is checked against the vendor's contract in ``fixtures/vendors``: Twilio's
``CreateMessageRequest`` (with its conditional From/MessagingServiceSid and Body rules),
Slack's ``chat.postMessage`` parameters plus Block Kit's documented limits, and the Teams
webhook envelope with its card validated against the Adaptive Card 1.5 schema. A request that
does not fit is a failed check: the server answers 599 and :meth:`check` (called when the
``with`` block ends) re-raises it. Wrong credentials get the provider's own answer (Twilio
401 ``20003``, Slack ``ok: false`` ``invalid_auth``, Teams Workflows 401).

A request that passes is answered with the provider's success shape, unless answers were
queued with :meth:`queue` (error helpers below: :func:`twilio_error`, :func:`slack_error`,
:func:`slack_rate_limited`, ...). :meth:`stall` makes the server wait before answering, to
test timeouts.

Starting and stopping a server costs about half a second (the server's poll interval), so
tests keep one fake per module and call :meth:`FakeVendor.reset` before each test::

    @pytest.fixture(scope="module")
    def _twilio_server():
        with FakeTwilio() as fake:
            yield fake

    @pytest.fixture
    def twilio(_twilio_server):
        _twilio_server.reset()
        yield _twilio_server
        _twilio_server.check()
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import functools
import json
import re
import threading
from typing import Any, ClassVar

import jsonschema

from dunning_rules.actions.base import ActionContext
from tests.httpfake import Request, Response, Vendor
from tests.paths import FIXTURES

VENDORS = FIXTURES / "vendors"

# Every environment variable the messaging adapters read; tests clear them all.
MESSAGING_ENV = (
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_FROM",
    "TWILIO_MESSAGING_SERVICE_SID",
    "TWILIO_API_BASE",
    "SLACK_BOT_TOKEN",
    "SLACK_WEBHOOK_URL",
    "SLACK_API_BASE",
    "TEAMS_WEBHOOK_URL",
)


def action_context(
    *, run_id: str = "run_01J0DUNNING", idempotency_key: str = "evt_1PgcTest:vip:0"
) -> ActionContext:
    """An :class:`ActionContext` for calling an adapter directly."""
    return ActionContext(
        event={"id": "evt_1PgcTest", "type": "invoice.payment_failed", "data": {"object": {}}},
        run_id=run_id,
        rule="vip",
        action_id="notify",
        idempotency_key=idempotency_key,
        stripe_client=None,
        now=dt.datetime(2024, 7, 1, 12, 0, tzinfo=dt.timezone.utc),
        step_type="test",
    )


@functools.cache
def vendor(name: str) -> Any:
    """A file of ``fixtures/vendors``, parsed (cached: callers must not change it)."""
    return json.loads((VENDORS / name).read_text())


class FakeVendor(Vendor):
    """The messaging fakes: provider checks, queued answers and stalls."""

    provider: ClassVar[str] = "vendor"

    def __init__(self) -> None:
        self._stall = 0.0
        self._released = threading.Event()
        super().__init__()

    def reset(self) -> None:
        """Start afresh: no requests, failed checks, queued answers, stalls or state."""
        self._released.set()
        self._stall = 0.0
        self._released = threading.Event()
        super().reset()

    def stall(self, seconds: float) -> None:
        """Hold each answer up to ``seconds`` (released early when the fake stops)."""
        self._stall = seconds

    def __exit__(self, *exc: object) -> None:
        self._released.set()
        super().__exit__(*exc)
        if exc[0] is None:
            self.check()

    # -- what subclasses define -------------------------------------------------------------

    def refuse(self, request: Request) -> Response | None:
        """The provider's answer to a request it refuses before reading it (bad credentials)."""
        return None

    def validate(self, request: Request) -> None:
        """Raise when ``request`` does not fit the provider's contract."""

    def succeed(self, request: Request) -> Response:
        """The provider's answer to a valid request."""
        raise NotImplementedError

    def _handle(self, request: Request) -> Response:
        refused = self.refuse(request)
        if refused is not None:
            return refused
        self.validate(request)
        if self._stall:
            released = self._released
            released.wait(self._stall)
        queued = self.next_answer()
        return queued if queued is not None else self.succeed(request)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


# -- Twilio ---------------------------------------------------------------------------------


def twilio_error(code: int, message: str, status: int = 400) -> Response:
    """Twilio's error answer (``code``, ``message``, ``more_info``, ``status``)."""
    return Response(
        status,
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
    )


TWILIO_INVALID_TO = twilio_error(21211, "The 'To' number +15005550001 is not a valid phone number.")
TWILIO_TOO_MANY_REQUESTS = twilio_error(20429, "Too Many Requests", 429)
TWILIO_SERVICE_UNAVAILABLE = twilio_error(20503, "Service Unavailable", 503)


def _pascal(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


class FakeTwilio(FakeVendor):
    """Twilio's ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``.

    Valid forms are kept in :attr:`messages`. A repeated ``I-Twilio-Idempotency-Token``
    gets the first answer again and sends nothing new, as Twilio does.
    """

    provider = "twilio"
    ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
    AUTH_TOKEN = "twilio-auth-token-f00dfeed"  # made up, for the fake only

    def __init__(self, *, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        super().__init__()
        spec = vendor("twilio_messages_create.json")
        self._schema = spec["request_schema"]
        self._sid_schema = spec["path_parameters"][0]["schema"]
        self._groups = [[_pascal(n) for n in group] for group in spec["x-twilio"]["conditional"]]
        self._example = spec["responses"]["201"]["examples"]["create"]["value"]

    def clear(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self._replays: dict[str, Response] = {}

    def refuse(self, request: Request) -> Response | None:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return twilio_error(20003, "Authenticate", 401)
        return None

    def validate(self, request: Request) -> None:
        _require(request.method == "POST", f"method {request.method}, not POST")
        found = re.fullmatch(r"/2010-04-01/Accounts/([^/]+)/Messages\.json", request.path)
        _require(found is not None, f"unexpected path {request.path!r}")
        assert found is not None
        jsonschema.validate(found.group(1), self._sid_schema)
        _require(found.group(1) == self.account_sid, "the path's AccountSid is not the account")
        _require(
            _content_type(request) == "application/x-www-form-urlencoded",
            f"content type {_content_type(request)!r}, not a form",
        )
        form = self.parse(request)
        jsonschema.Draft202012Validator(self._schema).validate(form)
        for group in self._groups:
            given = [name for name in group if name in form]
            _require(len(given) == 1, f"exactly one of {group} is required, got {given}")

    def parse(self, request: Request) -> dict[str, Any]:
        """The form as the schema types it (one value per key, arrays for array fields)."""
        properties = self._schema["properties"]
        form: dict[str, Any] = {}
        for key, values in request.form().items():
            _require(key in properties, f"unknown Twilio parameter {key!r}")
            kind = properties[key].get("type")
            if kind == "array":
                form[key] = values
                continue
            _require(len(values) == 1, f"{key!r} is given {len(values)} times")
            value: Any = values[0]
            if kind == "integer":
                value = int(value)
            elif kind == "number":
                value = float(value)
            elif kind == "boolean":
                _require(value in ("true", "false"), f"{key!r} must be true or false")
                value = value == "true"
            form[key] = value
        return form

    def succeed(self, request: Request) -> Response:
        token = request.headers.get("i-twilio-idempotency-token")
        if token is not None and token in self._replays:
            return self._replays[token]
        form = self.parse(request)
        self.messages.append(form)
        sid = f"SM{len(self.messages):032x}"
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}"
        answer = copy.deepcopy(self._example)
        answer.update(
            account_sid=self.account_sid,
            sid=sid,
            to=form["To"],
            body=form.get("Body", ""),
            status="accepted" if "MessagingServiceSid" in form else "queued",
            uri=uri + ".json",
            subresource_uris={"media": uri + "/Media.json"},
        )
        answer["from"] = form.get("From")
        answer["messaging_service_sid"] = form.get("MessagingServiceSid")
        response = Response(201, answer)
        if token is not None:
            self._replays[token] = response
        return response


# -- Slack ----------------------------------------------------------------------------------


def slack_error(code: str, *, messages: list[str] | None = None) -> Response:
    """Slack's Web API failure: HTTP 200 with ``{"ok": false, "error": code}``."""
    body: dict[str, Any] = {"ok": False, "error": code}
    if messages:
        body["response_metadata"] = {"messages": messages}
    return Response(200, body)


def slack_rate_limited(retry_after: int = 30) -> Response:
    """Slack's rate limit: HTTP 429 with ``Retry-After``."""
    return Response(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)})


def slack_webhook_error(status: int, code: str) -> Response:
    """An incoming webhook's failure: an HTTP error with the code as plain text."""
    return Response(status, code, {"Content-Type": "text/html"})


def _plain(limit: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "type": {"const": "plain_text"},
            "text": {"type": "string", "minLength": 1, "maxLength": limit},
            "emoji": {"type": "boolean"},
        },
        "required": ["type", "text"],
        "additionalProperties": False,
    }


def _text_object(limit: int) -> dict[str, Any]:
    mrkdwn = {
        "type": "object",
        "properties": {
            "type": {"const": "mrkdwn"},
            "text": {"type": "string", "minLength": 1, "maxLength": limit},
            "verbatim": {"type": "boolean"},
        },
        "required": ["type", "text"],
        "additionalProperties": False,
    }
    return {"anyOf": [_plain(limit), mrkdwn]}


_BLOCK_ID = {"type": "string", "minLength": 1, "maxLength": 255}
_CONFIRM = {
    "type": "object",
    "properties": {
        "title": _plain(100),
        "text": _text_object(300),
        "confirm": _plain(30),
        "deny": _plain(30),
        "style": {"enum": ["primary", "danger"]},
    },
    "required": ["title", "text", "confirm", "deny"],
    "additionalProperties": False,
}
_BUTTON = {
    "type": "object",
    "properties": {
        "type": {"const": "button"},
        "text": _plain(75),
        "action_id": {"type": "string", "minLength": 1, "maxLength": 255},
        "url": {"type": "string", "maxLength": 3000},
        "value": {"type": "string", "maxLength": 2000},
        "style": {"enum": ["primary", "danger"]},
        "confirm": _CONFIRM,
        "accessibility_label": {"type": "string", "maxLength": 75},
    },
    "required": ["type", "text"],
    "additionalProperties": False,
}
_SECTION = {
    "properties": {
        "type": {"const": "section"},
        "block_id": _BLOCK_ID,
        "text": _text_object(3000),
        "fields": {"type": "array", "items": _text_object(2000), "minItems": 1, "maxItems": 10},
        "accessory": {"type": "object", "required": ["type"]},
    },
    "anyOf": [{"required": ["text"]}, {"required": ["fields"]}],
    "additionalProperties": False,
}
_ACTIONS = {
    "properties": {
        "type": {"const": "actions"},
        "block_id": _BLOCK_ID,
        "elements": {
            "type": "array",
            "minItems": 1,
            "maxItems": 25,
            "items": {
                "type": "object",
                "required": ["type"],
                "if": {"properties": {"type": {"const": "button"}}},
                "then": _BUTTON,
            },
        },
    },
    "required": ["elements"],
    "additionalProperties": False,
}
_HEADER = {
    "properties": {"type": {"const": "header"}, "block_id": _BLOCK_ID, "text": _plain(150)},
    "required": ["text"],
    "additionalProperties": False,
}
_DIVIDER = {
    "properties": {"type": {"const": "divider"}, "block_id": _BLOCK_ID},
    "additionalProperties": False,
}


def _when_type(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"if": {"properties": {"type": {"const": name}}}, "then": schema}


# Block Kit's documented limits for the blocks the adapters build; other types only need a type.
BLOCK_KIT_BLOCKS: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "maxItems": 50,
    "items": {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"type": "string"}},
        "allOf": [
            _when_type("section", _SECTION),
            _when_type("actions", _ACTIONS),
            _when_type("header", _HEADER),
            _when_type("divider", _DIVIDER),
        ],
    },
}

_TS_PATTERN = r"^\d{10}\.\d{6}$"


def chat_post_message_schema() -> dict[str, Any]:
    """The JSON body of ``chat.postMessage``: the spec's form parameters, ``blocks`` as Block
    Kit (a JSON body carries arrays where a form carries JSON text), ``thread_ts`` as a ts."""
    spec = vendor("slack_chat_postMessage.json")
    properties: dict[str, Any] = {}
    required: list[str] = []
    for parameter in spec["parameters"]:
        if parameter["in"] != "formData":
            continue
        name = parameter["name"]
        properties[name] = {"type": parameter["type"]}
        if parameter.get("required"):
            required.append(name)
    properties["blocks"] = {"anyOf": [{"type": "string"}, BLOCK_KIT_BLOCKS]}
    properties["attachments"] = {"anyOf": [{"type": "string"}, {"type": "array"}]}
    properties["thread_ts"] = {"type": "string", "pattern": _TS_PATTERN}
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "anyOf": [{"required": ["text"]}, {"required": ["blocks"]}, {"required": ["attachments"]}],
        "additionalProperties": False,
    }


# chat.update and chat.postEphemeral, from Slack's method docs (no OpenAPI file ships them).
CHAT_UPDATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "channel": {"type": "string", "minLength": 1},
        "ts": {"type": "string", "pattern": _TS_PATTERN},
        "text": {"type": "string"},
        "blocks": BLOCK_KIT_BLOCKS,
        "attachments": {"type": "array"},
        "as_user": {"type": "boolean"},
        "link_names": {"type": "boolean"},
        "parse": {"type": "string"},
        "reply_broadcast": {"type": "boolean"},
    },
    "required": ["channel", "ts"],
    "anyOf": [{"required": ["text"]}, {"required": ["blocks"]}],
    "additionalProperties": False,
}
CHAT_POST_EPHEMERAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "channel": {"type": "string", "minLength": 1},
        "user": {"type": "string", "pattern": "^[UW][A-Z0-9]+$"},
        "text": {"type": "string"},
        "blocks": BLOCK_KIT_BLOCKS,
        "thread_ts": {"type": "string", "pattern": _TS_PATTERN},
    },
    "required": ["channel", "user"],
    "anyOf": [{"required": ["text"]}, {"required": ["blocks"]}],
    "additionalProperties": False,
}
_METHOD_SCHEMAS = {
    "/api/chat.update": CHAT_UPDATE_SCHEMA,
    "/api/chat.postEphemeral": CHAT_POST_EPHEMERAL_SCHEMA,
}

WEBHOOK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "text": {"type": "string"},
        "blocks": BLOCK_KIT_BLOCKS,
        "attachments": {"type": "array"},
        "thread_ts": {"type": "string", "pattern": _TS_PATTERN},
        "mrkdwn": {"type": "boolean"},
        "unfurl_links": {"type": "boolean"},
        "unfurl_media": {"type": "boolean"},
    },
    "anyOf": [{"required": ["text"]}, {"required": ["blocks"]}, {"required": ["attachments"]}],
    "additionalProperties": False,
}


class FakeSlack(FakeVendor):
    """Slack's ``chat.postMessage`` (under :attr:`api_base`) and one incoming webhook
    (:attr:`webhook_url`).

    Channels are looked up in :attr:`channels` (name, with or without ``#``, or ID) and an
    unknown one answers ``channel_not_found``. Valid Web API bodies are kept in
    :attr:`posted`, webhook bodies in :attr:`webhook_posts`.
    """

    provider = "slack"
    TOKEN = "xoxb-1111111111-2222222222-fakeSlackBotToken"  # made up, for the fake only
    WEBHOOK_PATH = "/services/T0FAKE001/B0FAKE002/fakeWebhookSecret0123456"
    CHANNELS: ClassVar[dict[str, str]] = {
        "billing": "C0BILLING01",
        "billing-vip": "C0BILLVIP02",
        "collections": "C0COLLECT03",
    }

    def __init__(self, *, token: str = TOKEN) -> None:
        self.token = token
        super().__init__()
        spec = vendor("slack_chat_postMessage.json")
        self._api_schema = chat_post_message_schema()
        self._success_schema = spec["responses"]["200"]["schema"]

    def clear(self) -> None:
        self.channels = dict(self.CHANNELS)
        self.posted: list[dict[str, Any]] = []
        self.webhook_posts: list[dict[str, Any]] = []
        self.updated: list[dict[str, Any]] = []
        self.ephemeral: list[dict[str, Any]] = []
        self._clock = 1503435956

    @property
    def api_base(self) -> str:
        return self.url + "/api"

    @property
    def webhook_url(self) -> str:
        return self.url + self.WEBHOOK_PATH

    def refuse(self, request: Request) -> Response | None:
        if request.path == "/api/chat.postMessage" or request.path in _METHOD_SCHEMAS:
            auth = request.headers.get("authorization")
            if auth is None:
                return slack_error("not_authed")
            if auth != f"Bearer {self.token}":
                return slack_error("invalid_auth")
        elif request.path != self.WEBHOOK_PATH:
            return slack_webhook_error(404, "no_service")
        return None

    def validate(self, request: Request) -> None:
        _require(request.method == "POST", f"method {request.method}, not POST")
        _require(_content_type(request) == "application/json", "the body is not JSON")
        body = request.json()
        if request.path == self.WEBHOOK_PATH:
            jsonschema.Draft202012Validator(WEBHOOK_SCHEMA).validate(body)
        elif request.path in _METHOD_SCHEMAS:
            jsonschema.Draft202012Validator(_METHOD_SCHEMAS[request.path]).validate(body)
        else:
            charset = request.headers.get("content-type", "").lower()
            _require("charset=utf-8" in charset, "Slack wants charset=utf-8 on JSON bodies")
            jsonschema.Draft202012Validator(self._api_schema).validate(body)

    def channel_id(self, channel: str) -> str | None:
        """The ID of a channel name (with or without ``#``) or ID, or None if unknown."""
        if channel in self.channels.values():
            return channel
        return self.channels.get(channel.removeprefix("#"))

    def succeed(self, request: Request) -> Response:
        body = request.json()
        if request.path == self.WEBHOOK_PATH:
            self.webhook_posts.append(body)
            return Response(200, "ok", {"Content-Type": "text/html"})
        channel = self.channel_id(body["channel"])
        if channel is None:
            return slack_error("channel_not_found")
        if request.path == "/api/chat.update":
            if not any(body["ts"] == p.get("ts") for p in self.posted):
                return slack_error("message_not_found")
            self.updated.append(body)
            return Response(200, {"ok": True, "channel": channel, "ts": body["ts"]})
        if request.path == "/api/chat.postEphemeral":
            self.ephemeral.append(body)
            return Response(200, {"ok": True, "message_ts": f"{self._clock}.999999"})
        self._clock += 1
        ts = f"{self._clock}.{len(self.posted) + 1:06d}"
        self.posted.append({**body, "ts": ts})
        message: dict[str, Any] = {
            "type": "message",
            "subtype": "bot_message",
            "text": body.get("text", ""),
            "ts": ts,
            "bot_id": "B0FAKEBOT01",
            "username": "Dunning",
        }
        if isinstance(body.get("blocks"), list):
            message["blocks"] = body["blocks"]
        if "thread_ts" in body:
            message["thread_ts"] = body["thread_ts"]
        answer = {"ok": True, "channel": channel, "ts": ts, "message": message}
        jsonschema.Draft7Validator(self._success_schema).validate(answer)
        return Response(200, answer)


# -- Microsoft Teams ------------------------------------------------------------------------


def teams_legacy_failure(status: int = 429) -> Response:
    """A legacy connector's HTTP 200 answer that reports a failure from Teams."""
    return Response(
        200,
        "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP "
        f"error {status} with ContextId tcid=0,server=msgapi-production-eus-azsc2-4-170,"
        "cv=deKcwQVaaEW4Q8w7DPNOvQ.0..",
        {"Content-Type": "text/plain; charset=utf-8"},
    )


def teams_error(status: int, code: str, message: str) -> Response:
    """A Workflows (Logic Apps) error answer."""
    return Response(status, {"error": {"code": code, "message": message}})


# Teams refuses a message over about 28 KB.
TEAMS_MAX_BYTES = 28 * 1024
# Incoming webhooks render only these actions (no Action.Submit / Action.Execute).
TEAMS_WEBHOOK_ACTIONS = frozenset({"Action.OpenUrl", "Action.ShowCard", "Action.ToggleVisibility"})

ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {"const": "message"},
        "attachments": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "contentType": {"const": "application/vnd.microsoft.card.adaptive"},
                    "contentUrl": {"type": "null"},
                    "content": {"type": "object"},
                },
                "required": ["contentType", "content"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["type", "attachments"],
    "additionalProperties": False,
}


@functools.cache
def adaptive_card_validator() -> jsonschema.Draft6Validator:
    """Adaptive Card 1.5's published schema (draft-06)."""
    return jsonschema.Draft6Validator(vendor("adaptive-card-1.5.schema.json"))


def check_teams_message(body: Any) -> None:
    """Raise unless ``body`` is a Teams webhook message with valid Adaptive Card 1.5 cards."""
    jsonschema.Draft202012Validator(ENVELOPE_SCHEMA).validate(body)
    for attachment in body["attachments"]:
        card = attachment["content"]
        error = jsonschema.exceptions.best_match(adaptive_card_validator().iter_errors(card))
        if error is not None:
            raise error
        _require(card.get("type") == "AdaptiveCard", "the content is not an AdaptiveCard")
        _require(card.get("version") == "1.5", f"card version {card.get('version')!r}")
        for action in card.get("actions", []):
            _require(
                action["type"] in TEAMS_WEBHOOK_ACTIONS,
                f"{action['type']} does not work through a webhook",
            )


class FakeTeams(FakeVendor):
    """A Teams Workflows webhook (answers 202) or, with ``legacy=True``, an Office 365
    incoming webhook (answers 200 ``1``). Valid bodies are kept in :attr:`posts`.

    :attr:`webhook_url` holds the secret: for Workflows the ``sig`` query parameter (a wrong
    one answers 401), for a legacy webhook the path (a wrong one answers 404).
    """

    provider = "teams"
    SIG = "fakeTeamsSig0123456789abcdefSECRET"  # made up, for the fake only
    WORKFLOW_PATH = "/workflows/0f1e2d3c4b5a/triggers/manual/paths/invoke"
    LEGACY_PATH = (
        "/webhookb2/00000000-1111-2222-3333-444444444444@55555555-6666-7777-8888-999999999999"
        "/IncomingWebhook/fakeLegacySecret0123/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    )

    def __init__(self, *, legacy: bool = False) -> None:
        self.legacy = legacy
        super().__init__()

    def clear(self) -> None:
        self.posts: list[dict[str, Any]] = []

    @property
    def webhook_url(self) -> str:
        if self.legacy:
            return self.url + self.LEGACY_PATH
        query = f"api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={self.SIG}"
        return f"{self.url}{self.WORKFLOW_PATH}?{query}"

    def refuse(self, request: Request) -> Response | None:
        if self.legacy:
            if request.path != self.LEGACY_PATH:
                return Response(404, "Bad webhook URL", {"Content-Type": "text/plain"})
            return None
        if request.path != self.WORKFLOW_PATH:
            return teams_error(404, "TriggerNotFound", "The workflow trigger was not found.")
        if request.query.get("sig") != [self.SIG]:
            return teams_error(
                401,
                "DirectApiAuthorizationRequired",
                "The request must be authenticated only by Shared Access scheme.",
            )
        return None

    def validate(self, request: Request) -> None:
        _require(request.method == "POST", f"method {request.method}, not POST")
        _require(_content_type(request) == "application/json", "the body is not JSON")
        _require(len(request.body) <= TEAMS_MAX_BYTES, f"{len(request.body)} bytes is too big")
        check_teams_message(request.json())

    def succeed(self, request: Request) -> Response:
        self.posts.append(request.json())
        if self.legacy:
            return Response(200, "1", {"Content-Type": "text/plain; charset=utf-8"})
        return Response(202, None)

    def cards(self) -> list[dict[str, Any]]:
        """The Adaptive Cards posted so far."""
        return [post["attachments"][0]["content"] for post in self.posts]
