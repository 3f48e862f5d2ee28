"""An in-process store: the default, for tests, simulations and single short-lived processes."""

from __future__ import annotations

import datetime as _dt
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

from ..outcome import LIVE_STATUSES, Run, evolve
from .base import (
    Ingest,
    IngestResult,
    LeaseLostError,
    cancel_run,
    ingested,
    marker_rows,
    merge_cancelled,
    superseded,
)

__all__ = ["MemoryStore"]


_Lease = tuple[str | None, _dt.datetime | None, int]
"""Who holds a run, until when, and the epoch of its last claim. A plain tuple of plain
values, replaced rather than changed: the garbage collector stops tracking it, so that a store
of many runs does not make every collection longer."""
_OWNER: Final = 0  # the places in a lease
_UNTIL: Final = 1
_EPOCH: Final = 2
_FREE: _Lease = (None, None, 0)
_RELEASED: tuple[_Lease, ...] = tuple((None, None, epoch) for epoch in range(16))


def _released(epoch: int) -> _Lease:
    """A lease held by no one, of ``epoch``: one shared tuple for the usual epochs."""
    return _RELEASED[epoch] if epoch < len(_RELEASED) else (None, None, epoch)


class MemoryStore:
    """Keeps everything in dicts, behind one lock; nothing survives the process."""

    keeps_event_text = False
    """Runs keep the event itself: the engine need not encode it (SQL stores keep its JSON)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._events: set[str] = set()
        self._runs: dict[str, Run] = {}
        self._order: list[str] = []
        # (rule, key) -> the ids of its runs: a tuple of strings, which the collector stops
        # tracking (a list it would track as long as the store lives)
        self._by_key: dict[tuple[str, str], tuple[str, ...]] = {}
        self._leases: dict[str, _Lease] = {}
        self._markers: dict[tuple[str, str], int] = {}
        self._versions: dict[str, Mapping[str, Any]] = {}

    def has_event(self, event_id: str) -> bool:
        with self._lock:
            return event_id in self._events

    def _live(self, rule: str, key: str) -> list[Run]:
        ids = self._by_key.get((rule, key), ())
        return [run for run in map(self._runs.__getitem__, ids) if run.live]

    def ingest(self, batch: Ingest) -> IngestResult:
        with self._lock:
            if batch.event_id in self._events:
                return IngestResult(duplicate=True)
            self._events.add(batch.event_id)
            cancelled = []
            for rule, key in batch.cancels:
                for run in self._live(rule, key):
                    done = cancel_run(run, batch)
                    self._runs[run.id] = done
                    self._leases[run.id] = _released(self._leases[run.id][_EPOCH])
                    cancelled.append(done)
            for version, definition in (batch.rule_versions or {}).items():
                self._versions.setdefault(version, definition)
            started, skipped, old = [], [], []
            leased = batch.lease_until is not None
            epoch = 1 if leased else 0
            lease = (batch.owner, batch.lease_until, epoch) if leased else _FREE  # one for all
            for run in batch.runs:
                if run.key is not None:  # only keyed runs are looked up by key
                    slot = (run.rule, run.key)
                    if superseded(batch, self._markers.get(slot)):
                        old.append(run)
                        continue
                    known = self._by_key.get(slot, ())
                    if known and self._live(*slot):
                        skipped.append(run)
                        continue
                    self._by_key[slot] = (*known, run.id)
                if run.epoch != epoch:
                    run = evolve(run, epoch=epoch)
                self._runs[run.id] = run
                self._order.append(run.id)
                self._leases[run.id] = lease
                started.append(run)
            for rule, key, created in marker_rows(batch):
                self._markers[rule, key] = max(self._markers.get((rule, key), 0), created)
            if started and not leased:
                self._work.notify_all()
            return ingested(cancelled, started, skipped, old)

    def cancel_marker(self, rule: str, key: str) -> int | None:
        with self._lock:
            return self._markers.get((rule, key))

    def _free(self, run_id: str, now: _dt.datetime) -> bool:
        until = self._leases[run_id][_UNTIL]
        return until is None or until <= now

    def _take(self, run: Run, owner: str, lease_until: _dt.datetime) -> Run:
        epoch = self._leases[run.id][_EPOCH] + 1
        self._leases[run.id] = (owner, lease_until, epoch)
        return replace(run, epoch=epoch)

    def claim_due(
        self,
        now: _dt.datetime,
        *,
        owner: str,
        lease_until: _dt.datetime,
        limit: int,
        lease_now: _dt.datetime | None = None,
    ) -> list[Run]:
        free_at = lease_now or now
        with self._lock:
            due = [
                r
                for r in self._runs.values()
                if r.live
                and r.next_at is not None
                and r.next_at <= now
                and self._free(r.id, free_at)
            ]
            due.sort(key=lambda r: (r.next_at, r.id))
            return [self._take(run, owner, lease_until) for run in due[: max(limit, 0)]]

    def claim(
        self,
        run_id: str,
        *,
        owner: str,
        now: _dt.datetime,
        lease_until: _dt.datetime,
        statuses: Sequence[str],
    ) -> Run | None:
        with self._lock:
            run = self._runs.get(run_id)
            if run is None or run.status not in statuses or not self._free(run_id, now):
                return None
            return self._take(run, owner, lease_until)

    def _held(self, run: Run, owner: str) -> _Lease | None:
        lease = self._leases.get(run.id)
        stored = self._runs.get(run.id)
        if lease is None or stored is None or stored.status not in LIVE_STATUSES:  # Run.live
            return None
        if lease[_OWNER] != owner or lease[_EPOCH] != run.epoch:
            return None
        return lease

    def start_step(
        self, run: Run, *, owner: str, now: _dt.datetime, lease_until: _dt.datetime
    ) -> bool:
        with self._lock:
            lease = self._held(run, owner)
            if lease is None or self._runs[run.id].cursor != run.cursor:
                return False
            self._leases[run.id] = (owner, lease_until, lease[_EPOCH])
            return True

    def renew(self, run: Run, *, owner: str, lease_until: _dt.datetime) -> bool:
        with self._lock:
            lease = self._held(run, owner)
            if lease is None:
                return False
            self._leases[run.id] = (owner, lease_until, lease[_EPOCH])
            return True

    def save(self, run: Run, *, owner: str, lease_until: _dt.datetime | None) -> None:
        with self._lock:
            lease = self._held(run, owner)
            if lease is None:
                stored = self._runs.get(run.id)
                kept = self._leases.get(run.id)
                if (
                    stored is not None
                    and kept is not None
                    and kept[_EPOCH] == run.epoch
                    and stored.status == "cancelled"
                    and kept[_OWNER] is None
                ):
                    merged = self._runs[run.id] = merge_cancelled(stored, run)
                    raise LeaseLostError(f"run {run.id} was cancelled", run=merged)
                raise LeaseLostError(f"run {run.id} is no longer leased to {owner}")
            self._runs[run.id] = run
            epoch = lease[_EPOCH]
            self._leases[run.id] = (
                _released(epoch) if lease_until is None else (owner, lease_until, epoch)
            )

    def get(self, run_id: str) -> Run | None:
        with self._lock:
            run = self._runs.get(run_id)
            if run is None:
                return None
            return replace(run, epoch=self._leases[run_id][_EPOCH])

    def next_due(self) -> _dt.datetime | None:
        with self._lock:
            times = [r.next_at for r in self._runs.values() if r.live and r.next_at is not None]
        return min(times, default=None)

    def wait_for_work(self, timeout: float) -> None:
        with self._work:
            self._work.wait(timeout)

    def list_runs(
        self,
        *,
        key: str | None = None,
        status: str | None = None,
        rule: str | None = None,
        limit: int | None = None,
    ) -> list[Run]:
        with self._lock:
            found = [
                self._runs[i]
                for i in reversed(self._order)
                if (key is None or self._runs[i].key == key)
                and (status is None or self._runs[i].status == status)
                and (rule is None or self._runs[i].rule == rule)
            ]
        return found[:limit] if limit is not None else found

    def rule_definition(self, version: str) -> Mapping[str, Any] | None:
        with self._lock:
            return self._versions.get(version)

    def close(self) -> None:
        pass
