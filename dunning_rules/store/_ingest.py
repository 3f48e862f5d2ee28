"""What the SQL stores share: the runs of an :class:`~dunning_rules.store.base.Ingest` sorted
into started, skipped and superseded once the database has said which ones it inserted, and
what a save that finds its run no longer held answers."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from ..outcome import Run, evolve
from ._codec import load_run
from .base import Ingest, LeaseLostError, merge_cancelled, superseded

__all__ = ["leased", "lost_save", "merged_onto_cancel", "sort_runs"]


def leased(run: Run, epoch: int) -> Run:
    """``run`` as the store started it: its copy carries the lease's epoch."""
    return run if run.epoch == epoch else evolve(run, epoch=epoch)


def sort_runs(
    batch: Ingest,
    epoch: int,
    inserted: Collection[str] | None,
    marker: Callable[[str, str], int | None],
) -> tuple[list[Run], list[Run], list[Run]]:
    """The runs of ``batch`` that started, that were skipped (their rule had a live run for
    their key) and that were superseded (a marker of their key is at or after the event).

    ``inserted`` holds the ids of the runs the database inserted, None when it inserted every
    one; ``marker(rule, key)`` reads a marker, in the batch's transaction, for the runs that
    did not start."""
    if inserted is None:
        return [leased(run, epoch) for run in batch.runs], [], []
    started, skipped, old = [], [], []
    for run in batch.runs:
        if run.id in inserted:
            started.append(leased(run, epoch))
        elif run.key is not None and superseded(batch, marker(run.rule, run.key)):
            old.append(run)
        else:
            skipped.append(run)
    return started, skipped, old


def merged_onto_cancel(run: Run, row: Any) -> Run | None:
    """For a save of ``run`` that found it no longer held: the cancelled stored copy with
    ``run``'s records, when the cancel kept this worker's epoch (``row``: status, owner, epoch,
    body and event of the stored run, or None); None when the run was taken over instead.
    A held run never becomes held again under the same epoch, so the row says why."""
    if row is None or row[0] != "cancelled" or row[1] is not None or row[2] != run.epoch:
        return None
    return merge_cancelled(load_run(row[3], row[4], row[2]), run)


def lost_save(run: Run, owner: str, merged: Run | None) -> LeaseLostError:
    """The error of a save that found ``run`` no longer held by ``owner``."""
    if merged is not None:
        return LeaseLostError(f"run {run.id} was cancelled", run=merged)
    return LeaseLostError(f"run {run.id} is no longer leased to {owner}")
