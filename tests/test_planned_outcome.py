"""simulate's Outcome builds its runs and records on first read, and behaves as an Outcome."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import pickle

import dunning_rules as dr
from dunning_rules.testing import FixedClock
from tests.paths import FIXTURES

RULES = """
version: 1
rules:
  - name: remind
    on: invoice.payment_failed
    actions:
      - {type: slack, channel: "#billing", text: "{{ data.object.customer_email }}"}
      - {type: wait, duration: 3d}
      - {type: slack, channel: "#billing", text: "again"}
"""


def simulated() -> dr.Outcome:
    clock = FixedClock(dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.timezone.utc))
    engine = dr.Engine(dr.load_rules(RULES), clock=clock)
    event = json.loads((FIXTURES / "stripe" / "events" / "invoice.payment_failed.json").read_text())
    return engine.simulate(event)


def test_it_equals_an_outcome_with_the_same_fields() -> None:
    outcome = simulated()
    plain = dr.Outcome(**{f.name: getattr(outcome, f.name) for f in dataclasses.fields(outcome)})
    assert outcome == plain
    assert plain == outcome
    assert repr(outcome) == repr(plain)
    assert isinstance(outcome, dr.Outcome)


def test_runs_and_actions_agree_whichever_is_read_first() -> None:
    first_runs, first_actions = simulated(), simulated()
    runs = first_runs.runs
    actions = first_actions.actions
    assert runs == first_actions.runs
    assert actions == first_runs.actions
    assert [r.status for r in runs] == ["waiting"]
    assert [a.status for a in actions] == ["planned", "planned", "planned"]
    assert actions == runs[0].steps


def test_replace_copy_and_pickle_keep_every_field() -> None:
    outcome = simulated()
    changed = dataclasses.replace(outcome, warnings=("note",))
    assert changed.warnings == ("note",)
    assert changed.runs == outcome.runs
    assert pickle.loads(pickle.dumps(outcome)) == outcome
    assert copy.deepcopy(outcome) == outcome
    assert dataclasses.asdict(outcome)["runs"][0]["rule"] == "remind"
