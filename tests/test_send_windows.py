"""Send windows through the engine: a step outside its window reschedules the run durably to
the next opening in the recipient's time zone (handle, run_due, simulate, replay)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import dunning_rules as dr
from dunning_rules.testing import FixedClock, RecordingAdapter

UTC = dt.timezone.utc
NEW_YORK = {"country": "US", "state": "NY", "line1": None, "city": None}

TEXT_NOW = """
version: 1
rules:
  - name: remind
    on: invoice.payment_failed
    cancel_on: [invoice.paid]
    actions:
      - {type: sms, to: "{{ data.object.customer_phone }}", body: "Please pay"}
"""

TEXT_TWICE = """
version: 1
rules:
  - name: remind
    on: invoice.payment_failed
    actions:
      - {type: sms, to: "{{ data.object.customer_phone }}", body: "first"}
      - {type: wait, duration: 3d}
      - {type: sms, to: "{{ data.object.customer_phone }}", body: "second"}
"""


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def invoice_event(
    event_id: str = "evt_1", event_type: str = "invoice.payment_failed", **fields: Any
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "object": "invoice",
        "id": "in_1",
        "customer": "cus_1",
        "customer_phone": "+15555550100",
        "customer_email": "jenny@example.com",
        "amount_due": 123456,
        "currency": "usd",
        "customer_address": NEW_YORK,
    }
    obj.update(fields)
    return {"id": event_id, "object": "event", "type": event_type, "data": {"object": obj}}


def engine_for(text: str, clock: FixedClock, **adapters: Any) -> dr.Engine:
    return dr.Engine(dr.load_rules(text), adapters=adapters, clock=clock)


def test_sms_outside_its_window_waits_for_the_morning():
    """At 03:00 in New York an SMS is not sent: the run waits until 08:00 New York time."""
    clock, sms = FixedClock(utc(2024, 7, 26, 7, 0)), RecordingAdapter()
    outcome = engine_for(TEXT_NOW, clock, sms=sms).handle(invoice_event())
    [run] = outcome.runs
    assert sms.calls == []
    assert outcome.actions == ()
    assert (run.status, run.next_at, run.cursor) == ("waiting", utc(2024, 7, 26, 12, 0), 0)
    assert run.reason == (
        "step 0 (sms) waits for its send window 08:00-21:00 (America/New_York) until "
        "2024-07-26T12:00:00+00:00"
    )


def test_run_due_sends_at_the_opening_and_not_before():
    """run_due a minute early sends nothing; at 08:00 local the SMS goes, the note is gone."""
    clock, sms = FixedClock(utc(2024, 7, 26, 7, 0)), RecordingAdapter()
    engine = engine_for(TEXT_NOW, clock, sms=sms)
    engine.handle(invoice_event())
    clock.now = utc(2024, 7, 26, 11, 59)
    assert engine.run_due() == []
    clock.now = utc(2024, 7, 26, 12, 0)
    [outcome] = engine.run_due()
    [run] = outcome.runs
    assert [c.params["body"] for c in sms.calls] == ["Please pay"]
    assert (run.status, run.reason) == ("completed", None)


def test_a_wait_after_a_held_step_counts_from_the_due_time():
    """sms, wait 3d, sms from 03:00 local: 08:00, then 3 days after 03:00, held to 08:00."""
    clock, sms = FixedClock(utc(2024, 7, 26, 7, 0)), RecordingAdapter()
    engine = engine_for(TEXT_TWICE, clock, sms=sms)
    engine.handle(invoice_event())
    clock.now = utc(2024, 7, 26, 12, 0)
    [first] = engine.run_due()
    wait = first.runs[0].record(1)
    assert wait is not None
    assert wait.output == {"until": "2024-07-29T07:00:00+00:00"}
    clock.now = utc(2024, 7, 29, 7, 0)
    [held] = engine.run_due()
    assert held.runs[0].next_at == utc(2024, 7, 29, 12, 0)
    clock.now = utc(2024, 7, 29, 12, 0)
    engine.run_due()
    assert [c.params["body"] for c in sms.calls] == ["first", "second"]


def test_a_late_worker_past_the_window_holds_the_step_again():
    """Due at 12:00 UTC but run at 02:00 the next night (local): it waits for 08:00 again."""
    clock, sms = FixedClock(utc(2024, 7, 26, 7, 0)), RecordingAdapter()
    engine = engine_for(TEXT_NOW, clock, sms=sms)
    engine.handle(invoice_event())
    clock.now = utc(2024, 7, 27, 6, 0)
    [outcome] = engine.run_due()
    assert sms.calls == []
    assert outcome.runs[0].next_at == utc(2024, 7, 27, 12, 0)


@pytest.mark.parametrize(
    ("address", "at", "opening"),
    [
        (NEW_YORK, utc(2024, 3, 10, 5, 30), utc(2024, 3, 10, 12, 0)),
        (NEW_YORK, utc(2024, 11, 3, 4, 30), utc(2024, 11, 3, 13, 0)),
        ({"country": "DE"}, utc(2024, 3, 30, 22, 0), utc(2024, 3, 31, 6, 0)),
        ({"country": "AU", "state": "ACT"}, utc(2024, 10, 5, 12, 0), utc(2024, 10, 5, 21, 0)),
        ({"country": "IN"}, utc(2024, 7, 26, 0, 0), utc(2024, 7, 26, 2, 30)),
    ],
    ids=["us-spring-forward", "us-fall-back", "europe", "southern-hemisphere", "half-hour"],
)
def test_handle_reschedules_to_local_0800_across_dst(address, at, opening):
    """The run's next_at is 08:00 on the recipient's clock, on the nights clocks change too."""
    clock = FixedClock(at)
    outcome = engine_for(TEXT_NOW, clock, sms=RecordingAdapter()).handle(
        invoice_event(customer_address=address)
    )
    assert outcome.runs[0].next_at == opening


def test_settings_give_email_a_weekday_window():
    """settings.send_windows: an email on Saturday in Paris waits for Monday 09:00 there."""
    text = """
