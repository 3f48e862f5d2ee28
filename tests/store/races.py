"""Helpers of the race tests: a store wrapper that injects an action at the worst moment, and
the three stores to run each test on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dunning_rules.outcome import Run
from dunning_rules.store import open_store
from dunning_rules.store.base import RunStore
from dunning_rules.store.memory import MemoryStore

RULES = """
version: 1
rules:
  - name: remind
    on: invoice.payment_failed
    cancel_on: [invoice.paid]
    actions:
      - {type: wait, duration: 3d}
      - {type: email, to: x@example.com, subject: s, text: t}
      - {type: wait, duration: 3d}
      - {type: sms, to: "+15555555555", body: b}
"""


class RaceStore:
    """A store that runs ``before_start(run)`` once, right before the store confirms a step's
    start (between a worker's claim and its adapter call), then delegates everything."""

    def __init__(self, inner: RunStore) -> None:
        self.inner = inner
        self.before_start: Callable[[Run], None] | None = None

    def start_step(
        self, run: Run, *, owner: str, now: dt.datetime, lease_until: dt.datetime
    ) -> bool:
        hook, self.before_start = self.before_start, None
        if hook is not None:
            hook(run)
        return self.inner.start_step(run, owner=owner, now=now, lease_until=lease_until)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class Backend:
    """One kind of store for a test: ``open()`` gives a new connection to the same data."""

    def __init__(self, kind: str, url: str | None) -> None:
        self.kind = kind
        self.url = url
        self._memory = MemoryStore() if kind == "memory" else None
        self._opened: list[RunStore] = []

    def open(self) -> RunStore:
        if self._memory is not None:
            return self._memory
        assert self.url is not None
        store = open_store(self.url)
        self._opened.append(store)
        return store

    def close(self) -> None:
        for store in self._opened:
            store.close()


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'runs.db'}"
