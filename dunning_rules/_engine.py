"""``Engine``: the public face that ties rules, adapters, the store and the clock together."""

from __future__ import annotations

import datetime as _dt
import difflib
import logging
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from .actions import registry
from .actions.base import LookupContext
from .errors import Location, Problem, RuleFileError, StoreError
from .outcome import ActionRecord, Outcome, Run, new_outcome, new_run
from .rules._schema_errors import missing_keys, unknown_keys
from .rules.engine import RunPlan, Scope, check_event, is_static, plan_event, plan_steps
from .rules.executor import Advance, Executor
from .rules.functions import clock_scope
from .rules.loader import compile_stored_rule
from .rules.model import LookupSpec, Rule, RuleSet
from .store.base import Ingest, LeaseLostError, RunStore, open_store

__all__ = ["Engine"]

log = logging.getLogger(__name__)

Clock = Callable[[], _dt.datetime]
_DEFAULT_LEASE = _dt.timedelta(minutes=5)


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
        self._adapters = self._resolve_adapters(rules, dict(adapters or {}))
        self._lookup_fns = self._resolve_lookups(rules, dict(lookups or {}))
        self._executor = Executor(adapters=self._adapters, stripe_client=stripe_client)
        self._store = open_store(store)
        self._old_rules: dict[str, Rule] = {}
        self._static_plans: dict[
            int, tuple[tuple[ActionRecord, ...], str, _dt.timedelta | None]
        ] = {}

    # -- building ---------------------------------------------------------------------------

    @staticmethod
    def _resolve_adapters(rules: RuleSet, given: dict[str, Any]) -> dict[str, Any]:
        problems: list[Problem] = []
        resolved: dict[str, Any] = {}
        for name, adapter in given.items():
            registry.check_adapter(name, adapter, "Engine(adapters=...)")
        for rule in rules:
            for action in rule.actions:
                adapter = resolved.get(action.type)
                if adapter is None and action.type not in resolved:
                    adapter = given.get(action.type)
                    if adapter is None:
                        adapter = registry.load(action.type)
                    resolved[action.type] = adapter
                if adapter is None:
                    known = sorted(set(registry.available()) | set(given))
                    near = difflib.get_close_matches(action.type, known, n=1)
                    hint = f" (did you mean {near[0]!r}?)" if near else ""
                    problems.append(
                        Problem(
                            location=action.type_location or action.location,
                            json_path=f"{action.json_path}.type",
                            rule=rule.name,
                            message=f"no adapter for step type {action.type!r}{hint}; "
                            f"known types: {', '.join(known)}",
                        )
                    )
                    continue
                problems.extend(_check_params(rule, action, adapter))
        if problems:
            raise RuleFileError(problems)
        return {k: v for k, v in resolved.items() if v is not None}

    @staticmethod
    def _resolve_lookups(
        rules: RuleSet, given: dict[str, Callable[..., Any]]
    ) -> dict[str, Callable[..., Any]]:
        problems = []
        found: dict[str, Callable[..., Any]] = {}
        for spec in rules.lookups.values():
            function = given.get(spec.type) or registry.load(spec.type, registry.LOOKUPS_GROUP)
            if function is None:
                known = sorted(set(registry.available(registry.LOOKUPS_GROUP)) | set(given))
                problems.append(
                    Problem(
                        location=spec.location,
                        json_path=f"$.lookups.{spec.name}.type",
                        message=f"no lookup of type {spec.type!r}; known types: {', '.join(known)}",
                    )
                )
                continue
            found[spec.type] = function
        if problems:
            raise RuleFileError(problems)
        return found

    # -- events -----------------------------------------------------------------------------

    def _scope(self, event: Mapping[str, Any], now: _dt.datetime, live: bool) -> Scope:
        fetch = None
        if live:

            def fetch(spec: LookupSpec, args: dict[str, Any]) -> Any:
                ctx = LookupContext(
                    event=event, name=spec.name, stripe_client=self._stripe_client, now=now
                )
                return self._lookup_fns[spec.type](args, ctx)

        return Scope(event, self.rules.settings, self.rules.lookups, fetch, [])

    def simulate(self, event: Any) -> Outcome:
        """The same Outcome as :meth:`handle` would plan, with no side effects.

        Every step of each matching run is planned, past waits and approvals, with the outputs
        of steps it does not run as null; no adapter runs, no lookup is fetched, nothing is
        stored or read from the store.
        """
        event = check_event(event)
        with clock_scope(self._clock):
            now = self._clock()
            scope = self._scope(event, now, live=False)
            plan = plan_event(self.rules, event, scope)
            runs: list[Run] = []
            actions: list[ActionRecord] = []
            event_id, event_type = plan.event_id, plan.event_type
            static_plans = self._static_plans
            for number, (rule, key) in enumerate(plan.starts, 1):
                planned = static_plans.get(id(rule)) or self._plan_steps(rule, scope)
                records, status, delay = planned
                next_at = now + delay if delay is not None else None
                runs.append(
                    new_run(
                        f"simulated-{number}",
                        rule.name,
                        key,
                        status,
                        next_at,
                        records,
                        event_id,
                        event_type,
                        {},
                        rule.version,
                        0,
                        now,
                        now,
                        None,
                        None,
                        None,
                    )
                )
                actions.extend(records)
        return new_outcome(
            plan.event_id,
            plan.event_type,
            False,
            plan.matched,
            tuple(runs),
            tuple(actions),
            tuple(scope.warnings),
        )

    def _plan_steps(
        self, rule: Rule, scope: Scope
    ) -> tuple[tuple[ActionRecord, ...], str, _dt.timedelta | None]:
        """:func:`plan_steps`, kept for rules whose plan does not depend on the event (the
        caller reads that cache first)."""
        key = id(rule)  # rules live as long as the rule set (and the engine) that holds them
        planned = plan_steps(rule, scope)
        if is_static(rule):
            records = tuple(
                replace(r, params=MappingProxyType(dict(r.params)) if r.params else r.params)
                for r in planned[0]
            )
            planned = self._static_plans[key] = (records, planned[1], planned[2])
        return planned

    def handle(self, event: Any) -> Outcome:
        """Cancel what the event cancels, start the runs it matches, and run their first steps.

        An event id handled before returns ``duplicate=True`` and does nothing else.
        """
        event = check_event(event)
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
            new_runs = tuple(self._new_run(start, event, now) for start in starts)
            result = self._store.ingest(
                Ingest(
                    event_id=event_id,
                    event_type=event_type,
                    created=plan.created,
                    received_at=now,
                    cancels=tuple((rule.name, key) for rule, key in plan.cancels),
                    cancel_reason=f"cancelled by {event_type} ({event_id})",
                    markers=tuple((rule.name, key) for rule, key in plan.cancels),
                    runs=new_runs,
                    rule_versions={s.rule.version: s.rule.definition for s in starts},
                    owner=self._owner,
                    lease_until=lease_until,
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
            rules_by_name = {s.rule.name: s.rule for s in starts}
            for run in result.started:
                done = self._advance(run, rules_by_name[run.rule], scope, now)
                runs.append(done.run)
                actions.extend(done.actions)
                warnings.extend(done.warnings)
        return Outcome(
            event_id=event_id,
            event_type=event_type,
            matched=plan.matched,
            runs=tuple(runs),
            actions=tuple(actions),
            warnings=tuple(warnings),
        )

    @staticmethod
    def _new_run(start: RunPlan, event: Mapping[str, Any], now: _dt.datetime) -> Run:
        return Run(
            id=f"run_{uuid.uuid4().hex}",
            rule=start.rule.name,
            key=start.key,
            status="waiting",
            next_at=now,
            event_id=event["id"],
            event_type=event["type"],
            event=dict(event),
            rule_version=start.rule.version,
            due_at=now,
            created_at=now,
            updated_at=now,
        )

    # -- carrying runs on ---------------------------------------------------------------------

    def _advance(self, run: Run, rule: Rule, scope: Scope, now: _dt.datetime) -> Advance:
        lease = self._lease

        def save(updated: Run, release: bool) -> None:
            until = None if release else self._clock() + lease
            self._store.save(updated, owner=self._owner, lease_until=until)

        try:
            return self._executor.advance(run, rule, scope, now=now, save=save)
        except LeaseLostError as exc:
            log.warning("stopped working on run %s: %s", run.id, exc)
            return Advance(run, warnings=[f"run {run.id}: {exc}"])

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

    def _continue(self, run: Run, now: _dt.datetime) -> Outcome:
        """Carry on a claimed run (leased to this worker)."""
        rule = self._rule_for(run)
        warnings: list[str] = []
        if rule is None:
            done = replace(
                run,
                status="cancelled",
                next_at=None,
                reason=f"rule {run.rule!r} was removed from the rule files",
                updated_at=now,
            )
            self._store.save(done, owner=self._owner, lease_until=None)
            return _outcome(run, [done], [], warnings)
        scope = self._scope(run.event, now, live=True)
        if run.status == "awaiting_approval":
            approval = dict(run.approval or {})
            approval.update(timed_out=True, answered_at=now.isoformat())
            if approval.get("on_timeout") != "continue":
                done = replace(
                    run,
                    status="cancelled",
                    next_at=None,
                    approval=approval,
                    reason=f"approval timed out after {approval.get('timeout')}",
                    updated_at=now,
                )
                self._store.save(done, owner=self._owner, lease_until=None)
                return _outcome(run, [done], [], warnings)
            run = replace(run, status="waiting", approval=approval, due_at=run.next_at)
        advanced = self._advance(run, rule, scope, now)
        return _outcome(run, [advanced.run], advanced.actions, scope.warnings + advanced.warnings)

    def run_due(self, now: _dt.datetime | None = None) -> list[Outcome]:
        """Resume every run whose wait is over at ``now``; go on until nothing is due."""
        outcomes = []
        with clock_scope(self._clock):
            moment = now or self._clock()
            while True:
                claimed = self._store.claim_due(
                    moment, owner=self._owner, lease_until=moment + self._lease, limit=100
                )
                if not claimed:
                    break
                for run in claimed:
                    outcomes.append(self._continue(run, moment))
        return outcomes

    def resume(self, run_id: str, approved: bool = True, by: str | None = None) -> Outcome:
        """Answer a run's approval: continue it, or (``approved=False``) cancel it."""
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
                    raise StoreError(f"no run {run_id!r}")
                return _outcome(
                    existing,
                    [existing],
                    [],
                    [f"run {run_id} is {existing.status}, not awaiting approval; nothing done"],
                )
            approval = dict(run.approval or {})
            approval.update(approved=approved, by=by, answered_at=now.isoformat())
            if not approved:
                done = replace(
                    run,
                    status="cancelled",
                    next_at=None,
                    approval=approval,
                    reason=f"approval rejected by {by or 'someone'}",
                    updated_at=now,
                )
                self._store.save(done, owner=self._owner, lease_until=None)
                return _outcome(run, [done], [], [])
            run = replace(run, status="waiting", approval=approval, due_at=now)
            return self._continue(run, now)

    def runs(
        self, key: str | None = None, status: str | None = None, *, rule: str | None = None
    ) -> list[Run]:
        """Run history, newest first."""
        return self._store.list_runs(key=key, status=status, rule=rule)

    def handle_slack_interaction(
        self, body: bytes | str, headers: Mapping[str, str], signing_secret: str
    ) -> Outcome:
        """Verify a Slack interaction request and answer the approval its button names."""
        from ._slack import parse_interaction

        answer = parse_interaction(body, headers, signing_secret, now=self._clock())
        return self.resume(answer.run_id, approved=answer.approved, by=answer.user)

    def close(self) -> None:
        self._store.close()


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


def _check_params(rule: Rule, action: Any, adapter: Any) -> list[Problem]:
    schema = registry.schema_of(adapter)
    if schema is None:
        return []
    from jsonschema import Draft202012Validator

    problems = []
    for error in Draft202012Validator(schema).iter_errors(dict(action.raw_params)):
        path = list(error.absolute_path)
        top = path[0] if path else None
        location: Location = action.param_locations.get(top, action.location)
        if error.validator == "required":
            missing = missing_keys(error)
            message = f"{action.type} step is missing parameter {', '.join(map(repr, missing))}"
            location = action.location
        elif error.validator == "additionalProperties":
            unknown = unknown_keys(error)
            extra = ", ".join(repr(key) for key, _ in unknown)
            hint = unknown[0][1] if unknown else ""
            message = f"{action.type} step has unknown parameter {extra}{hint}"
            if unknown:
                location = action.param_locations.get(unknown[0][0], action.location)
        else:
            message = f"{action.type} parameter: {error.message}"
        suffix = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
        problems.append(
            Problem(
                location=location,
                json_path=f"{action.json_path}{suffix}",
                rule=rule.name,
                message=message,
            )
        )
    return problems