version: 1
settings:
  send_windows:
    email: {hours: "09:00-18:00", days: mon-fri}
rules:
  - name: mail
    on: invoice.payment_failed
    actions:
      - {type: email, to: "{{ data.object.customer_email }}", subject: s, text: t}
"""
    clock, email = FixedClock(utc(2024, 7, 27, 10, 0)), RecordingAdapter()  # a Saturday
    outcome = engine_for(text, clock, email=email).handle(
        invoice_event(customer_address={"country": "FR"})
    )
    assert email.calls == []
    assert outcome.runs[0].next_at == utc(2024, 7, 29, 7, 0)


def test_send_window_false_sends_at_night():
    """A step with send_window: false has no window, not even the sms default."""
    text = TEXT_NOW.replace('body: "Please pay"}', 'body: "Please pay", send_window: false}')
    clock, sms = FixedClock(utc(2024, 7, 26, 7, 0)), RecordingAdapter()
    engine_for(text, clock, sms=sms).handle(invoice_event())
    assert len(sms.calls) == 1


def test_time_zone_expression_comes_first():
    """time_zone: data.object.metadata.tz names Tokyo: 08:00 there, whatever the address."""
    text = """
version: 1
rules:
  - name: remind
    on: invoice.payment_failed
    actions:
      - type: sms
        to: "{{ data.object.customer_phone }}"
        body: hi
        send_window: {hours: "08:00-21:00", time_zone: data.object.metadata.tz}
