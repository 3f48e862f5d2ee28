"""The ``ticket`` step type, against local Asana, Intercom and JSON endpoint servers."""

from __future__ import annotations

import json

import jsonschema
import pytest

from dunning_rules.actions.tickets import Ticket
from dunning_rules.errors import AdapterError
from tests.actions.fakes_tickets import (
    ASANA_PROJECT,
    ASANA_TOKEN,
    ASANA_WORKSPACE,
    INTERCOM_CONTACT,
    INTERCOM_TICKET_TYPE,
    INTERCOM_TOKEN,
    TICKET_HTTP_BODY,
    FakeAsana,
    FakeIntercom,
    make_context,
    serve_asana,
    serve_endpoint,
    serve_intercom,
)
from tests.httpfake import Response

KEY = "run-3:vip-card-declined:1"
WORKSPACE = "abc123de"
ENV = (
    "ASANA_ACCESS_TOKEN",
    "ASANA_API_BASE",
    "INTERCOM_ACCESS_TOKEN",
    "INTERCOM_API_BASE",
    "INTERCOM_WORKSPACE_ID",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def asana_server():
    yield from serve_asana()


@pytest.fixture(scope="module")
def intercom_server():
    yield from serve_intercom()


@pytest.fixture(scope="module")
def endpoint_server():
    yield from serve_endpoint(schema=TICKET_HTTP_BODY)


def _fresh(server):
    server.reset()
    yield server
    server.check()


@pytest.fixture
def asana(asana_server):
    yield from _fresh(asana_server)


@pytest.fixture
def intercom(intercom_server):
    yield from _fresh(intercom_server)


@pytest.fixture
def endpoint(endpoint_server):
    yield from _fresh(endpoint_server)


def asana_ticket(asana, **kwargs):
    return Ticket(asana_token=ASANA_TOKEN, asana_api_base=asana.url, **kwargs)


def intercom_ticket(intercom, **kwargs):
    kwargs.setdefault("intercom_workspace_id", WORKSPACE)
    return Ticket(intercom_token=INTERCOM_TOKEN, intercom_api_base=intercom.url, **kwargs)


ASANA_STEP = {
    "provider": "asana",
    "title": "VIP card declined: Jenny Rosen",
    "body": "Invoice 7FE1103-0001 failed: $10.00.\n<b>not markup</b>",
    "project": ASANA_PROJECT,
}
INTERCOM_STEP = {
    "provider": "intercom",
    "title": "Payment failed",
    "body": "Your payment of $10.00 failed.",
    "ticket_type_id": INTERCOM_TICKET_TYPE,
    "email": "jenny.rosen@example.com",
}


# -- Asana -----------------------------------------------------------------------------------


def test_asana_request(asana):
    """An Asana task is a POST /api/1.0/tasks with the token and a `data` envelope."""
    asana_ticket(asana)(ASANA_STEP, make_context(KEY))
    [request] = asana.requests
    assert (request.method, request.path) == ("POST", "/api/1.0/tasks")
    assert request.query == {"opt_fields": ["permalink_url,name"]}
    assert request.headers["authorization"] == f"Bearer {ASANA_TOKEN}"
    assert request.json() == {
        "data": {
            "name": "VIP card declined: Jenny Rosen",
            "notes": "Invoice 7FE1103-0001 failed: $10.00.\n<b>not markup</b>",
            "projects": [ASANA_PROJECT],
        }
    }


def test_asana_optional_fields(asana):
    """`workspace`, `assignee` and `due_on` are sent; a numeric project id becomes text."""
    step = {
        **ASANA_STEP,
        "project": int(ASANA_PROJECT),
        "workspace": ASANA_WORKSPACE,
        "assignee": "1204000000000042",
        "due_on": "2024-08-02",
    }
    asana_ticket(asana)(step, make_context(KEY))
    data = asana.requests[0].json()["data"]
    assert data["projects"] == [ASANA_PROJECT]
    assert (data["workspace"], data["assignee"], data["due_on"]) == (
        ASANA_WORKSPACE,
        "1204000000000042",
        "2024-08-02",
    )


def test_asana_output(asana):
    """The output has the task's gid and permalink."""
    output = asana_ticket(asana)(ASANA_STEP, make_context(KEY))
    gid = "1207000000000001"
    assert output == {
        "provider": "asana",
        "id": gid,
        "url": f"https://app.asana.com/1/{ASANA_WORKSPACE}/project/{ASANA_PROJECT}/task/{gid}",
    }


def test_asana_settings_from_environment(asana, monkeypatch):
    """ASANA_ACCESS_TOKEN and ASANA_API_BASE are read when the step runs."""
    step = Ticket()
    monkeypatch.setenv("ASANA_ACCESS_TOKEN", ASANA_TOKEN)
    monkeypatch.setenv("ASANA_API_BASE", asana.url)
    step(ASANA_STEP, make_context(KEY))
    assert asana.requests[0].headers["authorization"] == f"Bearer {ASANA_TOKEN}"


def test_asana_bad_due_on_fails_before_sending(asana):
    """A `due_on` that is not a date is a final error; nothing is sent."""
    with pytest.raises(AdapterError, match="due_on") as info:
        asana_ticket(asana)({**ASANA_STEP, "due_on": "next friday"}, make_context(KEY))
    assert info.value.retryable is False
    assert asana.requests == []


def test_asana_unknown_project_is_final(asana):
    """Asana's 404 for a project is final and quotes Asana's message."""
    with pytest.raises(AdapterError, match="Unknown object") as info:
        asana_ticket(asana)({**ASANA_STEP, "project": "999"}, make_context(KEY))
    assert (info.value.retryable, info.value.status) == (False, 404)


# -- Intercom ----------------------------------------------------------------------------------


def test_intercom_ticket_request(intercom):
    """An Intercom ticket is a POST /tickets with version 2.11 and the default attributes."""
    intercom_ticket(intercom)(INTERCOM_STEP, make_context(KEY))
    [request] = intercom.requests
    assert (request.method, request.path) == ("POST", "/tickets")
    assert request.headers["authorization"] == f"Bearer {INTERCOM_TOKEN}"
    assert request.headers["intercom-version"] == "2.11"
    assert request.headers["accept"] == "application/json"
    assert request.json() == {
        "ticket_type_id": INTERCOM_TICKET_TYPE,
        "contacts": [{"email": "jenny.rosen@example.com"}],
        "ticket_attributes": {
            "_default_title_": "Payment failed",
            "_default_description_": "Your payment of $10.00 failed.",
        },
    }


def test_intercom_ticket_by_contact_id_with_attributes(intercom):
    """`contact_id` names the contact, and `attributes` add ticket attributes."""
    step = {
        **INTERCOM_STEP,
        "email": None,
        "contact_id": INTERCOM_CONTACT,
        "attributes": {"Amount": "$10.00"},
    }
    intercom_ticket(intercom)(step, make_context(KEY))
    body = intercom.requests[0].json()
    assert body["contacts"] == [{"id": INTERCOM_CONTACT}]
    assert body["ticket_attributes"] == {
        "Amount": "$10.00",
        "_default_title_": "Payment failed",
        "_default_description_": "Your payment of $10.00 failed.",
    }


def test_intercom_ticket_output(intercom):
    """The output has the ticket id, its Inbox URL and Intercom's ticket number."""
    output = intercom_ticket(intercom)(INTERCOM_STEP, make_context(KEY))
    assert output == {
        "provider": "intercom",
        "id": "601",
        "url": f"https://app.intercom.com/a/inbox/{WORKSPACE}/inbox/conversation/601",
        "ticket_id": "31",
    }


def test_intercom_conversation(intercom):
    """`kind: conversation` starts a conversation from the contact; its id is the output's."""
    step = {
        "provider": "intercom",
        "kind": "conversation",
        "title": "Payment failed",
        "body": "Please update your card.",
        "contact_id": INTERCOM_CONTACT,
    }
    output = intercom_ticket(intercom)(step, make_context(KEY))
    [request] = intercom.requests
    assert request.path == "/conversations"
    assert request.json() == {
        "from": {"type": "user", "id": INTERCOM_CONTACT},
        "body": "Payment failed\n\nPlease update your card.",
    }
    assert output == {
        "provider": "intercom",
        "id": "361",
        "url": f"https://app.intercom.com/a/inbox/{WORKSPACE}/inbox/conversation/361",
    }


def test_intercom_url_needs_a_workspace(intercom):
    """Without a workspace id the output's url is None."""
    output = intercom_ticket(intercom, intercom_workspace_id=None)(INTERCOM_STEP, make_context())
    assert (output["id"], output["url"]) == ("601", None)


def test_intercom_workspace_from_environment(intercom, monkeypatch):
    """INTERCOM_WORKSPACE_ID builds the url when the constructor has none."""
    monkeypatch.setenv("INTERCOM_WORKSPACE_ID", "zz99")
    output = intercom_ticket(intercom, intercom_workspace_id=None)(INTERCOM_STEP, make_context())
    assert output["url"] == "https://app.intercom.com/a/inbox/zz99/inbox/conversation/601"


def test_intercom_unknown_ticket_type_is_final(intercom):
    """Intercom's 404 error list is a final error quoting Intercom's message."""
    step = {**INTERCOM_STEP, "ticket_type_id": 99}
    with pytest.raises(AdapterError, match="Ticket type not found") as info:
        intercom_ticket(intercom)(step, make_context())
    assert (info.value.retryable, info.value.status) == (False, 404)
    assert intercom.requests[0].json()["ticket_type_id"] == "99"


def test_intercom_conversation_needs_a_contact_id(intercom):
    """A conversation with only an email is a final error; nothing is sent."""
    step = {**INTERCOM_STEP, "kind": "conversation"}
    with pytest.raises(AdapterError, match="contact_id") as info:
        intercom_ticket(intercom)(step, make_context())
    assert info.value.retryable is False
    assert intercom.requests == []


# -- your own endpoint -------------------------------------------------------------------------


def test_http_provider_request(endpoint):
    """The http provider POSTs title, body and fields as JSON, with the idempotency key."""
    step = {
        "provider": "http",
        "url": f"{endpoint.url}/tickets",
        "title": "Payment failed",
        "body": "Card declined.",
        "fields": {"priority": "high", "customer": "cus_123"},
    }
    Ticket(http_headers={"Authorization": "Token s3cret"})(step, make_context(KEY))
    [request] = endpoint.requests
    assert (request.method, request.path) == ("POST", "/tickets")
    assert request.headers["idempotency-key"] == KEY
    assert request.headers["authorization"] == "Token s3cret"
    assert request.json() == {
        "priority": "high",
        "customer": "cus_123",
        "title": "Payment failed",
        "body": "Card declined.",
    }


def test_http_provider_output(endpoint):
    """The output takes `id` and `url` from the JSON answer."""
    step = {"provider": "http", "url": endpoint.url, "title": "t"}
    output = Ticket()(step, make_context(KEY))
    assert output == {"provider": "http", "id": "T-1", "url": "https://tickets.example.com/T-1"}


def test_http_provider_id_and_url_fields(endpoint):
    """`id_field` and `url_field` pick other (dotted) keys of the answer."""
    endpoint.queue(Response(200, {"ticket": {"number": 42, "link": "https://t.example/42"}}))
    step = {
        "provider": "http",
        "url": endpoint.url,
        "title": "t",
        "id_field": "ticket.number",
        "url_field": "ticket.link",
    }
    output = Ticket()(step, make_context(KEY))
    assert (output["id"], output["url"]) == ("42", "https://t.example/42")


def test_http_provider_answer_without_id(endpoint):
    """An answer without the id gives a null id and a warning; the step still succeeds."""
    endpoint.queue(Response(204))
    ctx = make_context(KEY)
    output = Ticket()({"provider": "http", "url": endpoint.url, "title": "t"}, ctx)
    assert output == {"provider": "http", "id": None, "url": None}
    assert ctx.warnings == ["ticket (http): the answer has no 'id'"]


def test_http_provider_named_endpoint(endpoint):
    """`endpoint` names a URL configured in Python, so secrets stay out of rule files."""
    step = Ticket(endpoints={"helpdesk": f"{endpoint.url}/hooks/SECRET-PATH"})
    step({"provider": "http", "endpoint": "helpdesk", "title": "t"}, make_context(KEY))
    assert endpoint.requests[0].path == "/hooks/SECRET-PATH"


def test_http_provider_named_endpoint_url_not_in_errors(endpoint):
    """An endpoint's error names the endpoint, never its URL."""
    endpoint.queue(Response(503, {"error": "down"}))
    step = Ticket(endpoints={"helpdesk": f"{endpoint.url}/hooks/SECRET-PATH"})
    with pytest.raises(AdapterError) as info:
        step({"provider": "http", "endpoint": "helpdesk", "title": "t"}, make_context(KEY))
    assert info.value.retryable is True
    assert "SECRET-PATH" not in str(info.value)


def test_http_provider_unknown_endpoint(endpoint):
    """An endpoint that is not configured is a final error; nothing is sent."""
    with pytest.raises(AdapterError, match="unknown endpoint 'nope'") as info:
        Ticket()({"provider": "http", "endpoint": "nope", "title": "t"}, make_context())
    assert info.value.retryable is False
    assert endpoint.requests == []


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "file:///etc/passwd", "example.com"], ids=["ftp", "file", "bare"]
)
def test_http_provider_only_http_urls(endpoint, url):
    """Only http and https URLs are called."""
    with pytest.raises(AdapterError, match="http or https") as info:
        Ticket()({"provider": "http", "url": url, "title": "t"}, make_context())
    assert info.value.retryable is False


