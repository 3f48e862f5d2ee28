"""Deciding, apart from doing: an event and a rule set in, an :class:`EventPlan` out.

:func:`plan_event` evaluates conditions and keys; it calls no adapter and touches no store.
The executor carries the plan out; ``Engine.simulate`` shows it, with :func:`plan_steps`
rendering every step of a run without running any.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, NamedTuple

from .._event import THIN_EVENT, wire_event, wire_event_text
from ..errors import EventError
from ..outcome import ActionRecord
from ._delivery import (
    CONTROL_TYPES,
    effective_window,
    localised_params,
    preferred_for,
    runs_in_variant,
    window_opening,
)
from .expressions import Escape, Expression, empty_warning, is_true
from .functions import locale_scope
from .model import LookupSpec, Rule, RuleSet, parse_duration

__all__ = [
    "EventPlan",
    "RunPlan",
    "Scope",
    "check_event",
    "check_event_text",
    "key_text",
    "plan_event",
    "plan_steps",
]

log = logging.getLogger(__name__)

Fetch = Callable[[LookupSpec, dict[str, Any]], Any]


def check_event(given: Any, fits: Callable[[Any], bool] | None = None) -> dict[str, Any]:
    """The event in its JSON wire form (a new dict: the caller's is never changed);
    :class:`EventError` unless it is a Stripe event that every store can hold.

    A ``stripe.Event``, a dict subclass or a dict give the same plain value (see
    :func:`dunning_rules._event.wire_event`). With ``fits`` (a check of what a rule set reads,
    :meth:`._reads.Reads.checker`), a dict whose read parts are already in wire form is taken
    as it is, and only those parts are checked.
    """
    wire = fits is not None and type(given) is dict and fits(given)
    event = given if wire else wire_event(given)
    _check_fields(event)
    return event


def check_event_text(given: Any) -> tuple[dict[str, Any], str]:
    """:func:`check_event`, and the event's JSON text, encoded once for the store."""
    event, text = wire_event_text(given)
    _check_fields(event)
    return event, text


def _check_fields(event: dict[str, Any]) -> None:
    if not isinstance(event.get("id"), str):
        raise EventError("a Stripe event needs a string 'id'")
    if not isinstance(event.get("type"), str):
        raise EventError(f"event {event['id']!r} needs a string 'type'")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        if event.get("object") == "v2.core.event" or "related_object" in event:
            raise EventError(f"event {event['id']!r}: {THIN_EVENT}")
        raise EventError(f"event {event['id']!r} needs a mapping 'data.object'")


def key_text(value: Any) -> str | None:
    """A correlation key as stored: strings as they are, null as None, the rest compact JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


class Scope:
    """The expression root for one event: the event plus ``settings``, ``vars`` and ``steps``.

    Lookups are fetched lazily, at most once per event, and only when an expression that is
    evaluated reads them: ``vars`` fetches a lookup the first time a path reaches it, so
    ``any``, ``all``, ``||`` and ``&&`` decide from what they have first (a rule on "a big
    invoice or a big customer" pages through the customer's invoices only when the invoice
    alone does not decide). An expression that may read any lookup (``vars.*``) fetches them
    all first. With ``fetch=None`` (simulate) they are null.
    """

    def __init__(
        self,
        event: Mapping[str, Any],
        settings: Mapping[str, Any],
        lookups: Mapping[str, LookupSpec],
        fetch: Fetch | None,
        warnings: list[str],
    ) -> None:
        self.event = event
        self.settings = settings
        self.vars: dict[str, Any] = _Vars(self)
        self._lookups = lookups
        self._fetch = fetch
        self.warnings = warnings
        self._base = {**event, "settings": settings, "vars": self.vars, "steps": {}}
        self._preferred: tuple[str, ...] | None = None

    def root(self, steps: Mapping[str, Any] | None = None) -> dict[str, Any]:
        if not steps:
            return self._base
        return {**self._base, "steps": steps}

    def need(self, names: frozenset[str] | None) -> None:
        """Before an expression runs: with ``names`` None (it may read any lookup, through
        ``vars.*`` or ``keys(vars)``), fetch every lookup not fetched yet; named lookups are
        fetched when the expression reaches them."""
        if names is not None:
            return
        for name in self._lookups:
            self.fetched(name)

    def fetched(self, name: str) -> Any:
        """The value of lookup ``name``, fetched on first use (KeyError: no such lookup)."""
        if dict.__contains__(self.vars, name):
            return dict.__getitem__(self.vars, name)
        spec = self._lookups[name]
        value = self._resolve(spec)
        dict.__setitem__(self.vars, name, value)
        return value

    def _resolve(self, spec: LookupSpec) -> Any:
        if self._fetch is None:
            return None
        try:
            args = {arg: expression.search(self._base) for arg, expression in spec.args.items()}
            return self._fetch(spec, args)
        except Exception as exc:
            message = f"lookup {spec.name!r} ({spec.type}) failed, so it is null: {exc}"
            log.warning(message)
            self.warnings.append(message)
            return None

    def value(self, expression: Expression, root: Mapping[str, Any], what: str) -> Any:
        """An expression's value; an error is null plus a warning."""
        self.need(expression.lookups)
        try:
            return expression.search(root)
        except Exception as exc:
            self.warnings.append(f"{what}: {expression.source!r} failed, so it is null: {exc}")
            return None

    def preferred_locales(self) -> tuple[str, ...]:
        """The customer's preferred locales (see :func:`~._delivery.preferred_for`): a
        ``stripe.customer`` lookup is fetched for them the first time a step asks."""
        if self._preferred is None:
            names = [n for n, spec in self._lookups.items() if spec.type == "stripe.customer"]
            self._preferred = preferred_for(self._base, names, self.fetched)
        return self._preferred

    def condition_failed(self, what: str, exc: Exception) -> None:
        """A condition that raised is false; the outcome says why."""
        self.warnings.append(f"{what}: condition failed, so it is false: {exc}")

    def test(self, expression: Expression, root: Mapping[str, Any], what: str) -> bool:
        """A condition: JMESPath truthiness; an error is false plus a warning."""
        self.need(expression.lookups)
        try:
            return is_true(expression.search(root))
        except Exception as exc:
            self.condition_failed(what, exc)
            return False


class _Vars(dict[str, Any]):
    """``vars``: a lookup is fetched the first time an expression reads it."""

    __slots__ = ("_scope",)

    def __init__(self, scope: Scope) -> None:  # empty, as a new dict is
        self._scope = scope

    def __missing__(self, name: str) -> Any:
        return self._scope.fetched(name)

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default


RunPlan = tuple[Rule, "str | None"]
"""A rule that matched, and the correlation key of the run it starts."""


_event_plan = tuple.__new__  # a NamedTuple without its Python-level __new__
_UNTESTED = object()  # a rule outside the batch: its condition is tested in order


class EventPlan(NamedTuple):
    """What an event does: runs to cancel (before matching), and runs to start."""

    event_id: str
    event_type: str
    created: int | None
    cancels: tuple[tuple[Rule, str], ...]
    starts: tuple[RunPlan, ...]
    matched: tuple[str, ...]
    warnings: tuple[str, ...]


def _key(rule: Rule, root: Mapping[str, Any], warnings: list[str]) -> str | None:
    try:
        value = key_text(rule.key.search(root))
    except Exception as exc:
        warnings.append(f"rule {rule.name!r}: key {rule.key.source!r} failed: {exc}")
        return None
    if value is None:
        warnings.append(
            f"rule {rule.name!r}: key {rule.key.source!r} is null for this event, "
            "so its run cannot be cancelled or de-duplicated"
        )
    return value


def plan_event(rules: RuleSet, event: Mapping[str, Any], scope: Scope) -> EventPlan:
    """Evaluate ``cancel_on`` keys, then conditions in priority order, honouring ``stop``."""
    event_type: str = event["type"]
    root = scope.root()
    cancels: list[tuple[Rule, str]] = []
    for rule in rules.cancelled_by(event_type):
        scope.need(rule.key.lookups)
        try:
            key = key_text(rule.key.search(root))
        except Exception as exc:
            scope.warnings.append(f"rule {rule.name!r}: cancel key failed: {exc}")
            continue
        if key is not None:
            cancels.append((rule, key))
    starts: list[RunPlan] = []
    candidates = rules.for_type(event_type)
    batch = rules.batch_for(event_type)
    # (rule index, value) for the conditions that hold or failed, in priority order; the
    # others are false (rules without a batch slot are tested one by one, in order)
    order: Sequence[tuple[int, Any]]
    if batch.one_by_one:
        held = dict(batch.run(root)) if batch.run is not None else {}
        slots = batch.slots
        order = [(i, held.get(slots[i], _UNTESTED)) for i in range(len(candidates))]
    else:
        rule_of = batch.rule_of
        pairs = batch.run(root) if batch.run is not None else []
        if batch.one_key and all(value is True for _, value in pairs):
            # Every rule keys by the same expression and none stops (the usual rule file):
            # with a key, each matching rule starts a run for it
            matching = [rule_of[slot] for slot, _ in pairs]
            if batch.always:
                matching = sorted((*matching, *batch.always))
            if not matching:
                return _planned_event(event, event_type, cancels, starts, scope)
            try:
                key = key_text(candidates[matching[0]].key.search(root))
            except Exception:
                key = None  # each rule's own warning, below
            if key is not None:
                starts = [(candidates[index], key) for index in matching]
                return _planned_event(event, event_type, cancels, starts, scope)
        order = [(rule_of[slot], value) for slot, value in pairs]
        if batch.always:
            order = sorted([*order, *((index, True) for index in batch.always)])
    keys: dict[str, str] = {}  # rules that share a key expression evaluate it once
    for index, value in order:
        rule = candidates[index]
        if value is _UNTESTED:
            if batch.slots[index] >= 0:
                continue  # in the batch, and false
            if rule.when is not None and not scope.test(
                rule.when.expression, root, f"rule {rule.name!r}"
            ):
                continue
        elif value is not True and isinstance(value, Exception):
            scope.condition_failed(f"rule {rule.name!r}", value)
            continue
        source = rule.key.source
        key = keys.get(source)
        if key is None:
            if rule.key.lookups != frozenset():  # None: it may read any lookup
                scope.need(rule.key.lookups)
            key = _key(rule, root, scope.warnings)
            if key is not None:
                keys[source] = key
        starts.append((rule, key))
        if rule.stop:
            break
    return _planned_event(event, event_type, cancels, starts, scope)


def _planned_event(
    event: Mapping[str, Any],
    event_type: str,
    cancels: list[tuple[Rule, str]],
    starts: list[RunPlan],
    scope: Scope,
) -> EventPlan:
    created = event.get("created")
    return _event_plan(
        EventPlan,
        (
            event["id"],
            event_type,
            created if isinstance(created, int) and not isinstance(created, bool) else None,
            tuple(cancels),
            tuple(starts),
            tuple([rule.name for rule, _ in starts]),
            tuple(scope.warnings),
        ),
    )


def is_static(rule: Rule, window_types: frozenset[str] = frozenset()) -> bool:
    """True when every event plans the same steps for ``rule``: no ``when``, no placeholder,
    no text by locale, no variants, and no step that may wait for a send window (its own, or
    its type's: ``window_types``)."""
    return rule.split is None and all(
        a.when is None
        and a.params.static
        and not a.localised
        and a.send_window is None
        and a.type not in window_types
        for a in rule.actions
    )


def plan_steps(
    rule: Rule,
    scope: Scope,
    escapes: Mapping[str, Mapping[str, Escape]] | None = None,
    *,
    variant: str | None = None,
    now: _dt.datetime | None = None,
) -> tuple[tuple[ActionRecord, ...], str, _dt.timedelta | None]:
    """Every step of a run, rendered as ``handle`` renders it (with each step type's
    ``escapes``) and marked ``planned`` (or ``skipped``), none run.

    Outputs of steps are null. A ``when`` or ``guard`` that reads ``steps`` cannot be decided
    before the run, so its step stays ``planned``. A step whose parameters cannot be rendered
    is ``failed``, with the error, as ``handle`` would record it: before the run's first pause
    the run ends ``failed`` there (unless the step has ``on_error: continue``); after it, the
    run would fail when it gets there, and the scope gets a warning. A step that is not for
    the run's ``variant`` (a holdout's messages) is ``skipped``. With ``now``, a step that
    has a send window gets ``started_at``: when it would go out, after the waits before it
    (none is known past an approval); a window that is shut at the start is the run's first
    pause. Returns the records, the status the run would have after its first pause, and how
    long after the start that pause ends.
    """
    outputs = {a.id: None for a in rule.actions if a.id is not None}
    root = scope.root(outputs)
    records = []
    status: str = "completed"
    delay: _dt.timedelta | None = None
    due = now  # when the step falls due: the start, then past each wait (None: unknown)
    for action in rule.actions:
        what = f"rule {rule.name!r} step {action.index} ({action.type})"
        decided = action.when is not None and not action.when.expression.reads_steps
        passed = True
        if decided and action.when is not None:
            passed = scope.test(action.when.expression, root, what)
        if action.type != "guard" and not passed:
            records.append(_planned(rule, action.index, action.id, action.type, "skipped"))
            continue
        if not runs_in_variant(action.type, action.variants, variant, rule.split):
            records.append(_planned(rule, action.index, action.id, action.type, "skipped"))
            continue
        goes_at = None
        window = (
            effective_window(action.type, action.send_window, scope.settings)
            if action.type not in CONTROL_TYPES
            else None
        )
        if window is not None and due is not None:
            search = functools.partial(scope.value, root=root, what=what)
            goes_at, _ = window_opening(window, root, due, search=search)
            if status == "completed" and now is not None and goes_at > now:
                delay, status = goes_at - now, "waiting"
        error = None
        params: dict[str, Any] | None = None
        scope.need(action.params.lookups)
        empty: list[tuple[str, Expression]] = []
        try:
            tree, locale = localised_params(
                action.params, action.localised, scope.preferred_locales
            )
            with locale_scope(locale):
                params = tree.render(root, (escapes or {}).get(action.type), empty)
            scope.warnings.extend(  # outputs of steps are null here: not a mistake
                empty_warning(what, param, expression)
                for param, expression in empty
                if not expression.reads_steps
            )
            if action.type == "wait":
                wait = parse_duration(params.get("duration", ""))
        except Exception as exc:
            error = str(exc)
        if error is not None:
            records.append(
                _planned(rule, action.index, action.id, action.type, "failed", params, error)
            )
            scope.warnings.append(f"{what} would fail: {error}")
            if action.on_error == "continue":
                continue
            if status == "completed":
                status = "failed"
            break
        record = _planned(rule, action.index, action.id, action.type, "planned", params)
        records.append(replace(record, started_at=goes_at) if goes_at is not None else record)
        if action.type == "guard" and not passed:
            break
        if action.type == "wait" and due is not None:
            due = due + wait
        elif action.type == "approval":
            due = None
        if status == "completed":
            if action.type == "wait":
                delay, status = wait, "waiting"
            elif action.type == "approval":
                status = "awaiting_approval"
    return tuple(records), status, delay


def _planned(
    rule: Rule,
    index: int,
    step_id: str | None,
    kind: str,
    status: str,
    params: Mapping[str, Any] | None = None,
    error: str | None = None,
) -> ActionRecord:
    return ActionRecord(
        rule=rule.name,
        index=index,
        id=step_id,
        type=kind,
        status=status,
        params=params,
        error=error,
    )
