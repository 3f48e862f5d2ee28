"""The Stripe step types and lookups, against a local server that answers like Stripe."""

from __future__ import annotations

import datetime as dt
import json
import socket
import subprocess
import sys

import jsonschema
import pytest

from dunning_rules.actions.base import ActionContext, LookupContext
from dunning_rules.actions.stripe import (
    InvoiceRetrieve,
    PortalLink,
    customer_lookup,
    customer_ltv_lookup,
)
from dunning_rules.errors import AdapterError
from tests.actions.fake_stripe import (
    API_KEY,
    CUSTOMER_ID,
    INVOICE_ID,
    load,
    make_stripe_client,
    serve_stripe,
)

NOW = dt.datetime(2024, 7, 26, 12, 0, tzinfo=dt.timezone.utc)
FAILED = load("events/invoice.payment_failed.json")
KEY = "run-7:vip-card-declined:2"


@pytest.fixture(scope="module")
def stripe_server():
    yield from serve_stripe()


@pytest.fixture
def fake(stripe_server):
    stripe_server.reset()
    yield stripe_server
    stripe_server.check()


@pytest.fixture
def client(fake):
    return make_stripe_client(fake)


@pytest.fixture
def no_stripe_env(monkeypatch):
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    monkeypatch.delenv("STRIPE_API_BASE", raising=False)


def context(client, event=FAILED, key=KEY):
    return ActionContext(
        event=event,
        run_id="run-7",
        rule="vip-card-declined",
        action_id="invoice",
        idempotency_key=key,
        stripe_client=client,
        now=NOW,
    )


def lookup_context(client, event=FAILED):
    return LookupContext(event=event, name="ltv", stripe_client=client, now=NOW)


def closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# -- stripe.invoice --------------------------------------------------------------------------


def test_invoice_defaults_to_the_event_invoice(fake, client):
    """Without `invoice`, the step retrieves data.object.id of an invoice event."""
    output = InvoiceRetrieve()({}, context(client))
    [request] = fake.requests
    assert (request.method, request.path, request.query) == (
        "GET",
        f"/v1/invoices/{INVOICE_ID}",
        {},
    )
    assert output["id"] == INVOICE_ID
    assert output["status"] == "open"


def test_invoice_output_is_plain_data(client):
    """The output is made of plain dicts and lists, not Stripe objects."""
    output = InvoiceRetrieve()({}, context(client))
    assert type(output) is dict
    assert type(output["lines"]) is dict
    assert type(output["lines"]["data"][0]) is dict
    assert json.loads(json.dumps(output)) == output


def test_invoice_shows_the_invoice_as_it_is_now(fake, client):
    """After the invoice is paid, the same step returns status 'paid'."""
    step = InvoiceRetrieve()
    assert step({}, context(client))["status"] == "open"
    fake.mark_paid()
    assert step({}, context(client))["status"] == "paid"


def test_invoice_param_names_the_invoice(fake, client):
    """An explicit `invoice` is retrieved even when the event is not about an invoice."""
    event = load("events/customer.subscription.deleted.json")
    InvoiceRetrieve()({"invoice": INVOICE_ID}, context(client, event=event))
    assert [r.path for r in fake.requests] == [f"/v1/invoices/{INVOICE_ID}"]


def test_invoice_expand_is_sent(fake, client):
    """`expand` goes to Stripe as expand[] query parameters."""
    InvoiceRetrieve()({"expand": ["customer"]}, context(client))
    assert fake.requests[0].query == {"expand[0]": ["customer"]}


def test_invoice_without_an_invoice_to_read_fails_before_sending(fake, client):
    """An event that is not an invoice, with no `invoice`, is a final error; nothing is sent."""
    event = load("events/customer.subscription.deleted.json")
    with pytest.raises(AdapterError, match="not an invoice") as info:
        InvoiceRetrieve()({}, context(client, event=event))
    assert info.value.retryable is False
    assert fake.requests == []


def test_invoice_unknown_id_is_final(client):
    """A 404 resource_missing is final, and the message has Stripe's code and message."""
    with pytest.raises(AdapterError) as info:
        InvoiceRetrieve()({"invoice": "in_missing"}, context(client))
    assert info.value.retryable is False
    assert info.value.status == 404
    assert "resource_missing" in str(info.value)
    assert "No such invoice: 'in_missing'" in str(info.value)


