"""A realistic month (or any number of days) of Stripe events for replay, seeded.

    python bench/gen_month.py --seed 7 --customers 1500 --days 30 > month.jsonl

``generate(seed, customers, days) -> (events, truth)``: every customer has a monthly
subscription billed on its own day; each invoice is created, finalized and charged. Most
charges succeed; about one in eight fails and then follows Stripe's smart retries (at +3, +5
and +7 days; ``attempt_count`` goes up, ``next_payment_attempt`` is null on the last one). A
failed invoice is then paid by a retry, paid by the customer after the first or the second
reminder window, or never: marked uncollectible or voided, and the subscription cancelled.
Invoices follow the structure of tests/fixtures/stripe/events/invoice.payment_failed.json.

``truth`` counts what the generator knows, from the events it kept (the ones inside the days):
events by type, failed invoices, paid after a failure (by who paid, and by whether the rules
of examples/smart_dunning.yaml would have matched the customer), never paid, and amounts.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import string
import sys
from pathlib import Path
from typing import Any

__all__ = ["START", "generate"]

START = 1772323200  # 2026-03-01T00:00:00Z
DAY = 86400
HOUR = 3600
_TEMPLATE_PATH = (
    Path(__file__).resolve().parents[1]
    / "tests"
    / "fixtures"
    / "stripe"
    / "events"
    / "invoice.payment_failed.json"
)
_PRICES = [
    (900, 20),
    (1900, 25),
    (2900, 20),
    (4900, 15),
    (9900, 10),
    (19900, 5),
    (75000, 3),
    (120000, 2),
]
_CURRENCIES = [("usd", 80), ("eur", 15), ("gbp", 5)]
_OUTCOMES = [
    ("retry1", 15),
    ("retry2", 10),
    ("retry3", 5),
    ("manual_early", 20),
    ("manual_late", 15),
    ("uncollectible", 25),
    ("void", 10),
]
FAILURE_RATE = 0.12
VIP_AMOUNT = 50000  # examples/smart_dunning.yaml settings.vip_amount
_FIRST = ["Ada", "Ben", "Chloé", "Dev", "Eun", "Farah", "Gus", "Hana", "Ivo", "Jun", "Kofi"]
_LAST = ["Okafor", "Rossi", "Nguyen", "Smith", "Müller", "Kowalski", "Sato", "Silva", "Haddad"]


def _pick(rng: random.Random, weighted: list[tuple[Any, int]]) -> Any:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights)[0]


class _Ids:
    """Stripe-looking ids, unique within one month."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._count = 0

    def __call__(self, prefix: str) -> str:
        self._count += 1
        tail = "".join(self._rng.choices(string.ascii_letters + string.digits, k=8))
        return f"{prefix}_1Rdr{self._count:08d}{tail}"


