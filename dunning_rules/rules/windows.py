"""Send windows: the hours and days a step may run, in the recipient's time zone.

A :class:`SendWindow` is a set of daily periods (``08:00-21:00``; ``22:00-06:00`` crosses
midnight and belongs to the day it opens on) on some days of the week. :func:`next_opening`
gives the first instant, at or after a given one, at which the window is open in every zone of
the recipient: the step runs then, or at once when the window is open already.

Local times are wall-clock times, so an opening at 08:00 is 08:00 local on the days clocks
change too. A time that does not exist (02:30 on the night clocks spring forward) opens at the
first instant the clock reads later (03:00); a time that happens twice (01:30 when clocks fall
back) opens at its first occurrence.

:func:`resolve_zones` turns what a rule file says about the recipient into zones: an IANA name
(``America/New_York``), a country code, or a Stripe address (``country`` and ``state``), by the
table in :mod:`dunning_rules.rules._zones`. An address of a country with several zones and no
known state resolves to all of that country's zones, so that the window is open for the
recipient wherever in the country they are.

This module needs the tz database: the ``tzdata`` package (a dependency), or the system's.
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ._zones import COUNTRY_ZONES, REGION_NAMES, REGION_ZONES, UNKNOWN_REGION

__all__ = [
    "DAY_NAMES",
    "DEFAULT_WINDOWS",
    "SendWindow",
    "is_open",
    "next_opening",
    "parse_days",
    "parse_hours",
    "parse_window",
    "recipient_zones",
    "resolve_zones",
    "zone_names_for_address",
]

UTC = _dt.timezone.utc
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Days of the week as rule files write them, Monday first (``date.weekday()`` order)."""

_DAY_ALIASES = {
    **{name: index for index, name in enumerate(DAY_NAMES)},
    **{
        name: index
        for index, name in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
    },
}
_DAY_GROUPS = {"weekdays": range(5), "weekends": range(5, 7), "every day": range(7)}
_TIME = re.compile(r"^\s*([0-9]{1,2}):([0-9]{2})\s*$")
_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+){0,2}$")
_MAX_ZONE_NAME = 64
_DAY = _dt.timedelta(days=1)
_SECOND = _dt.timedelta(seconds=1)
# Local dates searched for an opening, from the day before: a week and a margin.
_HORIZON_DAYS = 9


@dataclass(frozen=True, slots=True, kw_only=True)
class SendWindow:
    """Daily ``periods`` (minutes after local midnight: ``(480, 1260)`` is 08:00-21:00; an end
    at or before the start crosses midnight; 1440 is 24:00) on ``days`` (0 is Monday)."""

    periods: tuple[tuple[int, int], ...]
    days: frozenset[int] = frozenset(range(7))

    def describe(self) -> str:
        """As text: ``08:00-21:00`` (every day), ``08:00-21:00 mon-fri``,
        ``09:00-12:00, 14:00-18:00 sat,sun``."""
        hours = ", ".join(f"{_clock(start)}-{_clock(end)}" for start, end in self.periods)
        if self.days == frozenset(range(7)):
            return hours
        return f"{hours} {_describe_days(self.days)}"


DEFAULT_WINDOWS: Mapping[str, SendWindow] = {"sms": SendWindow(periods=((8 * 60, 21 * 60),))}
"""The window of a step type that has one unless the rule file says otherwise: texts go out
between 08:00 and 21:00 in the recipient's time zone, every day (the hours the US TCPA
allows)."""


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _describe_days(days: frozenset[int]) -> str:
    """``mon-fri``, ``sat,sun``, ``mon,wed-fri``: runs of three or more days as ranges."""
    parts, ordered, i = [], sorted(days), 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        if j - i >= 2:
            parts.append(f"{DAY_NAMES[ordered[i]]}-{DAY_NAMES[ordered[j]]}")
        else:
            parts.extend(DAY_NAMES[d] for d in ordered[i : j + 1])
        i = j + 1
    return ",".join(parts)


# -- parsing ------------------------------------------------------------------------------


def _minute(text: str, whole: str, *, end: bool) -> int:
    match = _TIME.match(text)
    if match is None:
        raise ValueError(f"not a time of day: {text.strip()!r} in {whole!r} (write HH:MM)")
    hour, minute = int(match.group(1)), int(match.group(2))
    if minute > 59 or hour > 24 or (hour == 24 and (minute or not end)):
        what = "an end time" if end else "a time of day"
        raise ValueError(f"{text.strip()!r} in {whole!r} is not {what} (00:00 to 23:59, or 24:00)")
    return hour * 60 + minute


