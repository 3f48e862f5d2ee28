"""ReplayStore forgets what a replay no longer needs, and nothing it still needs."""

from __future__ import annotations

import datetime as _dt
from dataclasses import replace

from dunning_rules._replay_store import ReplayStore
from dunning_rules.outcome import Run
from dunning_rules.store.base import Ingest

T = _dt.datetime(2026, 3, 1, tzinfo=_dt.timezone.utc)


def run(run_id, status, key="in_A"):
    return Run(
        id=run_id,
        rule="remind",
        key=key,
        status=status,
        next_at=T,
        due_at=T,
        created_at=T,
        updated_at=T,
        event_id=f"evt_{run_id}",
        event_type="x",
    )


def ingest(store, event_id, at, runs=(), created=None, markers=()):
    return store.ingest(
        Ingest(
            event_id=event_id,
            event_type="x",
            received_at=at,
            runs=runs,
            created=created,
            markers=markers,
        )
    )


def test_forget_drops_ended_runs_and_keeps_live_ones():
    """An ended run is gone after forget; a waiting run is still claimable."""
    store = ReplayStore()
    ingest(store, "evt_1", T, runs=(run("r1", "waiting", "in_A"), run("r2", "waiting", "in_B")))
    held = store.claim(
        "r2", owner="w", now=T, lease_until=T + _dt.timedelta(hours=1), statuses=("waiting",)
    )
    store.save(replace(held, status="completed", next_at=None), owner="w", lease_until=None)
    store.forget(T)
    assert store.get("r2") is None
    assert [r.id for r in store.claim_due(T, owner="w", lease_until=T, limit=5)] == ["r1"]


def test_forget_keeps_recent_event_ids_and_drops_old_ones():
    """A redelivery within the retention is a duplicate; an id older than it is forgotten."""
    store = ReplayStore()
    ingest(store, "evt_old", T)
    ingest(store, "evt_new", T + _dt.timedelta(days=10))
    store.forget(T + _dt.timedelta(days=1))
    assert not store.has_event("evt_old")
    assert store.has_event("evt_new")


def test_forget_drops_old_markers_only():
    """A cancel marker older than the cutoff goes; a newer one keeps superseding."""
    store = ReplayStore()
    day = 86400
    start = int(T.timestamp())
    ingest(store, "evt_a", T, created=start, markers=(("remind", "in_A"),))
    ingest(store, "evt_b", T, created=start + 10 * day, markers=(("remind", "in_B"),))
    store.forget(T + _dt.timedelta(days=5))
    assert store.cancel_marker("remind", "in_A") is None
    assert store.cancel_marker("remind", "in_B") == start + 10 * day
