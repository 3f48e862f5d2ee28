"""Which send window a step keeps, when it may run, the customer's locales, and which steps
run in a run's variant."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from dunning_rules.rules._delivery import (
    ALWAYS_OPEN,
    compile_window,
    effective_window,
    preferred_for,
    runs_in_variant,
    window_opening,
)
from dunning_rules.rules.expressions import ExpressionSyntaxError
from dunning_rules.rules.variants import parse_variants

UTC = dt.timezone.utc
NOON_UTC = dt.datetime(2024, 7, 26, 12, 0, tzinfo=UTC)
SPLIT = parse_variants(
    [{"name": "control", "weight": 10, "holdout": True}, {"name": "sms-first", "weight": 90}]
)


def test_compile_window_shapes():
    """Hours alone, a mapping with days and a zone expression, and false."""
    assert compile_window("09:00-17:00").describe() == "09:00-17:00"
    spec = compile_window(
        {"hours": "09:00-17:00", "days": "mon-fri", "time_zone": "metadata.timezone"}
    )
    assert spec.describe() == "09:00-17:00 mon-fri"
    assert spec.time_zone is not None
    assert spec.time_zone.source == "metadata.timezone"
    assert compile_window(False) is ALWAYS_OPEN


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"days": "mon"}, "send_window needs hours, like '08:00-21:00'"),
        (
            {"hours": "08:00-21:00", "zone": "x"},
            "send_window has no key 'zone' (it has hours, days and time_zone)",
        ),
        (3, "send_window is hours ('08:00-21:00'), a mapping with hours, or false"),
        ({"hours": "8-9"}, "not a time of day: '8' in '8-9' (write HH:MM)"),
    ],
    ids=["no-hours", "unknown-key", "number", "bad-hours"],
)
def test_compile_window_errors(raw, message):
    """A malformed window is a ValueError that says what is wrong."""
    with pytest.raises(ValueError, match=re.escape(message)):
        compile_window(raw)


def test_compile_window_bad_zone_expression():
    """time_zone is an expression: a bad one is a syntax error."""
    with pytest.raises(ExpressionSyntaxError):
        compile_window({"hours": "08:00-21:00", "time_zone": "metadata.["})


def test_sms_keeps_the_default_window():
    """An sms step without a window of its own keeps 08:00-21:00."""
    spec = effective_window("sms", None, {})
    assert spec is not None
    assert spec.describe() == "08:00-21:00"


def test_other_types_have_no_default_window():
    """An email step has no window unless the file gives one."""
    assert effective_window("email", None, {}) is None


def test_settings_give_a_type_its_window():
    """settings.send_windows sets a type's window, and false turns the sms default off."""
    settings = {"send_windows": {"email": {"hours": "07:00-22:00"}, "sms": False}}
    email = effective_window("email", None, settings)
    assert email is not None
    assert email.describe() == "07:00-22:00"
    assert effective_window("sms", None, settings) is None


def test_a_step_window_wins_and_false_turns_it_off():
    """The step's own window replaces its type's; send_window: false means none."""
    own = compile_window("10:00-11:00")
    assert effective_window("sms", own, {}) is own
    assert effective_window("sms", ALWAYS_OPEN, {}) is None


def root_with(obj, settings=None):
    return {"data": {"object": obj}, "settings": settings or {}, "vars": {}, "steps": {}}


def test_window_opening_reads_the_zone_expression_first():
    """The window's time_zone comes before the invoice's address."""
    spec = compile_window({"hours": "08:00-21:00", "time_zone": "data.object.metadata.tz"})
    root = root_with({"metadata": {"tz": "Asia/Tokyo"}, "customer_address": {"country": "US"}})
    opening, zones = window_opening(spec, root, NOON_UTC, search=lambda e: e.search(root))
    assert [str(z) for z in zones] == ["Asia/Tokyo"]
    assert opening == dt.datetime(2024, 7, 26, 23, 0, tzinfo=UTC)  # 08:00 in Tokyo


def test_window_opening_falls_back_to_the_address_then_settings():
    """No zone expression: the customer's address; no address: settings.time_zone."""
    spec = compile_window("08:00-21:00")
    address = root_with({"customer_address": {"country": "US", "state": "NY"}})
    _, zones = window_opening(spec, address, NOON_UTC, search=lambda e: None)
    assert [str(z) for z in zones] == ["America/New_York"]
    bare = root_with({"customer": "cus_123"}, {"time_zone": "Europe/Paris"})
    _, zones = window_opening(spec, bare, NOON_UTC, search=lambda e: None)
    assert [str(z) for z in zones] == ["Europe/Paris"]


def test_preferred_for_reads_the_customer_lookup_first():
    """The stripe.customer lookup's locales come before the event's and the settings'."""
    root = root_with({"preferred_locales": ["fr"]}, {"locale": "de"})
    fetched = []

    def need(name):
        fetched.append(name)
        return {"preferred_locales": ["es-MX"]}

    assert preferred_for(root, ["customer"], need) == ("es-MX",)
    assert fetched == ["customer"]


def test_preferred_for_falls_back_to_the_event_then_settings():
    """A customer with no locales: the event's object, then settings.locale."""
    assert preferred_for(root_with({"preferred_locales": ["fr"]}), ["c"], lambda n: {}) == ("fr",)
    assert preferred_for(root_with({}, {"locale": "de"}), [], lambda n: None) == ("de",)


@pytest.mark.parametrize(
    ("kind", "only", "variant", "runs"),
    [
        ("sms", None, "sms-first", True),
        ("sms", None, "control", False),
        ("wait", None, "control", True),
        ("guard", None, "control", True),
        ("slack", ("control",), "control", True),
        ("sms", ("sms-first",), "sms-first", True),
        ("sms", ("sms-first",), "control", False),
    ],
    ids=[
        "variant-runs-every-step",
        "holdout-sends-nothing",
        "holdout-waits",
        "holdout-guards",
        "step-naming-the-holdout",
        "step-of-its-variant",
        "step-of-another-variant",
    ],
)
def test_runs_in_variant(kind, only, variant, runs):
    """A holdout runs only control steps and the steps that name it."""
    assert runs_in_variant(kind, only, variant, SPLIT) is runs


def test_rules_without_variants_run_every_step():
    """No split: every step runs."""
    assert runs_in_variant("sms", None, None, None) is True