def parse_hours(text: str) -> tuple[int, int]:
    """``'08:00-21:00'`` -> ``(480, 1260)``; ``'22:00-06:00'`` crosses midnight; an end of
    ``24:00`` is midnight. ValueError for anything else, or for a period of no time."""
    if not isinstance(text, str) or text.count("-") != 1:
        raise ValueError(f"not a period of hours: {text!r} (write '08:00-21:00')")
    first, second = text.split("-")
    start = _minute(first, text, end=False)
    end = _minute(second, text, end=True)
    if start == end:
        raise ValueError(
            f"{text.strip()!r} is no time at all (a start equal to its end; "
            "for the whole day write '00:00-24:00')"
        )
    return start, end


def _day(text: str) -> int:
    name = text.strip().lower()
    if name not in _DAY_ALIASES:
        raise ValueError(f"not a day of the week: {text!r} (use {', '.join(DAY_NAMES)})")
    return _DAY_ALIASES[name]


def parse_days(value: str | Sequence[str]) -> frozenset[int]:
    """``['mon', 'tue']``, ``'mon-fri'``, ``['sat', 'sun']``, ``'weekdays'`` -> weekday numbers
    (0 is Monday). A range may wrap (``fri-mon``). ValueError for anything else or no day."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Sequence) or not items:
        raise ValueError("days must be a day, a range like 'mon-fri', or a list of them")
    days: set[int] = set()
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"not a day of the week: {item!r}")
        group = _DAY_GROUPS.get(item.strip().lower())
        if group is not None:
            days.update(group)
        elif "-" in item:
            first, _, last = item.partition("-")
            start, stop = _day(first), _day(last)
            days.update(d % 7 for d in range(start, start + (stop - start) % 7 + 1))
        else:
            days.add(_day(item))
    return frozenset(days)


def parse_window(hours: str | Sequence[str], days: str | Sequence[str] | None = None) -> SendWindow:
    """A :class:`SendWindow` from a rule file's ``hours`` (one period or a list) and ``days``
    (every day when None). ValueError, with the offending text, for anything wrong."""
    listed = [hours] if isinstance(hours, str) else hours
    if not isinstance(listed, Sequence) or not listed:
        raise ValueError("hours must be a period like '08:00-21:00' or a list of them")
    periods = tuple(parse_hours(item) for item in listed)
    return SendWindow(
        periods=periods, days=parse_days(days) if days is not None else frozenset(range(7))
    )


# -- when the window is open --------------------------------------------------------------


def _wall_instant(day: _dt.date, minute: int, zone: _dt.tzinfo) -> _dt.datetime:
    """The first instant (UTC) at which the wall clock in ``zone`` reads ``day`` plus
    ``minute`` minutes, or later: a time in a spring-forward gap maps to the gap's end."""
    naive = _dt.datetime.combine(day, _dt.time()) + _dt.timedelta(minutes=minute)
    later = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if later.astimezone(zone).replace(tzinfo=None) == naive:
        return later  # it exists; fold=0 is the first of a repeated time
    # In a gap fold=0 reads the time with the offset before the change (an instant past the
    # gap) and fold=1 with the offset after (an instant before it): the change lies between.
    early = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    while later - early > _SECOND:
        middle = early + (later - early) / 2
        middle = middle.replace(microsecond=0)
        if middle.astimezone(zone).replace(tzinfo=None) >= naive:
            later = middle
        else:
            early = middle
    return later


def _periods(
    window: SendWindow, zone: _dt.tzinfo, at: _dt.datetime
) -> list[tuple[_dt.datetime, _dt.datetime]]:
    """The window's periods in ``zone`` as UTC instants, from the local day before ``at`` on,
    over :data:`_HORIZON_DAYS` days, in order of opening."""
    first = at.astimezone(zone).date() - _DAY
    found = []
    for offset in range(_HORIZON_DAYS):
        day = first + offset * _DAY
        if day.weekday() not in window.days:
            continue
        for start, end in window.periods:
            end_day = day + _DAY if end <= start or end == 1440 else day
            opens = _wall_instant(day, start, zone)
            closes = _wall_instant(end_day, end % 1440, zone)
            if closes > opens:
                found.append((opens, closes))
    found.sort()
    return found


def _inside(periods: Iterable[tuple[_dt.datetime, _dt.datetime]], at: _dt.datetime) -> bool:
    return any(opens <= at < closes for opens, closes in periods)


