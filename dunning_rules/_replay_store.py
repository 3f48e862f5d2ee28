"""The store of a replay: :class:`~dunning_rules.store.memory.MemoryStore`, which forgets.

Every method is the memory store's own, so runs, cancels, markers and de-duplication behave as
in production. :meth:`ReplayStore.forget` drops what a replay no longer needs, so that memory
follows the runs in play rather than the events seen: runs that ended (replay has counted
them), and event ids and cancel markers older than the retention (a redelivery or a late event
comes within days, not months).
"""

from __future__ import annotations

import datetime as _dt
from collections import deque

from .store.base import Ingest, IngestResult, marker_rows
from .store.memory import MemoryStore

__all__ = ["ReplayStore"]


class ReplayStore(MemoryStore):
    """A memory store that can forget ended runs and old event ids and markers."""

    keeps_event_text = False  # runs keep the event itself: the engine need not encode it

    def __init__(self) -> None:
        super().__init__()
        self._seen: deque[tuple[_dt.datetime, str]] = deque()
        self._marked: deque[tuple[int, str, str]] = deque()

    def ingest(self, batch: Ingest) -> IngestResult:
        result = super().ingest(batch)
        if not result.duplicate:
            self._seen.append((batch.received_at, batch.event_id))
            self._marked.extend((created, rule, key) for rule, key, created in marker_rows(batch))
        return result

    def forget(self, before: _dt.datetime) -> None:
        """Drop every ended run, and the event ids received and the markers created before
        ``before``."""
        with self._lock:
            ended = [run_id for run_id, run in self._runs.items() if not run.live]
            for run_id in ended:
                run = self._runs.pop(run_id)
                self._leases.pop(run_id, None)
                if run.key is None:  # only keyed runs are looked up by key
                    continue
                ids = self._by_key.get((run.rule, run.key))
                if ids is not None:
                    kept = tuple(i for i in ids if i != run_id)
                    if kept:
                        self._by_key[run.rule, run.key] = kept
                    else:
                        del self._by_key[run.rule, run.key]
            if ended:
                self._order = [run_id for run_id in self._order if run_id in self._runs]
            while self._seen and self._seen[0][0] < before:
                self._events.discard(self._seen.popleft()[1])
            cutoff = int(before.timestamp())
            while self._marked and self._marked[0][0] < cutoff:
                _, rule, key = self._marked.popleft()
                if self._markers.get((rule, key), cutoff) < cutoff:
                    del self._markers[rule, key]
