"""Runs as JSON text: every field of a run is written, and read-only mappings are objects."""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
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


def test_times_are_written_as_they_are_whatever_was_written_before():
    """The encoder remembers the last time it wrote; a different moment, an equal moment in
    another zone, or a time whose object was freed and its memory reused, is written anew."""
    utc = dt.timezone.utc
    base = full_run()
    moments = [
        dt.datetime(2026, 3, 1, 9, 0, tzinfo=utc),
        dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        dt.datetime(2026, 3, 1, 9, 0, 0, 1, tzinfo=utc),
    ]
    for _ in range(3):
        for moment in [*moments, *reversed(moments)]:
            run = replace(base, created_at=moment, updated_at=moment, next_at=None)
            data = json.loads(dump_run(run))
            assert data["created_at"] == data["updated_at"] == moment.isoformat()
            assert data["next_at"] is None
    for number in range(200):  # new objects, some at the address of a freed one
        moment = dt.datetime(2026, 1, 1, tzinfo=utc) + dt.timedelta(seconds=number)
        data = json.loads(dump_run(replace(base, due_at=moment)))
        assert data["due_at"] == moment.isoformat()


def test_threads_writing_times_at_once_each_get_their_own():
    """Threads share the moments they write (so one may find the other's last time in the
    encoder's memory); each still reads its time's own text."""
    utc = dt.timezone.utc
    base = full_run()
    moments = [dt.datetime(2026, 1, 1, tzinfo=utc) + dt.timedelta(minutes=n) for n in range(7)]
    wrong: list[str] = []

    def write(offset: int) -> None:
        for number in range(2000):
            moment = moments[(offset + number) % len(moments)]
            data = json.loads(dump_run(replace(base, created_at=moment, updated_at=moment)))
            if data["created_at"] != moment.isoformat() or data["updated_at"] != data["created_at"]:
                wrong.append(data["created_at"])

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns as often as they can
    try:
        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert wrong == []
