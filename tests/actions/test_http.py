"""The ``http`` step type, against a local JSON endpoint."""

from __future__ import annotations

import json
import socket

import jsonschema
import pytest

from dunning_rules.actions.http import HTTP
from dunning_rules.errors import AdapterError
from tests.actions.fakes_tickets import make_context, serve_endpoint
from tests.httpfake import Response

KEY = "run-9:notify-crm:3"


@pytest.fixture(scope="module")
def endpoint_server():
    yield from serve_endpoint(answer=Response(200, {"ok": True, "id": "crm-1"}))


@pytest.fixture
def endpoint(endpoint_server):
    endpoint_server.reset()
    yield endpoint_server
    endpoint_server.check()


def call(params, key=KEY, **settings):
    return HTTP(**settings)(params, make_context(key))


def test_default_request(endpoint):
    """By default the step POSTs its `json` with the idempotency key."""
    body = {"invoice": "in_1", "amount": 1000, "tags": ["vip"], "note": None}
    call({"url": f"{endpoint.url}/crm/events?source=dunning", "json": body})
    [request] = endpoint.requests
    assert (request.method, request.path) == ("POST", "/crm/events")
    assert request.query == {"source": ["dunning"]}
    assert request.headers["content-type"] == "application/json"
    assert request.headers["idempotency-key"] == KEY
    assert request.json() == body


def test_output_of_a_json_answer(endpoint):
    """A JSON answer is parsed into `json`; `text` is None."""
    output = call({"url": endpoint.url, "json": {}})
    assert output == {"status": 200, "json": {"ok": True, "id": "crm-1"}, "text": None}


@pytest.mark.parametrize(
    "method", ["GET", "PUT", "PATCH", "DELETE"], ids=["get", "put", "patch", "delete"]
)
def test_method(endpoint, method):
    """`method` picks the HTTP method; without `json` no body is sent."""
    call({"url": endpoint.url, "method": method})
    [request] = endpoint.requests
    assert (request.method, request.body) == (method, b"")
    assert request.headers["idempotency-key"] == KEY


@pytest.mark.parametrize(
    "name", ["Idempotency-Key", "idempotency-key"], ids=["canonical", "lower-case"]
)
def test_rule_idempotency_key_wins(endpoint, name):
    """An Idempotency-Key set by the rule replaces the step's, whatever its case."""
    call({"url": endpoint.url, "headers": {name: "order-77"}})
    request = endpoint.requests[0]
    assert request.headers["idempotency-key"] == "order-77"
    raw = str(request.headers)
    assert KEY not in raw


def test_headers(endpoint):
    """Constructor headers are sent, and a rule header of the same name replaces one."""
    settings = {"headers": {"Authorization": "Bearer s3cret", "X-Team": "billing"}}
    call({"url": endpoint.url, "headers": {"x-team": "{{rendered}}", "X-Run": 7}}, **settings)
    headers = endpoint.requests[0].headers
    assert headers["authorization"] == "Bearer s3cret"
    assert headers["x-team"] == "{{rendered}}"
    assert headers["x-run"] == "7"


@pytest.mark.parametrize(
    "value",
    ["x\r\nX-Admin: yes", "x\nX-Admin: yes", "x\rX-Admin: yes", "x\x00"],
    ids=["crlf", "lf", "cr", "nul"],
)
def test_line_breaks_in_headers_are_refused(endpoint, value):
    """A header value with a line break is a final error and nothing is sent."""
    with pytest.raises(AdapterError, match="line break") as info:
        call({"url": endpoint.url, "headers": {"X-Customer": value}})
    assert info.value.retryable is False
    assert endpoint.requests == []


@pytest.mark.parametrize(
    "name",
    ["X Customer", "X-Customer:", "X-Customer\r\n", ""],
    ids=["space", "colon", "crlf", "empty"],
)
def test_bad_header_names_are_refused(endpoint, name):
    """A header name that is not an HTTP token is a final error and nothing is sent."""
    with pytest.raises(AdapterError, match="header name") as info:
        call({"url": endpoint.url, "headers": {name: "x"}})
    assert info.value.retryable is False
    assert endpoint.requests == []


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/x", "file:///etc/passwd", "javascript:alert(1)", "/relative", "http://"],
    ids=["ftp", "file", "javascript", "relative", "no-host"],
)
def test_only_http_urls(url):
    """Only absolute http and https URLs are called."""
    with pytest.raises(AdapterError, match="http or https") as info:
        call({"url": url})
    assert info.value.retryable is False


