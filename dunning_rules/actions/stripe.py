"""Stripe step types (``stripe.invoice``, ``stripe.portal_link``) and lookups.

Every call goes through a :class:`stripe.StripeClient`: the engine's (``ctx.stripe_client``)
when it has one, else one built from the adapter's ``api_key`` or the ``STRIPE_API_KEY``
environment variable, with ``max_network_retries=0`` because the engine's ``retry`` policy
decides retries. ``STRIPE_API_BASE`` (or ``api_base``) points it at another server.

Stripe's errors become :class:`~dunning_rules.errors.AdapterError`: rate limits, connection
errors and 5xx answers are retryable; invalid requests (``resource_missing``), authentication,
permission and card errors are final. The message carries Stripe's error code and message,
never the API key.

Stripe Connect: an event a platform receives for a connected account carries ``account``
(``acct_...``), and every call made for it, steps and lookups alike, goes to that account
(``stripe_account``, the ``Stripe-Account`` header). An event without ``account`` is the
platform's own.

The ``stripe`` package is imported inside the functions, so ``import dunning_rules`` stays fast.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, TypeVar

from .._redact import redact
from ..errors import AdapterError
from ._http import DEFAULT_TIMEOUT, env_values, setting

if TYPE_CHECKING:
    import stripe

    from .base import ActionContext, LookupContext

__all__ = [
    "InvoiceRetrieve",
    "PortalLink",
    "customer_lookup",
    "customer_ltv_lookup",
    "event_account",
]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_KEY_PATTERN = re.compile(r"\b(?:sk|rk|pk)_(?:test|live)_[A-Za-z0-9*_]+")
_PAGE_LIMIT = 100


def _redact(text: str, secret: str | None = None) -> str:
    """Remove API keys (the one in use, and anything shaped like one) from ``text``, and
    every other credential-looking value (:func:`dunning_rules._redact.redact`)."""
    if secret:
        text = text.replace(secret, "[redacted]")
    return redact(_KEY_PATTERN.sub("[redacted]", text), env_values("STRIPE_API_KEY"))


def _build_client(
    api_key: str | None, api_base: str | None, timeout: float, *, provider: str
) -> stripe.StripeClient:
    import stripe

    key = setting(api_key, "STRIPE_API_KEY", provider=provider)
    base = api_base or os.environ.get("STRIPE_API_BASE")
    return stripe.StripeClient(
        key,
        base_addresses={"api": base} if base else None,
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=timeout),
    )


def _raise_adapter_error(exc: stripe.StripeError, provider: str) -> NoReturn:
    import stripe

    status = exc.http_status
    code = exc.code or (exc.error.code if exc.error is not None else None)
    message = exc.user_message or type(exc).__name__
    retryable = isinstance(exc, (stripe.RateLimitError, stripe.APIConnectionError)) or (
        isinstance(exc, stripe.APIError) and (status is None or status >= 500)
    )
    parts = [provider, type(exc).__name__]
    if status is not None:
        parts.append(f"HTTP {status}")
    if code:
        parts.append(str(code))
    text = ": ".join(parts) + f": {_redact(str(message))}"
    if exc.request_id:
        text += f" (request {exc.request_id})"
    logger.debug("stripe call failed: %s", text)
    # ``from None``: the Stripe error keeps the raw body and headers, which stay out of logs.
    raise AdapterError(text, retryable=retryable, status=status) from None


def _call(provider: str, func: Callable[[], _T]) -> _T:
    """Run one Stripe call and turn Stripe's errors into :class:`AdapterError`."""
    import stripe

    try:
        return func()
    except stripe.StripeError as exc:
        _raise_adapter_error(exc, provider)


def _event_object(event: Mapping[str, Any]) -> Mapping[str, Any]:
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    return obj if isinstance(obj, Mapping) else {}


def event_account(event: Mapping[str, Any], provider: str) -> str | None:
    """The connected account an event is for (its ``account``), or None for the platform's
    own events; a final :class:`AdapterError` when ``account`` is not an account id."""
    account = event.get("account")
    if account is None or account == "":
        return None
    if not isinstance(account, str) or not account.startswith("acct_") or len(account) > 255:
        raise AdapterError(
            f"{provider}: the event's 'account' must be a Stripe account id (acct_...), "
            f"got {_redact(repr(account))[:80]}",
            retryable=False,
        )
    return account


