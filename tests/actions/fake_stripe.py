"""A local server that answers like Stripe's API, for the Stripe step types and lookups.

It serves the recorded answers in ``fixtures/stripe/api``:

- ``GET /v1/invoices/{id}``: the invoice of the fixture events, open until
  :meth:`FakeStripe.mark_paid`; 404 ``resource_missing`` for any other id;
- ``GET /v1/invoices?customer=...&status=paid``: two pages (1000 + 1000, then 2500), honouring
  ``starting_after`` and ``has_more``;
- ``POST /v1/billing_portal/sessions`` (form-encoded): a portal session for ``customer``, with
  Stripe's idempotency (the same key and parameters replay the first answer; other parameters
  are an ``idempotency_error``);
- ``GET /v1/customers/{id}``: the fixture customer.

Every request must carry ``Authorization: Bearer sk_test_...`` and ``Stripe-Version``, and its
parameters must fit the operation's parameters in Stripe's API reference (the schemas below):
a request that does not is a failed check, which :meth:`FakeStripe.check` re-raises. An
unknown key answers 401 the way Stripe does, and :meth:`FakeStripe.fail_next` makes the next
requests answer a rate limit (HTTP 429) or any other error.
"""

from __future__ import annotations

import copy
import json
import re
from collections import deque
from collections.abc import Iterator
from typing import Any

import jsonschema
import stripe

from tests.httpfake import Request, Response, Vendor
from tests.paths import FIXTURES as ALL_FIXTURES

FIXTURES = ALL_FIXTURES / "stripe"
API_KEY = "sk_test_dunning_rules_fake_key_4242"
INVOICE_ID = "in_1Pgc6tB7WZ01zgkWu9fdqL6I"
CUSTOMER_ID = "cus_QXg1o8vcGmoR32"


def load(name: str) -> Any:
    """A fixture file from ``fixtures/stripe`` (a fresh copy each time)."""
    return json.loads((FIXTURES / name).read_text())


# GET /v1/invoices query parameters (Stripe API reference, "List all invoices").
LIST_INVOICES_QUERY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "collection_method": {"enum": ["charge_automatically", "send_invoice"]},
        "customer": {"type": "string", "maxLength": 5000},
        "customer_account": {"type": "string", "maxLength": 5000},
        "ending_before": {"type": "string", "maxLength": 5000},
        "expand": {"type": "array", "items": {"type": "string", "maxLength": 5000}},
        "limit": {"type": "integer", "minimum": 1, "maximum": 100},
        "starting_after": {"type": "string", "maxLength": 5000},
        "status": {"enum": ["draft", "open", "paid", "uncollectible", "void"]},
        "subscription": {"type": "string", "maxLength": 5000},
    },
    "additionalProperties": False,
}

# GET /v1/invoices/{invoice} and GET /v1/customers/{customer} query parameters.
RETRIEVE_QUERY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "expand": {"type": "array", "items": {"type": "string", "maxLength": 5000}},
    },
    "additionalProperties": False,
}

# POST /v1/billing_portal/sessions form parameters (Stripe API reference, "Create a portal
# session"); flow_data is a nested hash, which this fake does not accept.
CREATE_PORTAL_SESSION_FORM: dict[str, Any] = {
    "type": "object",
    "required": ["customer"],
    "properties": {
        "configuration": {"type": "string", "maxLength": 5000},
        "customer": {"type": "string", "maxLength": 5000},
        "customer_account": {"type": "string", "maxLength": 5000},
        "expand": {"type": "array", "items": {"type": "string", "maxLength": 5000}},
        "locale": {"type": "string"},
        "on_behalf_of": {"type": "string"},
        "return_url": {"type": "string"},
    },
    "additionalProperties": False,
}

_INDEXED = re.compile(r"^(\w+)\[(\d+)\]$")


def _params(raw: dict[str, list[str]]) -> dict[str, Any]:
    """Stripe's form encoding back to values: ``expand[0]=a`` becomes ``{"expand": ["a"]}``."""
    out: dict[str, Any] = {}
    for key, values in raw.items():
        match = _INDEXED.match(key)
        if match:
            out.setdefault(match.group(1), []).append(values[-1])
        else:
            out[key] = values[-1] if len(values) == 1 else values
    if isinstance(out.get("limit"), str) and out["limit"].isdigit():
        out["limit"] = int(out["limit"])
    return out


