"""An ingest of many runs at once (the SQL stores send them together): each run starts, is
skipped or is superseded exactly as if the runs had come one after another, in order, and the
batch is all or nothing."""

from __future__ import annotations

import pytest

from dunning_rules.errors import StoreError
from dunning_rules.store._contract_data import FAR, batch, concurrently, make_run


def test_every_run_of_a_batch_is_sorted_as_alone(backend):
    """Among many runs of one batch: those whose key a later event settled are superseded,
    those whose rule has a live run for the key are skipped, the others start; each list
    keeps the batch's order and the started copies carry the lease's epoch."""
    store = backend.open()
    store.ingest(batch("evt_seed", make_run("run_live", rule="r3", key="in_1")))
    store.ingest(batch("evt_paid", markers=(("r2", "in_1"), ("r5", "in_1")), created=500))
    runs = tuple(make_run(f"run_{i}", rule=f"r{i}", key="in_1") for i in range(7))
    result = store.ingest(batch("evt_new", *runs, created=400, owner="w1", lease_until=FAR))
    assert [r.id for r in result.started] == ["run_0", "run_1", "run_4", "run_6"]
    assert [r.epoch for r in result.started] == [1, 1, 1, 1]
    assert result.skipped == (runs[3],)
    assert result.superseded == (runs[2], runs[5])
    assert [store.get(f"run_{i}") is not None for i in range(7)] == [
        True,
        True,
        False,
        False,
        True,
        False,
        True,
    ]


def test_a_superseded_run_is_superseded_even_with_a_live_run(backend):
    """A run whose key is settled and whose rule also has a live run is reported superseded
    (the marker is looked at first), in a batch of many as alone."""
    store = backend.open()
    store.ingest(batch("evt_seed", make_run("run_live", key="in_1")))
    store.ingest(batch("evt_paid", markers=(("card-declined", "in_1"),), created=500))
    old = make_run("run_old", key="in_1")
    other = make_run("run_other", key="in_2")
    result = store.ingest(batch("evt_old", old, other, created=400))
    assert (result.started, result.skipped, result.superseded) == ((other,), (), (old,))


@pytest.mark.parametrize(
    ("first", "second_starts"),
    [("waiting", False), ("awaiting_approval", False), ("completed", True), ("failed", True)],
    ids=["waiting", "awaiting_approval", "completed", "failed"],
)
def test_a_run_after_another_of_its_key_in_one_batch(backend, first, second_starts):
    """Two runs of one rule and key in one batch: the second starts only when the first is
    not live, as when they come one after another."""
    store = backend.open()
    earlier = make_run("run_1", status=first, next_at=None if first != "waiting" else FAR)
    later = make_run("run_2")
    third = make_run("run_3", key="in_2")
    result = store.ingest(batch("evt_1", earlier, later, third))
    assert result.started == ((earlier, later, third) if second_starts else (earlier, third))
    assert result.skipped == (() if second_starts else (later,))


def test_many_runs_without_a_key_all_start(backend):
    """Runs whose key is None never block one another, however many come together."""
    store = backend.open()
    runs = tuple(make_run(f"run_{i}", key=None) for i in range(5))
    result = store.ingest(batch("evt_1", *runs, markers=(("card-declined", "in_1"),)))
    assert result.started == runs
    assert len(store.list_runs()) == 5


def test_a_batch_that_cannot_be_stored_leaves_nothing(backend):
    """When one run of a batch cannot be written (its id is taken), the store raises and
    nothing of the batch is kept: not the event, not its other runs, not its markers."""
    if backend.kind == "memory":
        pytest.skip("the memory store does not refuse a taken run id")
    store = backend.open()
    store.ingest(batch("evt_1", make_run("run_taken", key="in_9")))
    runs = (make_run("run_a", rule="a"), make_run("run_taken", rule="b"), make_run("run_c"))
    with pytest.raises(StoreError):
        store.ingest(batch("evt_2", *runs, markers=(("x", "in_1"),), created=100))
    assert not store.has_event("evt_2")
    assert store.get("run_a") is None
    assert store.get("run_c") is None
    assert store.cancel_marker("x", "in_1") is None
    assert store.ingest(batch("evt_2", make_run("run_d"))).started == (make_run("run_d"),)


def test_a_cancel_of_many_keys_in_their_order(backend):
    """One event that cancels several keys cancels their live runs in the order of its
    cancels (oldest run first for each), and starts its own run after."""
    store = backend.open()
    for key in ("in_1", "in_2", "in_3"):
        store.ingest(batch(f"evt_{key}", make_run(f"run_{key}", key=key)))
    new = make_run("run_new", key="in_2")
    cancels = (("card-declined", "in_3"), ("card-declined", "in_1"), ("card-declined", "in_2"))
    result = store.ingest(batch("evt_paid", new, cancels=cancels, cancel_reason="paid"))
    assert [r.id for r in result.cancelled] == ["run_in_3", "run_in_1", "run_in_2"]
    assert {r.status for r in result.cancelled} == {"cancelled"}
    assert result.started == (new,)
    assert [r.id for r in store.list_runs(status="cancelled")] == [
        "run_in_3",
        "run_in_2",
        "run_in_1",
    ]


def test_one_event_of_many_runs_delivered_at_once_is_new_once(backend):
    """The same event, starting runs for many keys, ingested at once from several connections:
    one ingest is new and starts every run, the others are duplicates; none fails."""
    stores = [backend.open() for _ in range(4)]

    def runs(copy: int) -> tuple:
        return tuple(
            make_run(f"run_{copy}_{i}", rule=f"r{i % 3}", key=f"in_{i}") for i in range(12)
        )

    jobs = [
        (lambda s=s, n=n: s.ingest(batch("evt_1", *runs(n), markers=(("r9", "in_1"),))))
        for n, s in enumerate(stores * 2)
    ]
    results = concurrently(jobs)
    assert sorted(r.duplicate for r in results) == [False] + [True] * (len(jobs) - 1)
    (new,) = [r for r in results if not r.duplicate]
    assert len(new.started) == 12
    assert len(stores[0].list_runs()) == 12