@pytest.mark.parametrize(
    ("status", "error_type", "code", "retryable"),
    [
        (429, "invalid_request_error", "rate_limit", True),
        (500, "api_error", None, True),
        (503, "api_error", None, True),
        (400, "invalid_request_error", "parameter_invalid_empty", False),
        (402, "card_error", "card_declined", False),
        (403, "invalid_request_error", "secret_key_required", False),
    ],
    ids=["rate-limit", "server-error", "unavailable", "invalid", "card", "permission"],
)
def test_stripe_errors_are_classified(fake, client, status, error_type, code, retryable):
    """Rate limits and 5xx are retryable; invalid, card and permission errors are final."""
    fake.fail_next(status, type=error_type, code=code, message="Stripe says no.")
    with pytest.raises(AdapterError) as info:
        InvoiceRetrieve()({}, context(client))
    assert info.value.retryable is retryable
    assert info.value.status == status
    assert "Stripe says no." in str(info.value)
    if code:
        assert code in str(info.value)


def test_rate_limit_message_names_stripe_code(fake, client):
    """A 429 says it is a rate limit, with Stripe's code."""
    fake.fail_next()
    with pytest.raises(AdapterError, match=r"RateLimitError: HTTP 429: rate_limit: Request rate"):
        InvoiceRetrieve()({}, context(client))


def test_connection_error_is_retryable():
    """No server listening is a retryable failure."""
    client = make_stripe_client_at(closed_port_url())
    with pytest.raises(AdapterError) as info:
        InvoiceRetrieve()({}, context(client))
    assert info.value.retryable is True
    assert info.value.status is None


def make_stripe_client_at(url):
    import stripe

    return stripe.StripeClient(API_KEY, base_addresses={"api": url}, max_network_retries=0)


def test_bad_api_key_is_final_and_never_quoted(fake):
    """A rejected key is a final error whose message has no part of the key."""
    wrong = "sk_test_wrong_key_for_the_fake_9876"
    client = make_stripe_client(fake, api_key=wrong)
    with pytest.raises(AdapterError) as info:
        InvoiceRetrieve()({}, context(client))
    assert info.value.retryable is False
    assert info.value.status == 401
    assert "AuthenticationError" in str(info.value)
    assert "9876" not in str(info.value)
    assert "sk_test" not in str(info.value)
    assert info.value.__cause__ is None


def test_client_from_environment(fake, monkeypatch):
    """Without an engine client, STRIPE_API_KEY and STRIPE_API_BASE build one."""
    monkeypatch.setenv("STRIPE_API_KEY", API_KEY)
    monkeypatch.setenv("STRIPE_API_BASE", fake.url)
    output = InvoiceRetrieve()({}, context(None))
    assert output["status"] == "open"
    assert fake.requests[0].headers["authorization"] == f"Bearer {API_KEY}"


def test_client_from_constructor(fake, no_stripe_env):
    """`api_key` and `api_base` given to the adapter are used."""
    step = PortalLink(api_key=API_KEY, api_base=fake.url)
    step({}, context(None))
    assert fake.requests[0].headers["authorization"] == f"Bearer {API_KEY}"


def test_built_client_does_not_retry(fake, no_stripe_env):
    """The adapter's own client makes one request: the engine's retry policy decides."""
    fake.fail_next(500, type="api_error", code=None, count=3)
    step = InvoiceRetrieve(api_key=API_KEY, api_base=fake.url)
    with pytest.raises(AdapterError):
        step({}, context(None))
    assert len(fake.requests) == 1


def test_missing_api_key_is_final(no_stripe_env):
    """No client, no key and no STRIPE_API_KEY: a final error naming the variable."""
    with pytest.raises(AdapterError, match="STRIPE_API_KEY") as info:
        InvoiceRetrieve()({}, context(None))
    assert info.value.retryable is False


def test_api_key_never_in_output(fake, no_stripe_env):
    """The output holds no part of the API key."""
    output = PortalLink(api_key=API_KEY, api_base=fake.url)({}, context(None))
    assert API_KEY not in json.dumps(output)


# -- stripe.portal_link ----------------------------------------------------------------------


def test_portal_link_request(fake, client):
    """The session is created for the event's customer, with the step's idempotency key."""
    PortalLink()({"return_url": "https://example.com/billing"}, context(client))
    [request] = fake.requests
    assert (request.method, request.path) == ("POST", "/v1/billing_portal/sessions")
    assert request.form() == {
        "customer": [CUSTOMER_ID],
        "return_url": ["https://example.com/billing"],
    }
    assert request.headers["idempotency-key"] == KEY


