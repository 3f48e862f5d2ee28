"""Where replay reads its events: lists, JSON Lines, directories, list responses; and the
hostile delivery of them."""

from __future__ import annotations

import json

import pytest

import dunning_rules as dr
from dunning_rules._replay import replay
from dunning_rules._replay_source import MAX_LATE, Deliveries, open_events
from dunning_rules.errors import EventError
from tests.replay.support import DAY, T0, failed, paid, rules_text

RULES = rules_text(
    "      - {type: email, to: a@example.com, subject: Hi, text: Pay}\n"
    "      - {type: wait, duration: 3d}\n"
    "      - {type: sms, to: '+15555555555', body: Still open}\n"
)


def month():
    return [failed("in_A", T0), paid("in_A", T0 + DAY), failed("in_B", T0 + 2 * DAY)]


def ids(source):
    return [event["id"] for _, _, event in source.items]


def test_a_json_lines_file_out_of_order_is_read_in_created_order(tmp_path):
    """A JSON Lines file is replayed in created order whatever its line order."""
    events = month()
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in reversed(events)) + "\n")
    assert ids(open_events(path)) == [e["id"] for e in events]


def test_ties_keep_file_order(tmp_path):
    """Events created in the same second run in the order the file lists them."""
    first, second = failed("in_A", T0), failed("in_B", T0)
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(second) + "\n" + json.dumps(first) + "\n")
    assert ids(open_events(path)) == [second["id"], first["id"]]


def test_a_list_response_is_newest_first(tmp_path):
    """A Stripe list response is read oldest first, as its items happened."""
    events = month()
    path = tmp_path / "page.json"
    path.write_text(json.dumps({"object": "list", "data": list(reversed(events))}))
    assert ids(open_events(path)) == [e["id"] for e in events]


def test_a_directory_skips_what_is_not_an_event(tmp_path):
    """Every event file under a directory is read; other JSON and non-JSON are skipped."""
    for number, event in enumerate(month()):
        (tmp_path / f"{number}.json").write_text(json.dumps(event))
    (tmp_path / "_index.jsonl").write_text('{"path": "x"}\n')
    (tmp_path / "broken.json").write_text("{")
    (tmp_path / "README.md").write_text("not read")
    source = open_events(tmp_path)
    assert len(ids(source)) == 3
    assert source.skipped == {"not a Stripe event": 1, "not JSON": 1}


def test_an_event_without_created_is_skipped():
    """An event with no integer created cannot be placed in time: it is skipped."""
    event = failed()
    del event["created"]
    source = open_events([event, paid()])
    assert (len(ids(source)), source.skipped) == (1, {"no created time": 1})


def test_a_missing_path_is_an_event_error(tmp_path):
    """A path that does not exist is refused, not taken for an empty stream."""
    with pytest.raises(EventError, match="no such events file"):
        open_events(tmp_path / "missing.jsonl")


def test_a_file_and_a_list_give_the_same_report(tmp_path):
    """Replaying a JSON Lines file reports what replaying the same events as a list does."""
    events = month()
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    rules = dr.load_rules(RULES)
    assert replay(rules, path) == replay(rules, events)


def test_hostile_delivery_is_late_out_of_order_and_twice_but_complete():
    """Every event arrives at or after its created, within the late bound, at least once;
    some twice and some out of order; the same seed gives the same deliveries."""
    events = [failed(f"in_{n}", T0 + n * 60) for n in range(400)]
    first = Deliveries(open_events(events), seed=5)
    arrivals = [(d.at, d.event["id"], d.copy) for d in first]
    assert {event_id for _, event_id, _ in arrivals} == {e["id"] for e in events}
    created = {e["id"]: e["created"] for e in events}
    assert all(created[i] <= at <= created[i] + MAX_LATE + 7 * 3600 for at, i, _ in arrivals)
    assert [at for at, _, _ in arrivals] == sorted(at for at, _, _ in arrivals)
    assert first.duplicates > 0
    assert first.reordered > 0
    again = [(d.at, d.event["id"], d.copy) for d in Deliveries(open_events(events), seed=5)]
    assert again == arrivals