def _options(event: Mapping[str, Any], provider: str, **options: Any) -> dict[str, Any]:
    """Request options for a call made for ``event``: its connected account, if any."""
    account = event_account(event, provider)
    if account is not None:
        options["stripe_account"] = account
    return options


def _object_id(value: Any) -> Any:
    """An id, or the ``id`` of an expanded Stripe object."""
    if isinstance(value, Mapping):
        return value.get("id")
    return value


def _require_id(value: Any, name: str, provider: str) -> str:
    value = _object_id(value)
    if not isinstance(value, str) or not value.strip():
        raise AdapterError(
            f"{provider}: {name!r} must be a Stripe id (a non-empty string), got {value!r}",
            retryable=False,
        )
    return value.strip()


def _optional_str(params: Mapping[str, Any], name: str, provider: str) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise AdapterError(f"{provider}: {name!r} must be a string", retryable=False)
    return value


class _StripeStep:
    """Shared construction for the Stripe step types."""

    step_type: ClassVar[str] = "stripe"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        api_base: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._api_key = api_key
        self._api_base = api_base
        self._timeout = timeout

    @property
    def secrets(self) -> tuple[str, ...]:
        """The API key this adapter holds (constructor or ``STRIPE_API_KEY``), for redaction."""
        return tuple(v for v in (self._api_key, *env_values("STRIPE_API_KEY")) if v)

    def _client(self, ctx: ActionContext) -> stripe.StripeClient:
        if ctx.stripe_client is not None:
            return ctx.stripe_client
        return _build_client(self._api_key, self._api_base, self._timeout, provider=self.step_type)


class InvoiceRetrieve(_StripeStep):
    """``stripe.invoice``: the invoice as it is now, as a plain dict.

    ``invoice`` defaults to the event's invoice (``data.object.id`` where ``data.object`` is an
    invoice), so ``steps.<id>.status == 'open'`` tells whether it is still unpaid after a wait.
    """

    step_type: ClassVar[str] = "stripe.invoice"
    params_schema: ClassVar[dict[str, Any]] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "invoice": {"type": "string", "minLength": 1},
            "expand": {"type": "array", "items": {"type": "string", "minLength": 1}},
        },
        "additionalProperties": False,
    }

    def __call__(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any] | None:
        provider = self.step_type
        invoice = params.get("invoice")
        if invoice is None or invoice == "":
            obj = _event_object(ctx.event)
            if obj.get("object") != "invoice":
                raise AdapterError(
                    f"{provider}: no 'invoice' given and the event's data.object is not an invoice",
                    retryable=False,
                )
            invoice = obj.get("id")
        invoice_id = _require_id(invoice, "invoice", provider)
        expand = params.get("expand")
        if expand is not None and (
            not isinstance(expand, list) or not all(isinstance(e, str) for e in expand)
        ):
            raise AdapterError(f"{provider}: 'expand' must be a list of strings", retryable=False)
        options = _options(ctx.event, provider)
        client = self._client(ctx)
        request: dict[str, Any] = {"expand": expand} if expand else {}
        result = _call(
            provider,
            lambda: client.v1.invoices.retrieve(
                invoice_id,
                params=request or None,  # type: ignore[arg-type]
                options=options or None,  # type: ignore[arg-type]
            ),
        )
        return result.to_dict()


