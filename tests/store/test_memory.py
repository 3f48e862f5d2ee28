"""The store contract, run on the in-memory reference store."""

from __future__ import annotations

from dunning_rules.store import MemoryStore
from dunning_rules.store._contract import StoreContract


class TestMemoryStore(StoreContract):
    def make_store(self):
        return MemoryStore()