def _check(schema: dict[str, Any], params: dict[str, Any], what: str) -> None:
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(params), key=str)
    if errors:
        raise AssertionError(f"{what}: {errors[0].message}")


class FakeStripe(Vendor):
    """Stripe's API on 127.0.0.1: ``with FakeStripe() as fake: make_stripe_client(fake)``."""

    def __init__(self, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        super().__init__()

    # -- the test's controls -------------------------------------------------------------

    def clear(self) -> None:
        """Forget every failure to come and state change, as if new."""
        self._invoice_status: dict[str, str] = {INVOICE_ID: "open"}
        self._failures: deque[Response] = deque()
        self._idempotent: dict[str, tuple[dict[str, Any], Response]] = {}
        self._request_count = 0
        self._sessions = 0
        self._skip = 0
        self._locales: list[str] = []

    def set_preferred_locales(self, *locales: str) -> None:
        """From now on, the customer's ``preferred_locales`` are these."""
        with self._lock:
            self._locales = list(locales)

    def mark_paid(self, invoice_id: str = INVOICE_ID) -> None:
        """From now on, ``GET /v1/invoices/{invoice_id}`` answers the paid invoice."""
        with self._lock:
            self._invoice_status[invoice_id] = "paid"

    def fail_next(
        self,
        status: int = 429,
        *,
        count: int = 1,
        after: int = 0,
        type: str = "invalid_request_error",
        code: str | None = "rate_limit",
        message: str = (
            "Request rate limit exceeded. Learn more about rate limits here "
            "https://stripe.com/docs/rate-limits."
        ),
    ) -> None:
        """Answer ``count`` requests with an error (by default Stripe's HTTP 429), once
        ``after`` more requests have been answered normally."""
        error: dict[str, Any] = {"message": message, "type": type}
        if code is not None:
            error["code"] = code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        with self._lock:
            self._skip = after
            for _ in range(count):
                self._failures.append(Response(status, {"error": dict(error)}))

    @property
    def idempotency_keys(self) -> list[str]:
        """The ``Idempotency-Key`` header of every request that had one, in order."""
        return [
            r.headers["idempotency-key"] for r in self.requests if "idempotency-key" in r.headers
        ]

    # -- answering ---------------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer sk_test_"):
            raise AssertionError(f"Authorization must be 'Bearer sk_test_...', got {auth[:12]!r}")
        if not request.headers.get("stripe-version"):
            raise AssertionError("the Stripe-Version header is missing")
        with self._lock:
            self._request_count += 1
            request_id = f"req_fake{self._request_count:06d}"
            failure = None
            if self._failures and self._skip > 0:
                self._skip -= 1
            elif self._failures:
                failure = self._failures.popleft()
        if auth != f"Bearer {self.api_key}":
            answer = self._error(
                401,
                "invalid_request_error",
                f"Invalid API Key provided: sk_test_****{auth[-4:]}",
            )
        elif failure is not None:
            answer = copy.deepcopy(failure)
        else:
            answer = self._route(request)
        answer.headers.setdefault("Request-Id", request_id)
        answer.headers.setdefault("Stripe-Version", request.headers["stripe-version"])
        return answer

    def _route(self, request: Request) -> Response:
        path = request.path
        if request.method == "GET" and path == "/v1/invoices":
            return self._list_invoices(_params(request.query))
        if request.method == "GET" and path.startswith("/v1/invoices/"):
            params = _params(request.query)
            _check(RETRIEVE_QUERY, params, "GET /v1/invoices/{invoice}")
            return self._retrieve_invoice(path.removeprefix("/v1/invoices/"))
        if request.method == "GET" and path.startswith("/v1/customers/"):
            _check(RETRIEVE_QUERY, _params(request.query), "GET /v1/customers/{customer}")
            return self._retrieve_customer(path.removeprefix("/v1/customers/"))
        if request.method == "POST" and path == "/v1/billing_portal/sessions":
            return self._create_portal_session(request)
        return self._error(
            404,
            "invalid_request_error",
            f"Unrecognized request URL ({request.method}: {path}).",
        )

    @staticmethod
    def _error(
        status: int,
        type: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
    ) -> Response:
        error: dict[str, Any] = {"message": message, "type": type}
        if code is not None:
            error["code"] = code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if param is not None:
            error["param"] = param
        error["request_log_url"] = None
        return Response(status, {"error": error})

    def _missing(self, status: int, kind: str, object_id: str, param: str) -> Response:
        if kind == "invoice" and status == 404 and param == "invoice":
            body = load("api/error_resource_missing_404.json")
            body["error"]["message"] = f"No such invoice: '{object_id}'"
            return Response(404, body)
        return self._error(
            status,
            "invalid_request_error",
            f"No such {kind}: '{object_id}'",
            code="resource_missing",
            param=param,
        )

    def _retrieve_invoice(self, invoice_id: str) -> Response:
        with self._lock:
            status = self._invoice_status.get(invoice_id)
        if status is None:
            return self._missing(404, "invoice", invoice_id, "invoice")
        return Response(200, load(f"api/invoice_retrieve_{status}.json"))

    def _retrieve_customer(self, customer_id: str) -> Response:
        if customer_id != CUSTOMER_ID:
            return self._missing(404, "customer", customer_id, "id")
        customer = load("fixtures3_subset.json")["resources"]["customer"]
        # The invoices' customer: give the fixture the invoice's name and email.
        customer.update(
            email="jenny.rosen@example.com", name="Jenny Rosen", preferred_locales=self._locales
        )
        return Response(200, customer)

    def _list_invoices(self, params: dict[str, Any]) -> Response:
        _check(LIST_INVOICES_QUERY, params, "GET /v1/invoices")
        customer = params.get("customer")
        if customer is not None and customer != CUSTOMER_ID:
            return self._missing(400, "customer", customer, "customer")
        pages = [
            load("api/invoices_list_paid_page1.json"),
            load("api/invoices_list_paid_page2.json"),
        ]
        if params.get("status") != "paid" or customer is None:
            raise AssertionError("this fake lists only paid invoices of one customer")
        after = params.get("starting_after")
        if after is None:
            return Response(200, pages[0])
        for number, page in enumerate(pages):
            if page["data"] and page["data"][-1]["id"] == after:
                if number + 1 < len(pages):
                    return Response(200, pages[number + 1])
                return Response(
                    200, {"object": "list", "data": [], "has_more": False, "url": "/v1/invoices"}
                )
        return self._missing(400, "invoice", after, "starting_after")

    def _create_portal_session(self, request: Request) -> Response:
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("application/x-www-form-urlencoded"):
            raise AssertionError(f"POST bodies must be form-encoded, got {content_type!r}")
        params = _params(request.form())
        _check(CREATE_PORTAL_SESSION_FORM, params, "POST /v1/billing_portal/sessions")
        key = request.headers.get("idempotency-key")
        if key is not None:
            with self._lock:
                seen = self._idempotent.get(key)
            if seen is not None:
                first_params, first_answer = seen
                if first_params != params:
                    return self._error(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same "
                        "parameters they were first used with. Try using a key other than "
                        f"'{key}' if you meant to execute a different request.",
                    )
                replay = copy.deepcopy(first_answer)
                replay.headers["Idempotent-Replayed"] = "true"
                return replay
        if params["customer"] != CUSTOMER_ID:
            return self._missing(400, "customer", params["customer"], "customer")
        session = load("api/billing_portal_session_create.json")
        session["customer"] = params["customer"]
        session["livemode"] = False
        session["return_url"] = params.get("return_url")
        session["locale"] = params.get("locale")
        if "configuration" in params:
            session["configuration"] = params["configuration"]
        with self._lock:
            self._sessions += 1
            session["id"] = f"bps_fake{self._sessions:06d}"
        answer = Response(200, session)
        if key is not None:
            with self._lock:
                self._idempotent[key] = (params, copy.deepcopy(answer))
        return answer


def serve_stripe(api_key: str = API_KEY) -> Iterator[FakeStripe]:
    """For fixtures: ``yield from serve_stripe()``; fails the test on a failed request check.

    Starting and stopping a server takes about half a second, so a module-scoped fixture
    that serves many tests, with :meth:`FakeStripe.reset` before each, keeps tests fast.
    """
    with FakeStripe(api_key) as fake:
        yield fake
        fake.check()


def make_stripe_client(server: FakeStripe, *, api_key: str | None = None) -> stripe.StripeClient:
    """A :class:`stripe.StripeClient` that talks to ``server``, with no retries of its own."""
    return stripe.StripeClient(
        api_key or server.api_key,
        base_addresses={"api": server.url},
        max_network_retries=0,
    )
