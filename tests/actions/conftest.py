"""Fixtures of the messaging step tests: fake Twilio, Slack and Teams servers (one set per
module, reset before each test and checked after it) and a clean environment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.actions.fakes_messaging import (
    MESSAGING_ENV,
    FakeSlack,
    FakeTeams,
    FakeTwilio,
    FakeVendor,
)


@pytest.fixture(autouse=True)
def _clean_messaging_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in MESSAGING_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def _messaging_servers() -> Iterator[dict[str, FakeVendor]]:
    with (
        FakeTwilio() as twilio,
        FakeSlack() as slack,
        FakeTeams() as teams,
        FakeTeams(legacy=True) as legacy,
    ):
        yield {"twilio": twilio, "slack": slack, "teams": teams, "legacy": legacy}


def _fresh(servers: dict[str, FakeVendor], name: str) -> Iterator[FakeVendor]:
    fake = servers[name]
    fake.reset()
    yield fake
    fake.check()


@pytest.fixture
def twilio(_messaging_servers: dict[str, FakeVendor]) -> Iterator[FakeVendor]:
    yield from _fresh(_messaging_servers, "twilio")


@pytest.fixture
def slack(_messaging_servers: dict[str, FakeVendor]) -> Iterator[FakeVendor]:
    yield from _fresh(_messaging_servers, "slack")


@pytest.fixture
def teams(_messaging_servers: dict[str, FakeVendor]) -> Iterator[FakeVendor]:
    yield from _fresh(_messaging_servers, "teams")


@pytest.fixture
def legacy(_messaging_servers: dict[str, FakeVendor]) -> Iterator[FakeVendor]:
    """A legacy Office 365 connector webhook (answers 200 with ``1``)."""
    yield from _fresh(_messaging_servers, "legacy")