def is_open(window: SendWindow, at: _dt.datetime, zone: _dt.tzinfo) -> bool:
    """True when ``window`` is open at the aware instant ``at`` in ``zone``."""
    return _inside(_periods(window, zone, at), at)


def next_opening(window: SendWindow, at: _dt.datetime, zones: Sequence[_dt.tzinfo]) -> _dt.datetime:
    """``at`` when ``window`` is open then in every one of ``zones``; else the first later
    instant at which it is open in all of them (in ``at``'s time zone).

    When the zones never share an open moment within a week (a short window across zones
    many hours apart), the window of the first zone alone decides.
    """
    if at.tzinfo is None:
        raise ValueError("next_opening needs an aware datetime")
    if not zones:
        zones = (UTC,)
    tables = [_periods(window, zone, at) for zone in zones]
    candidates = sorted({at, *(opens for table in tables for opens, _ in table if opens > at)})
    for candidate in candidates:
        if all(_inside(table, candidate) for table in tables):
            return candidate.astimezone(at.tzinfo)
    if len(zones) > 1:
        return next_opening(window, at, zones[:1])
    raise ValueError(f"the window {window.describe()} has no opening")  # no days: not parsed


# -- whose time zone ----------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _zone(name: str) -> _dt.tzinfo | None:
    """The zone called ``name``, or None. Only well-formed names are looked up (never a
    path), and a name is found whatever its case."""
    if name.upper() in ("UTC", "Z", "GMT", "ETC/UTC"):
        return UTC
    for key in (name, _canonical_names().get(name.lower())):
        if key is None:
            continue
        try:
            return zoneinfo.ZoneInfo(key)
        except (ValueError, KeyError, OSError):
            continue
    return None


@functools.cache
def _canonical_names() -> dict[str, str]:
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def zone_names_for_address(address: Mapping[str, object]) -> tuple[str, ...] | None:
    """The zone names of a Stripe address (``country``, ``state``), by the package's table;
    None when the country is missing or unknown."""
    country = address.get("country")
    if not isinstance(country, str) or not country.strip():
        return None
    country = country.strip().upper()
    regions = REGION_ZONES.get(country)
    if regions is None:
        zone = COUNTRY_ZONES.get(country)
        return (zone,) if zone is not None else None
    state = address.get("state")
    if isinstance(state, str) and state.strip():
        text = state.strip()
        code = text.upper().removeprefix(f"{country}-")
        code = REGION_NAMES.get(country, {}).get(text.lower(), code)
        if code in regions:
            return regions[code]
    return UNKNOWN_REGION[country]


def _address_of(value: Mapping[str, object]) -> Mapping[str, object] | None:
    """The address in ``value``: itself, or its ``address`` (a customer, an invoice's
    ``customer_shipping``), or its ``shipping.address``."""
    if "country" in value:
        return value
    for key in ("address", "shipping"):
        inner = value.get(key)
        if isinstance(inner, Mapping):
            found = _address_of(inner)
            if found is not None:
                return found
    return None


def resolve_zones(value: object) -> tuple[_dt.tzinfo, ...] | None:
    """The recipient's zones from one value, or None when it names none.

    ``value`` may be an IANA zone name (``Europe/Paris``, any case; ``UTC``), an ISO country
    code (``FR``; a country of several zones gives them all), a Stripe address with
    ``country`` (and ``state``), or an object that holds one in ``address`` or
    ``shipping.address`` (a customer, an invoice's ``customer_shipping``).
    """
    names: tuple[str, ...] | None = None
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 2 and text.isalpha():
            names = zone_names_for_address({"country": text})
        elif len(text) <= _MAX_ZONE_NAME and _ZONE_NAME.match(text):
            zone = _zone(text)
            return (zone,) if zone is not None else None
    elif isinstance(value, Mapping):
        address = _address_of(value)
        if address is not None:
            names = zone_names_for_address(address)
    if not names:
        return None
    zones = tuple(z for z in (_zone(name) for name in names) if z is not None)
    return zones or None


def recipient_zones(candidates: Iterable[object], default: object = None) -> tuple[_dt.tzinfo, ...]:
    """The zones of the first of ``candidates`` that names any (see :func:`resolve_zones`),
    else of ``default`` (a zone name from settings), else UTC."""
    for candidate in candidates:
        zones = resolve_zones(candidate)
        if zones:
            return zones
    zones = resolve_zones(default) if default is not None else None
    return zones or (UTC,)