def test_portal_link_output(client):
    """The output has the session's url and id, and when it was created."""
    output = PortalLink()({}, context(client))
    assert output == {
        "url": "https://sangeekp-15t6ai--customer_portal-mydev.dev.stripe.me/session/{SESSION_SECRET}",
        "id": "bps_fake000001",
        "created": 1234567890,
    }


def test_portal_link_optional_params(fake, client):
    """`customer`, `configuration` and `locale` are sent as given."""
    params = {"customer": CUSTOMER_ID, "configuration": "bpc_123", "locale": "fr"}
    PortalLink()(params, context(client, event={"id": "evt", "data": {"object": {}}}))
    assert fake.requests[0].form() == {
        "customer": [CUSTOMER_ID],
        "configuration": ["bpc_123"],
        "locale": ["fr"],
    }


def test_portal_link_same_key_same_session(fake, client):
    """A step that runs again sends the same key, so Stripe answers the same session."""
    first = PortalLink()({}, context(client))
    again = PortalLink()({}, context(client))
    assert fake.idempotency_keys == [KEY, KEY]
    assert again["id"] == first["id"]


def test_portal_link_unknown_customer_is_final(client):
    """Stripe's 400 resource_missing for the customer is final."""
    with pytest.raises(AdapterError, match="No such customer: 'cus_nobody'") as info:
        PortalLink()({"customer": "cus_nobody"}, context(client))
    assert (info.value.retryable, info.value.status) == (False, 400)


def test_portal_link_without_customer_fails_before_sending(fake, client):
    """An event without a customer, and no `customer`, is a final error; nothing is sent."""
    event = {"id": "evt_1", "type": "x", "data": {"object": {"object": "plan"}}}
    with pytest.raises(AdapterError, match="customer") as info:
        PortalLink()({}, context(client, event=event))
    assert info.value.retryable is False
    assert fake.requests == []


# -- lookups -------------------------------------------------------------------------------


def test_customer_lookup(fake, client):
    """stripe.customer retrieves the customer as a plain dict."""
    customer = customer_lookup({"customer": CUSTOMER_ID}, lookup_context(client))
    assert [r.path for r in fake.requests] == [f"/v1/customers/{CUSTOMER_ID}"]
    assert type(customer) is dict
    assert (customer["id"], customer["email"]) == (CUSTOMER_ID, "jenny.rosen@example.com")


def test_customer_lookup_unknown_is_final(client):
    """An unknown customer is a final 404."""
    with pytest.raises(AdapterError) as info:
        customer_lookup({"customer": "cus_nobody"}, lookup_context(client))
    assert (info.value.retryable, info.value.status) == (False, 404)


def test_ltv_sums_every_page(fake, client):
    """stripe.customer_ltv pages through all paid invoices: 1000 + 1000 + 2500."""
    ltv = customer_ltv_lookup({"customer": CUSTOMER_ID}, lookup_context(client))
    assert ltv == {"by_currency": {"usd": 4500}, "currency": "usd", "amount": 4500, "invoices": 3}
    assert [r.query for r in fake.requests] == [
        {"customer": [CUSTOMER_ID], "status": ["paid"], "limit": ["100"]},
        {
            "customer": [CUSTOMER_ID],
            "status": ["paid"],
            "limit": ["100"],
            "starting_after": ["in_1PgcLtvB7WZ01zgkW00002"],
        },
    ]


@pytest.mark.parametrize(
    ("currency", "amount", "count"),
    [("usd", 4500, 3), ("USD", 4500, 3), ("eur", 0, 0)],
    ids=["usd", "upper-case", "other-currency"],
)
def test_ltv_for_a_currency(client, currency, amount, count):
    """`currency` picks the sum reported in `amount` and `invoices`."""
    ltv = customer_ltv_lookup(
        {"customer": CUSTOMER_ID, "currency": currency}, lookup_context(client)
    )
    assert (ltv["currency"], ltv["amount"], ltv["invoices"]) == (currency.lower(), amount, count)
    assert ltv["by_currency"] == {"usd": 4500}


def test_ltv_rate_limit_on_second_page_is_retryable(fake, client):
    """A 429 in the middle of the pages fails the lookup as retryable."""
    fake.fail_next(429, after=1)
    with pytest.raises(AdapterError) as info:
        customer_ltv_lookup({"customer": CUSTOMER_ID}, lookup_context(client))
    assert (info.value.retryable, info.value.status) == (True, 429)
    assert [r.query.get("starting_after") for r in fake.requests] == [
        None,
        ["in_1PgcLtvB7WZ01zgkW00002"],
    ]


