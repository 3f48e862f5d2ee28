"""What Stripe and the providers would have answered during a replay, from the events alone.

:class:`World` follows the events as they happen (in ``created`` order, delivered or not): the
latest state of each invoice, what each customer paid, and the customer fields the events
carry. It answers the ``stripe.invoice`` step (the invoice as it was at that moment) and the
``stripe.customer`` and ``stripe.customer_ltv`` lookups; values from a lookups file come first.
:class:`Stub` stands in for every other step type: it records the call and returns a plausible
output, and sends nothing.

State that replay no longer needs is forgotten after :data:`RETENTION` of simulated time
(:class:`Expiring`), so memory follows the number of invoices in play, not of events.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from .actions import registry
from .actions.base import ActionContext, LookupContext
from .errors import AdapterError, DunningRulesError
from .rules.model import RuleSet

__all__ = [
    "NOT_MESSAGES",
    "RETENTION",
    "Expiring",
    "Stub",
    "World",
    "customer_of",
    "invoice_of",
]

RETENTION = 35 * 86400.0
"""Seconds of simulated time replay remembers an invoice, an event id or a sent step after it
last heard of it: longer than Stripe's retry schedule and its redelivery window."""

NOT_MESSAGES = frozenset({"wait", "guard", "stripe.invoice", "stripe.portal_link", "llm"})
"""Step types that reach nobody; every other step type counts as a message on its channel."""

_INVOICE_FIELDS = (
    "status",
    "paid",
    "amount_due",
    "amount_paid",
    "amount_remaining",
    "attempt_count",
    "attempted",
    "next_payment_attempt",
    "status_transitions",
    "customer",
    "currency",
)
_CUSTOMER_FIELDS = {
    "customer_email": "email",
    "customer_name": "name",
    "customer_phone": "phone",
    "customer_address": "address",
}

K = TypeVar("K")
V = TypeVar("V")


class Expiring(Generic[K, V]):
    """A dict whose entries are forgotten :data:`RETENTION` after they were last touched,
    unless ``keep(key)`` says they are still needed."""

    def __init__(self, keep: Callable[[K], bool] | None = None) -> None:
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._keep = keep

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def get(self, key: K) -> V | None:
        found = self._items.get(key)
        return found[1] if found is not None else None

    def put(self, key: K, value: V, now: float) -> V:
        self._items[key] = (now, value)
        self._items.move_to_end(key)
        return value

    def pop(self, key: K) -> V | None:
        found = self._items.pop(key, None)
        return found[1] if found is not None else None

    def values(self) -> Iterator[V]:
        return (value for _, value in self._items.values())

    def expire(self, now: float) -> None:
        cutoff = now - RETENTION
        items = self._items
        while items:
            key, (touched, value) = next(iter(items.items()))
            if touched >= cutoff:
                return
            if self._keep is not None and self._keep(key):
                self.put(key, value, now)  # still in play: look again a retention later
                continue
            del items[key]


def _object(event: Mapping[str, Any]) -> Mapping[str, Any]:
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    return obj if isinstance(obj, Mapping) else {}


def invoice_of(event: Mapping[str, Any]) -> str | None:
    """The invoice an event is about: its object, or the invoice its object names."""
    obj = _object(event)
    if obj.get("object") == "invoice":
        found = obj.get("id")
    else:
        found = obj.get("invoice")
        if isinstance(found, Mapping):
            found = found.get("id")
    return found if isinstance(found, str) and found else None


def customer_of(event: Mapping[str, Any]) -> str | None:
    """The customer an event is about."""
    obj = _object(event)
    found = obj.get("id") if obj.get("object") == "customer" else obj.get("customer")
    if isinstance(found, Mapping):
        found = found.get("id")
    return found if isinstance(found, str) and found else None


