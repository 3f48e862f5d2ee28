"""Counting what a replay did: counters and the state of the invoices in play, never outcomes.

:class:`Tally` takes in every outcome of the engine and every call of a stub (a step that would
have gone out) and keeps counts: events by type, matches and runs per rule, how runs ended,
messages per channel and per day, invoices paid after a run started (the recovered estimate),
steps that failed by reason, and violations: a message sent twice for the same step of the
same run (the same idempotency key), or sent after the engine was told the invoice was paid.
"""

from __future__ import annotations

import array
import datetime as _dt
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._replay_world import NOT_MESSAGES, Expiring, customer_of, invoice_of
from .actions.base import ActionContext
from .outcome import Outcome, Run
from .rules.variants import lift

__all__ = ["MAX_FAILURE_KINDS", "MAX_VIOLATIONS", "Tally"]

MAX_VIOLATIONS = 100
"""Violations kept with their details; the count goes on past them."""
MAX_FAILURE_KINDS = 200
"""Distinct failure reasons kept; the rest are counted under one line."""
_OTHER_FAILURES = "(other reasons)"


@dataclass(slots=True)
class _Invoice:
    """One invoice in play: what replay has seen happen to it."""

    customer: str | None = None
    failed: bool = False
    run_at: float | None = None
    first_message_at: float | None = None
    messages: int = 0
    paid_known: bool = False
    variants: list[tuple[str, str]] = field(default_factory=list)
    """``(rule, variant)`` of each run started for it by a rule with variants."""
    account: str | None = None
    """The connected account of the events that started its runs (Stripe Connect)."""


@dataclass(slots=True)
class _Live:
    rule: str
    invoice: str | None
    status: str


def _day(moment: float) -> str:
    return _dt.datetime.fromtimestamp(moment, _dt.timezone.utc).date().isoformat()


