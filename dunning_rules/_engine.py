"""``Engine``: the public face that ties rules, adapters, the store and the clock together."""

from __future__ import annotations

import datetime as _dt
import logging
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from ._approvals import answer_step, not_pending, refusal
from ._build import resolve_adapters, resolve_lookups
from ._lease import Heartbeat, RunLease
from ._redact import collect_secrets, redact
from .actions.base import LookupContext
from .errors import ApprovalNotPendingError, RunNotFoundError, StoreError
from .outcome import ActionRecord, Outcome, Run, new_run, planned_outcome
from .rules._delivery import event_account as _account
from .rules._delivery import run_variant as _variant
from .rules._delivery import window_types
from .rules._reads import event_reads, rule_expressions
from .rules.executor import Advance, Executor
from .rules.functions import clock_scope
from .rules.loader import compile_stored_rule
from .rules.model import LookupSpec, Rule, RuleSet
from .rules.planner import (
    RunPlan,
    Scope,
    check_event,
    check_event_text,
    is_static,
    plan_event,
    plan_steps,
)
from .store import open_store
from .store.base import Ingest, LeaseLostError, RunStore, int64

__all__ = ["Engine"]

log = logging.getLogger(__name__)

Clock = Callable[[], _dt.datetime]
_DEFAULT_LEASE = _dt.timedelta(minutes=5)
_MAX_PASSES = 100
PlannedSteps = tuple[tuple[ActionRecord, ...], str, _dt.timedelta | None]
"""What :func:`plan_steps` gives: the records, the run's status after its first pause, and
how long after the start that pause ends."""


def _utc_now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


