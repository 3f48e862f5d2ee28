"""The run-store contract suite: what every :class:`~dunning_rules.store.RunStore` must do.

Import it as ``dunning_rules.testing.StoreContract``. Subclass it in a test module (in a
class whose name starts with ``Test``) and override :meth:`~StoreContract.make_store`; for a
store that keeps data outside the object (a file, a server), override
:meth:`~StoreContract.reopen` too, which enables the persistence and many-connections tests.
Set up what ``make_store`` needs in an autouse fixture::

    class TestMyStore(StoreContract):
        @pytest.fixture(autouse=True)
        def _database(self, tmp_path):
            self.path = tmp_path / "runs.db"

        def make_store(self):
            return MyStore(self.path)

        def reopen(self):
            return MyStore(self.path)

The reference is :class:`~dunning_rules.store.memory.MemoryStore`. Needs pytest.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from ._contract_data import FAR, LIVE, T0, at, batch, concurrently, full_run, make_run
from ._contract_leases import LeaseContract
from .base import IngestResult, LeaseLostError, RunStore

__all__ = ["FAR", "T0", "StoreContract", "at", "batch", "concurrently", "full_run", "make_run"]


class StoreContract(LeaseContract):
    """Tests of the :class:`~dunning_rules.store.RunStore` contract; subclass it per store."""

    def make_store(self) -> RunStore:
        """A new, empty store for one test."""
        raise NotImplementedError("override make_store() to return the store under test")

    def reopen(self) -> RunStore | None:
        """A new store object on the same data as the store of the test (a new connection),
        or None when the data lives in the store object (then the persistence and
        many-connection tests use the one store)."""
        return None

    @pytest.fixture
    def store(self) -> Iterator[RunStore]:
        store = self.make_store()
        yield store
        store.close()

    @pytest.fixture
    def stores(self, store: RunStore) -> Iterator[list[RunStore]]:
        """Four handles on the same data: new connections where the store can open them."""
        others = [self.reopen() for _ in range(3)]
        yield [store, *(other or store for other in others)]
        for other in others:
            if other is not None:
                other.close()

    # -- events -------------------------------------------------------------------------------

    def test_a_new_event_is_recorded(self, store: RunStore) -> None:
        """An ingested event id is known afterwards; others are not."""
        assert not store.has_event("evt_1")
        result = store.ingest(batch("evt_1"))
        assert result == IngestResult(duplicate=False)
        assert store.has_event("evt_1")
        assert not store.has_event("evt_2")

    def test_duplicate_event_changes_nothing(self, store: RunStore) -> None:
        """A second ingest of an event id reports duplicate and applies none of its changes."""
        self.seed(store, make_run("run_old", key="in_9"))
        first = store.ingest(batch("evt_1", make_run("run_1")))
        again = store.ingest(
            batch(
                "evt_1",
                make_run("run_2", key="in_2"),
                cancels=(("card-declined", "in_9"),),
                markers=(("card-declined", "in_9"),),
                rule_versions={"v2": {"name": "x"}},
            )
        )
        assert first.started == (make_run("run_1"),)
        assert again == IngestResult(duplicate=True)
        assert store.get("run_2") is None
        assert store.get("run_old") == make_run("run_old", key="in_9")
        assert store.cancel_marker("card-declined", "in_9") is None
        assert store.rule_definition("v2") is None

    def test_ingest_stores_started_runs(self, store: RunStore) -> None:
        """Started runs can be read back by id, equal to what was ingested."""
        runs = (make_run("run_1", key="in_1"), make_run("run_2", key="in_2", status="completed"))
        result = store.ingest(batch("evt_1", *runs))
        assert result.started == runs
        assert result.skipped == ()
        assert [store.get("run_1"), store.get("run_2")] == list(runs)

    def test_get_unknown_run_is_none(self, store: RunStore) -> None:
        """``get`` of an id never stored returns None."""
        assert store.get("run_missing") is None

    # -- cancels ------------------------------------------------------------------------------

    @pytest.mark.parametrize("status", LIVE, ids=LIVE)
    def test_cancel_then_start_in_one_ingest(self, store: RunStore, status: str) -> None:
        """Cancels apply before new runs: the live run is cancelled and the new one starts."""
        old = make_run("run_old", status=status, next_at=at(60) if status == "waiting" else None)
        self.seed(store, old)
        new = make_run("run_new")
        result = store.ingest(
            batch(
                "evt_2",
                new,
                cancels=(("card-declined", "in_1"),),
                cancel_reason="invoice.paid",
                received_at=at(5),
            )
        )
        done = replace(
            old, status="cancelled", next_at=None, reason="invoice.paid", updated_at=at(5)
        )
        assert result.cancelled == (done,)
        assert result.started == (new,)
        assert store.get("run_old") == done
        assert store.list_runs(status="waiting") == [new]

    def test_cancel_touches_only_live_runs_of_its_rule_and_key(self, store: RunStore) -> None:
        """Other rules, other keys and finished runs are left alone by a cancel."""
        keep = [
            make_run("run_other_rule", rule="other"),
            make_run("run_other_key", key="in_2"),
            make_run("run_done", status="completed", next_at=None),
            make_run("run_failed", status="failed", next_at=None),
        ]
        self.seed(store, *keep)
        result = store.ingest(batch("evt_2", cancels=(("card-declined", "in_1"),)))
        assert result.cancelled == ()
        assert [store.get(r.id) for r in keep] == keep

    def test_cancelled_run_is_not_due(self, store: RunStore) -> None:
        """A cancelled run is never claimed again."""
        self.seed(store, make_run("run_1"))
        store.ingest(batch("evt_2", cancels=(("card-declined", "in_1"),), received_at=at(1)))
        assert store.claim_due(at(60), owner="w1", lease_until=FAR, limit=10) == []

    def test_cancel_takes_the_lease_away(self, store: RunStore) -> None:
        """The worker holding a cancelled run's lease can no longer save it."""
        run = make_run("run_1")
        self.seed(store, run, owner="w1", until=at(10))
        store.ingest(batch("evt_2", cancels=(("card-declined", "in_1"),), received_at=at(1)))
        with pytest.raises(LeaseLostError):
            store.save(replace(run, status="completed"), owner="w1", lease_until=None)
        assert store.get("run_1").status == "cancelled"  # type: ignore[union-attr]

    # -- one live run per (rule, key) ---------------------------------------------------------

    @pytest.mark.parametrize(
        ("existing", "started"),
        [
            ("waiting", False),
            ("awaiting_approval", False),
            ("completed", True),
            ("cancelled", True),
            ("failed", True),
        ],
        ids=["waiting", "awaiting_approval", "completed", "cancelled", "failed"],
    )
    def test_live_run_blocks_a_second_run(
        self, store: RunStore, existing: str, started: bool
    ) -> None:
        """A new run for a (rule, key) with a live run is skipped; a finished one does not block."""
        self.seed(store, make_run("run_1", status=existing))
        new = make_run("run_2")
        result = store.ingest(batch("evt_2", new))
        assert result.started == ((new,) if started else ())
        assert result.skipped == (() if started else (new,))
        assert (store.get("run_2") is not None) is started

    def test_second_run_in_one_batch_is_skipped(self, store: RunStore) -> None:
        """Two runs of one (rule, key) in one ingest: the first starts, the second is skipped."""
        first, second = make_run("run_1"), make_run("run_2")
        result = store.ingest(batch("evt_1", first, second))
        assert (result.started, result.skipped) == ((first,), (second,))

    def test_finished_new_run_is_skipped_while_live_run_exists(self, store: RunStore) -> None:
        """The check applies to every new run, whatever its own status."""
        self.seed(store, make_run("run_1"))
        new = make_run("run_2", status="completed", next_at=None)
        assert store.ingest(batch("evt_2", new)).skipped == (new,)

    def test_other_rule_or_key_is_not_blocked(self, store: RunStore) -> None:
        """Live-run uniqueness is per (rule, key)."""
        self.seed(store, make_run("run_1"))
        runs = (make_run("run_2", rule="other"), make_run("run_3", key="in_2"))
        assert store.ingest(batch("evt_2", *runs)).started == runs

    def test_runs_without_key_are_never_skipped(self, store: RunStore) -> None:
        """A run whose key is None always starts."""
        runs = (make_run("run_1", key=None), make_run("run_2", key=None))
        self.seed(store, make_run("run_0", key=None))
        assert store.ingest(batch("evt_2", *runs)).started == runs

    def test_concurrent_events_start_one_live_run(self, stores: list[RunStore]) -> None:
        """Events of one (rule, key) ingested at once, from several connections, start one run."""
        jobs = [
            (lambda s=s, i=i: s.ingest(batch(f"evt_{i}", make_run(f"run_{i}"))))
            for i, s in enumerate(stores * 2)
        ]
        results = concurrently(jobs)
        started = [run for result in results for run in result.started]
        assert len(started) == 1
        assert stores[0].list_runs(key="in_1") == started

    def test_concurrent_duplicates_are_ingested_once(self, stores: list[RunStore]) -> None:
        """One event ingested at once from several connections is new exactly once."""
        jobs = [(lambda s=s: s.ingest(batch("evt_1", make_run("run_1")))) for s in stores * 2]
        results = concurrently(jobs)
        assert sorted(r.duplicate for r in results) == [False] + [True] * (len(jobs) - 1)

    # -- markers and rule versions ------------------------------------------------------------

    def test_markers_keep_the_latest_created(self, store: RunStore) -> None:
        """A marker remembers the largest ``created`` of the events that set it."""
        marker = (("card-declined", "in_1"),)
        for i, created in enumerate([200, 500, 300]):
            store.ingest(batch(f"evt_{i}", markers=marker, created=created))
        assert store.cancel_marker("card-declined", "in_1") == 500

    def test_a_run_older_than_a_marker_is_superseded(self, store: RunStore) -> None:
        """A run from an event created before the marker of its key starts not; from one
        created after it, it starts."""
        marker = (("card-declined", "in_1"),)
        store.ingest(batch("evt_paid", markers=marker, created=200))
        old, new = make_run("run_old"), make_run("run_new")
        result = store.ingest(batch("evt_old", old, created=100))
        assert result.superseded == (old,)
        assert result.started == ()
        assert store.get("run_old") is None
        assert store.ingest(batch("evt_new", new, created=300)).started == (new,)

    def test_a_batch_is_not_superseded_by_its_own_markers(self, store: RunStore) -> None:
        """Markers are written after the batch's runs: an event that settles a key and starts a
        run for it (another rule's cancel_on) starts the run."""
        run = make_run("run_1")
        result = store.ingest(batch("evt_1", run, markers=(("card-declined", "in_1"),)))
        assert result.started == (run,)
        assert result.superseded == ()

    def test_concurrent_settle_and_failure_never_both_miss(self, stores: list[RunStore]) -> None:
        """A payment (marker + cancel) and an older failure ingested at once: either the run
        is superseded, or it started and the payment cancelled it; never a live run left."""
        for attempt in range(5):
            key = f"in_race_{attempt}"
            paid = batch(
                f"evt_paid_{attempt}",
                created=200,
                markers=(("card-declined", key),),
                cancels=(("card-declined", key),),
            )
            failed = batch(
                f"evt_failed_{attempt}", make_run(f"run_{attempt}", key=key), created=100
            )
            concurrently(
                [
                    lambda paid=paid: stores[0].ingest(paid),  # type: ignore[misc]
                    lambda failed=failed: stores[1].ingest(failed),  # type: ignore[misc]
                ]
            )
            live = [r for r in stores[2].list_runs(key=key) if r.status in LIVE]
            assert live == []

    def test_markers_are_per_rule_and_key(self, store: RunStore) -> None:
        """Unknown markers are None; each (rule, key) has its own."""
        store.ingest(batch("evt_1", markers=(("a", "in_1"), ("b", "in_2")), created=100))
        assert store.cancel_marker("a", "in_1") == 100
        assert store.cancel_marker("b", "in_2") == 100
        assert store.cancel_marker("a", "in_2") is None

    def test_event_without_created_sets_no_marker(self, store: RunStore) -> None:
        """An event with no ``created`` leaves markers alone."""
        store.ingest(batch("evt_1", markers=(("a", "in_1"),), created=None))
        assert store.cancel_marker("a", "in_1") is None

    def test_rule_version_is_inserted_once(self, store: RunStore) -> None:
        """The first definition of a version is kept; unknown versions are None."""
        definition = {"name": "r", "actions": [{"type": "wait", "duration": "3d"}], "stop": True}
        store.ingest(batch("evt_1", rule_versions={"v1": definition}))
        store.ingest(batch("evt_2", rule_versions={"v1": {"name": "changed"}, "v2": {"n": 2}}))
        assert store.rule_definition("v1") == definition
        assert store.rule_definition("v2") == {"n": 2}
        assert store.rule_definition("v3") is None

    # -- list_runs ------------------------------------------------------------------------------

    def test_list_runs_newest_first(self, store: RunStore) -> None:
        """Runs come newest first by creation; a save does not reorder them."""
        runs = [make_run(f"run_{i}", key=f"k{i}") for i in (3, 1, 2)]
        (first,) = self.seed(store, *runs[:1], owner="w1", until=FAR)
        self.seed(store, *runs[1:])
        store.save(replace(first, cursor=1), owner="w1", lease_until=FAR)
        assert [r.id for r in store.list_runs()] == ["run_2", "run_1", "run_3"]

    @pytest.mark.parametrize(
        ("filters", "expected"),
        [
            ({"key": "in_1"}, ["run_3", "run_1"]),
            ({"status": "completed"}, ["run_3", "run_2"]),
            ({"rule": "b"}, ["run_4", "run_2"]),
            ({"key": "in_1", "status": "completed", "rule": "a"}, ["run_3"]),
            ({"limit": 2}, ["run_4", "run_3"]),
            ({"status": "completed", "limit": 1}, ["run_3"]),
            ({"limit": 0}, []),
            ({"key": "in_9"}, []),
        ],
        ids=["key", "status", "rule", "all-filters", "limit", "filter-limit", "limit-0", "none"],
    )
    def test_list_runs_filters(
        self, store: RunStore, filters: dict[str, Any], expected: list[str]
    ) -> None:
        """``list_runs`` filters by key, status and rule, and stops at ``limit``."""
        self.seed(
            store,
            make_run("run_1", rule="a", key="in_1", status="failed", next_at=None),
            make_run("run_2", rule="b", key="in_2", status="completed", next_at=None),
            make_run("run_3", rule="a", key="in_1", status="completed", next_at=None),
            make_run("run_4", rule="b", key="in_4", status="failed", next_at=None),
        )
        assert [r.id for r in store.list_runs(**filters)] == expected

    # -- values -------------------------------------------------------------------------------

    def test_run_round_trips_every_field(self, store: RunStore) -> None:
        """A stored run reads back equal: steps, params, outputs, errors, approval, times."""
        (run,) = self.seed(store, full_run(), owner="w1", until=FAR)
        assert store.get(run.id) == run
        assert store.list_runs() == [run]
        answered = replace(
            run,
            status="cancelled",
            next_at=None,
            approval={"approved": False, "by": "U024BE7LH", "at": at(4).isoformat()},
            reason="rejected by U024BE7LH",
        )
        store.save(answered, owner="w1", lease_until=None)
        assert store.get(run.id) == answered

    def test_datetimes_come_back_aware_utc(self, store: RunStore) -> None:
        """Times written in UTC come back timezone-aware, in UTC."""
        self.seed(store, full_run())
        got = store.get("run_full")
        assert got is not None
        times = [got.next_at, got.due_at, got.created_at, got.updated_at]
        times += [got.steps[0].started_at, got.steps[0].finished_at]
        assert all(t is not None and t.utcoffset() == _dt.timedelta(0) for t in times)

    # -- persistence ------------------------------------------------------------------------------

    def test_reopened_store_keeps_everything(self, store: RunStore) -> None:
        """A store opened again on the same data knows its events, runs, leases and markers."""
        run = make_run("run_1")
        store.ingest(
            batch(
                "evt_1",
                run,
                markers=(("card-declined", "in_1"),),
                created=42,
                rule_versions={"v1": {"name": "card-declined"}},
                owner="w1",
                lease_until=at(10),
            )
        )
        store.close()
        again = self.reopen()
        if again is None:
            pytest.skip("this store keeps its data in the store object")
        try:
            assert again.has_event("evt_1")
            assert again.ingest(batch("evt_1")).duplicate
            assert again.get("run_1") == run
            assert again.cancel_marker("card-declined", "in_1") == 42
            assert again.rule_definition("v1") == {"name": "card-declined"}
            assert again.claim_due(at(5), owner="w2", lease_until=FAR, limit=10) == []
            again.save(replace(run, cursor=1, epoch=1), owner="w1", lease_until=None)
            assert again.get("run_1").cursor == 1  # type: ignore[union-attr]
        finally:
            again.close()

    def test_close_twice_is_harmless(self, store: RunStore) -> None:
        """``close`` may be called more than once."""
        store.has_event("evt_1")
        store.close()
        store.close()
