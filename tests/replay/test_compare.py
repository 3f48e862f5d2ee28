"""replay_compare: two rule sets on the same events, the invoices whose messages differ."""

from __future__ import annotations

import pytest

import dunning_rules as dr
from dunning_rules._replay import ReplayError, replay, replay_compare
from tests.replay.support import SMART, gen_month


@pytest.fixture(scope="module")
def events():
    return gen_month.generate(5, 150, 30)[0]


@pytest.fixture(scope="module")
def smart():
    return dr.load_rules(SMART)


def test_the_same_rules_differ_nowhere(events, smart):
    """Replaying one rule set twice finds no invoice with other messages."""
    comparison = replay_compare(smart, smart, events)
    assert comparison.different == 0
    assert comparison.compared > 0
    assert comparison.differences == ()


def test_a_longer_wait_moves_the_sms(events, smart):
    """Waiting 5 days instead of 3 changes the SMS of the invoices that got one, and each
    difference lists both sequences by invoice and customer."""
    later = dr.load_rules(SMART.read_text().replace("duration: 3d", "duration: 5d"))
    comparison = replay_compare(smart, later, events, limit=5)
    assert comparison.different > 0
    assert len(comparison.differences) == min(5, comparison.different)
    first = comparison.differences[0]
    assert first.invoice.startswith("in_")
    assert first.customer.startswith("cus_")
    assert first.before != first.after
    assert any(" sms " in step for step in first.before + first.after)
    assert comparison.before.messages["sms"] != comparison.after.messages["sms"]


def test_an_iterator_of_events_is_read_once_and_replayed_twice(events, smart):
    """A one-shot iterator gives both replays the same events."""
    comparison = replay_compare(smart, smart, iter(events))
    assert comparison.before.events == comparison.after.events == len(events)


def test_compare_needs_sequences(events, smart):
    """A report made without sequences cannot be compared."""
    report = replay(smart, events[:50])
    with pytest.raises(ReplayError, match="sequences=True"):
        report.compare(report)


def test_the_comparison_as_json(events, smart):
    """to_dict holds both summaries and the differences."""
    later = dr.load_rules(SMART.read_text().replace("duration: 3d", "duration: 5d"))
    data = replay_compare(smart, later, events, limit=2).to_dict()
    assert set(data) == {"before", "after", "different", "compared", "differences"}
    assert len(data["differences"]) == 2
    assert data["before"]["runs"]["started"] > 0
