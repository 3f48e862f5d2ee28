"""Fixtures shared by the whole suite: the fixture files, two events, a clock, fakes.

Subfolders (tests/actions, tests/store) keep their own conftests; this one defines only
``fixtures_dir``, ``failed_event``, ``paid_event``, ``clock`` and ``recording``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dunning_rules.testing import FixedClock, RecordingAdapter
from tests.paths import FIXTURES


def _fixtures_dir() -> Path:
    return FIXTURES


def _event(name: str) -> dict[str, Any]:
    path = _fixtures_dir() / "stripe" / "events" / name
    event: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return copy.deepcopy(event)


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """``tests/fixtures`` in the checkout (tests/paths.py)."""
    return _fixtures_dir()


@pytest.fixture
def failed_event(fixtures_dir: Path) -> dict[str, Any]:
    """A fresh copy of stripe/events/invoice.payment_failed.json."""
    return _event("invoice.payment_failed.json")


@pytest.fixture
def paid_event(fixtures_dir: Path) -> dict[str, Any]:
    """A fresh copy of stripe/events/invoice.paid.json."""
    return _event("invoice.paid.json")


@pytest.fixture
def clock() -> FixedClock:
    """A clock standing at 2026-01-01T00:00:00Z until a test moves it."""
    return FixedClock("2026-01-01T00:00:00+00:00")


@pytest.fixture
def recording() -> Callable[..., RecordingAdapter]:
    """A factory of RecordingAdapter: ``recording(output={"id": "x"})``."""
    return RecordingAdapter
