"""Values and helpers the store contract suite builds its tests from."""

from __future__ import annotations

import datetime as _dt
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ..outcome import ActionRecord, Run
from .base import Ingest

__all__ = ["FAR", "LIVE", "T0", "at", "batch", "concurrently", "full_run", "make_run"]

T = TypeVar("T")
UTC = _dt.timezone.utc
T0 = _dt.datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
LIVE = ("waiting", "awaiting_approval")
FAR = T0 + _dt.timedelta(days=365)


def at(minutes: float) -> _dt.datetime:
    """``T0`` plus ``minutes``."""
    return T0 + _dt.timedelta(minutes=minutes)


def make_run(
    run_id: str,
    *,
    rule: str = "card-declined",
    key: str | None = "in_1",
    status: str = "waiting",
    next_at: _dt.datetime | None = T0,
    **fields: Any,
) -> Run:
    """A run with the fields a store looks at, and an event."""
    fields.setdefault("event", {"id": f"evt_{run_id}", "type": "invoice.payment_failed"})
    fields.setdefault("created_at", T0)
    return Run(id=run_id, rule=rule, key=key, status=status, next_at=next_at, **fields)


def batch(event_id: str, *runs: Run, **fields: Any) -> Ingest:
    """An :class:`Ingest` of ``runs`` for a new ``invoice.payment_failed`` event."""
    fields.setdefault("event_type", "invoice.payment_failed")
    fields.setdefault("created", 1714564800)
    fields.setdefault("received_at", T0)
    return Ingest(event_id=event_id, runs=runs, **fields)


def full_run() -> Run:
    """A run with every field set, steps with params, output, error and warnings."""
    return Run(
        id="run_full",
        rule="vip-card-declined",
        key="in_1MtHbELkdIwHu7ixl4OzzPMv",
        status="awaiting_approval",
        next_at=at(90),
        steps=(
            ActionRecord(
                rule="vip-card-declined",
                index=0,
                id="mail",
                type="email",
                status="ok",
                params={"to": "jenny@example.com", "subject": "Ünïcödé €5", "n": [1, 2.5]},
                output={"message_id": "<m1@example.com>", "nested": {"ok": True, "x": None}},
                attempts=2,
                started_at=at(1),
                finished_at=at(1.5),
                warnings=("slow provider",),
            ),
            ActionRecord(
                rule="vip-card-declined",
                index=1,
                id=None,
                type="http",
                status="failed",
                params={"url": "https://example.com/hook"},
                error="HTTP 503 from example.com",
                attempts=3,
                started_at=at(2),
                finished_at=at(3),
            ),
            ActionRecord(rule="vip-card-declined", index=2, id="ask", type="approval", status="ok"),
        ),
        event_id="evt_1",
        event_type="invoice.payment_failed",
        event={"id": "evt_1", "data": {"object": {"id": "in_1", "amount_due": 75000}}},
        rule_version="sha256:abc",
        cursor=3,
        due_at=at(30),
        created_at=T0,
        updated_at=at(3),
        approval={"requested_at": at(3).isoformat(), "channel": "C024BE91L"},
        reason=None,
    )


def concurrently(jobs: Sequence[Callable[[], T]]) -> list[T]:
    """Run ``jobs`` in threads that start together; their results in order (errors raise)."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = jobs[index]()
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if errors:
        raise errors[0]
    return results