class _Month:
    def __init__(self, seed: int, days: int) -> None:
        self.rng = random.Random(seed)
        self.ids = _Ids(self.rng)
        self.end = START + days * DAY
        self.events: list[dict[str, Any]] = []
        self.template = json.loads(_TEMPLATE_PATH.read_text(encoding="utf-8"))

    def emit(self, kind: str, created: int, obj: dict[str, Any]) -> bool:
        """Add an event if it falls inside the days; True when it did."""
        if created >= self.end:
            return False
        self.events.append(
            {
                "id": self.ids("evt"),
                "object": "event",
                "api_version": "2026-07-29.dahlia",
                "created": created,
                "data": {"object": obj},
                "livemode": False,
                "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None},
                "type": kind,
            }
        )
        return True

    def invoice(self, customer: dict[str, Any], amount: int, created: int) -> dict[str, Any]:
        obj = copy.deepcopy(self.template["data"]["object"])
        invoice_id = self.ids("in")
        line = obj["lines"]["data"][0]
        obj.update(
            id=invoice_id,
            created=created,
            currency=customer["currency"],
            customer=customer["id"],
            customer_email=customer["email"],
            customer_name=customer["name"],
            customer_phone=customer["phone"],
            amount_due=amount,
            amount_paid=0,
            amount_remaining=amount,
            attempt_count=0,
            attempted=False,
            next_payment_attempt=None,
            status="draft",
            subtotal=amount,
            subtotal_excluding_tax=amount,
            total=amount,
            total_excluding_tax=amount,
            period_start=created - 30 * DAY,
            period_end=created,
            effective_at=None,
            webhooks_delivered_at=None,
            number=f"{customer['number']}-{self.rng.randrange(1, 10_000):04d}",
            hosted_invoice_url=f"https://invoice.stripe.com/i/acct_TEST/{invoice_id}",
            invoice_pdf=f"https://pay.stripe.com/invoice/acct_TEST/{invoice_id}/pdf",
            status_transitions={
                "finalized_at": None,
                "marked_uncollectible_at": None,
                "paid_at": None,
                "voided_at": None,
            },
        )
        obj["parent"]["subscription_details"]["subscription"] = customer["subscription"]
        line.update(amount=amount, currency=customer["currency"], subtotal=amount)
        line["id"] = self.ids("il")
        line["invoice"] = invoice_id
        line["subscription"] = customer["subscription"]
        line["period"] = {"start": created, "end": created + 30 * DAY}
        line["parent"]["subscription_item_details"]["subscription"] = customer["subscription"]
        obj["lines"]["url"] = f"/v1/invoices/{invoice_id}/lines"
        return obj

    def snapshot(self, invoice: dict[str, Any], **changes: Any) -> dict[str, Any]:
        """A copy of the invoice as it is now, with ``changes``."""
        invoice.update(changes)
        return copy.deepcopy(invoice)

    def charge(self, invoice: dict[str, Any], created: int, ok: bool) -> None:
        charge = {
            "id": self.ids("ch"),
            "object": "charge",
            "amount": invoice["amount_due"],
            "currency": invoice["currency"],
            "customer": invoice["customer"],
            "invoice": invoice["id"],
            "paid": ok,
            "status": "succeeded" if ok else "failed",
            "failure_code": None if ok else "card_declined",
            "failure_message": None if ok else "Your card was declined.",
            "created": created,
            "livemode": False,
        }
        self.emit("charge.succeeded" if ok else "charge.failed", created, charge)
        intent = {
            "id": self.ids("pi"),
            "object": "payment_intent",
            "amount": invoice["amount_due"],
            "currency": invoice["currency"],
            "customer": invoice["customer"],
            "invoice": invoice["id"],
            "status": "succeeded" if ok else "requires_payment_method",
            "created": created,
            "livemode": False,
        }
        kind = "payment_intent.succeeded" if ok else "payment_intent.payment_failed"
        self.emit(kind, created + 1, intent)

    def pay(self, invoice: dict[str, Any], at: int, attempt: int | None = None) -> bool:
        """Charge (a retry) or a payment by the customer at ``at``; True when inside the days."""
        if at >= self.end:
            return False
        self.charge(invoice, at, ok=True)
        changes: dict[str, Any] = {
            "status": "paid",
            "amount_paid": invoice["amount_due"],
            "amount_remaining": 0,
            "attempted": True,
            "next_payment_attempt": None,
            "status_transitions": {**invoice["status_transitions"], "paid_at": at + 2},
        }
        if attempt is not None:
            changes["attempt_count"] = attempt
        self.emit("invoice.payment_succeeded", at + 2, self.snapshot(invoice, **changes))
        self.emit("invoice.paid", at + 2, self.snapshot(invoice))
        return True

    def fail(self, invoice: dict[str, Any], at: int, attempt: int, retry_at: int | None) -> bool:
        if at >= self.end:
            return False
        self.charge(invoice, at, ok=False)
        self.emit(
            "invoice.payment_failed",
            at + 2,
            self.snapshot(
                invoice,
                status="open",
                attempted=True,
                attempt_count=attempt,
                next_payment_attempt=retry_at,
            ),
        )
        return True


def _customers(month: _Month, count: int) -> list[dict[str, Any]]:
    rng = month.rng
    found = []
    for number in range(count):
        name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        has_email = rng.random() > 0.06
        has_phone = rng.random() > 0.3
        found.append(
            {
                "id": month.ids("cus"),
                "subscription": month.ids("sub"),
                "number": f"{number:05X}",
                "name": name,
                "email": f"{name.split()[0].lower()}.{number}@example.com" if has_email else None,
                "phone": f"+1555{rng.randrange(10**6, 10**7)}" if has_phone else None,
                "currency": _pick(rng, _CURRENCIES),
                "amount": _pick(rng, _PRICES),
                "anchor": rng.randrange(0, 30 * DAY),
            }
        )
    return found