# -- errors and credentials for every provider -------------------------------------------------


@pytest.mark.parametrize(
    "provider", ["asana", "intercom", "http"], ids=["asana", "intercom", "http"]
)
def test_rate_limit_is_retryable(asana, intercom, endpoint, provider):
    """A 429 answer is a retryable error with status 429."""
    if provider == "asana":
        asana.queue(FakeAsana.rate_limited())
        step, params = asana_ticket(asana), ASANA_STEP
    elif provider == "intercom":
        intercom.queue(FakeIntercom.rate_limited())
        step, params = intercom_ticket(intercom), INTERCOM_STEP
    else:
        endpoint.queue(Response(429, {"error": "slow down"}))
        step, params = Ticket(), {"provider": "http", "url": endpoint.url, "title": "t"}
    with pytest.raises(AdapterError) as info:
        step(params, make_context())
    assert (info.value.retryable, info.value.status) == (True, 429)


@pytest.mark.parametrize(
    ("provider", "variable"),
    [("asana", "ASANA_ACCESS_TOKEN"), ("intercom", "INTERCOM_ACCESS_TOKEN")],
    ids=["asana", "intercom"],
)
def test_missing_token_is_final(asana, intercom, provider, variable):
    """No token and no environment variable: a final error naming the variable."""
    step = Ticket(asana_api_base=asana.url, intercom_api_base=intercom.url)
    params = ASANA_STEP if provider == "asana" else INTERCOM_STEP
    with pytest.raises(AdapterError, match=variable) as info:
        step(params, make_context())
    assert info.value.retryable is False
    assert asana.requests == intercom.requests == []


