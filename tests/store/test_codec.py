"""Runs as JSON text: every field of a run is written, and read-only mappings are objects."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from types import MappingProxyType

from dunning_rules.outcome import ActionRecord, Run
from dunning_rules.store._codec import dump_run, load_run
from dunning_rules.store._contract_data import full_run


def test_every_field_of_a_run_and_its_steps_is_written():
    """The text holds every field of the run (its event and epoch aside: stores keep those
    in columns of their own) and every field of each step."""
    data = json.loads(dump_run(full_run()))
    expected = {f.name for f in fields(Run)} - {"event", "epoch"}
    assert set(data) == expected
    assert [set(step) for step in data["steps"]] == [{f.name for f in fields(ActionRecord)}] * 3


def test_read_only_mappings_are_written_as_objects():
    """Params, outputs and an approval held in read-only mappings (a plan shared between
    runs) are written as JSON objects and read back equal, nested ones included."""
    frozen = MappingProxyType
    run = full_run()
    step = replace(
        run.steps[0],
        params=frozen({"to": "a@example.com", "n": frozen({"k": [1, 2]})}),
        output=frozen({"ok": True}),
    )
    run = replace(run, steps=(step, *run.steps[1:]), approval=frozen({"step": 2}))
    data = json.loads(dump_run(run))
    assert data["steps"][0]["params"] == {"to": "a@example.com", "n": {"k": [1, 2]}}
    assert data["steps"][0]["output"] == {"ok": True}
    assert data["approval"] == {"step": 2}
    assert load_run(dump_run(run), json.dumps(dict(run.event))) == run


def test_a_run_reads_back_equal_with_its_event():
    """``load_run`` of what ``dump_run`` wrote, with the event's text, is the same run."""
    run = full_run()
    assert load_run(dump_run(run), json.dumps(dict(run.event)), epoch=3) == run
    assert load_run(dump_run(run), json.dumps(dict(run.event)), epoch=3).epoch == 3
