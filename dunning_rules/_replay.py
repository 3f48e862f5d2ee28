"""Replay: what the rules would have done with a past stream of Stripe events.

``report = dr.replay(rules, events)`` runs the events in ``created`` order through a real
:class:`~dunning_rules.Engine` on a simulated clock, with a memory store and every adapter
replaced by a stub that records the call and sends nothing. ``run_due`` is called at each
moment a run falls due (before the events of that moment, and after the last event until the
last wait is over, or the horizon), so waits, cancels by payment, approvals and de-duplication
behave as ``handle`` and ``run_due`` would have. The report keeps counts, not outcomes: memory
follows the invoices in play, not the number of events.

``dr.replay_compare(before, after, events)`` replays two rule sets on the same events and
lists the invoices whose messages would differ.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ._replay_source import Deliveries, Delivery, only_account, open_events
from ._replay_store import ReplayStore
from ._replay_tally import Tally
from ._replay_world import RETENTION, World, simulated, stubs
from .errors import DunningRulesError, EventError
from .outcome import Outcome, Run
from .rules.model import RuleSet
from .store.base import Ingest, int64

__all__ = [
    "APPROVALS",
    "ReplayComparison",
    "ReplayDifference",
    "ReplayError",
    "ReplayReport",
    "replay",
    "replay_compare",
]

APPROVALS = ("pending", "approve", "reject")
"""How a replay answers approval steps: leave them pending, approve or reject at once."""

DEFAULT_HORIZON = _dt.timedelta(days=30)
_EXPIRE_EVERY = 500
_PROGRESS_EVERY = 1000
_BY = "replay"


class ReplayError(DunningRulesError, ValueError):
    """A replay was asked for something it cannot do: an unknown approvals policy, a lookups
    file that is not JSON."""


def _frozen(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayReport:
    """What a replay counted. Amounts are in minor units, per currency; times are UTC.

    ``recovered`` sums the invoices paid after a run started for them; ``paid_without_message``
    the invoices that failed, were paid and got no message at all (Stripe's own retries).
    ``violations`` lists messages sent twice for the same step of the same run, or after the
    engine was told the invoice was paid (at most 100; ``violation_count`` counts them all).
    """

    events: int
    duplicates: int
    skipped: Mapping[str, int]
    start: str | None
    end: str | None
    by_type: Mapping[str, int]
    rules: Mapping[str, Mapping[str, int]]
    runs: Mapping[str, int]
    cancelled_by: Mapping[str, int]
    messages: Mapping[str, int]
    steps: Mapping[str, int]
    recovered: Mapping[str, int]
    recovered_invoices: int
    median_to_payment: float | None
    paid_without_message: Mapping[str, Any]
    failed_steps: tuple[Mapping[str, Any], ...]
    violations: tuple[Mapping[str, Any], ...]
    violation_count: int
    per_day: Mapping[str, Mapping[str, Any]]
    approvals: str
    hostile: Mapping[str, int] | None
    warnings: int
    sequences: Mapping[str, tuple[tuple[float, str, str], ...]] | None = field(
        default=None, repr=False, compare=False
    )
    customers: Mapping[str, str | None] = field(
        default_factory=lambda: MappingProxyType({}), repr=False, compare=False
    )
    variants: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: MappingProxyType({}))
    accounts: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: MappingProxyType({}))
    """Per connected account (Stripe Connect) whose events started runs: ``runs``, invoices
    ``recovered`` after a run started, and their ``amount`` per currency."""
    """Per rule with ``variants``: its holdout's name and, per variant, ``runs``, ``recovered``
    (invoices paid after the run started), ``rate``, ``amount`` per currency, and ``uplift``
    over the holdout in percentage points with its 95% interval (``low``, ``high``)."""

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON values (without the per-invoice sequences)."""
        return {
            "events": self.events,
            "duplicates": self.duplicates,
            "skipped": _plain(self.skipped),
            "start": self.start,
            "end": self.end,
            "by_type": _plain(self.by_type),
            "rules": _plain(self.rules),
            "runs": _plain(self.runs),
            "cancelled_by": _plain(self.cancelled_by),
            "messages": _plain(self.messages),
            "steps": _plain(self.steps),
            "recovered": _plain(self.recovered),
            "recovered_invoices": self.recovered_invoices,
            "median_to_payment": self.median_to_payment,
            "paid_without_message": _plain(self.paid_without_message),
            "failed_steps": _plain(self.failed_steps),
            "violations": _plain(self.violations),
            "violation_count": self.violation_count,
            "per_day": _plain(self.per_day),
            "approvals": self.approvals,
            "hostile": _plain(self.hostile),
            "warnings": self.warnings,
            "variants": _plain(self.variants),
            "accounts": _plain(self.accounts),
        }

    def to_text(self) -> str:
        """The summary as a few tables, for a person to read in a minute."""
        from ._replay_text import report_text

        return report_text(self)

    def to_html(self) -> str:
        """One self-contained HTML page: the summary, a chart per day, the tables."""
        from ._replay_html import report_html

        return report_html(self)

    def compare(self, other: ReplayReport, *, limit: int = 20) -> ReplayComparison:
        """The invoices whose messages differ between this replay and ``other``; both must
        have been made with ``sequences=True``."""
        if self.sequences is None or other.sequences is None:
            raise ReplayError("compare needs two replays made with sequences=True")
        differences: list[ReplayDifference] = []
        count = 0
        for subject in sorted(set(self.sequences) | set(other.sequences)):
            before = self.sequences.get(subject, ())
            after = other.sequences.get(subject, ())
            if [(at, kind) for at, kind, _ in before] == [(at, kind) for at, kind, _ in after]:
                continue
            count += 1
            if len(differences) < limit:
                customer = self.customers.get(subject) or other.customers.get(subject)
                differences.append(
                    ReplayDifference(
                        invoice=subject,
                        customer=customer,
                        before=tuple(_label(step) for step in before),
                        after=tuple(_label(step) for step in after),
                    )
                )
        return ReplayComparison(
            before=self,
            after=other,
            differences=tuple(differences),
            different=count,
            compared=len(set(self.sequences) | set(other.sequences)),
        )


def _label(step: tuple[float, str, str]) -> str:
    at, kind, rule = step
    return f"{simulated(at):%Y-%m-%d %H:%M} {kind} ({rule})"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayDifference:
    """One invoice whose messages differ: each replay's messages, as ``time type (rule)``."""

    invoice: str
    customer: str | None
    before: tuple[str, ...]
    after: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayComparison:
    """Two replays of the same events; ``different`` invoices (of ``compared`` that got a
    message in either) would get other messages, the first of them in ``differences``."""

    before: ReplayReport
    after: ReplayReport
    differences: tuple[ReplayDifference, ...]
    different: int
    compared: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
            "different": self.different,
            "compared": self.compared,
            "differences": [
                {
                    "invoice": d.invoice,
                    "customer": d.customer,
                    "before": list(d.before),
                    "after": list(d.after),
                }
                for d in self.differences
            ],
        }

    def to_text(self) -> str:
        from ._replay_text import comparison_text

        return comparison_text(self)

    def to_html(self) -> str:
        from ._replay_html import comparison_html

        return comparison_html(self)


