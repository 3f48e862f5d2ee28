"""The compiled form of rule files: an immutable :class:`RuleSet` of :class:`Rule` objects."""

from __future__ import annotations

import datetime as _dt
import fnmatch
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import Location, Problem
from ._compiler import compile_batch
from ._delivery import WindowSpec
from .expressions import Condition, Expression, ParamTree
from .functions import FUNCTIONS
from .limits import MAX_DURATION, format_duration
from .locales import localise
from .variants import Split

__all__ = [
    "COMMON_KEYS",
    "ActionSpec",
    "Batch",
    "LookupSpec",
    "RetryPolicy",
    "Rule",
    "RuleSet",
    "is_duration",
    "parse_duration",
]

COMMON_KEYS = frozenset({"type", "id", "when", "on_error", "retry", "send_window", "variant"})
"""Keys every action may have; the others are the step type's parameters."""

# Characters of a condition past which a batch calls the condition's compiled code.
_LONG_CONDITION = 2_000

_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def is_duration(text: str) -> bool:
    """True when ``text`` is written as a duration (``3d``), whatever its length."""
    return _DURATION.match(text) is not None


def parse_duration(text: str) -> _dt.timedelta:
    """``'3d'`` -> 3 days. Units: s, m, h, d, w.

    Raises ValueError for anything else, and for a duration longer than
    :data:`~dunning_rules.rules.limits.MAX_DURATION` (400 days): the engine adds durations to
    dates, and a longer one would overflow them or never come.
    """
    match = _DURATION.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"not a duration: {text!r} (use a number and s, m, h, d or w: '3d')")
    seconds = float(match.group(1)) * _UNITS[str(match.group(2))]
    if not seconds <= MAX_DURATION.total_seconds():  # also refuses inf (a 400-digit number)
        raise ValueError(
            f"{text.strip()} is longer than the longest duration allowed, "
            f"{format_duration(MAX_DURATION)}"
        )
    return _dt.timedelta(seconds=seconds)


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """``attempts`` in all; the wait before attempt n+1 is ``backoff * 2**(n-1)``, at most
    :data:`~dunning_rules.rules.limits.MAX_DURATION` (the loader refuses a policy whose last
    delay is longer, so the cap only holds for policies built by hand)."""

    attempts: int
    backoff: _dt.timedelta = _dt.timedelta(minutes=1)

    def delay(self, attempt: int) -> _dt.timedelta:
        if self.backoff <= _dt.timedelta(0):
            return _dt.timedelta(0)
        doublings = max(attempt - 1, 0)
        # Compared before multiplying: backoff * 2**70 would overflow a timedelta.
        if doublings >= 64 or (1 << doublings) > MAX_DURATION / self.backoff:
            return MAX_DURATION
        return self.backoff * (1 << doublings)


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionSpec:
    """One step of a rule."""

    index: int
    type: str
    id: str | None
    when: Condition | None
    on_error: str
    retry: RetryPolicy | None
    params: ParamTree
    location: Location
    json_path: str
    param_locations: Mapping[str, Location] = field(default_factory=dict)
    type_location: Location | None = None
    send_window: WindowSpec | None = None
    """The step's own ``send_window`` (None: its type's, from settings or the default)."""
    variants: tuple[str, ...] | None = None
    """``variant``: the variants of the rule the step runs in (None: every one but a holdout)."""
    localised: bool = False
    """Some parameter gives text by locale (``{en: ..., es: ..., default: en}``)."""

    @property
    def raw_params(self) -> Mapping[str, Any]:
        """The parameters as written, each locale-variant text as its default variant (what
        an adapter's ``params_schema`` is checked against)."""
        if self.localised:
            value, _ = localise(self.params.raw, ())
            return dict(value)
        return self.params.raw


@dataclass(frozen=True, slots=True, kw_only=True)
class LookupSpec:
    """``lookups.<name>``: a lookup type and its arguments, bare expressions."""

    name: str
    type: str
    args: Mapping[str, Expression]
    location: Location


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One rule: which events it reacts to, its condition, and its steps.

    ``version`` is a digest of the rule's definition: a run keeps following the version of the
    rule it started with, and ``definition`` is what the store keeps to rebuild it.
    """

    name: str
    on: tuple[str, ...]
    when: Condition | None
    priority: int
    stop: bool
    key: Expression
    cancel_on: tuple[str, ...]
    actions: tuple[ActionSpec, ...]
    order: int
    location: Location
    json_path: str
    version: str
    definition: Mapping[str, Any]
    split: Split | None = None
    """``variants``: how the rule's keys are split, one variant perhaps a holdout."""

    def listens_to(self, event_type: str) -> bool:
        return any(_type_matches(p, event_type) for p in self.on)

    def cancelled_by(self, event_type: str) -> bool:
        return any(_type_matches(p, event_type) for p in self.cancel_on)


