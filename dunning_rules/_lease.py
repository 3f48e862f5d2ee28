"""How a worker holds a run while it works on it: fenced saves, step starts and heartbeats.

A :class:`RunLease` is the executor's view of the store for one run that this worker claimed.
Every save and every step start carries the epoch the claim gave the run, so a worker that lost
the run (its lease expired and another worker took it over, or an event cancelled it) can never
write it again nor call an adapter for it. While a step's adapter runs, the :class:`Heartbeat`
renews the lease, so a slow model call or SMTP server does not let a second worker take the
run over and send the same step again.
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .outcome import Run
from .store.base import LeaseLostError, RunStore

__all__ = ["Heartbeat", "RunLease"]

log = logging.getLogger(__name__)

Clock = Callable[[], _dt.datetime]


@dataclass(slots=True)
class _Held:
    run: Run
    renewed: float  # time.monotonic() of the last renewal


class Heartbeat:
    """One thread per engine that renews the leases of runs whose step is in flight.

    It starts on the first step and wakes every third of the lease; a renewal that fails (the
    run was cancelled or taken over meanwhile) is logged and the run dropped from the list.
    """

    def __init__(self, store: RunStore, owner: str, lease: _dt.timedelta, clock: Clock) -> None:
        self._store = store
        self._owner = owner
        self._lease = lease
        self._clock = clock
        self._period = max(lease.total_seconds() / 3, 0.01)
        self._held: dict[str, _Held] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    def hold(self, run: Run) -> None:
        self._held[run.id] = _Held(run, time.monotonic())  # one dict operation: atomic
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._closed:
                    self._thread = threading.Thread(
                        target=self._beat, name="dunning-rules-heartbeat", daemon=True
                    )
                    self._thread.start()

    def drop(self, run_id: str) -> None:
        self._held.pop(run_id, None)  # one dict operation: atomic

    def _beat(self) -> None:
        while not self._wake.wait(self._period / 2):
            now = time.monotonic()
            held_now = list(self._held.values())  # one C call: atomic against hold and drop
            due = [h for h in held_now if now - h.renewed >= self._period]
            for held in due:
                try:
                    kept = self._store.renew(
                        held.run, owner=self._owner, lease_until=self._clock() + self._lease
                    )
                except Exception:  # the store is down: the next renewal tries again
                    log.warning("could not renew the lease of run %s", held.run.id, exc_info=True)
                    continue
                with self._lock:
                    if not kept:
                        log.warning("run %s is no longer leased to this worker", held.run.id)
                        self._held.pop(held.run.id, None)
                    elif held.run.id in self._held:
                        held.renewed = now

    def close(self) -> None:
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
        self._wake.set()
        if thread is not None:
            thread.join(timeout=5)


class RunLease:
    """The executor's :class:`~dunning_rules.rules.executor.Lease` for one claimed run."""

    def __init__(
        self,
        store: RunStore,
        *,
        owner: str,
        lease: _dt.timedelta,
        clock: Clock,
        heartbeat: Heartbeat,
    ) -> None:
        self._store = store
        self._owner = owner
        self._lease = lease
        self._clock = clock
        self._heartbeat = heartbeat

    def save(self, run: Run, release: bool) -> None:
        self._heartbeat.drop(run.id)
        until = None if release else self._clock() + self._lease
        self._store.save(run, owner=self._owner, lease_until=until)

    def start(self, run: Run) -> _dt.datetime:
        now = self._clock()
        if not self._store.start_step(
            run, owner=self._owner, now=now, lease_until=now + self._lease
        ):
            current = self._store.get(run.id)
            if current is not None and current.status == "cancelled":
                raise LeaseLostError(
                    f"run {run.id} was cancelled before step {run.cursor}: {current.reason}",
                    run=current,
                )
            raise LeaseLostError(f"run {run.id} is no longer leased to this worker")
        self._heartbeat.hold(run)
        return now