"""
    clock = FixedClock(utc(2024, 7, 26, 14, 0))  # 23:00 in Tokyo, 10:00 in New York
    outcome = engine_for(text, clock, sms=RecordingAdapter()).handle(
        invoice_event(metadata={"tz": "Asia/Tokyo"})
    )
    assert outcome.runs[0].next_at == utc(2024, 7, 26, 23, 0)


def test_settings_time_zone_when_no_address_names_one():
    """No address: settings.time_zone decides (here Los Angeles, 08:00 is 15:00 UTC)."""
    text = TEXT_NOW.replace(
        "version: 1\n", "version: 1\nsettings: {time_zone: America/Los_Angeles}\n"
    )
    clock = FixedClock(utc(2024, 7, 26, 12, 0))
    outcome = engine_for(text, clock, sms=RecordingAdapter()).handle(
        invoice_event(customer_address=None)
    )
    assert outcome.runs[0].next_at == utc(2024, 7, 26, 15, 0)


def test_payment_cancels_a_run_held_for_its_window():
    """invoice.paid before the opening cancels the held run: no SMS at 08:00."""
    clock, sms = FixedClock(utc(2024, 7, 26, 7, 0)), RecordingAdapter()
    engine = engine_for(TEXT_NOW, clock, sms=sms)
    engine.handle(invoice_event())
    engine.handle(invoice_event("evt_2", "invoice.paid", status="paid"))
    clock.now = utc(2024, 7, 26, 12, 0)
    assert engine.run_due() == []
    assert sms.calls == []
    assert [r.status for r in engine.runs()] == ["cancelled"]


def test_a_held_run_survives_a_restart(tmp_path):
    """The reschedule is stored: another engine on the same SQLite file sends at 08:00."""
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    clock = FixedClock(utc(2024, 7, 26, 7, 0))
    first = dr.Engine(
        dr.load_rules(TEXT_NOW), adapters={"sms": RecordingAdapter()}, store=store, clock=clock
    )
    first.handle(invoice_event())
    first.close()
    sms = RecordingAdapter()
    clock.now = utc(2024, 7, 26, 12, 0)
    second = dr.Engine(dr.load_rules(TEXT_NOW), adapters={"sms": sms}, store=store, clock=clock)
    [outcome] = second.run_due()
    second.close()
    assert len(sms.calls) == 1
    assert outcome.runs[0].status == "completed"


def test_simulate_shows_when_the_step_would_go_out():
    """simulate: the planned SMS starts at the opening, and the run waits as handle's does."""
    clock = FixedClock(utc(2024, 7, 26, 7, 0))
    engine = engine_for(TEXT_TWICE, clock, sms=RecordingAdapter())
    plan = engine.simulate(invoice_event())
    [run] = plan.runs
    assert [(s.type, s.status, s.started_at) for s in run.steps] == [
        ("sms", "planned", utc(2024, 7, 26, 12, 0)),
        ("wait", "planned", None),
        ("sms", "planned", utc(2024, 7, 29, 12, 0)),
    ]
    handled = engine.handle(invoice_event()).runs[0]
    assert (run.status, run.next_at) == (handled.status, handled.next_at)


def test_simulate_inside_the_window_starts_at_once():
    """At noon in New York the planned SMS starts at once and the run completes."""
    clock = FixedClock(utc(2024, 7, 26, 16, 0))
    [run] = engine_for(TEXT_NOW, clock, sms=RecordingAdapter()).simulate(invoice_event()).runs
    assert (run.status, run.steps[0].started_at) == ("completed", utc(2024, 7, 26, 16, 0))


def test_replay_honours_the_window():
    """replay sends the SMS of an event at 03:00 New York time at 08:00 there."""
    event = invoice_event(created=int(utc(2024, 7, 26, 7, 0).timestamp()))
    event["created"] = int(utc(2024, 7, 26, 7, 0).timestamp())
    report = dr.replay(dr.load_rules(TEXT_NOW), [event], sequences=True)
    assert report.sequences is not None
    [(at, kind, rule)] = report.sequences["in_1"]
    assert (dt.datetime.fromtimestamp(at, UTC), kind, rule) == (
        utc(2024, 7, 26, 12, 0),
        "sms",
        "remind",
    )


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ('"8-21"', "not a time of day: '8' in '8-21' (write HH:MM)"),
        ('{hours: "08:00-21:00", days: [funday]}', "not a day of the week: 'funday'"),
    ],
    ids=["hours", "days"],
)
def test_a_bad_window_is_a_load_error_at_its_place(window, message):
    """A window that does not parse is a RuleFileError at the send_window's line."""
    text = TEXT_NOW.replace('body: "Please pay"}', f'body: "Please pay", send_window: {window}}}')
    with pytest.raises(dr.RuleFileError) as info:
        dr.load_rules(text)
    [problem] = info.value.problems
    assert problem.json_path == "$.rules[0].actions[0].send_window"
    assert problem.location.line == 8
    assert message in problem.message


def test_a_wait_takes_no_window():
    """A send_window on a wait step is a load error: it sends nothing."""
    text = TEXT_TWICE.replace(
        "{type: wait, duration: 3d}", '{type: wait, duration: 3d, send_window: "09:00-17:00"}'
    )
    with pytest.raises(dr.RuleFileError, match="a wait step takes no send window"):
        dr.load_rules(text)


def test_a_bad_settings_time_zone_is_a_load_error():
    """settings.time_zone must name a zone."""
    text = TEXT_NOW.replace("version: 1\n", "version: 1\nsettings: {time_zone: Mars/Base}\n")
    with pytest.raises(dr.RuleFileError, match="time_zone 'Mars/Base' is no time zone"):
        dr.load_rules(text)
