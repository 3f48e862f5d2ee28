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
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import pytest

from ..outcome import RUN_STATUSES, ActionRecord, Run
from .base import Ingest, IngestResult, LeaseLostError, RunStore

__all__ = ["FAR", "T0", "StoreContract", "at", "batch", "concurrently", "full_run", "make_run"]

T = TypeVar("T")
UTC = _dt.timezone.utc
T0 = _dt.datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
LIVE = ("waiting", "awaiting_approval")
FAR = T0 + _dt.timedelta(days=365)


def at(minutes: float) -> _dt.datetime:
    """``T0`` plus ``minutes``."""
    return T0 + _dt.timedelta(minutes=minutes)


def make_run(
    run_id: str,
    *,
    rule: str = "card-declined",
    key: str | None = "in_1",
    status: str = "waiting",
    next_at: _dt.datetime | None = T0,
    **fields: Any,
) -> Run:
    """A run with the fields a store looks at, and an event."""
    fields.setdefault("event", {"id": f"evt_{run_id}", "type": "invoice.payment_failed"})
    fields.setdefault("created_at", T0)
    return Run(id=run_id, rule=rule, key=key, status=status, next_at=next_at, **fields)


def batch(event_id: str, *runs: Run, **fields: Any) -> Ingest:
    """An :class:`Ingest` of ``runs`` for a new ``invoice.payment_failed`` event."""
    fields.setdefault("event_type", "invoice.payment_failed")
    fields.setdefault("created", 1714564800)
    fields.setdefault("received_at", T0)
    return Ingest(event_id=event_id, runs=runs, **fields)


def full_run() -> Run:
    """A run with every field set, steps with params, output, error and warnings."""
    return Run(
        id="run_full",
        rule="vip-card-declined",
        key="in_1MtHbELkdIwHu7ixl4OzzPMv",
        status="awaiting_approval",
        next_at=at(90),
        steps=(
            ActionRecord(
                rule="vip-card-declined",
                index=0,
                id="mail",
                type="email",
                status="ok",
                params={"to": "jenny@example.com", "subject": "Ünïcödé €5", "n": [1, 2.5]},
                output={"message_id": "<m1@example.com>", "nested": {"ok": True, "x": None}},
                attempts=2,
                started_at=at(1),
                finished_at=at(1.5),
                warnings=("slow provider",),
            ),
            ActionRecord(
                rule="vip-card-declined",
                index=1,
                id=None,
                type="http",
                status="failed",
                params={"url": "https://example.com/hook"},
                error="HTTP 503 from example.com",
                attempts=3,
                started_at=at(2),
                finished_at=at(3),
            ),
            ActionRecord(rule="vip-card-declined", index=2, id="ask", type="approval", status="ok"),
        ),
        event_id="evt_1",
        event_type="invoice.payment_failed",
        event={"id": "evt_1", "data": {"object": {"id": "in_1", "amount_due": 75000}}},
        rule_version="sha256:abc",
        cursor=3,
        due_at=at(30),
        created_at=T0,
        updated_at=at(3),
        approval={"requested_at": at(3).isoformat(), "channel": "C024BE91L"},
        reason=None,
    )