class Engine:
    """Handle Stripe events with a rule set.

    ``adapters`` maps step types to adapters and overrides the built-ins; ``store`` is a URL
    (``sqlite:///dunning.db``, ``postgresql://...``), a store object, or None for memory;
    ``clock`` returns an aware datetime (default: now in UTC). ``lookups`` maps lookup types
    to functions ``(args, ctx) -> value`` and overrides the built-ins. ``lease`` is how long a
    worker holds a run it works on before another worker may take it over.
    """

    def __init__(
        self,
        rules: RuleSet,
        *,
        adapters: Mapping[str, Any] | None = None,
        store: str | RunStore | None = None,
        stripe_client: Any = None,
        clock: Clock | None = None,
        lookups: Mapping[str, Callable[..., Any]] | None = None,
        lease: _dt.timedelta = _DEFAULT_LEASE,
        worker_id: str | None = None,
    ) -> None:
        self.rules = rules
        self._clock: Clock = clock or _utc_now
        self._stripe_client = stripe_client
        self._lease = lease
        self._owner = worker_id or f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._adapters = resolve_adapters(rules, dict(adapters or {}))
        self._escapes = {
            kind: escapes
            for kind, adapter in self._adapters.items()
            if (escapes := getattr(adapter, "escapes", None))
        }
        self._lookup_fns = resolve_lookups(rules, dict(lookups or {}))
        secrets = collect_secrets(self._adapters.values())
        self._redact: Callable[[str], str] = lambda text: redact(text, secrets)
        self._executor = Executor(
            adapters=self._adapters,
            stripe_client=stripe_client,
            clock=self._clock,
            redact=self._redact,
        )
        self._store = open_store(store)
        self._keeps_text = bool(getattr(self._store, "keeps_event_text", True))
        self._heartbeat = Heartbeat(self._store, self._owner, lease, self._clock)
        self._run_lease = RunLease(  # holds no state of its own: one for every run
            self._store,
            owner=self._owner,
            lease=lease,
            clock=self._clock,
            heartbeat=self._heartbeat,
        )
        self._old_rules: dict[str, Rule] = {}
        self._window_types = window_types(rules)
        self._fits: Callable[[Any], bool] | None = None  # what simulate checks of an event
        self._static_plans: dict[int, PlannedSteps] = {}  # by id(rule): see _plan_steps

    # -- events -----------------------------------------------------------------------------

    def _scope(
        self,
        event: Mapping[str, Any],
        now: _dt.datetime,
        live: bool,
        supplied: Mapping[str, Any] | None = None,
    ) -> Scope:
        fetch = None
        if supplied is not None:
            values = dict(supplied)

            def fetch(spec: LookupSpec, args: dict[str, Any]) -> Any:
                return values.get(spec.name)

        elif live:

            def fetch(spec: LookupSpec, args: dict[str, Any]) -> Any:
                ctx = LookupContext(
                    event=event, name=spec.name, stripe_client=self._stripe_client, now=now
                )
                return self._lookup_fns[spec.type](args, ctx)

        settings = self.rules.settings_for(event.get("account"))
        return Scope(event, settings, self.rules.lookups, fetch, [])

    def simulate(self, event: Any, *, lookups: Mapping[str, Any] | None = None) -> Outcome:
        """The same Outcome as :meth:`handle` would plan, with no side effects.

        Every step of each matching run is planned, past waits and approvals, rendered and
        escaped as ``handle`` renders it, with the outputs of steps it does not run as null;
        a step that cannot be rendered is ``failed`` (and so is the run, before its first
        pause). The runs the event would cancel come first, as ``cancelled`` runs named
        ``simulated-cancel-N`` (the live run of that rule and key, if there is one). No adapter
        runs, no lookup is fetched (``lookups`` gives their values by name: ``{"ltv":
        {"usd": 120000}}``; others are null), nothing is stored or read from the store.
        """
        fits = self._fits
        if fits is None:
            windows = any(
                a.send_window is not None or a.type in self._window_types
                for rule in self.rules
                for a in rule.actions
            )
            reads = event_reads(rule_expressions(self.rules), windows=windows)
            fits = self._fits = reads.checker()
        event = check_event(event, fits)
        with clock_scope(self._clock):
            now = self._clock()
            scope = self._scope(event, now, live=False, supplied=lookups)
            plan = plan_event(self.rules, event, scope)
            event_id, event_type = plan.event_id, plan.event_type
            static_plans = self._static_plans
            planned: dict[int, tuple[str | None, PlannedSteps]] = {}  # the rest are static
            for number, (rule, key) in enumerate(plan.starts):
                if id(rule) not in static_plans:
                    variant = None if rule.split is None else _variant(rule, key, event_id)
                    planned[number] = variant, self._plan_steps(rule, scope, variant, now)

        def build() -> tuple[tuple[Run, ...], tuple[ActionRecord, ...]]:
            account = _account(event)
            runs = [
                new_run(
                    f"simulated-cancel-{number}",
                    *(cancelling.name, cancelled_key, "cancelled", None, (), event_id),
                    *(event_type, {}, cancelling.version, 0, now, now, now, None),
                    f"cancelled by {event_type} ({event_id}): the live run of this rule "
                    "and key, if there is one",
                    None,
                    account,
                    0,
                )
                for number, (cancelling, cancelled_key) in enumerate(plan.cancels, 1)
            ]
            actions: list[ActionRecord] = []
            for number, (rule, key) in enumerate(plan.starts):
                variant, (records, status, delay) = planned.get(number) or (
                    None,
                    static_plans[id(rule)],
                )
                runs.append(
                    new_run(
                        *(f"simulated-{number + 1}", rule.name, key, status),
                        now + delay if delay is not None else None,
                        *(records, event_id, event_type, {}, rule.version, 0, now, now),
                        *(None, None, None, variant, account, 0),
                    )
                )
                actions.extend(records)
            return tuple(runs), tuple(actions)

        return _logged(
            planned_outcome(event_id, event_type, plan.matched, build, tuple(scope.warnings)),
            logging.INFO,
        )

    def _plan_steps(
        self, rule: Rule, scope: Scope, variant: str | None, now: _dt.datetime
    ) -> PlannedSteps:
        """:func:`plan_steps`, kept for rules whose plan does not depend on the event (the
        caller reads that cache first)."""
        key = id(rule)  # rules live as long as the rule set (and the engine) that holds them
        planned = plan_steps(rule, scope, self._escapes, variant=variant, now=now)
        if is_static(rule, self._window_types) and all(r.status != "failed" for r in planned[0]):
            records = tuple(
                replace(r, params=MappingProxyType(dict(r.params)) if r.params else r.params)
                for r in planned[0]
            )
            planned = self._static_plans[key] = (records, planned[1], planned[2])
        return planned

    def handle(self, event: Any, *, defer: bool = False) -> Outcome:
        """Cancel what the event cancels, start the runs it matches, and run their first steps.

        An event id handled before returns ``duplicate=True`` and does nothing else. With
        ``defer=True`` the cancels and the new runs are stored in one transaction and no step
        runs: the runs are due at once, for a worker's :meth:`run_due` (a webhook endpoint
        answers in milliseconds whatever its steps do). Conditions that read a lookup still
        fetch it here, to decide which rules match.
        """
        if self._keeps_text:  # a SQL store keeps the event's JSON: encoded once, here
            event, event_body = check_event_text(event)
        else:
            event, event_body = check_event(event), None
        event_id, event_type = event["id"], event["type"]
        if self._store.has_event(event_id):
            return Outcome(event_id=event_id, event_type=event_type, duplicate=True)
        with clock_scope(self._clock):
            now = self._clock()
            scope = self._scope(event, now, live=True)
            plan = plan_event(self.rules, event, scope)
            warnings = scope.warnings
            starts = plan.starts
            lease_until = now + self._lease
            # One read of the system's random source for all the event's runs, and each run
            # made as the store starts it (leased: epoch 1), so that it need not copy it.
            ids = os.urandom(16 * len(starts)).hex()
            epoch, account = 0 if defer else 1, _account(event)
            new_runs = tuple(
                self._new_run(start, event, now, f"run_{ids[32 * n : 32 * n + 32]}", epoch, account)
                for n, start in enumerate(starts)
            )
            result = self._store.ingest(
                Ingest(
                    event_id=event_id,
                    event_type=event_type,
                    created=int64(plan.created),
                    received_at=now,
                    cancels=tuple((rule.name, key) for rule, key in plan.cancels),
                    cancel_reason=f"cancelled by {event_type} ({event_id})",
                    markers=tuple((rule.name, key) for rule, key in plan.cancels),
                    runs=new_runs,
                    rule_versions={rule.version: rule.definition for rule, _ in starts},
                    owner=self._owner,
                    lease_until=None if defer else lease_until,
                    event=event,
                    event_body=event_body,
                )
            )
            if result.duplicate:
                return Outcome(event_id=event_id, event_type=event_type, duplicate=True)
            for old in result.superseded:
                warnings.append(
                    f"rule {old.rule!r}: key {old.key!r} was already settled by a later event; "
                    "no run started"
                )
            for skipped in result.skipped:
                warnings.append(
                    f"rule {skipped.rule!r} already has a live run for key {skipped.key!r}; "
                    "no second run started"
                )
            runs: list[Run] = list(result.cancelled)
            actions: list[ActionRecord] = []
            rules_by_name = {rule.name: rule for rule, _ in starts}
            for run in result.started:
                if defer:
                    runs.append(run)
                    continue
                done = self._advance(run, rules_by_name[run.rule], scope, now)
                runs.append(done.run)
                actions.extend(done.actions)
                warnings.extend(done.warnings)
        return _logged(
            Outcome(
                event_id=event_id,
                event_type=event_type,
                matched=plan.matched,
                runs=tuple(runs),
                actions=tuple(actions),
                warnings=tuple(warnings),
            )
        )

    @staticmethod
    def _new_run(
        start: RunPlan,
        event: Mapping[str, Any],
        now: _dt.datetime,
        run_id: str,
        epoch: int,
        account: str | None,
    ) -> Run:
        rule, key = start
        event_id = event["id"]
        return new_run(
            *(run_id, rule.name, key, "waiting", now, (), event_id),
            *(event["type"], event, rule.version, 0, now, now, now, None, None),
            None if rule.split is None else _variant(rule, key, event_id),
            account,
            epoch,
        )

    # -- carrying runs on ---------------------------------------------------------------------

    def _advance(self, run: Run, rule: Rule, scope: Scope, now: _dt.datetime) -> Advance:
        """Carry one run on; whatever goes wrong with it stays with it (see :meth:`_fail`)."""
        try:
            done = self._executor.advance(run, rule, scope, now=now, lease=self._run_lease)
        except StoreError:
            raise  # the store itself failed: no other run can go on either
        except Exception as exc:  # one broken run must not stall every other run
            return self._fail(run, now, exc)
        if done.lost is not None:
            done.warnings.append(f"run {run.id}: {done.lost}")
        return done

    def _fail(self, run: Run, now: _dt.datetime, exc: Exception) -> Advance:
        """End ``run`` as failed with the reason, when carrying it on raised."""
        reason = self._redact(f"the run could not go on: {type(exc).__name__}: {exc}")
        log.error("run %s: %s", run.id, reason, exc_info=exc)
        failed = replace(run, status="failed", next_at=None, reason=reason, updated_at=now)
        try:
            self._store.save(failed, owner=self._owner, lease_until=None)
        except LeaseLostError as lost:
            return Advance(lost.run or run, warnings=[f"run {run.id}: {reason}; {lost}"])
        return Advance(failed, warnings=[f"run {run.id}: {reason}"])

    def _rule_for(self, run: Run) -> Rule | None:
        """The version of the rule the run started with; None when the rule was removed."""
        current = self.rules.rule(run.rule)
        if current is None:
            return None
        if current.version == run.rule_version or not run.rule_version:
            return current
        old = self._old_rules.get(run.rule_version)
        if old is None:
            definition = self._store.rule_definition(run.rule_version)
            if definition is None:
                log.warning("run %s: rule version %s is not stored", run.id, run.rule_version)
                return current
            old = self._old_rules[run.rule_version] = compile_stored_rule(definition)
        return old

    def _end(self, run: Run, now: _dt.datetime, **changes: Any) -> Outcome:
        """Save ``run`` with ``changes`` (ended, unless they say otherwise), released, as an
        outcome."""
        done = replace(run, **{"next_at": None, "updated_at": now, **changes})
        try:
            self._store.save(done, owner=self._owner, lease_until=None)
        except LeaseLostError as lost:
            return _outcome(run, [lost.run or run], [], [f"run {run.id}: {lost}"])
        return _outcome(run, [done], [], [])

    def _continue(self, run: Run, now: _dt.datetime) -> Outcome:
        """Carry on a claimed run (leased to this worker)."""
        try:
            rule = self._rule_for(run)
        except StoreError:
            raise
        except Exception as exc:  # a stored rule version that no longer compiles
            failed = self._fail(run, now, exc)
            return _outcome(run, [failed.run], [], failed.warnings)
        if rule is None:
            return self._end(run, now, status="cancelled", reason=f"rule {run.rule!r} was removed")
        scope = self._scope(run.event, now, live=True)
        if run.status == "awaiting_approval":
            approval = dict(run.approval or {})
            approval.update(timed_out=True, answered_at=now.isoformat())
            run = answer_step(run, approval, {"timed_out": True, "answered_at": now.isoformat()})
            if approval.get("on_timeout") != "continue":
                return self._end(
                    run,
                    now,
                    status="cancelled",
                    approval=approval,
                    reason=f"approval timed out after {approval.get('timeout')}",
                )
            run = replace(run, status="waiting", approval=approval, due_at=run.next_at)
        advanced = self._advance(run, rule, scope, now)
        return _outcome(run, [advanced.run], advanced.actions, scope.warnings + advanced.warnings)

    def run_due(
        self, now: _dt.datetime | None = None, *, stop: Callable[[], bool] | None = None
    ) -> list[Outcome]:
        """Resume every run whose wait is over at ``now``; go on until nothing is due, or until
        ``stop()`` is true (asked before each run: a worker stopping on SIGTERM finishes the
        run it holds and claims no other).

        Runs are claimed one at a time, each under a lease of its own that is counted from the
        claim (not from this call) and renewed while a step runs. A run that cannot go on fails
        alone, with its reason; the others go on.
        """
        outcomes = []
        seen: dict[str, int] = {}
        with clock_scope(self._clock):
            moment = now or self._clock()
            while stop is None or not stop():
                clock_now = self._clock()
                claimed = self._store.claim_due(
                    moment,
                    owner=self._owner,
                    lease_until=clock_now + self._lease,
                    limit=1,
                    lease_now=max(clock_now, moment),
                )
                if not claimed:
                    break
                run = claimed[0]
                seen[run.id] = seen.get(run.id, 0) + 1
                if seen[run.id] > _MAX_PASSES:  # it keeps falling due at once: stop it
                    error = RuntimeError(f"the run fell due {_MAX_PASSES} times in one pass")
                    failed = self._fail(run, moment, error)
                    outcomes.append(_logged(_outcome(run, [failed.run], [], failed.warnings)))
                    continue
                outcomes.append(_logged(self._continue(run, moment)))
        return outcomes

    def resume(
        self,
        run_id: str,
        approved: bool = True,
        by: str | None = None,
        *,
        step: int | None = None,
        nonce: str | None = None,
        defer: bool = False,
    ) -> Outcome:
        """Answer a run's approval: continue it, or (``approved=False``) cancel it.

        With ``defer=True`` the answer is recorded and the run made due at once, for a
        worker's :meth:`run_due` to carry on (Slack wants its request answered in 3 s).

        ``step`` and ``nonce`` name the approval the answer is for (Slack buttons carry both;
        see :attr:`ActionContext.approval_nonce`): an answer to an approval that is no longer
        the pending one changes nothing. Raises :class:`RunNotFoundError` for an unknown run
        and :class:`ApprovalNotPendingError`, with the reason, when the run does not wait for
        this approval: already answered, past its timeout, or no longer waiting.
        """
        with clock_scope(self._clock):
            now = self._clock()
            run = self._store.claim(
                run_id,
                owner=self._owner,
                now=now,
                lease_until=now + self._lease,
                statuses=("awaiting_approval",),
            )
            if run is None:
                existing = self._store.get(run_id)
                if existing is None:
                    raise RunNotFoundError(run_id)
                raise not_pending(existing, step, now)
            approval = dict(run.approval or {})
            refused = refusal(run, approval, step, nonce, now)
            if refused is not None:
                self._store.save(run, owner=self._owner, lease_until=None)  # changes nothing
                raise ApprovalNotPendingError(
                    f"run {run_id}: {refused}; nothing done", run_id=run_id, reason=refused
                )
            answer = {"approved": approved, "by": by, "answered_at": now.isoformat()}
            approval.update(answer)
            run = answer_step(run, approval, answer)
            if not approved:
                return self._end(
                    run,
                    now,
                    status="cancelled",
                    approval=approval,
                    reason=f"approval rejected by {by or 'someone'}",
                )
            run = replace(run, status="waiting", approval=approval, due_at=now)
            if defer:
                return self._end(run, now, next_at=now)
            return _logged(self._continue(run, now))

    def wait_for_work(self, timeout: float) -> None:
        """Sleep until work may be there, at most ``timeout`` seconds: on PostgreSQL, until a
        deferred run is stored (LISTEN/NOTIFY) or the next run falls due; elsewhere, until
        the next run falls due. For a worker loop: ``while True: engine.run_due();
        engine.wait_for_work(30)``."""
        now = self._clock()
        due = self._store.next_due()
        if due is not None:
            timeout = min(timeout, max((due - now).total_seconds(), 0.0))
        if timeout > 0:
            self._store.wait_for_work(timeout)

    def runs(
        self,
        key: str | None = None,
        status: str | None = None,
        *,
        rule: str | None = None,
        account: str | None = None,
    ) -> list[Run]:
        """Run history, newest first; ``account`` keeps the runs of one connected account's
        events (Stripe Connect)."""
        found = self._store.list_runs(key=key, status=status, rule=rule)
        if account is None:
            return found
        return [run for run in found if run.account == account]

    def handle_slack_interaction(
        self, body: bytes | str, headers: Mapping[str, str], signing_secret: str
    ) -> Outcome:
        """Verify a Slack interaction request and answer the approval its button names.

        The answer is recorded and the run made due (a worker's :meth:`run_due` carries it
        on), so the endpoint answers within Slack's 3 seconds; the approval message is then
        updated to say who answered and when, its buttons gone. Raises
        :class:`SignatureError` (answer 400), :class:`InteractionError` (a signed request that
        is not one of our buttons: answer 200), :class:`RunNotFoundError` (404) and
        :class:`ApprovalNotPendingError` (answer 200: the person who clicked is told why).
        """
        from ._slack import parse_interaction

        answer = parse_interaction(body, headers, signing_secret, now=self._clock())
        adapter = self._adapters.get("approval")
        try:
            outcome = self.resume(
                answer.run_id,
                approved=answer.approved,
                by=answer.user,
                step=answer.step,
                nonce=answer.nonce,
                defer=True,
            )
        except ApprovalNotPendingError as exc:
            notify = getattr(adapter, "refused", None)
            if callable(notify):
                where = {"channel": answer.channel, "ts": answer.message_ts}
                self._quietly(notify, where, answer.user, exc.reason)
            raise
        run = outcome.runs[0] if outcome.runs else None
        record = run.record(answer.step) if run is not None else None
        update = getattr(adapter, "answered", None)
        if callable(update) and record is not None and record.output is not None:
            request = {"params": record.params, "output": record.output}
            problem = self._quietly(update, request, record.output)
            if problem is not None:
                outcome = replace(outcome, warnings=(*outcome.warnings, problem))
        return outcome

    def _quietly(self, call: Callable[..., Any], *args: Any) -> str | None:
        """``call(*args)``; a failure is logged and returned as a warning, never raised: the
        answer is recorded whether or not Slack's message could be updated."""
        try:
            call(*args)
        except Exception as exc:
            problem = self._redact(f"could not update the approval message: {exc}")
            log.warning("%s", problem)
            return problem
        return None

    def close(self) -> None:
        self._heartbeat.close()
        self._store.close()


def _logged(outcome: Outcome, level: int = logging.WARNING) -> Outcome:
    """``outcome``, its warnings logged (simulate's at INFO), each with the event id and, when
    the outcome is about one run, its rule and id as the record's ``event_id``, ``rule`` and
    ``run_id`` extras."""
    if outcome.warnings and log.isEnabledFor(level):
        run = outcome.runs[0] if len(outcome.runs) == 1 else None
        extra = {
            "event_id": outcome.event_id,
            "rule": run.rule if run is not None else None,
            "run_id": run.id if run is not None else None,
        }
        for warning in outcome.warnings:
            log.log(level, "event %s: %s", outcome.event_id, warning, extra=extra)
    return outcome


def _outcome(
    run: Run, runs: list[Run], actions: list[ActionRecord], warnings: list[str]
) -> Outcome:
    return Outcome(
        event_id=run.event_id,
        event_type=run.event_type,
        matched=(),
        runs=tuple(runs),
        actions=tuple(actions),
        warnings=tuple(warnings),
    )