def _cycle(month: _Month, customer: dict[str, Any], created: int, truth: dict[str, Any]) -> None:
    """One billing cycle of ``customer``: invoice, charge, and what follows a failure."""
    rng = month.rng
    invoice = month.invoice(customer, customer["amount"], created)
    month.emit("invoice.created", created, month.snapshot(invoice))
    finalized = created + HOUR
    month.emit(
        "invoice.finalized",
        finalized,
        month.snapshot(
            invoice,
            status="open",
            effective_at=finalized,
            status_transitions={**invoice["status_transitions"], "finalized_at": finalized},
        ),
    )
    first = finalized + HOUR + rng.randrange(0, 600)
    if first >= month.end:
        return
    if rng.random() >= FAILURE_RATE:
        month.pay(invoice, first, attempt=1)
        return
    outcome = _pick(rng, _OUTCOMES)
    retries = [first + 3 * DAY, first + 5 * DAY, first + 7 * DAY]
    month.fail(invoice, first, 1, retries[0])
    paid = False
    if outcome == "manual_early":
        paid = month.pay(invoice, first + rng.randrange(2 * HOUR, 60 * HOUR))
    elif outcome.startswith("retry"):
        attempts = int(outcome[-1])
        for number in range(1, attempts):
            month.fail(invoice, retries[number - 1], number + 1, retries[number])
        paid = month.pay(invoice, retries[attempts - 1], attempt=attempts + 1)
    elif outcome == "manual_late":
        month.fail(invoice, retries[0], 2, retries[1])
        paid = month.pay(invoice, retries[0] + rng.randrange(HOUR, 40 * HOUR))
    else:
        month.fail(invoice, retries[0], 2, retries[1])
        month.fail(invoice, retries[1], 3, retries[2])
        if month.fail(invoice, retries[2], 4, None):
            settle = retries[2] + HOUR
            if outcome == "void":
                transitions = {**invoice["status_transitions"], "voided_at": settle}
                state = month.snapshot(invoice, status="void", status_transitions=transitions)
                month.emit("invoice.voided", settle, state)
            else:
                transitions = {**invoice["status_transitions"], "marked_uncollectible_at": settle}
                state = month.snapshot(
                    invoice, status="uncollectible", status_transitions=transitions
                )
                month.emit("invoice.marked_uncollectible", settle, state)
            subscription = {
                "id": customer["subscription"],
                "object": "subscription",
                "customer": customer["id"],
                "status": "canceled",
                "canceled_at": settle + 60,
                "cancellation_details": {"reason": "payment_failed"},
            }
            month.emit("customer.subscription.deleted", settle + 60, subscription)
    truth["failed_invoices"] += 1
    matched = customer["amount"] > VIP_AMOUNT or customer["email"] is not None
    if paid:
        who = "by_retry" if outcome.startswith("retry") else "by_customer"
        truth["paid_after_failure"][who] += 1
        group = truth["paid_after_failure"]["matched" if matched else "unmatched"]
        group["invoices"] += 1
        group["amount"][customer["currency"]] = (
            group["amount"].get(customer["currency"], 0) + customer["amount"]
        )
    elif outcome in ("uncollectible", "void"):
        truth["never_paid"] += 1


def generate(seed: int, customers: int, days: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``days`` of events for ``customers`` customers, in ``created`` order, and the truth."""
    month = _Month(seed, days)
    truth: dict[str, Any] = {
        "customers": customers,
        "days": days,
        "invoices": 0,
        "failed_invoices": 0,
        "never_paid": 0,
        "paid_after_failure": {
            "by_retry": 0,
            "by_customer": 0,
            "matched": {"invoices": 0, "amount": {}},
            "unmatched": {"invoices": 0, "amount": {}},
        },
    }
    people = _customers(month, customers)
    for customer in people:
        created = START + customer["anchor"]
        while created < month.end:
            truth["invoices"] += 1
            _cycle(month, customer, created, truth)
            created += 30 * DAY
    month.events.sort(key=lambda event: event["created"])
    failures: dict[str, int] = {"vip": 0, "standard": 0, "unmatched": 0}
    by_amount = {c["id"]: c for c in people}
    for event in month.events:
        if event["type"] == "invoice.payment_failed":
            customer = by_amount[event["data"]["object"]["customer"]]
            if customer["amount"] > VIP_AMOUNT:
                failures["vip"] += 1
            elif customer["email"] is not None:
                failures["standard"] += 1
            else:
                failures["unmatched"] += 1
    by_type: dict[str, int] = {}
    for event in month.events:
        by_type[event["type"]] = by_type.get(event["type"], 0) + 1
    truth["events"] = len(month.events)
    truth["by_type"] = dict(sorted(by_type.items()))
    truth["failure_events"] = failures
    return month.events, truth


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--customers", type=int, default=1500)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--truth", metavar="PATH", help="also write the truth as JSON here")
    args = parser.parse_args()
    events, truth = generate(args.seed, args.customers, args.days)
    for event in events:
        sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
    if args.truth:
        Path(args.truth).write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