def concurrently(jobs: Sequence[Callable[[], T]]) -> list[T]:
    """Run ``jobs`` in threads that start together; their results in order (errors raise)."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = jobs[index]()
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if errors:
        raise errors[0]
    return results


class StoreContract:
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

    @staticmethod
    def seed(
        store: RunStore, *runs: Run, owner: str = "", until: _dt.datetime | None = None
    ) -> None:
        """Store each run through an event of its own."""
        for run in runs:
            result = store.ingest(batch(f"evt_seed_{run.id}", run, owner=owner, lease_until=until))
            assert result.started == (run,)

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

    # -- claim_due ----------------------------------------------------------------------------

    def test_claim_due_orders_by_next_at_then_id(self, store: RunStore) -> None:
        """Due runs come oldest ``next_at`` first, ties by id; runs not yet due stay."""
        self.seed(
            store,
            make_run("run_b", key="k1", next_at=T0),
            make_run("run_c", key="k2", next_at=at(-60)),
            make_run("run_d", key="k3", next_at=at(1)),
            make_run("run_a", key="k4", next_at=T0),
        )
        due = store.claim_due(T0, owner="w1", lease_until=FAR, limit=10)
        assert [r.id for r in due] == ["run_c", "run_a", "run_b"]

    def test_claim_due_respects_limit(self, store: RunStore) -> None:
        """At most ``limit`` runs are claimed; the next call gets the rest."""
        self.seed(store, *(make_run(f"run_{i}", key=f"k{i}", next_at=at(-i)) for i in range(3)))
        first = store.claim_due(T0, owner="w1", lease_until=FAR, limit=2)
        second = store.claim_due(T0, owner="w2", lease_until=FAR, limit=2)
        assert [r.id for r in first] == ["run_2", "run_1"]
        assert [r.id for r in second] == ["run_0"]

    def test_claim_due_returns_stored_runs(self, store: RunStore) -> None:
        """Claimed runs equal the stored runs, every field included."""
        run = replace(full_run(), status="waiting")
        self.seed(store, run)
        assert store.claim_due(at(90), owner="w1", lease_until=FAR, limit=1) == [run]

    def test_claim_due_skips_finished_and_undated_runs(self, store: RunStore) -> None:
        """Only live runs with a ``next_at`` can be due."""
        self.seed(
            store,
            make_run("run_1", key="k1", status="completed"),
            make_run("run_2", key="k2", status="failed"),
            make_run("run_3", key="k3", status="awaiting_approval", next_at=None),
            make_run("run_4", key="k4", status="awaiting_approval", next_at=at(-1)),
        )
        due = store.claim_due(at(60), owner="w1", lease_until=FAR, limit=10)
        assert [r.id for r in due] == ["run_4"]

    @pytest.mark.parametrize(
        ("lease_until", "claimed"),
        [(at(1), False), (T0, True), (at(-1), True)],
        ids=["lease-running", "lease-ends-now", "lease-expired"],
    )
    def test_claim_due_respects_other_leases(
        self, store: RunStore, lease_until: _dt.datetime, claimed: bool
    ) -> None:
        """A run leased to another worker is claimed only once its lease is over."""
        run = make_run("run_1", next_at=at(-10))
        self.seed(store, run, owner="w1", until=lease_until)
        due = store.claim_due(T0, owner="w2", lease_until=FAR, limit=10)
        assert due == ([run] if claimed else [])

    def test_claimed_run_is_not_claimed_again(self, store: RunStore) -> None:
        """``claim_due`` leases what it returns: a second worker does not get it."""
        self.seed(store, make_run("run_1"))
        assert len(store.claim_due(T0, owner="w1", lease_until=at(10), limit=10)) == 1
        assert store.claim_due(at(5), owner="w2", lease_until=FAR, limit=10) == []
        assert len(store.claim_due(at(10), owner="w2", lease_until=FAR, limit=10)) == 1

    def test_claim_due_compares_instants_across_time_zones(self, store: RunStore) -> None:
        """``now`` in another time zone is compared as an instant."""
        self.seed(store, make_run("run_1", next_at=T0))
        plus2 = _dt.timezone(_dt.timedelta(hours=2))
        before = T0.astimezone(plus2) - _dt.timedelta(seconds=1)
        assert store.claim_due(before, owner="w1", lease_until=FAR, limit=1) == []
        assert len(store.claim_due(T0.astimezone(plus2), owner="w1", lease_until=FAR, limit=1)) == 1

    def test_concurrent_claims_never_share_a_run(self, stores: list[RunStore]) -> None:
        """Workers claiming at once, on several connections, never get the same run."""
        runs = [make_run(f"run_{i:02}", key=f"k{i}", next_at=at(-i)) for i in range(24)]
        self.seed(stores[0], *runs)

        def worker(store: RunStore, owner: str) -> list[str]:
            got: list[str] = []
            while batch := store.claim_due(T0, owner=owner, lease_until=FAR, limit=3):
                got += [r.id for r in batch]
            return got

        jobs = [(lambda s=s, i=i: worker(s, f"w{i}")) for i, s in enumerate(stores)]
        claimed = [run_id for got in concurrently(jobs) for run_id in got]
        assert sorted(claimed) == sorted(r.id for r in runs)

    # -- claim ----------------------------------------------------------------------------------

    def test_claim_leases_a_run_in_a_status(self, store: RunStore) -> None:
        """``claim`` returns the run when its status is listed and its lease is free."""
        run = make_run("run_1", status="awaiting_approval", next_at=None)
        self.seed(store, run)
        got = store.claim(
            "run_1", owner="w1", now=T0, lease_until=at(10), statuses=["awaiting_approval"]
        )
        assert got == run
        assert store.claim("run_1", owner="w2", now=at(5), lease_until=FAR, statuses=LIVE) is None
        assert store.claim("run_1", owner="w2", now=at(10), lease_until=FAR, statuses=LIVE) == run

    @pytest.mark.parametrize(
        ("run_id", "statuses"),
        [("run_1", ["waiting"]), ("run_1", []), ("run_missing", list(RUN_STATUSES))],
        ids=["other-status", "no-status", "unknown-run"],
    )
    def test_claim_refuses(self, store: RunStore, run_id: str, statuses: list[str]) -> None:
        """``claim`` returns None for a status not listed or an unknown run, and leases nothing."""
        self.seed(store, make_run("run_1", status="awaiting_approval", next_at=None))
        assert store.claim(run_id, owner="w1", now=T0, lease_until=FAR, statuses=statuses) is None
        assert store.claim("run_1", owner="w2", now=T0, lease_until=FAR, statuses=LIVE) is not None

    # -- save -----------------------------------------------------------------------------------

    def test_save_by_the_lease_holder(self, store: RunStore) -> None:
        """The lease holder's save is stored and keeps the lease until the new ``lease_until``."""
        run = make_run("run_1")
        self.seed(store, run, owner="w1", until=at(1))
        later = replace(run, next_at=at(30), cursor=1, updated_at=at(1))
        store.save(later, owner="w1", lease_until=at(40))
        assert store.get("run_1") == later
        assert store.claim_due(at(35), owner="w2", lease_until=FAR, limit=10) == []
        assert store.claim_due(at(40), owner="w2", lease_until=FAR, limit=10) == [later]

    def test_save_moves_the_run_out_of_the_due_list(self, store: RunStore) -> None:
        """A saved finished run is no longer due; its saved status is what queries see."""
        run = make_run("run_1")
        self.seed(store, run, owner="w1", until=at(1))
        store.save(replace(run, status="completed", next_at=None), owner="w1", lease_until=None)
        assert store.claim_due(at(60), owner="w2", lease_until=FAR, limit=10) == []
        assert [r.id for r in store.list_runs(status="completed")] == ["run_1"]
        assert store.list_runs(status="waiting") == []

    def test_save_without_lease_raises(self, store: RunStore) -> None:
        """A run that nobody leased cannot be saved; it is left as it was."""
        run = make_run("run_1")
        self.seed(store, run)
        with pytest.raises(LeaseLostError):
            store.save(replace(run, status="completed"), owner="w1", lease_until=None)
        assert store.get("run_1") == run

    def test_save_by_another_owner_raises(self, store: RunStore) -> None:
        """Only the lease holder may save."""
        run = make_run("run_1")
        self.seed(store, run, owner="w1", until=FAR)
        with pytest.raises(LeaseLostError):
            store.save(replace(run, cursor=5), owner="w2", lease_until=FAR)
        assert store.get("run_1") == run

    def test_save_after_takeover_raises(self, store: RunStore) -> None:
        """When a lease expired and another worker claimed the run, the first one lost it."""
        run = make_run("run_1")
        self.seed(store, run, owner="w1", until=at(1))
        assert store.claim_due(at(2), owner="w2", lease_until=FAR, limit=1) == [run]
        with pytest.raises(LeaseLostError):
            store.save(replace(run, cursor=1), owner="w1", lease_until=None)
        store.save(replace(run, cursor=2), owner="w2", lease_until=None)
        assert store.get("run_1").cursor == 2  # type: ignore[union-attr]

    def test_expired_lease_not_taken_over_still_saves(self, store: RunStore) -> None:
        """An expired lease that nobody took over still lets its holder save."""
        run = make_run("run_1")
        self.seed(store, run, owner="w1", until=at(1))
        store.save(replace(run, cursor=1), owner="w1", lease_until=None)
        assert store.get("run_1").cursor == 1  # type: ignore[union-attr]

    def test_save_with_no_lease_until_releases(self, store: RunStore) -> None:
        """``lease_until=None`` frees the run at once; its former holder cannot save again."""
        run = make_run("run_1", status="awaiting_approval", next_at=None)
        self.seed(store, run, owner="w1", until=FAR)
        store.save(replace(run, cursor=1), owner="w1", lease_until=None)
        got = store.claim("run_1", owner="w2", now=T0, lease_until=FAR, statuses=LIVE)
        assert got == replace(run, cursor=1)
        with pytest.raises(LeaseLostError):
            store.save(replace(run, cursor=2), owner="w1", lease_until=None)

    def test_save_of_unknown_run_raises(self, store: RunStore) -> None:
        """Saving a run that was never stored raises LeaseLostError and stores nothing."""
        with pytest.raises(LeaseLostError):
            store.save(make_run("run_x"), owner="w1", lease_until=FAR)
        assert store.get("run_x") is None

    # -- list_runs ------------------------------------------------------------------------------

    def test_list_runs_newest_first(self, store: RunStore) -> None:
        """Runs come newest first by creation; a save does not reorder them."""
        runs = [make_run(f"run_{i}", key=f"k{i}") for i in (3, 1, 2)]
        self.seed(store, *runs[:1], owner="w1", until=FAR)
        self.seed(store, *runs[1:])
        store.save(replace(runs[0], cursor=1), owner="w1", lease_until=FAR)
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
        run = full_run()
        self.seed(store, run, owner="w1", until=FAR)
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
            again.save(replace(run, cursor=1), owner="w1", lease_until=None)
            assert again.get("run_1").cursor == 1  # type: ignore[union-attr]
        finally:
            again.close()

    def test_close_twice_is_harmless(self, store: RunStore) -> None:
        """``close`` may be called more than once."""
        store.has_event("evt_1")
        store.close()
        store.close()
