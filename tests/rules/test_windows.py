"""Send windows: parsing, the next opening in the recipient's zone (DST included), and whose
zone an address is in."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest

from dunning_rules.rules import _zones
from dunning_rules.rules.windows import (
    DEFAULT_WINDOWS,
    SendWindow,
    is_open,
    next_opening,
    parse_days,
    parse_hours,
    parse_window,
    recipient_zones,
    resolve_zones,
    zone_names_for_address,
)

UTC = dt.timezone.utc
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
DAYTIME = parse_window("08:00-21:00")


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def local(zone: str, *args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=zoneinfo.ZoneInfo(zone))


def names(zones) -> tuple[str, ...]:
    return tuple(str(z) for z in zones)


# -- parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("08:00-21:00", (480, 1260)),
        ("8:30 - 9:45", (510, 585)),
        ("22:00-06:00", (1320, 360)),
        ("00:00-24:00", (0, 1440)),
    ],
    ids=["day", "spaces-one-digit", "crosses-midnight", "whole-day"],
)
def test_parse_hours(text, period):
    """A period of hours is two HH:MM times, in minutes after midnight."""
    assert parse_hours(text) == period


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("8-21", "not a time of day: '8' in '8-21' (write HH:MM)"),
        ("08:00", "not a period of hours: '08:00' (write '08:00-21:00')"),
        ("08:60-09:00", "'08:60' in '08:60-09:00' is not a time of day (00:00 to 23:59, or 24:00)"),
        ("24:00-06:00", "'24:00' in '24:00-06:00' is not a time of day (00:00 to 23:59, or 24:00)"),
        ("08:00-24:30", "'24:30' in '08:00-24:30' is not an end time (00:00 to 23:59, or 24:00)"),
        (
            "08:00-08:00",
            "'08:00-08:00' is no time at all (a start equal to its end; "
            "for the whole day write '00:00-24:00')",
        ),
    ],
    ids=["no-minutes", "one-time", "minute-60", "start-24", "end-past-24", "empty"],
)
def test_parse_hours_errors(text, message):
    """Anything but a period of two valid times is refused, with the text in the message."""
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        parse_hours(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("value", "days"),
    [
        (["mon", "tue"], {0, 1}),
        ("mon-fri", {0, 1, 2, 3, 4}),
        (["Saturday", "SUN"], {5, 6}),
        ("fri-mon", {4, 5, 6, 0}),
        ("weekdays", {0, 1, 2, 3, 4}),
        (["weekends", "wed"], {2, 5, 6}),
    ],
    ids=["list", "range", "names-any-case", "wrapping-range", "weekdays", "group-and-day"],
)
def test_parse_days(value, days):
    """Days are names, ranges (which may wrap) or groups; Monday is 0."""
    assert parse_days(value) == frozenset(days)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["funday"], "not a day of the week: 'funday' (use mon, tue, wed, thu, fri, sat, sun)"),
        ([], "days must be a day, a range like 'mon-fri', or a list of them"),
        ([1], "not a day of the week: 1"),
    ],
    ids=["unknown", "empty", "number"],
)
def test_parse_days_errors(value, message):
    """An unknown day, no day, or a number is refused."""
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        parse_days(value)
    assert str(info.value) == message


def test_window_defaults_to_every_day():
    """Without days, a window is open on all seven."""
    assert parse_window("08:00-21:00") == SendWindow(periods=((480, 1260),))


@pytest.mark.parametrize(
    ("hours", "days", "text"),
    [
        ("08:00-21:00", None, "08:00-21:00"),
        ("08:00-21:00", "mon-fri", "08:00-21:00 mon-fri"),
        (["09:00-12:00", "14:00-18:00"], ["sat", "sun"], "09:00-12:00, 14:00-18:00 sat,sun"),
        ("22:00-06:00", ["mon", "wed", "thu", "fri"], "22:00-06:00 mon,wed-fri"),
    ],
    ids=["every-day", "range", "two-periods", "mixed-days"],
)
def test_describe(hours, days, text):
    """A window reads back as the hours and days it was written with."""
    assert parse_window(hours, days).describe() == text


def test_sms_has_a_default_window():
    """Texts go out between 08:00 and 21:00 unless a rule file says otherwise."""
    assert DEFAULT_WINDOWS["sms"].describe() == "08:00-21:00"


# -- the next opening --------------------------------------------------------------------------


def test_open_window_sends_at_once():
    """Inside the window, the opening is the instant itself."""
    at = local("America/New_York", 2024, 7, 26, 12, 0)
    assert next_opening(DAYTIME, at, [NEW_YORK]) == at


def test_before_the_window_waits_for_the_same_morning():
    """At 03:00 local, the step waits until 08:00 local the same day."""
    at = local("America/New_York", 2024, 7, 26, 3, 0)
    assert next_opening(DAYTIME, at, [NEW_YORK]) == local("America/New_York", 2024, 7, 26, 8, 0)


def test_after_the_window_waits_for_the_next_morning():
    """At 21:00 local (the end is not inside), the step waits until 08:00 tomorrow."""
    at = local("America/New_York", 2024, 7, 26, 21, 0)
    assert next_opening(DAYTIME, at, [NEW_YORK]) == local("America/New_York", 2024, 7, 27, 8, 0)


def test_opening_is_in_the_zone_of_the_instant_given():
    """The answer is expressed in the time zone of ``at`` (UTC in, UTC out)."""
    opening = next_opening(DAYTIME, utc(2024, 7, 26, 7, 0), [NEW_YORK])
    assert (opening, opening.tzinfo) == (utc(2024, 7, 26, 12, 0), UTC)


def test_days_skip_the_weekend():
    """A weekday window on Friday evening opens on Monday morning."""
    window = parse_window("09:00-17:00", "mon-fri")
    at = local("Europe/Paris", 2024, 7, 26, 18, 0)  # a Friday
    assert next_opening(window, at, [zoneinfo.ZoneInfo("Europe/Paris")]) == local(
        "Europe/Paris", 2024, 7, 29, 9, 0
    )


def test_window_across_midnight_belongs_to_the_day_it_opens():
    """22:00-06:00 on Fridays is open at 03:00 on Saturday, not at 03:00 on Sunday."""
    window = parse_window("22:00-06:00", ["fri"])
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    assert is_open(window, local("Europe/Paris", 2024, 7, 27, 3, 0), paris)
    assert not is_open(window, local("Europe/Paris", 2024, 7, 28, 3, 0), paris)
    assert next_opening(window, local("Europe/Paris", 2024, 7, 28, 3, 0), [paris]) == local(
        "Europe/Paris", 2024, 8, 2, 22, 0
    )


def test_two_periods_a_day():
    """Between two periods of a day, the step waits for the second."""
    window = parse_window(["09:00-12:00", "14:00-18:00"])
    at = local("Europe/Paris", 2024, 7, 26, 12, 30)
    assert next_opening(window, at, [zoneinfo.ZoneInfo("Europe/Paris")]) == local(
        "Europe/Paris", 2024, 7, 26, 14, 0
    )


@pytest.mark.parametrize(
    ("zone", "at", "opening"),
    [
        # US spring forward, Sunday 2024-03-10: 08:00 is EDT (UTC-4), not EST.
        ("America/New_York", utc(2024, 3, 10, 5, 0), utc(2024, 3, 10, 12, 0)),
        # US fall back, Sunday 2024-11-03: 08:00 is EST (UTC-5).
        ("America/New_York", utc(2024, 11, 3, 4, 30), utc(2024, 11, 3, 13, 0)),
        # Europe springs forward on Sunday 2024-03-31: 08:00 CEST is 06:00 UTC.
        ("Europe/Berlin", utc(2024, 3, 30, 21, 0), utc(2024, 3, 31, 6, 0)),
        # Europe falls back on Sunday 2024-10-27: 08:00 CET is 07:00 UTC.
        ("Europe/Berlin", utc(2024, 10, 26, 21, 0), utc(2024, 10, 27, 7, 0)),
        # Sydney springs forward on Sunday 2024-10-06: 08:00 AEDT (UTC+11).
        ("Australia/Sydney", utc(2024, 10, 5, 12, 0), utc(2024, 10, 5, 21, 0)),
        # Sydney falls back on Sunday 2024-04-07: 08:00 AEST (UTC+10).
        ("Australia/Sydney", utc(2024, 4, 6, 12, 0), utc(2024, 4, 6, 22, 0)),
        # India is UTC+05:30 all year.
        ("Asia/Kolkata", utc(2024, 7, 26, 0, 0), utc(2024, 7, 26, 2, 30)),
        # Adelaide is UTC+09:30, and +10:30 in summer (here, January).
        ("Australia/Adelaide", utc(2024, 1, 15, 12, 0), utc(2024, 1, 15, 21, 30)),
    ],
    ids=[
        "us-spring-forward",
        "us-fall-back",
        "europe-spring-forward",
        "europe-fall-back",
        "sydney-spring-forward",
        "sydney-fall-back",
        "india-half-hour",
        "adelaide-half-hour-summer",
    ],
)
def test_opening_is_local_wall_time_across_dst(zone, at, opening):
    """An 08:00 opening is 08:00 on the local clock, on the days clocks change too."""
    found = next_opening(DAYTIME, at, [zoneinfo.ZoneInfo(zone)])
    assert found == opening
    assert found.astimezone(zoneinfo.ZoneInfo(zone)).strftime("%H:%M") == "08:00"


def test_opening_in_the_spring_forward_gap_is_the_gap_end():
    """02:30 does not exist in New York on 2024-03-10: the window opens at 03:00 EDT."""
    window = parse_window("02:30-06:00")
    found = next_opening(window, utc(2024, 3, 10, 5, 0), [NEW_YORK])
    assert found == utc(2024, 3, 10, 7, 0)
    assert found.astimezone(NEW_YORK).strftime("%H:%M %Z") == "03:00 EDT"


def test_opening_in_a_half_hour_gap():
    """Lord Howe Island springs forward by 30 minutes (02:00 -> 02:30): a 02:00 opening on
    2024-10-06 is at 02:30 local."""
    zone = zoneinfo.ZoneInfo("Australia/Lord_Howe")
    window = parse_window("02:00-05:00")
    found = next_opening(window, local("Australia/Lord_Howe", 2024, 10, 6, 0, 0), [zone])
    assert found.astimezone(zone).strftime("%Y-%m-%d %H:%M") == "2024-10-06 02:30"


def test_repeated_time_opens_at_its_first_occurrence():
    """01:30 happens twice in New York on 2024-11-03: the window opens at the first (EDT)."""
    window = parse_window("01:30-05:00")
    found = next_opening(window, utc(2024, 11, 3, 4, 0), [NEW_YORK])
    assert found == utc(2024, 11, 3, 5, 30)
    assert found.astimezone(NEW_YORK).strftime("%H:%M %Z") == "01:30 EDT"


def test_several_zones_wait_until_open_in_all():
    """A US customer of unknown state: at 08:00 in New York it is 02:00 in Honolulu, so the
    window opens at 08:00 in Honolulu."""
    zones = resolve_zones({"country": "US"})
    found = next_opening(DAYTIME, utc(2024, 7, 26, 12, 0), zones)
    assert found == utc(2024, 7, 26, 18, 0)
    assert found.astimezone(zoneinfo.ZoneInfo("Pacific/Honolulu")).strftime("%H:%M") == "08:00"


def test_zones_that_never_share_an_hour_follow_the_first():
    """09:00-10:00 in Kaliningrad and in Kamchatka never overlap: the first zone decides."""
    window = parse_window("09:00-10:00")
    zones = [zoneinfo.ZoneInfo("Europe/Kaliningrad"), zoneinfo.ZoneInfo("Asia/Kamchatka")]
    found = next_opening(window, utc(2024, 7, 26, 12, 0), zones)
    assert found == local("Europe/Kaliningrad", 2024, 7, 27, 9, 0)


def test_naive_instant_is_refused():
    """The instant must be aware: a naive one would silently be read as local time."""
    with pytest.raises(ValueError, match="aware"):
        next_opening(DAYTIME, dt.datetime(2024, 7, 26, 12, 0), [NEW_YORK])


# -- whose zone --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "zones"),
    [
        ("Europe/Paris", ("Europe/Paris",)),
        ("america/los_angeles", ("America/Los_Angeles",)),
        ("UTC", ("UTC",)),
        ("FR", ("Europe/Paris",)),
        ({"country": "US", "state": "CA"}, ("America/Los_Angeles",)),
        ({"country": "us", "state": "Texas"}, ("America/Chicago", "America/Denver")),
        ({"country": "US", "state": "US-NY"}, ("America/New_York",)),
        ({"country": "CA", "state": "BC"}, ("America/Vancouver",)),
        ({"country": "AU", "state": "WA"}, ("Australia/Perth",)),
        ({"country": "BR", "state": "AM"}, ("America/Manaus", "America/Eirunepe")),
        ({"country": "MX", "state": "ROO"}, ("America/Cancun",)),
        ({"country": "RU", "state": "NVS"}, ("Asia/Novosibirsk",)),
        ({"country": "ID", "state": "BA"}, ("Asia/Makassar",)),
        ({"country": "DE", "state": "BY"}, ("Europe/Berlin",)),
        ({"address": {"country": "JP"}}, ("Asia/Tokyo",)),
        ({"shipping": {"address": {"country": "ES"}}}, ("Europe/Madrid",)),
    ],
    ids=[
        "iana",
        "iana-any-case",
        "utc",
        "country-code",
        "us-state",
        "us-state-name-split",
        "iso-3166-2-prefix",
        "canada",
        "australia",
        "brazil-split",
        "mexico",
        "russia",
        "indonesia",
        "one-zone-country-ignores-state",
        "customer-address",
        "customer-shipping",
    ],
)
def test_resolve_zones(value, zones):
    """Names, country codes and addresses resolve by the package's table."""
    assert names(resolve_zones(value)) == zones


