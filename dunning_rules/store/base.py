"""The run store contract.

A store keeps handled event ids, runs (each a :class:`~dunning_rules.outcome.Run`), the
definitions of the rule versions runs follow, and the markers of cancelling events. Every
method is one transaction. Many workers may share one store: a worker *claims* a run, which
leases it until ``lease_until``; an expired lease lets another worker take the run over (after
a crash, the step that was cut off runs again).

Every claim gives the run a new *epoch*, the lease's fencing token, on the copy it returns
(:attr:`Run.epoch`). Only a worker that holds the lease under that epoch may save the run or
start its next step: :meth:`RunStore.start_step` confirms, in one statement, that the run is
still live, still leased to the worker under its epoch and still at the step, renews the lease
and records that the step started. A worker that lost its lease, or whose run was cancelled,
learns it there, before any adapter is called.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, runtime_checkable

from ..errors import StoreError
from ..outcome import Run
from ._codec import dump_event

__all__ = [
    "Ingest",
    "IngestResult",
    "LeaseLostError",
    "RunStore",
    "event_texts",
    "int64",
    "merge_cancelled",
]


class LeaseLostError(StoreError):
    """The worker no longer holds the run: its lease expired and another worker took it over,
    or an event cancelled it. Stop working on it.

    ``run`` is the run as stored when an event cancelled it while this worker held it: the
    records this worker was saving are kept on it (a step that went out in the last moment
    before the cancel stays in the history), its status stays ``cancelled``.
    """

    def __init__(self, message: str, *, run: Run | None = None) -> None:
        super().__init__(message)
        self.run = run


INT64_MAX = 2**63 - 1


def int64(value: int | None) -> int | None:
    """``value`` within a signed 64-bit column: Stripe's ``created`` is an epoch in seconds,
    so a value out of range is no real time; clamping keeps its order against real ones."""
    if value is None:
        return None
    return max(-INT64_MAX, min(INT64_MAX, value))


def merge_cancelled(stored: Run, ours: Run) -> Run:
    """The cancelled ``stored`` run with the step records of ``ours``, the copy a worker was
    saving when the cancel committed: the cancel's status and reason stay."""
    return replace(stored, steps=ours.steps, cursor=ours.cursor, updated_at=ours.updated_at)


@dataclass(frozen=True, slots=True, kw_only=True)
class Ingest:
    """Everything one new event changes, applied in one transaction by :meth:`RunStore.ingest`.

    In order: the event id is recorded (a duplicate changes nothing else); the live runs of each
    ``(rule, key)`` in ``cancels`` are cancelled with ``cancel_reason``; each of ``runs`` starts,
    leased to ``owner`` until ``lease_until``, unless a marker of its ``(rule, key)`` is at or
    after ``created`` (an event that settled the key was seen later: ``superseded``) or its rule
    already has a live run for its key (``skipped``); last, each ``(rule, key)`` in ``markers``
    remembers ``created``. Events that touch the same ``(rule, key)`` are applied one after the
    other, so a payment and a failure arriving at once on two workers cannot both miss.
    """

    event_id: str
    event_type: str
    created: int | None
    received_at: _dt.datetime
    cancels: tuple[tuple[str, str], ...] = ()
    cancel_reason: str = ""
    markers: tuple[tuple[str, str], ...] = ()
    runs: tuple[Run, ...] = ()
    rule_versions: Mapping[str, Mapping[str, Any]] | None = None
    owner: str = ""
    lease_until: _dt.datetime | None = None
    event: Mapping[str, Any] | None = None
    """The event the runs were started by, and ``event_body`` its JSON text: a SQL store keeps
    it once, with the event id, for every run whose ``event`` is this very object."""
    event_body: str | None = None


def cancel_run(run: Run, batch: Ingest) -> Run:
    """``run`` as the cancelling event of ``batch`` leaves it."""
    return replace(
        run,
        status="cancelled",
        next_at=None,
        reason=batch.cancel_reason,
        updated_at=batch.received_at,
    )


def superseded(batch: Ingest, marker: int | None) -> bool:
    """True when a cancelling event for a run's key, created at ``marker``, came after
    ``batch``'s event: that failure is old news and starts no run."""
    return marker is not None and batch.created is not None and marker >= batch.created


def event_texts(batch: Ingest) -> tuple[str | None, list[str]]:
    """The event body a SQL store keeps with the event id (None: no run needs it), and, for
    each run of ``batch``, the text it keeps with the run: ``""`` for a run whose event is the
    batch's (read back from the event), the run's own event otherwise."""
    body = batch.event_body if batch.event is not None else None
    own = [
        "" if body is not None and run.event is batch.event else dump_event(run)
        for run in batch.runs
    ]
    return (body if batch.runs else None), own