@pytest.mark.parametrize("provider", ["asana", "intercom"], ids=["asana", "intercom"])
def test_rejected_token_is_final_and_never_quoted(asana, intercom, provider):
    """A 401 is final, and neither the error nor a success's output holds the token."""
    token = "tok-WRONG-0123456789"
    if provider == "asana":
        wrong = Ticket(asana_token=token, asana_api_base=asana.url)
        right, params = asana_ticket(asana), ASANA_STEP
    else:
        wrong = Ticket(intercom_token=token, intercom_api_base=intercom.url)
        right, params = intercom_ticket(intercom), INTERCOM_STEP
    with pytest.raises(AdapterError) as info:
        wrong(params, make_context())
    assert (info.value.retryable, info.value.status) == (False, 401)
    assert token not in str(info.value)
    output = json.dumps(right(params, make_context()))
    assert ASANA_TOKEN not in output
    assert INTERCOM_TOKEN not in output


def test_unknown_provider_is_final():
    """A provider other than asana, intercom or http is a final error."""
    with pytest.raises(AdapterError, match="unknown provider 'jira'") as info:
        Ticket()({"provider": "jira", "title": "t"}, make_context())
    assert info.value.retryable is False


@pytest.mark.parametrize("title", [None, "", ["a"]], ids=["none", "empty", "list"])
def test_rendered_title_must_be_text(asana, title):
    """A title that renders to nothing or to a list is a final error; nothing is sent."""
    with pytest.raises(AdapterError, match="title") as info:
        asana_ticket(asana)({**ASANA_STEP, "title": title}, make_context())
    assert info.value.retryable is False
    assert asana.requests == []