def test_url_with_line_break_is_refused(endpoint):
    """A URL with a line break in it is a final error and nothing is sent."""
    with pytest.raises(AdapterError, match="line breaks") as info:
        call({"url": f"{endpoint.url}/x\r\nHost: evil"})
    assert info.value.retryable is False
    assert endpoint.requests == []


def test_text_answer(endpoint):
    """A non-JSON answer is kept as `text`, and `json` is None."""
    endpoint.queue(Response(202, "accepted", {"Content-Type": "text/plain"}))
    assert call({"url": endpoint.url}) == {"status": 202, "json": None, "text": "accepted"}


def test_long_text_is_truncated(endpoint):
    """A text answer is cut to 10 kB."""
    endpoint.queue(Response(200, "é" * 8000, {"Content-Type": "text/plain; charset=utf-8"}))
    text = call({"url": endpoint.url})["text"]
    assert len(text.encode("utf-8")) == 10_000
    assert set(text) == {"é"}


def test_empty_answer(endpoint):
    """An empty answer has neither `json` nor `text`."""
    endpoint.queue(Response(204))
    assert call({"url": endpoint.url}) == {"status": 204, "json": None, "text": None}


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(429, True), (500, True), (503, True), (400, False), (404, False), (302, False)],
    ids=["429", "500", "503", "400", "404", "redirect"],
)
def test_error_statuses(endpoint, status, retryable):
    """429 and 5xx are retryable; other 4xx and redirects (not followed) are final."""
    headers = {"Location": "http://127.0.0.1:9/elsewhere"} if status == 302 else {}
    endpoint.queue(Response(status, {"error": "no"}, headers))
    with pytest.raises(AdapterError) as info:
        call({"url": endpoint.url})
    assert (info.value.retryable, info.value.status) == (retryable, status)
    assert len(endpoint.requests) == 1


def test_credentials_not_in_errors_or_output(endpoint):
    """Constructor headers never show up in the output or in an error."""
    settings = {"headers": {"Authorization": "Bearer s3cret-42"}}
    output = call({"url": endpoint.url}, **settings)
    assert "s3cret-42" not in json.dumps(output)
    endpoint.queue(Response(401, {"error": "bad token"}))
    with pytest.raises(AdapterError) as info:
        call({"url": endpoint.url}, **settings)
    assert "s3cret-42" not in str(info.value)


@pytest.fixture(scope="module")
def silent_url():
    """A port that takes connections but never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/hook"


@pytest.mark.parametrize(
    ("params", "settings"),
    [({"timeout": 0.05}, {}), ({"timeout": "0.05"}, {}), ({}, {"timeout": 0.05})],
    ids=["param", "param-text", "constructor"],
)
def test_timeout_is_retryable(silent_url, params, settings):
    """No answer within the timeout is a retryable error."""
    with pytest.raises(AdapterError, match=r"no answer within 0\.05s") as info:
        call({"url": silent_url, **params}, **settings)
    assert info.value.retryable is True


@pytest.mark.parametrize("timeout", [0, -1, "soon", True], ids=["zero", "negative", "text", "bool"])
def test_bad_timeout(endpoint, timeout):
    """A timeout that is not a positive number is a final error; nothing is sent."""
    with pytest.raises(AdapterError, match="timeout") as info:
        call({"url": endpoint.url, "timeout": timeout})
    assert info.value.retryable is False
    assert endpoint.requests == []


@pytest.mark.parametrize(
    ("params", "valid"),
    [
        ({"url": "{{ settings.crm_url }}"}, True),
        ({"url": "https://x", "method": "PATCH", "json": {"a": "{{ data.object.id }}"}}, True),
        ({"url": "https://x", "headers": {"X-Id": "{{ data.object.id }}"}, "timeout": 5}, True),
        ({"method": "POST"}, False),
        ({"url": "https://x", "method": "post"}, False),
        ({"url": "https://x", "method": "TRACE"}, False),
        ({"url": "https://x", "headers": {"X Bad": "v"}}, False),
        ({"url": "https://x", "headers": {"X-List": ["a"]}}, False),
        ({"url": "https://x", "body": "raw"}, False),
    ],
    ids=[
        "template-url",
        "json",
        "headers",
        "no-url",
        "lower-method",
        "trace",
        "bad-header-name",
        "list-header",
        "unknown-key",
    ],
)
def test_params_schema(params, valid):
    """The schema requires `url`, knows the methods and rejects unknown keys."""
    jsonschema.Draft202012Validator.check_schema(HTTP.params_schema)
    assert jsonschema.Draft202012Validator(HTTP.params_schema).is_valid(params) is valid