class PortalLink(_StripeStep):
    """``stripe.portal_link``: a Stripe Customer Portal session for the customer.

    The URL is short-lived (about five minutes) and single-use: put it in a message that goes out
    at once. For messages sent later, link ``data.object.hosted_invoice_url`` instead, where the
    customer can pay the invoice with a new card.
    """

    step_type: ClassVar[str] = "stripe.portal_link"
    params_schema: ClassVar[dict[str, Any]] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "customer": {"type": "string", "minLength": 1},
            "return_url": {"type": "string", "minLength": 1},
            "configuration": {"type": "string", "minLength": 1},
            "locale": {"type": "string", "minLength": 1},
        },
        "additionalProperties": False,
    }

    def __call__(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any] | None:
        provider = self.step_type
        customer = params.get("customer")
        if customer is None or customer == "":
            customer = _event_object(ctx.event).get("customer")
            if customer is None:
                raise AdapterError(
                    f"{provider}: no 'customer' given and the event's data.object has none",
                    retryable=False,
                )
        request: dict[str, Any] = {"customer": _require_id(customer, "customer", provider)}
        for name in ("return_url", "configuration", "locale"):
            value = _optional_str(params, name, provider)
            if value is not None:
                request[name] = value
        options = _options(ctx.event, provider, idempotency_key=ctx.idempotency_key)
        client = self._client(ctx)
        session = _call(
            provider,
            lambda: client.v1.billing_portal.sessions.create(
                params=request,  # type: ignore[arg-type]
                options=options,  # type: ignore[arg-type]
            ),
        )
        data = session.to_dict()
        output: dict[str, Any] = {
            "url": data.get("url"),
            "id": data.get("id"),
            "created": data.get("created"),
        }
        if data.get("expires_at") is not None:
            output["expires_at"] = data["expires_at"]
        return output


def _lookup_client(ctx: LookupContext, provider: str) -> stripe.StripeClient:
    if ctx.stripe_client is not None:
        return ctx.stripe_client
    return _build_client(None, None, DEFAULT_TIMEOUT, provider=provider)


def customer_lookup(args: dict[str, Any], ctx: LookupContext) -> Any:
    """Lookup ``stripe.customer``: the customer ``args["customer"]`` as a plain dict."""
    provider = "stripe.customer"
    customer_id = _require_id(args.get("customer"), "customer", provider)
    options = _options(ctx.event, provider)
    client = _lookup_client(ctx, provider)
    customer = _call(
        provider,
        lambda: client.v1.customers.retrieve(
            customer_id,
            options=options or None,  # type: ignore[arg-type]
        ),
    )
    return customer.to_dict()


def _list_paid_invoices(
    client: stripe.StripeClient,
    request: dict[str, Any],
    options: dict[str, Any],
    provider: str,
) -> dict[str, Any]:
    page = _call(
        provider,
        lambda: client.v1.invoices.list(
            params=request,  # type: ignore[arg-type]
            options=options or None,  # type: ignore[arg-type]
        ),
    )
    return page.to_dict()


def customer_ltv_lookup(args: dict[str, Any], ctx: LookupContext) -> Any:
    """Lookup ``stripe.customer_ltv``: what the customer has paid, over all paid invoices.

    Returns ``{"by_currency": {"usd": 4500}, "currency": "usd", "amount": 4500,
    "invoices": 3}``: ``by_currency`` sums ``amount_paid`` (minor units) per currency;
    ``currency``, ``amount`` and ``invoices`` (how many paid invoices) are for
    ``args["currency"]`` when given, else for the only currency, or the one with the largest sum.
    """
    provider = "stripe.customer_ltv"
    customer_id = _require_id(args.get("customer"), "customer", provider)
    wanted = args.get("currency")
    if wanted is not None and (not isinstance(wanted, str) or not wanted.strip()):
        raise AdapterError(f"{provider}: 'currency' must be a currency code", retryable=False)
    options = _options(ctx.event, provider)
    client = _lookup_client(ctx, provider)
    totals: dict[str, int] = {}
    counts: dict[str, int] = {}
    starting_after: str | None = None
    while True:
        request: dict[str, Any] = {"customer": customer_id, "status": "paid", "limit": _PAGE_LIMIT}
        if starting_after is not None:
            request["starting_after"] = starting_after
        page = _list_paid_invoices(client, request, options, provider)
        items = page.get("data") or []
        for invoice in items:
            currency = str(invoice.get("currency") or "").lower()
            totals[currency] = totals.get(currency, 0) + int(invoice.get("amount_paid") or 0)
            counts[currency] = counts.get(currency, 0) + 1
        if not page.get("has_more") or not items:
            break
        starting_after = items[-1]["id"]
    if wanted is not None:
        currency_out: str | None = wanted.strip().lower()
    elif totals:
        currency_out = max(sorted(totals), key=lambda c: totals[c])
    else:
        currency_out = None
    return {
        "by_currency": totals,
        "currency": currency_out,
        "amount": totals.get(currency_out, 0) if currency_out is not None else 0,
        "invoices": counts.get(currency_out, 0) if currency_out is not None else 0,
    }
