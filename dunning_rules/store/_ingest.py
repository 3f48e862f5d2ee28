"""What the SQL stores share when they apply an :class:`~dunning_rules.store.base.Ingest`:
the runs of a batch sorted into started, skipped and superseded once the database has said
which ones it inserted."""

from __future__ import annotations

from collections.abc import Callable, Collection

from ..outcome import Run, evolve
from .base import Ingest, superseded

__all__ = ["leased", "sort_runs"]


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