def _read_lookups(lookups: Any) -> Mapping[str, Any] | None:
    if lookups is None or isinstance(lookups, Mapping):
        return lookups
    try:
        value = json.loads(Path(os.fspath(lookups)).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReplayError(f"cannot read the lookups file {lookups}: {exc.strerror}") from None
    except ValueError as exc:
        raise ReplayError(f"the lookups file {lookups} is not JSON: {exc}") from None
    if not isinstance(value, Mapping):
        raise ReplayError(f"the lookups file {lookups} must hold a JSON object")
    return value


class _Replay:
    """One replay: the engine, the stubs' world, the tally, and the loop over deliveries."""

    def __init__(
        self,
        rules: RuleSet,
        *,
        approvals: str,
        lookups: Mapping[str, Any] | None,
        sequences: bool,
    ) -> None:
        from ._engine import Engine
        from .testing import FixedClock

        self.rules = rules
        self.approvals = approvals
        self.world = World(lookups, frozenset(rules.lookups))
        self.tally = Tally(sequences={} if sequences else None)
        self.clock = FixedClock(simulated(0))
        self.store = ReplayStore()
        self.engine = Engine(
            rules,
            adapters=stubs(rules, self.world, self.tally.step),
            store=self.store,
            clock=self.clock,
            lookups={spec.type: self.world.lookup(spec.type) for spec in rules.lookups.values()},
        )
        self._relevant: dict[str, bool] = {}
        self.refused: dict[str, int] = {}

    def _move(self, moment: float) -> None:
        if moment > self.clock.now.timestamp():
            self.clock.now = simulated(moment)

    def _answer(self, pending: list[Run]) -> None:
        """Answer approvals by the policy (``pending`` leaves them waiting)."""
        if self.approvals == "pending":
            return
        now = self.clock.now.timestamp()
        while pending:
            run = pending.pop()
            step = (run.approval or {}).get("step")
            answer = self.engine.resume(
                run.id,
                approved=self.approvals == "approve",
                by=_BY,
                step=step if isinstance(step, int) else None,
            )
            pending.extend(self.tally.outcome(answer, now, cancelled_by="approval rejected"))

    def run_due(self, until: float, deliveries: Deliveries, upto: int | None) -> None:
        """Carry on every run due by ``until``, each at the moment it falls due."""
        while True:
            due = self.store.next_due()
            if due is None or due.timestamp() > until:
                return
            moment = max(due.timestamp(), self.clock.now.timestamp())
            for event in deliveries.happened(moment, upto if moment == until else None):
                self.world.happened(event, float(event["created"]))
            self._move(moment)
            outcomes = self.engine.run_due(now=self.clock.now)
            if not outcomes:
                return
            for outcome in outcomes:
                self._answer(self.tally.outcome(outcome, moment, cancelled_by="approval timed out"))

    def relevant(self, kind: str) -> bool:
        """True when some rule listens to, or is cancelled by, events of type ``kind``."""
        found = self._relevant.get(kind)
        if found is None:
            found = self._relevant[kind] = bool(
                self.rules.for_type(kind) or self.rules.cancelled_by(kind)
            )
        return found

    def deliver(self, delivery: Delivery) -> None:
        event = delivery.event
        now = self.clock.now.timestamp()
        self.tally.delivered(event, now)
        if self.relevant(str(event["type"])):
            try:
                outcome = self.engine.handle(event)
            except EventError as exc:
                reason = f"refused by the engine: {exc}"
                self.refused[reason] = self.refused.get(reason, 0) + 1
                return
        else:  # no rule can act on it: the engine would only record its id, as here
            result = self.store.ingest(
                Ingest(
                    event_id=event["id"],
                    event_type=event["type"],
                    created=int64(delivery.created),
                    received_at=self.clock.now,
                )
            )
            outcome = Outcome(
                event_id=event["id"], event_type=event["type"], duplicate=result.duplicate
            )
        self._answer(self.tally.handled(event, outcome, now))

    def expire(self) -> None:
        now = self.clock.now.timestamp()
        self.store.forget(simulated(now - RETENTION))
        self.world.expire(now)
        self.tally.expire(now)


def replay(
    rules: RuleSet,
    events: Any,
    *,
    approvals: str = "pending",
    lookups: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    hostile: int | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    horizon: _dt.timedelta = DEFAULT_HORIZON,
    sequences: bool = False,
    account: str | None = None,
) -> ReplayReport:
    """Replay ``events`` through ``rules``; nothing is sent, fetched or stored.

    ``events`` is an iterable of event dicts or a path: a JSON Lines file, a directory of event
    files, a Stripe list response or a JSON array. ``approvals`` answers approval steps:
    ``pending`` (left waiting), ``approve`` or ``reject`` at once. ``lookups`` (a mapping or a
    JSON file) gives lookup values, ``{name: value}`` for every customer or ``{customer id:
    {name: value}}``; otherwise ``stripe.customer_ltv`` and ``stripe.customer`` come from the
    events. ``hostile`` (a seed) delivers the events as Stripe may: late, out of order, twice.
    ``progress(done, total)`` is called as events are delivered. After the last event, due runs
    go on until none is left or ``horizon`` has passed. ``sequences`` keeps each invoice's
    messages, for :meth:`ReplayReport.compare`. ``account`` replays only the events of that
    connected account (Stripe Connect's ``event.account``); the report splits runs and
    recoveries by account either way.
    """
    if approvals not in APPROVALS:
        raise ReplayError(f"approvals must be one of {', '.join(APPROVALS)}, not {approvals!r}")
    state = _Replay(rules, approvals=approvals, lookups=_read_lookups(lookups), sequences=sequences)
    source = open_events(events)
    if account is not None:
        source = only_account(source, account)
    deliveries = Deliveries(source, seed=hostile)
    done = 0
    last: float | None = None
    for delivery in deliveries:
        upto = None if hostile is not None else delivery.sequence
        state.run_due(delivery.at, deliveries, None if upto is None else upto - 1)
        for event in deliveries.happened(delivery.at, upto):
            state.world.happened(event, float(event["created"]))
        state._move(delivery.at)
        state.deliver(delivery)
        last = delivery.at
        done += 1
        if done % _EXPIRE_EVERY == 0:
            state.expire()
        if progress is not None and done % _PROGRESS_EVERY == 0:
            progress(done, source.total)
    if last is not None:
        state.run_due(last + horizon.total_seconds(), deliveries, None)
    if progress is not None:
        progress(done, source.total)
    state.expire()
    return _report(state, source.skipped, deliveries, hostile)


def _report(
    state: _Replay, skipped: Mapping[str, int], deliveries: Deliveries, hostile: int | None
) -> ReplayReport:
    tally = state.tally
    live = tally.live_counts()
    runs = {
        "started": tally.started,
        "completed": tally.ended.get("completed", 0),
        "cancelled": tally.ended.get("cancelled", 0),
        "failed": tally.ended.get("failed", 0),
        "waiting": live.get("waiting", 0),
        "awaiting_approval": live.get("awaiting_approval", 0),
    }
    rules = {
        rule.name: {
            "matched": tally.matched.get(rule.name, 0),
            "runs": tally.runs_of.get(rule.name, 0),
        }
        for rule in state.rules
    }
    sequences = None
    if tally.sequences is not None:
        sequences = MappingProxyType({k: tuple(v) for k, v in tally.sequences.items()})
    return ReplayReport(
        events=tally.events,
        duplicates=tally.duplicates,
        skipped=_frozen({**skipped, **state.refused}),
        start=_time(tally.first),
        end=_time(tally.last),
        by_type=_frozen(dict(sorted(tally.by_type.items()))),
        rules=_frozen(rules),
        runs=_frozen(runs),
        cancelled_by=_frozen(dict(sorted(tally.cancelled_by.items()))),
        messages=_frozen(dict(sorted(tally.messages.items()))),
        steps=_frozen(dict(sorted(tally.steps.items()))),
        recovered=_frozen(dict(sorted(tally.recovered.items()))),
        recovered_invoices=tally.recovered_invoices,
        median_to_payment=tally.median_to_payment(),
        paid_without_message=_frozen(
            {
                "invoices": tally.unprompted_invoices,
                "amount": dict(sorted(tally.unprompted.items())),
            }
        ),
        failed_steps=_frozen(tally.failed_steps()),
        violations=_frozen(tally.violations),
        violation_count=tally.violation_count,
        per_day=_frozen(dict(sorted(tally.per_day.items()))),
        approvals=state.approvals,
        hostile=None
        if hostile is None
        else _frozen(
            {
                "seed": hostile,
                "duplicates": deliveries.duplicates,
                "late": deliveries.late,
                "reordered": deliveries.reordered,
            }
        ),
        warnings=tally.warnings,
        sequences=sequences,
        customers=MappingProxyType(dict(tally.customers)),
        variants=_frozen(tally.variant_figures(state.rules)),
        accounts=_frozen(tally.account_figures()),
    )


def _time(moment: float | None) -> str | None:
    return simulated(moment).isoformat(timespec="seconds") if moment is not None else None


def replay_compare(
    before: RuleSet, after: RuleSet, events: Any, *, limit: int = 20, **options: Any
) -> ReplayComparison:
    """Replay ``events`` through two rule sets (the options of :func:`replay`) and compare:
    which invoices would get other messages, the first ``limit`` of them with both lists."""
    if not isinstance(events, (str, os.PathLike, Mapping, list, tuple)):
        events = list(events)  # read once, replayed twice
    options["sequences"] = True
    first = replay(before, events, **options)
    second = replay(after, events, **options)
    return first.compare(second, limit=limit)
