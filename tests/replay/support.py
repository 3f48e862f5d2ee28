"""Events and rule files for the replay tests, built from the fixture events."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from tests.paths import FIXTURES

ROOT = Path(__file__).resolve().parents[2]
SMART = ROOT / "examples" / "smart_dunning.yaml"
DAY = 86400
T0 = 1772323200  # 2026-03-01T00:00:00Z


def _gen_month() -> Any:
    """bench/gen_month.py, imported by path (bench/ is no package)."""
    spec = importlib.util.spec_from_file_location("gen_month", ROOT / "bench" / "gen_month.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_month", module)
    spec.loader.exec_module(module)
    return module


gen_month = _gen_month()


def _fixture(name: str) -> dict[str, Any]:
    path = FIXTURES / "stripe" / "events" / name
    event: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return event


_FAILED = _fixture("invoice.payment_failed.json")
_PAID = _fixture("invoice.paid.json")


def failed(
    invoice: str = "in_A",
    at: int = T0,
    *,
    customer: str = "cus_A",
    event_id: str | None = None,
    email: str | None = "jenny.rosen@example.com",
    amount: int = 1000,
    attempt: int = 1,
) -> dict[str, Any]:
    """An invoice.payment_failed event for ``invoice``, created at ``at``."""
    event = copy.deepcopy(_FAILED)
    event["id"] = event_id or f"evt_failed_{invoice}_{at}"
    event["created"] = at
    obj = event["data"]["object"]
    obj.update(
        id=invoice,
        customer=customer,
        customer_email=email,
        amount_due=amount,
        amount_remaining=amount,
        attempt_count=attempt,
    )
    return event


def paid(
    invoice: str = "in_A",
    at: int = T0 + DAY,
    *,
    customer: str = "cus_A",
    event_id: str | None = None,
    amount: int = 1000,
    currency: str = "usd",
) -> dict[str, Any]:
    """An invoice.paid event for ``invoice``, created (and paid) at ``at``."""
    event = copy.deepcopy(_PAID)
    event["id"] = event_id or f"evt_paid_{invoice}_{at}"
    event["created"] = at
    obj = event["data"]["object"]
    obj.update(
        id=invoice, customer=customer, amount_paid=amount, amount_due=amount, currency=currency
    )
    obj["status_transitions"] = {**obj["status_transitions"], "paid_at": at}
    return event


def other(kind: str, at: int, obj: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    """An event of any type around ``obj``."""
    return {
        "id": event_id or f"evt_{kind}_{at}",
        "object": "event",
        "created": at,
        "data": {"object": obj},
        "livemode": False,
        "type": kind,
    }


def rules_text(actions: str, *, cancel_on: bool = True, extra: str = "") -> str:
    """A rule file with one rule on invoice.payment_failed doing ``actions`` (YAML lines)."""
    cancel = "    cancel_on: [invoice.paid]\n" if cancel_on else ""
    return (
        "version: 1\n"
        + extra
        + "rules:\n  - name: remind\n    on: invoice.payment_failed\n"
        + cancel
        + "    actions:\n"
        + actions
    )