def test_unknown_state_of_a_split_country_gives_all_its_zones():
    """Canada without a known province: every main zone, from St John's to Vancouver."""
    assert (
        names(resolve_zones({"country": "CA", "state": "Atlantis"})) == _zones.UNKNOWN_REGION["CA"]
    )


@pytest.mark.parametrize(
    "value",
    [
        "Mars/Olympus_Mons",
        "." * 2 + "/" + "." * 2 + "/etc/passwd",  # a path up and out
        "/etc/localtime",
        "America",
        "x" * 200,
        "",
        {"country": "ZZ"},
        {"line1": "1 Main St"},
        {"country": None},
        42,
        None,
    ],
    ids=[
        "no-such-zone",
        "path",
        "absolute-path",
        "directory",
        "long",
        "empty",
        "unknown-country",
        "no-country",
        "null-country",
        "number",
        "null",
    ],
)
def test_what_names_no_zone_resolves_to_none(value):
    """Anything that names no zone is None, never an error and never a file read."""
    assert resolve_zones(value) is None


def test_recipient_zones_take_the_first_that_resolves():
    """Candidates in order: a metadata zone that is empty, then the address, then settings."""
    zones = recipient_zones(["", {"country": "GB"}, "Asia/Tokyo"], default="Europe/Paris")
    assert names(zones) == ("Europe/London",)


