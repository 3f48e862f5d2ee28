"""The loader's part for send windows, locale texts, variants and per-account settings.

Each function reads one part of a rule file and reports what is wrong through ``report(path,
message)`` (and ``bad_expression(path, exc)`` for a ``time_zone`` that does not compile); the
loader attaches the file, the line and the column.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ._delivery import CONTROL_TYPES, WindowSpec, compile_window
from .expressions import ExpressionSyntaxError
from .locales import DEFAULT_KEY, is_locale_tag, is_localised, localised_problem
from .locations import JsonPath
from .variants import Split, parse_variants
from .windows import resolve_zones

__all__ = [
    "check_settings",
    "compile_split",
    "compile_step_extras",
    "read_accounts",
    "reporters",
]

Report = Callable[[JsonPath, str], None]
BadExpression = Callable[[JsonPath, ExpressionSyntaxError], None]

_ACCOUNT = re.compile(r"^acct_[A-Za-z0-9]{1,64}$")


def reporters(builder: Any, source: Any, rule: str | None) -> tuple[Report, BadExpression]:
    """``report(path, message)`` and ``bad_expression(path, exc)`` of the loader's
    ``builder`` for the file ``source`` and the rule named ``rule``."""

    def report(path: JsonPath, message: str) -> None:
        builder.report(source, path, message, rule=rule)

    def bad(path: JsonPath, exc: ExpressionSyntaxError) -> None:
        builder.report_expression(source, path, exc, rule=rule)

    return report, bad


def _window(raw: Any, path: JsonPath, report: Report, bad: BadExpression) -> WindowSpec | None:
    try:
        return compile_window(raw)
    except ExpressionSyntaxError as exc:
        bad((*path, "time_zone"), exc)
    except ValueError as exc:
        report(path, str(exc))
    return None


def check_settings(settings: Any, base: JsonPath, report: Report, bad: BadExpression) -> None:
    """The settings the engine reads itself: ``send_windows``, ``time_zone``, ``locale``."""
    if not isinstance(settings, Mapping):
        return
    windows = settings.get("send_windows")
    if "send_windows" in settings and not isinstance(windows, Mapping):
        report((*base, "send_windows"), "send_windows maps step types to windows (or false)")
    elif isinstance(windows, Mapping):
        for kind, raw in windows.items():
            _window(raw, (*base, "send_windows", kind), report, bad)
    zone = settings.get("time_zone")
    if "time_zone" in settings and (not isinstance(zone, str) or resolve_zones(zone) is None):
        report(
            (*base, "time_zone"),
            f"time_zone {zone!r} is no time zone (give an IANA name like 'America/New_York')",
        )
    if "locale" in settings:
        locale = settings["locale"]
        tags = [locale] if isinstance(locale, str) else locale
        if not isinstance(tags, list) or not tags or not all(is_locale_tag(t) for t in tags):
            report((*base, "locale"), f"locale {locale!r} is no locale tag ('en', 'es-MX') or list")


def _check_variants_of(value: Any, path: JsonPath, report: Report) -> bool:
    """Report malformed locale variants at any depth; True when any are there."""
    found = False
    problem = localised_problem(value)
    if problem is not None:
        report(path, problem)
        return False
    if is_localised(value):
        default = value[value[DEFAULT_KEY]]
        for key, inner in value.items():
            if key == DEFAULT_KEY:
                continue
            if type(inner) is not type(default) and not (
                isinstance(inner, (int, float)) and isinstance(default, (int, float))
            ):
                report(
                    (*path, key),
                    f"the {key!r} text is a {type(inner).__name__}, the default "
                    f"{value[DEFAULT_KEY]!r} a {type(default).__name__}: give every locale the "
                    "same kind of value",
                )
            _check_variants_of(inner, (*path, key), report)
        return True
    if isinstance(value, Mapping):
        for key, inner in value.items():
            found = _check_variants_of(inner, (*path, key), report) or found
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found = _check_variants_of(inner, (*path, index), report) or found
    return found


def compile_step_extras(
    raw: Mapping[str, Any],
    params: Mapping[str, Any],
    path: JsonPath,
    report: Report,
    bad: BadExpression,
) -> tuple[WindowSpec | None, tuple[str, ...] | None, bool]:
    """A step's ``send_window``, its ``variant`` (as a tuple of names), and whether any of its
    ``params`` give text by locale."""
    window = None
    if "send_window" in raw and raw.get("type") in CONTROL_TYPES:
        report(
            (*path, "send_window"),
            f"a {raw.get('type')} step takes no send window (it sends nothing); "
            "give the window to the step that sends",
        )
    elif "send_window" in raw:
        window = _window(raw["send_window"], (*path, "send_window"), report, bad)
    variants = None
    if "variant" in raw:
        given = raw["variant"]
        listed = [given] if isinstance(given, str) else given
        if (
            not isinstance(listed, list)
            or not listed
            or not all(isinstance(v, str) for v in listed)
        ):
            report((*path, "variant"), "variant is a variant's name or a list of names")
        else:
            variants = tuple(listed)
    localised = _check_variants_of(dict(params), path, report)
    return window, variants, localised


def compile_split(
    raw: Mapping[str, Any],
    steps: list[tuple[tuple[str, ...] | None, JsonPath]],
    base: JsonPath,
    report: Report,
) -> Split | None:
    """A rule's ``variants``; each step's ``variant`` must name one of them."""
    split = None
    if "variants" in raw:
        try:
            split = parse_variants(raw["variants"])
        except ValueError as exc:
            report((*base, "variants"), str(exc))
            return None
    names = split.names() if split is not None else ()
    for only, path in steps:
        for name in only or ():
            if name not in names:
                known = f"; its variants: {', '.join(names)}" if names else ": it has no variants"
                report((*path, "variant"), f"variant {name!r} is not one of the rule's{known}")
    return split


def read_accounts(raw: Any, report: Report, bad: BadExpression) -> dict[str, dict[str, Any]]:
    """``accounts.<acct_id>.settings`` as ``{acct_id: settings}``, checked like ``settings``."""
    found: dict[str, dict[str, Any]] = {}
    if not isinstance(raw, Mapping):
        return found
    for account, entry in raw.items():
        path: JsonPath = ("accounts", account)
        if not isinstance(account, str) or not _ACCOUNT.match(account):
            report(path, f"{account!r} is no Stripe account id (acct_...)")
            continue
        settings = entry.get("settings") if isinstance(entry, Mapping) else None
        if isinstance(settings, Mapping):
            check_settings(settings, (*path, "settings"), report, bad)
            found[account] = dict(settings)
    return found
