"""An in-process store: the default, for tests, simulations and single short-lived processes."""

from __future__ import annotations

import datetime as _dt
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..outcome import Run, evolve
from .base import (
    Ingest,
    IngestResult,
    LeaseLostError,
    cancel_run,
    marker_rows,
    merge_cancelled,
    superseded,
)

__all__ = ["MemoryStore"]


@dataclass(slots=True)
class _Lease:
    owner: str | None
    until: _dt.datetime | None
    epoch: int = 0
    started: _dt.datetime | None = None  # when the step at the cursor started, if it did


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
        self._by_key: dict[tuple[str, str | None], list[str]] = {}  # (rule, key) -> run ids
        self._leases: dict[str, _Lease] = {}
        self._markers: dict[tuple[str, str], int] = {}
        self._versions: dict[str, Mapping[str, Any]] = {}

    def has_event(self, event_id: str) -> bool:
        with self._lock:
            return event_id in self._events

    def _live(self, rule: str, key: str | None) -> list[Run]:
        runs = (self._runs[i] for i in self._by_key.get((rule, key), ()))
        return [run for run in runs if run.live]

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
                    lease = self._leases[run.id]
                    lease.owner = lease.until = None
                    cancelled.append(done)
            for version, definition in (batch.rule_versions or {}).items():
                self._versions.setdefault(version, definition)
            started, skipped, old = [], [], []
            leased = batch.lease_until is not None
            for run in batch.runs:
                marker = self._markers.get((run.rule, run.key)) if run.key is not None else None
                if superseded(batch, marker):
                    old.append(run)
                    continue
                if run.key is not None and self._live(run.rule, run.key):
                    skipped.append(run)
                    continue
                epoch = 1 if leased else 0
                if run.epoch != epoch:
                    run = evolve(run, epoch=epoch)
                self._runs[run.id] = run
                self._order.append(run.id)
                self._by_key.setdefault((run.rule, run.key), []).append(run.id)
                self._leases[run.id] = (
                    _Lease(batch.owner, batch.lease_until, epoch) if leased else _Lease(None, None)
                )
                started.append(run)
            for rule, key, created in marker_rows(batch):
                self._markers[rule, key] = max(self._markers.get((rule, key), 0), created)
            if started and not leased:
                self._work.notify_all()
            return IngestResult(
                duplicate=False,
                cancelled=tuple(cancelled),
                started=tuple(started),
                skipped=tuple(skipped),
                superseded=tuple(old),
            )

    def cancel_marker(self, rule: str, key: str) -> int | None:
        with self._lock:
            return self._markers.get((rule, key))

    def _free(self, run_id: str, now: _dt.datetime) -> bool:
        until = self._leases[run_id].until
        return until is None or until <= now

    def _take(self, run: Run, owner: str, lease_until: _dt.datetime) -> Run:
        lease = self._leases[run.id]
        lease.owner, lease.until, lease.epoch = owner, lease_until, lease.epoch + 1
        return replace(run, epoch=lease.epoch)

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
        if lease is None or stored is None or not stored.live:
            return None
        if lease.owner != owner or lease.epoch != run.epoch:
            return None
        return lease

    def start_step(
        self, run: Run, *, owner: str, now: _dt.datetime, lease_until: _dt.datetime
    ) -> bool:
        with self._lock:
            lease = self._held(run, owner)
            stored = self._runs.get(run.id)
            if lease is None or stored is None:
                return False
            if stored.cursor != run.cursor:
                return False
            lease.until, lease.started = lease_until, now
            return True

    def renew(self, run: Run, *, owner: str, lease_until: _dt.datetime) -> bool:
        with self._lock:
            lease = self._held(run, owner)
            if lease is None:
                return False
            lease.until = lease_until
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
                    and kept.epoch == run.epoch
                    and stored.status == "cancelled"
                    and kept.owner is None
                ):
                    merged = self._runs[run.id] = merge_cancelled(stored, run)
                    raise LeaseLostError(f"run {run.id} was cancelled", run=merged)
                raise LeaseLostError(f"run {run.id} is no longer leased to {owner}")
            self._runs[run.id] = run
            lease.started = None
            if lease_until is None:
                lease.owner = lease.until = None
            else:
                lease.until = lease_until

    def get(self, run_id: str) -> Run | None:
        with self._lock:
            run = self._runs.get(run_id)
            if run is None:
                return None
            return replace(run, epoch=self._leases[run_id].epoch)

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