@dataclass
class Tally:
    """Every count of one replay; :meth:`summary` turns them into the report's values."""

    sequences: dict[str, list[tuple[float, str, str]]] | None = None
    customers: dict[str, str | None] = field(default_factory=dict)
    events: int = 0
    duplicates: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    matched: dict[str, int] = field(default_factory=dict)
    runs_of: dict[str, int] = field(default_factory=dict)
    started: int = 0
    ended: dict[str, int] = field(default_factory=dict)
    cancelled_by: dict[str, int] = field(default_factory=dict)
    messages: dict[str, int] = field(default_factory=dict)
    steps: dict[str, int] = field(default_factory=dict)
    per_day: dict[str, dict[str, Any]] = field(default_factory=dict)
    recovered: dict[str, int] = field(default_factory=dict)
    recovered_invoices: int = 0
    unprompted: dict[str, int] = field(default_factory=dict)
    unprompted_invoices: int = 0
    failures: dict[tuple[str, str], int] = field(default_factory=dict)
    violations: list[dict[str, Any]] = field(default_factory=list)
    violation_count: int = 0
    warnings: int = 0
    variant_runs: dict[tuple[str, str], int] = field(default_factory=dict)
    variant_recovered: dict[tuple[str, str], int] = field(default_factory=dict)
    variant_amounts: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    account_runs: dict[str, int] = field(default_factory=dict)
    account_recovered: dict[str, int] = field(default_factory=dict)
    account_amounts: dict[str, dict[str, int]] = field(default_factory=dict)
    first: float | None = None
    last: float | None = None
    _to_payment: array.array[float] = field(default_factory=lambda: array.array("d"))
    _live: dict[str, _Live] = field(default_factory=dict)
    _in_play: dict[str, int] = field(default_factory=dict)  # invoice -> live runs
    _invoices: Expiring[str, _Invoice] = field(init=False)
    _sent: Expiring[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self._invoices = Expiring(keep=lambda invoice: invoice in self._in_play)
        self._sent = Expiring()

    def _invoice(self, invoice: str, now: float) -> _Invoice:
        found = self._invoices.get(invoice)
        if found is None:
            found = _Invoice()
        return self._invoices.put(invoice, found, now)

    def _daily(self, moment: float) -> dict[str, Any]:
        day = _day(moment)
        found = self.per_day.get(day)
        if found is None:
            found = self.per_day[day] = {"messages": 0, "recovered": {}, "paid": 0}
        return found

    # -- events ---------------------------------------------------------------------------

    def delivered(self, event: Mapping[str, Any], now: float) -> None:
        """An event is about to be handled (it may turn out to be a duplicate)."""
        self.first = now if self.first is None else min(self.first, now)
        self.last = now if self.last is None else max(self.last, now)

    def handled(self, event: Mapping[str, Any], outcome: Outcome, now: float) -> list[Run]:
        """What ``handle`` did with ``event`` at ``now``; the runs left awaiting approval."""
        if outcome.duplicate:
            self.duplicates += 1
            return []
        self.events += 1
        kind = str(event["type"])
        self.by_type[kind] = self.by_type.get(kind, 0) + 1
        for name in outcome.matched:
            self.matched[name] = self.matched.get(name, 0) + 1
        invoice = invoice_of(event)
        if invoice is not None:
            obj = event["data"]["object"]
            if kind == "invoice.payment_failed":
                state = self._invoice(invoice, now)
                state.failed = True
                state.customer = state.customer or customer_of(event)
            elif kind == "invoice.paid" and obj.get("object") == "invoice":
                self._paid(invoice, obj, event, now)
            elif (
                kind in ("invoice.voided", "invoice.marked_uncollectible")
                and invoice not in self._in_play
            ):
                self._invoices.pop(invoice)
        return self.outcome(outcome, now, cancelled_by=kind)

    def _paid(
        self, invoice: str, obj: Mapping[str, Any], event: Mapping[str, Any], now: float
    ) -> None:
        state = self._invoices.get(invoice)
        if state is not None and state.paid_known:
            return  # counted when the engine first heard of the payment
        state = self._invoice(invoice, now)
        state.paid_known = True  # from now on, a message for it is a violation
        transitions = obj.get("status_transitions")
        paid_at = transitions.get("paid_at") if isinstance(transitions, Mapping) else None
        if not isinstance(paid_at, int) or isinstance(paid_at, bool):
            paid_at = event.get("created")
        moment = float(paid_at) if isinstance(paid_at, int) else now
        currency = str(obj.get("currency") or "").lower()
        amount = int(obj.get("amount_paid") or 0)
        if state.run_at is not None and moment >= state.run_at:
            self.recovered[currency] = self.recovered.get(currency, 0) + amount
            self.recovered_invoices += 1
            for arm in state.variants:
                self.variant_recovered[arm] = self.variant_recovered.get(arm, 0) + 1
                sums = self.variant_amounts.setdefault(arm, {})
                sums[currency] = sums.get(currency, 0) + amount
            if state.account is not None:
                acct = state.account
                self.account_recovered[acct] = self.account_recovered.get(acct, 0) + 1
                sums = self.account_amounts.setdefault(acct, {})
                sums[currency] = sums.get(currency, 0) + amount
            day = self._daily(moment)
            day["recovered"][currency] = day["recovered"].get(currency, 0) + amount
            day["paid"] += 1
            if state.first_message_at is not None:
                self._to_payment.append(max(moment - state.first_message_at, 0.0))
        if state.failed and state.messages == 0:
            self.unprompted[currency] = self.unprompted.get(currency, 0) + amount
            self.unprompted_invoices += 1

    # -- runs and steps -------------------------------------------------------------------

    def outcome(self, outcome: Outcome, now: float, *, cancelled_by: str) -> list[Run]:
        """Count the runs and step records of an outcome; return its runs awaiting approval."""
        self.warnings += len(outcome.warnings)
        for record in outcome.actions:
            if record.status == "failed":
                self._failed(record.type, record.error or "")
        pending = []
        for run in outcome.runs:
            known = self._live.get(run.id)
            invoice = known.invoice if known is not None else invoice_of(run.event)
            if known is None:
                self.started += 1
                self.runs_of[run.rule] = self.runs_of.get(run.rule, 0) + 1
                if run.variant is not None:
                    arm = (run.rule, run.variant)
                    self.variant_runs[arm] = self.variant_runs.get(arm, 0) + 1
                if run.account is not None:
                    self.account_runs[run.account] = self.account_runs.get(run.account, 0) + 1
                if invoice is not None:
                    state = self._invoice(invoice, now)
                    state.customer = state.customer or customer_of(run.event)
                    if state.run_at is None:
                        state.run_at = now
                    if run.variant is not None:
                        state.variants.append((run.rule, run.variant))
                    state.account = state.account or run.account
            if run.live:
                if known is None:
                    self._live[run.id] = _Live(run.rule, invoice, run.status)
                    if invoice is not None:
                        self._in_play[invoice] = self._in_play.get(invoice, 0) + 1
                else:
                    known.status = run.status
                if run.status == "awaiting_approval":
                    pending.append(run)
                continue
            self.ended[run.status] = self.ended.get(run.status, 0) + 1
            if run.status == "cancelled":
                self.cancelled_by[cancelled_by] = self.cancelled_by.get(cancelled_by, 0) + 1
            if known is not None:
                del self._live[run.id]
                if invoice is not None:
                    left = self._in_play[invoice] - 1
                    if left:
                        self._in_play[invoice] = left
                    else:
                        del self._in_play[invoice]
        return pending

    def _failed(self, kind: str, error: str) -> None:
        key = (kind, " ".join(error.split()))
        if key not in self.failures and len(self.failures) >= MAX_FAILURE_KINDS:
            key = (kind, _OTHER_FAILURES)
        self.failures[key] = self.failures.get(key, 0) + 1

    def step(self, kind: str, params: Mapping[str, Any], ctx: ActionContext) -> None:
        """A stub ran: a step of type ``kind`` would have gone out at ``ctx.now``."""
        self.steps[kind] = self.steps.get(kind, 0) + 1
        if kind in NOT_MESSAGES:
            return
        now = ctx.now.timestamp()
        self.messages[kind] = self.messages.get(kind, 0) + 1
        self._daily(now)["messages"] += 1
        invoice = invoice_of(ctx.event)
        subject = invoice or _subject(ctx)
        state = self._invoice(invoice, now) if invoice is not None else None
        if state is not None:
            state.messages += 1
            state.customer = state.customer or customer_of(ctx.event)
            if state.first_message_at is None:
                state.first_message_at = now
        if self.sequences is not None:
            self.sequences.setdefault(subject, []).append((now, kind, ctx.rule))
            if subject not in self.customers:
                self.customers[subject] = customer_of(ctx.event)
        if ctx.idempotency_key in self._sent:
            self._violation("twice", subject, ctx, kind)
        else:
            self._sent.put(ctx.idempotency_key, subject, now)
        if state is not None and state.paid_known:
            self._violation("after_payment", subject, ctx, kind)

    def _violation(self, kind: str, subject: str, ctx: ActionContext, step_type: str) -> None:
        self.violation_count += 1
        if len(self.violations) < MAX_VIOLATIONS:
            self.violations.append(
                {
                    "kind": kind,
                    "invoice": subject,
                    "customer": customer_of(ctx.event),
                    "rule": ctx.rule,
                    "step": ctx.index,
                    "type": step_type,
                    "at": ctx.now.isoformat(),
                    "event": ctx.event.get("id"),
                }
            )

    def expire(self, now: float) -> None:
        self._invoices.expire(now)
        self._sent.expire(now)

    # -- the summary ----------------------------------------------------------------------

    def live_counts(self) -> dict[str, int]:
        counts = {"waiting": 0, "awaiting_approval": 0}
        for live in self._live.values():
            counts[live.status] = counts.get(live.status, 0) + 1
        return counts

    def variant_figures(self, rules: Any) -> dict[str, dict[str, Any]]:
        """Per rule with variants: each variant's runs, the invoices recovered after them and
        their sums, and the uplift over the holdout (:func:`~.rules.variants.lift`)."""
        out: dict[str, dict[str, Any]] = {}
        for rule in rules:
            split = rule.split
            if split is None:
                continue
            names = split.names()
            counts = {
                name: (
                    self.variant_runs.get((rule.name, name), 0),
                    self.variant_recovered.get((rule.name, name), 0),
                )
                for name in names
            }
            holdout = split.holdout.name if split.holdout is not None else None
            arms = {}
            for figures in lift(counts, holdout):
                arms[figures.name] = {
                    "holdout": figures.holdout,
                    "runs": figures.runs,
                    "recovered": figures.recovered,
                    "rate": figures.rate,
                    "uplift": figures.uplift,
                    "low": figures.low,
                    "high": figures.high,
                    "amount": dict(
                        sorted(self.variant_amounts.get((rule.name, figures.name), {}).items())
                    ),
                }
            out[rule.name] = {"holdout": holdout, "variants": arms}
        return out

    def account_figures(self) -> dict[str, dict[str, Any]]:
        """Per connected account: runs started, invoices recovered and their sums."""
        return {
            account: {
                "runs": runs,
                "recovered": self.account_recovered.get(account, 0),
                "amount": dict(sorted(self.account_amounts.get(account, {}).items())),
            }
            for account, runs in sorted(self.account_runs.items())
        }

    def median_to_payment(self) -> float | None:
        return statistics.median(self._to_payment) if self._to_payment else None

    def failed_steps(self) -> list[dict[str, Any]]:
        ordered = sorted(self.failures.items(), key=lambda item: (-item[1], item[0]))
        return [{"type": kind, "error": error, "count": count} for (kind, error), count in ordered]


def _subject(ctx: ActionContext) -> str:
    obj = ctx.event.get("data", {}).get("object", {})
    found = obj.get("id") if isinstance(obj, Mapping) else None
    return str(found) if found else str(ctx.event.get("id"))