def marker_rows(batch: Ingest) -> list[tuple[str, str, int]]:
    """``(rule, key, created)`` for every marker the batch records."""
    if batch.created is None:
        return []
    created = min(max(batch.created, 0), INT64_MAX)
    return [(rule, key, created) for rule, key in batch.markers]


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestResult:
    duplicate: bool
    cancelled: tuple[Run, ...] = ()
    started: tuple[Run, ...] = ()
    skipped: tuple[Run, ...] = ()
    superseded: tuple[Run, ...] = ()


def ingested(
    cancelled: Sequence[Run], started: Sequence[Run], skipped: Sequence[Run], old: Sequence[Run]
) -> IngestResult:
    """The result of an ingest that recorded its event: the runs it cancelled, started,
    skipped (a live run had their key) and found superseded (``old``)."""
    return IngestResult(
        duplicate=False,
        cancelled=tuple(cancelled),
        started=tuple(started),
        skipped=tuple(skipped),
        superseded=tuple(old),
    )


@runtime_checkable
class RunStore(Protocol):
    """What the engine needs from a store. ``dunning_rules.testing.StoreContract`` tests it.

    A store may say ``keeps_event_text = False`` (the memory store does): it keeps the event
    object and never reads :attr:`Ingest.event_body`, so the engine does not encode the event
    for it. Without the attribute the engine encodes every new event once.
    """

    def has_event(self, event_id: str) -> bool:
        """True when ``event_id`` was ingested before."""

    def ingest(self, batch: Ingest) -> IngestResult:
        """Apply one new event atomically (see :class:`Ingest`)."""

    def cancel_marker(self, rule: str, key: str) -> int | None:
        """The latest ``created`` of a cancelling event for ``(rule, key)``, if any."""

    def claim_due(
        self,
        now: _dt.datetime,
        *,
        owner: str,
        lease_until: _dt.datetime,
        limit: int,
        lease_now: _dt.datetime | None = None,
    ) -> list[Run]:
        """Lease up to ``limit`` live runs whose ``next_at`` is at or before ``now`` and whose
        lease is free or expired at ``lease_now`` (default ``now``), oldest ``next_at`` first;
        no two workers get the same run. Each copy returned carries the claim's new epoch."""

    def claim(
        self,
        run_id: str,
        *,
        owner: str,
        now: _dt.datetime,
        lease_until: _dt.datetime,
        statuses: Sequence[str],
    ) -> Run | None:
        """Lease one run if its status is in ``statuses`` and its lease is free or expired;
        the copy returned carries the claim's new epoch."""

    def start_step(
        self, run: Run, *, owner: str, now: _dt.datetime, lease_until: _dt.datetime
    ) -> bool:
        """Right before a step's adapter is called: in one statement, confirm that the run is
        live, leased to ``owner`` under ``run.epoch`` and at ``run.cursor``; renew the
        lease to ``lease_until`` and record that the step started at ``now``. False when any
        of that fails (the run was cancelled, or another worker took it over): then no adapter
        may be called."""

    def renew(self, run: Run, *, owner: str, lease_until: _dt.datetime) -> bool:
        """Extend the lease that ``owner`` holds under ``run.epoch`` (a heartbeat while a slow
        step runs); False when it is no longer held."""

    def save(self, run: Run, *, owner: str, lease_until: _dt.datetime | None) -> None:
        """Write the run; ``lease_until`` None releases it. Raises :class:`LeaseLostError`
        unless ``owner`` holds the lease under ``run.epoch`` and the run is live; when an
        event cancelled the run while ``owner`` held it, the run's step records are written
        onto the cancelled run first (see :func:`merge_cancelled`) and the error carries it."""

    def get(self, run_id: str) -> Run | None:
        """One run, or None."""

    def next_due(self) -> _dt.datetime | None:
        """The earliest ``next_at`` of the live runs, or None when no run is waiting."""

    def wait_for_work(self, timeout: float) -> None:
        """Block at most ``timeout`` seconds, or until another process stored runs that are
        due at once (a deferred ``handle``); a store that cannot tell just sleeps."""

    def list_runs(
        self,
        *,
        key: str | None = None,
        status: str | None = None,
        rule: str | None = None,
        limit: int | None = None,
    ) -> list[Run]:
        """Runs, newest first, filtered."""

    def rule_definition(self, version: str) -> Mapping[str, Any] | None:
        """The definition of a rule version that a run follows."""

    def close(self) -> None:
        """Release connections."""
