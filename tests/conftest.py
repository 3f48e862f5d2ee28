"""Fixtures shared by the whole suite: the shared fixture files, two events, a clock, fakes.

Subfolders (tests/actions, tests/store) keep their own conftests; this one defines only
``fixtures_dir``, ``failed_event``, ``paid_event``, ``clock`` and ``recording``.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dunning_rules.testing import FixedClock, RecordingAdapter

_DEFAULT_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


def _fixtures_dir() -> Path:
    return Path(os.environ.get("DUNNING_RULES_FIXTURES") or _DEFAULT_FIXTURES)


def _event(name: str) -> dict[str, Any]:
    path = _fixtures_dir() / "stripe" / "events" / name
    event: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return copy.deepcopy(event)


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """``../shared/fixtures`` beside the checkout, or
    ``$DUNNING_RULES_FIXTURES``."""
    path = _fixtures_dir()
    if not path.is_dir():
        pytest.fail(f"the shared fixtures are missing: {path} (set DUNNING_RULES_FIXTURES)")
    return path


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
