"""An app module as ``dunning-rules run-due --engine tests.cli_app:make_engine`` finds it.

It configures its engine in Python, as a billing app does: its own email adapter (here a
RecordingAdapter; tests swap ``EMAIL`` with monkeypatch), a SQLite store whose path comes from
the environment variable ``DUNNING_RULES_CLI_APP_DB`` (a test's tmp dir), and a clock of its
own (``CLOCK``, two days after :data:`START`).
"""

from __future__ import annotations

import datetime as dt
import os

import dunning_rules as dr
from dunning_rules.testing import FixedClock, RecordingAdapter

DB_ENV = "DUNNING_RULES_CLI_APP_DB"
START = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
"""When the runs start: years after the wall clock, so only the app's clock makes them due."""

RULES = """version: 1
rules:
  - name: remind
    on: invoice.payment_failed
    actions:
      - {type: wait, duration: 1d}
      - {type: email, to: "{{ data.object.customer_email }}", subject: Reminder, text: Pay}
"""

EMAIL = RecordingAdapter(output={"id": "msg_1"})
CLOCK = FixedClock(START + dt.timedelta(days=2))


def build(store: str, *, email: RecordingAdapter, clock: FixedClock | None = None) -> dr.Engine:
    """The app's engine on ``store``, sending email through ``email``."""
    return dr.Engine(dr.load_rules(RULES), adapters={"email": email}, store=store, clock=clock)


def make_engine() -> dr.Engine:
    """The worker's engine: the store named by the environment, ``EMAIL`` and ``CLOCK``."""
    return build(f"sqlite:///{os.environ[DB_ENV]}", email=EMAIL, clock=CLOCK)


def make_rules() -> dr.RuleSet:
    """Not an engine: what a factory that forgot to build one returns."""
    return dr.load_rules(RULES)