class World:
    """Stripe as the events show it, up to the moment replay has reached."""

    def __init__(self, supplied: Mapping[str, Any] | None, lookup_names: frozenset[str]) -> None:
        self.invoices: Expiring[str, dict[str, Any]] = Expiring()
        self.customers: dict[str, dict[str, Any]] = {}
        self.paid: dict[str, dict[str, list[int]]] = {}  # customer -> currency -> [sum, count]
        self._counted: Expiring[str, bool] = Expiring()
        self._defaults: dict[str, Any] = {}
        self._per_customer: dict[str, Mapping[str, Any]] = {}
        for key, value in (supplied or {}).items():
            if key in lookup_names:
                self._defaults[key] = value
            elif isinstance(value, Mapping):
                self._per_customer[key] = value
            else:
                raise DunningRulesError(
                    f"lookups: {key!r} is neither a lookup of the rules "
                    f"({', '.join(sorted(lookup_names)) or 'none'}) nor a customer id "
                    "with a mapping of lookup values"
                )

    def happened(self, event: Mapping[str, Any], now: float) -> None:
        """Take in an event that has happened (delivered or not)."""
        obj = _object(event)
        kind = obj.get("object")
        if kind == "invoice" and isinstance(obj.get("id"), str):
            invoice_id = obj["id"]
            state = {name: obj[name] for name in _INVOICE_FIELDS if name in obj}
            self.invoices.put(invoice_id, state, now)
            customer = obj.get("customer")
            if isinstance(customer, str):
                known = self.customers.setdefault(customer, {"id": customer, "object": "customer"})
                for field, name in _CUSTOMER_FIELDS.items():
                    if obj.get(field) is not None and name not in known:
                        known[name] = obj[field]
                if event.get("type") == "invoice.paid" and invoice_id not in self._counted:
                    self._counted.put(invoice_id, True, now)
                    currency = str(obj.get("currency") or "").lower()
                    totals = self.paid.setdefault(customer, {}).setdefault(currency, [0, 0])
                    totals[0] += int(obj.get("amount_paid") or 0)
                    totals[1] += 1
        elif kind == "customer" and isinstance(obj.get("id"), str):
            if event.get("type") == "customer.deleted":
                return
            known = self.customers.setdefault(obj["id"], {})
            known.update(
                (k, v) for k, v in obj.items() if k not in ("sources", "subscriptions", "tax_ids")
            )

    def expire(self, now: float) -> None:
        self.invoices.expire(now)
        self._counted.expire(now)

    # -- lookups ------------------------------------------------------------------------

    def lookup(self, kind: str) -> Callable[[dict[str, Any], LookupContext], Any]:
        """The function of lookup type ``kind``: a supplied value first, then the events."""

        def look(args: dict[str, Any], ctx: LookupContext) -> Any:
            customer = args.get("customer")
            if isinstance(customer, Mapping):
                customer = customer.get("id")
            if not isinstance(customer, str):
                customer = customer_of(ctx.event)
            given = self._per_customer.get(customer or "", {})
            if ctx.name in given:
                return given[ctx.name]
            if ctx.name in self._defaults:
                return self._defaults[ctx.name]
            if kind == "stripe.customer_ltv":
                return self._ltv(customer, args.get("currency"))
            if kind == "stripe.customer":
                return dict(self.customers.get(customer or "", {})) or None
            return None

        return look

    def _ltv(self, customer: str | None, wanted: Any) -> dict[str, Any]:
        """The shape of :func:`dunning_rules.actions.stripe.customer_ltv_lookup`."""
        sums = self.paid.get(customer or "", {})
        totals = {currency: pair[0] for currency, pair in sums.items()}
        if isinstance(wanted, str) and wanted.strip():
            currency: str | None = wanted.strip().lower()
        elif totals:
            currency = max(sorted(totals), key=lambda c: totals[c])
        else:
            currency = None
        pair = sums.get(currency or "", [0, 0])
        return {"by_currency": totals, "currency": currency, "amount": pair[0], "invoices": pair[1]}

    # -- the stripe.invoice step ----------------------------------------------------------

    def invoice(self, params: Mapping[str, Any], ctx: ActionContext) -> dict[str, Any]:
        """``stripe.invoice``: the invoice as the events had shown it by ``ctx.now``."""
        wanted = params.get("invoice")
        obj = _object(ctx.event)
        if wanted is None or wanted == "":
            if obj.get("object") != "invoice":
                raise AdapterError(
                    "stripe.invoice: no 'invoice' given and the event's data.object is not an "
                    "invoice",
                    retryable=False,
                )
            wanted = obj.get("id")
        if not isinstance(wanted, str) or not wanted.strip():
            raise AdapterError(
                f"stripe.invoice: 'invoice' must be a Stripe id, got {wanted!r}", retryable=False
            )
        state = self.invoices.get(wanted)
        base = dict(obj) if obj.get("id") == wanted else None
        if state is None and base is None:
            raise AdapterError(
                f"stripe.invoice: replay saw no event about invoice {wanted!r}, so it cannot "
                "tell what Stripe would have answered",
                retryable=False,
            )
        return {**(base or {"id": wanted, "object": "invoice"}), **(state or {})}