def test_recipient_zones_fall_back_to_the_default_then_utc():
    """No candidate resolves: the settings default; without one, UTC."""
    assert names(recipient_zones([None, {}], default="Europe/Paris")) == ("Europe/Paris",)
    assert recipient_zones([None], default="Nowhere/Atall") == (UTC,)


def test_every_zone_in_the_table_exists():
    """Each zone the address table names is in the tz database."""
    listed = set(_zones.COUNTRY_ZONES.values())
    for regions in _zones.REGION_ZONES.values():
        for zones in regions.values():
            listed.update(zones)
    for zones in _zones.UNKNOWN_REGION.values():
        listed.update(zones)
    known = zoneinfo.available_timezones()
    missing = [name for name in sorted(listed) if name not in known]
    assert missing == []


def test_state_names_point_at_states_of_the_table():
    """Every English state name maps to a code the region table has."""
    for country, table in _zones.REGION_NAMES.items():
        assert set(table.values()) <= set(_zones.REGION_ZONES[country]), country


def test_address_without_country_has_no_zone_names():
    """A state alone says nothing: 'CA' could be California or a Canadian address."""
    assert zone_names_for_address({"state": "CA"}) is None


def test_whole_day_window_is_always_open():
    """00:00-24:00 is open at midnight and at 23:59 alike."""
    window = parse_window("00:00-24:00")
    for hour, minute in ((0, 0), (23, 59), (12, 0)):
        assert is_open(window, local("Europe/Paris", 2024, 7, 26, hour, minute), PARIS)


def test_window_ending_at_midnight_closes_at_midnight():
    """20:00-24:00 is open at 23:59 and closed at 00:00, when it waits for 20:00."""
    window = parse_window("20:00-24:00")
    assert is_open(window, local("Europe/Paris", 2024, 7, 26, 23, 59), PARIS)
    at = local("Europe/Paris", 2024, 7, 27, 0, 0)
    assert next_opening(window, at, [PARIS]) == local("Europe/Paris", 2024, 7, 27, 20, 0)
