"""The fast paths of ``handle`` keep what they replace: objects built positionally are ordinary
frozen instances; a run's last step ends it in one save; run ids stay distinct and random;
the memory store does not make the garbage collector track more than the runs themselves."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import gc
import json
import pickle
import re
from typing import Any

import pytest

import dunning_rules as dr
from dunning_rules.actions.base import ActionContext
from dunning_rules.outcome import ActionRecord, Run, new_record, new_run, positional_factory
from dunning_rules.store.memory import MemoryStore
from dunning_rules.testing import FixedClock
from tests.paths import FIXTURES

AT = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.timezone.utc)


def event(number: int = 0) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (FIXTURES / "stripe" / "events" / "invoice.payment_failed.json").read_text()
    )
    loaded["id"] = f"evt_fast_{number}"
    loaded["data"]["object"]["id"] = f"in_fast_{number}"
    return loaded


def values(cls: type[Any], seed: str) -> list[Any]:
    """A distinct value for every field of ``cls``."""
    return [f"{seed}-{field.name}" for field in dataclasses.fields(cls)]


@pytest.mark.parametrize("cls", [Run, ActionRecord, ActionContext], ids=lambda c: c.__name__)
def test_a_positional_object_is_the_frozen_class_itself(cls: type[Any]) -> None:
    made = positional_factory(cls)(*values(cls, "a"))
    names = [field.name for field in dataclasses.fields(cls)]
    built = cls(**dict(zip(names, values(cls, "a"), strict=True)))
    assert type(made) is cls
    assert made == built
    assert repr(made) == repr(built)
    assert [getattr(made, name) for name in names] == values(cls, "a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.__setattr__(names[0], "changed")
    assert pickle.loads(pickle.dumps(made)) == built
    assert copy.deepcopy(made) == built
    assert dataclasses.replace(made, **{names[0]: "b"}) == dataclasses.replace(
        built, **{names[0]: "b"}
    )


def test_two_positional_objects_share_nothing() -> None:
    first = new_run(*values(Run, "first"))
    second = new_run(*values(Run, "second"))
    assert first.id == "first-id"
    assert second.id == "second-id"
    assert first != second


@dataclasses.dataclass(frozen=True, slots=True)
class _Base:
    a: str
    b: str


@dataclasses.dataclass(frozen=True, slots=True)
class _Derived(_Base):
    c: str


def test_a_class_whose_slots_come_from_its_bases_still_gets_a_factory() -> None:
    """A draft cannot stand in for a class with inherited slots: the factory sets them one by
    one instead, and the object is the same."""
    made = positional_factory(_Derived)("1", "2", "3")
    assert type(made) is _Derived
    assert made == _Derived("1", "2", "3")


def test_records_made_positionally_equal_records_made_by_keyword() -> None:
    record = new_record("r", 0, None, "slack", "ok", {"t": 1}, None, None, 1, AT, AT, ())
    assert record == ActionRecord(
        rule="r",
        index=0,
        id=None,
        type="slack",
        status="ok",
        params={"t": 1},
        attempts=1,
        started_at=AT,
        finished_at=AT,
    )


# -- one save per step ----------------------------------------------------------------------


class CountingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.saves: list[tuple[str, int, bool]] = []

    def save(self, run: Run, *, owner: str, lease_until: dt.datetime | None) -> None:
        self.saves.append((run.status, run.cursor, lease_until is None))
        super().save(run, owner=owner, lease_until=lease_until)


def rules(steps: int) -> dr.RuleSet:
    actions = "".join(f"      - {{type: noop, n: {n}}}\n" for n in range(steps))
    return dr.load_rules(
        f"version: 1\nrules:\n  - name: r\n    on: invoice.payment_failed\n    actions:\n{actions}"
    )


@pytest.mark.parametrize("steps", [1, 2, 3])
def test_each_step_is_saved_once_and_the_last_one_ends_the_run(steps: int) -> None:
    store = CountingStore()
    engine = dr.Engine(rules(steps), adapters={"noop": lambda p, c: None}, store=store)
    outcome = engine.handle(event())
    assert [run.status for run in outcome.runs] == ["completed"]
    # One save per step: each record before the next step starts, kept leased; the last
    # step's record and the run's end together, released.
    kept = [("waiting", n, False) for n in range(1, steps)]
    assert store.saves == [*kept, ("completed", steps, True)]
    (run,) = engine.runs()
    assert run.status == "completed"
    assert run.cursor == steps
    assert run.next_at is None
    assert [record.status for record in run.steps] == ["ok"] * steps


def test_a_last_approval_step_pauses_rather_than_ends() -> None:
    store = CountingStore()
    text = """
version: 1
rules:
  - name: r
    on: invoice.payment_failed
    actions:
      - {type: approval, channel: "#x", text: "ok?"}
"""
    engine = dr.Engine(
        dr.load_rules(text), adapters={"approval": lambda p, c: {"ts": "1"}}, store=store
    )
    (run,) = engine.handle(event()).runs
    assert run.status == "awaiting_approval"
    assert store.saves[-1][0] == "awaiting_approval"


def test_a_step_starts_when_its_lease_starts_it() -> None:
    ticks = iter(AT + dt.timedelta(seconds=n) for n in range(1000))
    engine = dr.Engine(rules(1), adapters={"noop": lambda p, c: None}, clock=lambda: next(ticks))
    (record,) = engine.handle(event()).actions
    assert record.started_at is not None
    assert record.finished_at is not None
    assert AT < record.started_at < record.finished_at


# -- run ids ----------------------------------------------------------------------------------


def test_the_runs_of_one_event_get_distinct_random_ids() -> None:
    text = "version: 1\nrules:\n" + "".join(
        f"  - name: r{n}\n    on: invoice.payment_failed\n    actions: [{{type: noop}}]\n"
        for n in range(40)
    )
    engine = dr.Engine(dr.load_rules(text), adapters={"noop": lambda p, c: None})
    ids = [run.id for number in range(5) for run in engine.handle(event(number)).runs]
    assert len(ids) == 200
    assert len(set(ids)) == 200
    assert all(re.fullmatch(r"run_[0-9a-f]{32}", run_id) for run_id in ids)


def test_deferred_runs_start_unleased_and_handled_ones_leased() -> None:
    clock = FixedClock(AT)
    engine = dr.Engine(rules(1), adapters={"noop": lambda p, c: None}, clock=clock)
    (deferred,) = engine.handle(event(1), defer=True).runs
    assert deferred.status == "waiting"
    assert deferred.epoch == 0
    assert [o.runs[0].status for o in engine.run_due()] == ["completed"]


# -- what the memory store keeps ----------------------------------------------------------------


def test_the_memory_store_tracks_no_more_objects_than_its_runs_hold() -> None:
    """Per completed one-step run: the run, its steps tuple and its record (plus the event's
    own dicts). Leases and the key index are plain values the collector stops tracking."""
    engine = dr.Engine(rules(1), adapters={"noop": lambda p, c: None})
    engine.handle(event(0))
    events = [event(number) for number in range(1, 201)]
    gc.collect()
    before = len(gc.get_objects())
    for one in events:
        engine.handle(one)
    del one
    gc.collect()
    added = len(gc.get_objects()) - before
    assert added <= 200 * 3 + 20, added  # the events were made before counting
    store = engine._store
    assert isinstance(store, MemoryStore)
    some = next(iter(store._leases.values()))
    assert not gc.is_tracked(some)
