"""The lease half of the store contract: ``claim_due``, ``claim`` and ``save``."""

from __future__ import annotations

import datetime as _dt
from dataclasses import replace

import pytest

from ..outcome import RUN_STATUSES, Run
from ._contract_data import FAR, LIVE, T0, at, batch, concurrently, full_run, make_run
from .base import LeaseLostError, RunStore

__all__ = ["LeaseContract"]


class LeaseContract:
    """Claims and leases: no two workers get the same run; only the holder saves it."""

    @staticmethod
    def seed(
        store: RunStore, *runs: Run, owner: str = "", until: _dt.datetime | None = None
    ) -> list[Run]:
        """Store each run through an event of its own; the stored copies, with their epochs."""
        stored = []
        for run in runs:
            result = store.ingest(batch(f"evt_seed_{run.id}", run, owner=owner, lease_until=until))
            assert result.started == (run,)
            stored.append(result.started[0])
        return stored

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
        (run,) = self.seed(store, make_run("run_1"), owner="w1", until=at(1))
        later = replace(run, next_at=at(30), cursor=1, updated_at=at(1))
        store.save(later, owner="w1", lease_until=at(40))
        assert store.get("run_1") == later
        assert store.claim_due(at(35), owner="w2", lease_until=FAR, limit=10) == []
        assert store.claim_due(at(40), owner="w2", lease_until=FAR, limit=10) == [later]

    def test_save_moves_the_run_out_of_the_due_list(self, store: RunStore) -> None:
        """A saved finished run is no longer due; its saved status is what queries see."""
        (run,) = self.seed(store, make_run("run_1"), owner="w1", until=at(1))
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
        (run,) = self.seed(store, make_run("run_1"), owner="w1", until=at(1))
        (taken,) = store.claim_due(at(2), owner="w2", lease_until=FAR, limit=1)
        assert taken == run
        with pytest.raises(LeaseLostError):
            store.save(replace(run, cursor=1), owner="w1", lease_until=None)
        store.save(replace(taken, cursor=2), owner="w2", lease_until=None)
        assert store.get("run_1").cursor == 2  # type: ignore[union-attr]

    def test_expired_lease_not_taken_over_still_saves(self, store: RunStore) -> None:
        """An expired lease that nobody took over still lets its holder save."""
        (run,) = self.seed(store, make_run("run_1"), owner="w1", until=at(1))
        store.save(replace(run, cursor=1), owner="w1", lease_until=None)
        assert store.get("run_1").cursor == 1  # type: ignore[union-attr]

    def test_save_with_no_lease_until_releases(self, store: RunStore) -> None:
        """``lease_until=None`` frees the run at once; its former holder cannot save again."""
        (run,) = self.seed(
            store,
            make_run("run_1", status="awaiting_approval", next_at=None),
            owner="w1",
            until=FAR,
        )
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
