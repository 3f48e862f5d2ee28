"""What handling an event produced: :class:`Outcome`, :class:`Run` and :class:`ActionRecord`.

These are plain frozen values. A run's whole state is a :class:`Run`: stores keep it, the
executor returns new ones with :func:`dataclasses.replace`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["LIVE_STATUSES", "RUN_STATUSES", "STEP_STATUSES", "ActionRecord", "Outcome", "Run"]

RUN_STATUSES = ("completed", "waiting", "awaiting_approval", "cancelled", "failed")
"""``waiting`` runs have a ``next_at``; ``awaiting_approval`` runs wait for ``Engine.resume``."""

LIVE_STATUSES = ("waiting", "awaiting_approval")
"""The statuses of a run that has not ended (:attr:`Run.live`)."""

STEP_STATUSES = ("ok", "skipped", "failed", "planned")
"""``planned`` only in ``simulate``. A step cut off by a crash has no record yet: the run's
cursor still points at it, so it runs again, with the same idempotency key."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionRecord:
    """One step of one run: what was sent (rendered ``params``) and what came back."""

    rule: str
    index: int
    id: str | None
    type: str
    status: str
    params: Mapping[str, Any] | None = None
    output: Mapping[str, Any] | None = None
    error: str | None = None
    attempts: int = 0
    started_at: _dt.datetime | None = None
    finished_at: _dt.datetime | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    """One sequence of steps started by one rule for one correlation key.

    ``steps`` holds the latest record of every step reached, in order. ``cursor`` is the index
    of the next step to run; ``due_at`` is when the run fell due, the anchor of the next wait.
    ``approval`` keeps who answered an approval, and when; ``reason`` why a run was cancelled
    or failed, or, while it waits for a step's send window, which window.
    """

    id: str
    rule: str
    key: str | None
    status: str
    next_at: _dt.datetime | None
    steps: tuple[ActionRecord, ...] = ()
    event_id: str = ""
    event_type: str = ""
    event: Mapping[str, Any] = field(default_factory=dict, repr=False)
    rule_version: str = ""
    cursor: int = 0
    due_at: _dt.datetime | None = None
    created_at: _dt.datetime | None = None
    updated_at: _dt.datetime | None = None
    approval: Mapping[str, Any] | None = None
    reason: str | None = None
    variant: str | None = None
    """The variant of the rule's ``variants`` the run's key fell in (None: the rule has none)."""
    account: str | None = None
    """The connected account of the event that started the run (Stripe Connect), or None."""
    epoch: int = field(default=0, compare=False, repr=False)
    """The fencing token of the lease under which this copy was read (stores set it when a
    worker claims the run; every step start and save must carry it). Not part of the run's
    value: two copies that differ only here are equal."""

    @property
    def live(self) -> bool:
        return self.status in LIVE_STATUSES

    def record(self, index: int) -> ActionRecord | None:
        for step in self.steps:
            if step.index == index:
                return step
        return None

    def outputs(self) -> dict[str, Any]:
        """``steps.<id>`` for expressions: the output of every step that has an id."""
        return {s.id: s.output for s in self.steps if s.id is not None}