def test_ltv_accepts_an_expanded_customer(fake, client):
    """An expanded customer object counts as its id."""
    customer_ltv_lookup({"customer": {"id": CUSTOMER_ID}}, lookup_context(client))
    assert fake.requests[0].query["customer"] == [CUSTOMER_ID]


@pytest.mark.parametrize(
    "args", [{}, {"customer": ""}, {"customer": 42}], ids=["missing", "empty", "number"]
)
def test_lookups_need_a_customer(fake, client, args):
    """A lookup without a customer id is a final error; nothing is sent."""
    with pytest.raises(AdapterError, match="customer") as info:
        customer_ltv_lookup(args, lookup_context(client))
    assert info.value.retryable is False
    assert fake.requests == []


def test_stripe_is_imported_lazily():
    """Importing the Stripe step types does not import the stripe package."""
    code = "import sys, dunning_rules.actions.stripe; print('stripe' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


# -- params_schema -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("adapter", "params", "valid"),
    [
        (InvoiceRetrieve, {}, True),
        (InvoiceRetrieve, {"invoice": "{{ data.object.id }}"}, True),
        (InvoiceRetrieve, {"invoce": "in_1"}, False),
        (PortalLink, {}, True),
        (PortalLink, {"customer": "{{ data.object.customer }}", "return_url": "https://x"}, True),
        (PortalLink, {"api_key": "sk_test_123"}, False),
    ],
    ids=["invoice-none", "invoice-template", "invoice-typo", "portal-none", "portal-all", "key"],
)
def test_params_schema(adapter, params, valid):
    """The schemas accept templates and reject unknown keys (a key is never a parameter)."""
    validator = jsonschema.Draft202012Validator(adapter.params_schema)
    validator.check_schema(adapter.params_schema)
    assert validator.is_valid(params) is valid


# -- Stripe Connect --------------------------------------------------------------------------

ACCOUNT = "acct_1Pgc6tConnected01"


def connected(event=FAILED, account=ACCOUNT):
    """The event as a platform receives it for a connected account."""
    return {**event, "account": account}


def test_invoice_step_goes_to_the_connected_account(fake, client):
    """A connected account's event reads the invoice with its Stripe-Account header."""
    InvoiceRetrieve()({}, context(client, event=connected()))
    [request] = fake.requests
    assert request.path == f"/v1/invoices/{INVOICE_ID}"
    assert request.headers["stripe-account"] == ACCOUNT


def test_portal_link_goes_to_the_connected_account(fake, client):
    """The portal session is created on the connected account, with the step's key."""
    PortalLink()({}, context(client, event=connected()))
    [request] = fake.requests
    assert request.headers["stripe-account"] == ACCOUNT
    assert request.headers["idempotency-key"] == KEY


def test_customer_lookup_goes_to_the_connected_account(fake, client):
    """stripe.customer reads the customer of the connected account."""
    customer_lookup({"customer": CUSTOMER_ID}, lookup_context(client, event=connected()))
    assert [r.headers.get("stripe-account") for r in fake.requests] == [ACCOUNT]


def test_ltv_lookup_pages_on_the_connected_account(fake, client):
    """Every page of stripe.customer_ltv carries the connected account."""
    customer_ltv_lookup({"customer": CUSTOMER_ID}, lookup_context(client, event=connected()))
    assert [r.headers.get("stripe-account") for r in fake.requests] == [ACCOUNT, ACCOUNT]


def test_platform_events_name_no_account(fake, client):
    """An event without `account` (or with a null one) is the platform's: no header."""
    InvoiceRetrieve()({}, context(client))
    InvoiceRetrieve()({}, context(client, event=connected(account=None)))
    assert [r.headers.get("stripe-account") for r in fake.requests] == [None, None]


def test_built_client_goes_to_the_connected_account(fake, no_stripe_env):
    """The adapter's own client (no engine client) sends the account too."""
    step = InvoiceRetrieve(api_key=API_KEY, api_base=fake.url)
    step({}, context(None, event=connected()))
    assert fake.requests[0].headers["stripe-account"] == ACCOUNT


@pytest.mark.parametrize(
    "account", [42, "cus_QXg1o8vcGmoR32", "acct_" + "x" * 300], ids=["number", "not-acct", "long"]
)
def test_account_that_is_no_account_id_fails_before_sending(fake, client, account):
    """An `account` that is not an acct_ id is a final error; nothing is sent."""
    with pytest.raises(AdapterError, match="must be a Stripe account id") as info:
        InvoiceRetrieve()({}, context(client, event=connected(account=account)))
    assert info.value.retryable is False
    assert fake.requests == []
