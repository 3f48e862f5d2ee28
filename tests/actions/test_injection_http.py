"""HTTP request headers tried as an attacker would (the ``http`` step and the ``ticket``
step's providers), against a local JSON endpoint: nothing is sent, and the failure is final."""

from __future__ import annotations

import pytest

from dunning_rules.actions.http import HTTP
from dunning_rules.actions.tickets import Ticket
from dunning_rules.errors import AdapterError
from tests.actions.fakes_tickets import make_context, serve_asana, serve_endpoint

BAD_VALUES = {
    "crlf": "x\r\nX-Injected: 1",
    "lf": "x\nX-Injected: 1",
    "nul": "x\x00y",
    "nel": "x\x85X-Injected: 1",
    "line-separator": "x\u2028X-Injected: 1",
    "c1": "x\x9by",
    "encoded-word": "=?utf-8?q?x=0D=0AX-Injected:_1?=",
    "non-latin-1": "Zoë 🙂 Ünal",
}
REASONS = {
    "encoded-word": "encoded word",
    "non-latin-1": "outside Latin-1",
}


@pytest.fixture(scope="module")
def endpoint_server():
    yield from serve_endpoint()


@pytest.fixture
def endpoint(endpoint_server):
    endpoint_server.reset()
    yield endpoint_server
    endpoint_server.check()


@pytest.fixture(scope="module")
def asana_server():
    yield from serve_asana()


@pytest.mark.parametrize("case", list(BAD_VALUES), ids=list(BAD_VALUES))
def test_a_bad_http_header_value_is_final_and_sends_nothing(endpoint, case):
    """A rule header holding a line break, a control character, an encoded word or a
    character outside Latin-1 fails for good (not retryable) and no request is made."""
    step = {"url": endpoint.url, "headers": {"X-Customer": BAD_VALUES[case]}, "json": {}}
    with pytest.raises(AdapterError) as info:
        HTTP()(step, make_context())
    message = str(info.value)
    assert message.startswith("http: header 'X-Customer' ")
    assert REASONS.get(case, "line break or control character") in message
    assert BAD_VALUES[case] not in message
    assert info.value.retryable is False
    assert endpoint.requests == []


def test_a_tab_in_a_header_value_is_sent(endpoint):
    """HTTP allows a tab inside a field value: it is sent as it is."""
    HTTP()({"url": endpoint.url, "headers": {"X-Note": "a\tb"}, "json": {}}, make_context())
    [request] = endpoint.requests
    assert request.headers["x-note"] == "a\tb"


@pytest.mark.parametrize("case", ["crlf", "non-latin-1"], ids=["crlf", "non-latin-1"])
def test_a_bad_ticket_header_is_final_and_sends_nothing(endpoint, case):
    """The ticket step's http provider checks every header it sends, the adapter's own
    `http_headers` included."""
    adapter = Ticket(http_headers={"X-Team": BAD_VALUES[case]})
    with pytest.raises(AdapterError, match=r"^ticket \(http\): header 'X-Team' ") as info:
        adapter({"provider": "http", "title": "t", "url": endpoint.url}, make_context())
    assert info.value.retryable is False
    assert endpoint.requests == []


def test_a_token_with_a_line_break_is_final(asana_server):
    """A credential that would split the Authorization header fails for good, and the
    message does not quote it."""
    asana_server.reset()
    adapter = Ticket(asana_token="abc\r\nX-Injected: 1", asana_api_base=asana_server.url)
    with pytest.raises(AdapterError, match="header 'Authorization' contains a line break") as info:
        adapter({"provider": "asana", "title": "t", "project": "1204000000000001"}, make_context())
    assert "X-Injected" not in str(info.value)
    assert info.value.retryable is False
    assert asana_server.requests == []