def positional_factory(cls: type[Any]) -> Callable[..., Any]:
    """A constructor taking every field of the frozen slots dataclass ``cls`` positionally, in
    order, with no defaults.

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``. This one
    fills a *draft*, an instance of a plain class with the very same slots (so the same memory
    layout), with ordinary attribute stores, and then makes it a ``cls``: a third of the cost
    of setting the slots one descriptor call at a time, for the objects the engine makes per
    run and per step. The result is an ordinary ``cls`` instance, frozen as any other.
    """
    names = [f.name for f in fields(cls)]
    draft = type(f"_{cls.__name__}Draft", (), {"__slots__": tuple(cls.__slots__)})
    body = "".join(f"    o.{n} = {n}\n" for n in names)
    source = f"def make({', '.join(names)}):\n    o = _draft()\n{body}    o.__class__ = _cls\n"
    source += "    return o\n"
    namespace: dict[str, Any] = {"_draft": draft, "_cls": cls}
    try:
        probe = draft()
        probe.__class__ = cls  # the layouts agree (else Python refuses, here, once)
    except TypeError:
        body = "".join(f"    _set_{n}(o, {n})\n" for n in names)
        source = f"def make({', '.join(names)}):\n    o = _new(_cls)\n{body}    return o\n"
        namespace.update({"_new": object.__new__})
        namespace.update({f"_set_{n}": getattr(cls, n).__set__ for n in names})
    exec(source, namespace)
    factory: Callable[..., Any] = namespace["make"]
    return factory


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What one call of ``handle``, ``simulate``, ``resume`` or ``run_due`` did."""

    event_id: str
    event_type: str
    duplicate: bool = False
    matched: tuple[str, ...] = ()
    runs: tuple[Run, ...] = ()
    actions: tuple[ActionRecord, ...] = ()
    warnings: tuple[str, ...] = ()


new_run: Callable[..., Run] = positional_factory(Run)
"""``new_run(id, rule, key, status, next_at, steps, event_id, event_type, event, rule_version,
cursor, due_at, created_at, updated_at, approval, reason, variant, account, epoch)``: a
:class:`Run`, fast."""

new_record: Callable[..., ActionRecord] = positional_factory(ActionRecord)
"""``new_record(rule, index, id, type, status, params, output, error, attempts, started_at,
finished_at, warnings)``: an :class:`ActionRecord`, fast."""

_RUNS = Outcome.__dict__["runs"]  # the slots that hold ``runs`` and ``actions``
_ACTIONS = Outcome.__dict__["actions"]
_OUTCOME_FIELDS = tuple(f.name for f in fields(Outcome))


class _PlannedOutcome(Outcome):
    """An :class:`Outcome` whose ``runs`` and ``actions`` are built the first time either is
    read.

    ``simulate`` plans every matching run; a caller that reads ``matched`` or ``warnings``
    alone does not pay for building the :class:`Run` objects. Equal to an :class:`Outcome`
    with the same fields.
    """

    __slots__ = ("_build",)
    _build: Callable[[], tuple[tuple[Run, ...], tuple[ActionRecord, ...]]]

    def _built(self) -> None:
        runs, actions = self._build()
        _RUNS.__set__(self, runs)
        _ACTIONS.__set__(self, actions)

    @property  # a field of Outcome, computed here
    def runs(self) -> tuple[Run, ...]:
        try:
            built: tuple[Run, ...] = _RUNS.__get__(self, Outcome)
        except AttributeError:
            self._built()
            built = _RUNS.__get__(self, Outcome)
        return built

    @runs.setter
    def runs(self, value: tuple[Run, ...]) -> None:  # dataclasses.replace, unpickling
        _RUNS.__set__(self, value)

    @property
    def actions(self) -> tuple[ActionRecord, ...]:
        try:
            built: tuple[ActionRecord, ...] = _ACTIONS.__get__(self, Outcome)
        except AttributeError:
            self._built()
            built = _ACTIONS.__get__(self, Outcome)
        return built

    @actions.setter
    def actions(self, value: tuple[ActionRecord, ...]) -> None:
        _ACTIONS.__set__(self, value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Outcome):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in _OUTCOME_FIELDS)

    __hash__ = Outcome.__hash__

    def __repr__(self) -> str:
        return "Outcome" + Outcome.__repr__(self).removeprefix(type(self).__qualname__)


_SET_EVENT_ID = Outcome.__dict__["event_id"].__set__
_SET_EVENT_TYPE = Outcome.__dict__["event_type"].__set__
_SET_DUPLICATE = Outcome.__dict__["duplicate"].__set__
_SET_MATCHED = Outcome.__dict__["matched"].__set__
_SET_WARNINGS = Outcome.__dict__["warnings"].__set__
_SET_BUILD = _PlannedOutcome.__dict__["_build"].__set__


def planned_outcome(
    event_id: str,
    event_type: str,
    matched: tuple[str, ...],
    build: Callable[[], tuple[tuple[Run, ...], tuple[ActionRecord, ...]]],
    warnings: tuple[str, ...],
) -> Outcome:
    """An :class:`Outcome` (not a duplicate) whose ``runs`` and ``actions`` are ``build()``,
    called on first read."""
    outcome = object.__new__(_PlannedOutcome)
    _SET_EVENT_ID(outcome, event_id)
    _SET_EVENT_TYPE(outcome, event_type)
    _SET_DUPLICATE(outcome, False)
    _SET_MATCHED(outcome, matched)
    _SET_WARNINGS(outcome, warnings)
    _SET_BUILD(outcome, build)
    return outcome


_RUN_FIELDS = tuple(f.name for f in fields(Run))
_EVOLVERS: dict[tuple[str, ...], Callable[..., Run]] = {}


def _evolver(names: tuple[str, ...]) -> Callable[..., Run]:
    """A function ``(run, *values)`` that copies ``run`` with ``names`` set to ``values``:
    straight-line code, one per set of names, so a copy reads no field by name."""
    unknown = set(names) - set(_RUN_FIELDS)
    if unknown:
        raise TypeError(f"Run has no field {sorted(unknown)[0]!r}")
    values = {name: f"_{number}" for number, name in enumerate(names)}
    arguments = ", ".join(values.get(n, f"run.{n}") for n in _RUN_FIELDS)
    source = f"def evolve(run, {', '.join(values.values())}):\n    return _new({arguments})\n"
    namespace: dict[str, Any] = {"_new": new_run}
    exec(source, namespace)  # names are Run's own field names
    made: Callable[..., Run] = namespace["evolve"]
    return made


def evolve(run: Run, **changes: Any) -> Run:
    """``dataclasses.replace`` for a :class:`Run`, without its per-call introspection."""
    names = tuple(changes)
    made = _EVOLVERS.get(names)
    if made is None:
        made = _EVOLVERS[names] = _evolver(names)
    return made(run, *changes.values())