def _type_matches(pattern: str, event_type: str) -> bool:
    return pattern == event_type or ("*" in pattern and fnmatch.fnmatchcase(event_type, pattern))


@dataclass(frozen=True, slots=True, kw_only=True)
class Batch:
    """``run(root)`` gives ``(slot, value)`` for each batched condition that holds, or the
    exception it raised; ``slots[i]`` is rule ``i``'s slot (-1: not batched)."""

    run: Callable[[Any], list[Any]] | None
    slots: tuple[int, ...]
    rule_of: tuple[int, ...]
    """``rule_of[slot]``: the index of the rule whose condition is at ``slot``."""
    always: tuple[int, ...]
    """Rules with no condition."""
    one_by_one: bool
    """Some condition reads a lookup: rules are then tested one by one, in order."""
    one_key: bool = False
    """Every rule has the same key expression, reading no lookup, and none ``stop``s (the usual
    rule file): every matching rule starts a run for the same key."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleSet:
    """Rules loaded from one or more files, with conditions compiled.

    Rules are indexed by event type (patterns included) on first use of each type, so rules for
    other types cost nothing.
    """

    rules: tuple[Rule, ...]
    settings: Mapping[str, Any]
    lookups: Mapping[str, LookupSpec]
    sources: tuple[str, ...]
    warnings: tuple[Problem, ...] = ()
    """What loads but is probably wrong (an unknown field, event type): see :mod:`.checks`."""
    accounts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """``accounts.<acct_id>.settings``: settings that replace ``settings``' values, key by key,
    for the events of that connected account (Stripe Connect)."""
    _by_type: dict[str, tuple[Rule, ...]] = field(default_factory=dict, repr=False)
    _cancelling: dict[str, tuple[Rule, ...]] = field(default_factory=dict, repr=False)
    _batches: dict[str, Batch] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self) -> Any:
        return iter(self.rules)

    def settings_for(self, account: Any) -> Mapping[str, Any]:
        """The settings of an event for ``account`` (its ``account``; None: the platform's)."""
        overrides = self.accounts.get(account) if isinstance(account, str) else None
        if not overrides:
            return self.settings
        return {**self.settings, **overrides}

    def rule(self, name: str) -> Rule | None:
        for rule in self.rules:
            if rule.name == name:
                return rule
        return None

    def for_type(self, event_type: str) -> tuple[Rule, ...]:
        """The rules listening to ``event_type``, highest priority first, ties in file order."""
        found = self._by_type.get(event_type)
        if found is None:
            matching = [r for r in self.rules if r.listens_to(event_type)]
            matching.sort(key=lambda r: (-r.priority, r.order))
            found = self._by_type[event_type] = tuple(matching)
        return found

    def batch_for(self, event_type: str) -> Batch:
        """The conditions of :meth:`for_type`'s rules, compiled to run together on one event.

        Only conditions that read no lookup join the batch: a lookup is fetched when a rule
        that reads it is reached, not before. Field paths several conditions read are loaded
        once per event.
        """
        found = self._batches.get(event_type)
        if found is None:
            rules = self.for_type(event_type)
            sources: list[str] = []
            compiled: list[Callable[[Any], Any] | None] = []
            slots: list[int] = []
            for rule in rules:
                if rule.when is not None and rule.when.expression.lookups == frozenset():
                    slots.append(len(sources))
                    sources.append(rule.when.source)
                    # A long condition (a list of thousands) runs its own compiled code: it
                    # gains little from the batch and would be compiled twice.
                    long = len(rule.when.source) > _LONG_CONDITION
                    compiled.append(rule.when.expression.search if long else None)
                else:
                    slots.append(-1)
            run = (
                compile_batch(sources, FUNCTIONS, select=True, compiled=compiled)
                if sources
                else None
            )
            found = self._batches[event_type] = Batch(
                run=run,
                slots=tuple(slots),
                rule_of=tuple(i for i, slot in enumerate(slots) if slot >= 0),
                always=tuple(i for i, rule in enumerate(rules) if rule.when is None),
                one_by_one=any(
                    r.when is not None and s < 0 for r, s in zip(rules, slots, strict=True)
                ),
                one_key=len({r.key.source for r in rules}) == 1
                and not any(r.stop for r in rules)
                and all(r.key.lookups == frozenset() for r in rules),
            )
        return found

    def cancelled_by(self, event_type: str) -> tuple[Rule, ...]:
        """The rules whose ``cancel_on`` names ``event_type``."""
        found = self._cancelling.get(event_type)
        if found is None:
            found = self._cancelling[event_type] = tuple(
                r for r in self.rules if r.cancelled_by(event_type)
            )
        return found