# -- params_schema -----------------------------------------------------------------------------

SCHEMA_CASES = [
    ({"provider": "asana", "project": "1"}, "'title' is a required property"),
    ({"provider": "asana", "title": "t"}, "'project' is a required property"),
    ({"provider": "intercom", "title": "t", "email": "a@b.c"}, "'ticket_type_id' is a required"),
    ({"provider": "intercom", "title": "t", "ticket_type_id": "1"}, "'email' is a required"),
    ({"provider": "intercom", "kind": "conversation", "title": "t"}, "'contact_id' is a required"),
    ({"provider": "http", "title": "t"}, "'url' is a required property"),
    ({"provider": "asana", "title": "t", "project": "1", "url": "https://x"}, "'url' is not one"),
    ({"provider": "zendesk", "title": "t"}, "'zendesk' is not one of"),
    ({"provider": "asana", "title": "t", "project": "1", "token": "x"}, "Additional properties"),
    ({"title": "t"}, "'provider' is a required property"),
]


@pytest.mark.parametrize(
    ("params", "message"),
    SCHEMA_CASES,
    ids=[
        "no-title",
        "asana-no-project",
        "intercom-no-type",
        "intercom-no-contact",
        "conversation-no-contact-id",
        "http-no-url",
        "asana-with-http-key",
        "unknown-provider",
        "credential-param",
        "no-provider",
    ],
)
def test_params_schema_rejects(params, message):
    """The schema reports a missing or misplaced parameter when the engine is built."""
    jsonschema.Draft202012Validator.check_schema(Ticket.params_schema)
    errors = [
        e.message for e in jsonschema.Draft202012Validator(Ticket.params_schema).iter_errors(params)
    ]
    assert any(message in error for error in errors), errors


@pytest.mark.parametrize(
    "params",
    [
        {**ASANA_STEP, "title": "{{ data.object.customer_name }}", "due_on": "{{ settings.due }}"},
        {**INTERCOM_STEP, "email": "{{ data.object.customer_email }}", "ticket_type_id": 1234},
        {
            "provider": "intercom",
            "kind": "conversation",
            "title": "t",
            "contact_id": "{{ vars.c }}",
        },
        {"provider": "http", "endpoint": "helpdesk", "title": "t", "fields": "{{ data.object }}"},
    ],
    ids=["asana", "intercom", "conversation", "http"],
)
def test_params_schema_accepts_templates(params):
    """Templated values pass the schema, which only sees the raw text."""
    assert jsonschema.Draft202012Validator(Ticket.params_schema).is_valid(params)