def _token(ctx: ActionContext) -> str:
    return hashlib.sha256(ctx.idempotency_key.encode()).hexdigest()[:16]


def _output(kind: str, params: Mapping[str, Any], ctx: ActionContext) -> dict[str, Any]:
    """A plausible output of a step of type ``kind`` that replay did not send."""
    token = _token(ctx)
    if kind == "email":
        to = params.get("to")
        return {
            "provider": "replay",
            "message_id": f"<{token}@replay.invalid>",
            "to": to if isinstance(to, list) else [to],
        }
    if kind == "sms":
        return {"sid": f"SM{token}", "status": "queued", "to": params.get("to")}
    if kind == "slack":
        return {"ok": True, "channel": params.get("channel"), "ts": f"{ctx.now.timestamp():.6f}"}
    if kind == "ticket":
        return {"id": f"replay-{token}", "url": None, "provider": params.get("provider")}
    if kind == "http":
        return {"status": 200, "body": None}
    if kind == "llm":
        fallback = params.get("fallback")
        text = fallback if isinstance(fallback, str) and fallback.strip() else "(a drafted text)"
        return {"text": text, "model": params.get("model"), "fallback": False}
    if kind == "stripe.portal_link":
        return {
            "url": f"https://billing.stripe.com/p/session/replay_{token}",
            "id": f"bps_replay_{token}",
            "created": int(ctx.now.timestamp()),
        }
    return {"replayed": True}


_RECIPIENTS = {"email": "to", "sms": "to", "slack": "channel"}


class Stub:
    """The adapter of one step type during a replay: it checks what the provider would
    refuse for sure (an empty recipient), tells ``record`` about the call, and answers.

    It carries the real adapter's ``params_schema`` and ``escapes``, so the engine checks and
    renders the step exactly as it would for the real one.
    """

    def __init__(
        self,
        kind: str,
        world: World,
        record: Callable[[str, dict[str, Any], ActionContext], None],
        real: Any = None,
    ) -> None:
        self.kind = kind
        self._world = world
        self._record = record
        schema = registry.schema_of(real) if real is not None else None
        if schema is not None:
            self.params_schema = schema
        escapes = getattr(real, "escapes", None)
        if escapes is not None:
            self.escapes = escapes

    def __call__(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any] | None:
        recipient = _RECIPIENTS.get(self.kind)
        if recipient is not None and recipient in params:
            value = params[recipient]
            if value is None or (isinstance(value, str) and not value.strip()) or value == []:
                raise AdapterError(
                    f"{self.kind}: the recipient ({recipient!r}) is empty", retryable=False
                )
        if self.kind == "stripe.invoice":
            output = self._world.invoice(params, ctx)
        else:
            output = _output(self.kind, params, ctx)
        self._record(self.kind, params, ctx)
        return output


def real_adapter(kind: str) -> Any:
    """The registered adapter of ``kind`` (for its schema and escaping), or None."""
    try:
        return registry.load(kind)
    except DunningRulesError:
        return None


def stubs(
    rules: RuleSet,
    world: World,
    record: Callable[[str, dict[str, Any], ActionContext], None],
    given: Mapping[str, Any] | None = None,
) -> dict[str, Stub]:
    """A stub for every step type the rules use, but the engine's own ``wait`` and
    ``guard``."""
    kinds = {a.type for rule in rules for a in rule.actions} - registry.CONTROL_TYPES
    real = dict(given or {})
    return {
        kind: Stub(kind, world, record, real.get(kind) or real_adapter(kind))
        for kind in sorted(kinds)
    }


def simulated(moment: float) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(moment, _dt.timezone.utc)
