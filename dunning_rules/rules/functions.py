"""The functions that rule expressions may call beyond JMESPath's own.

``money(amount, currency)``
    Stripe's minor units as text: ``$750.00`` for usd, ``€``/``£`` for eur/gbp, ``¥1000``
    for jpy (zero-decimal currencies are not divided), otherwise ``12.50 CHF``.
``now()``
    The engine's clock, as epoch seconds (an integer).
``days_since(epoch)``
    Whole days from ``epoch`` to ``now()`` (negative for a future time).
``date(epoch)``
    The UTC calendar date of ``epoch`` as ``YYYY-MM-DD``.

In a step whose text is picked by locale (``{en: ..., es: ..., default: en}``), ``money()``
and ``date()`` write for that locale instead: ``1.234,56 €``, ``26 de julio de 2024`` (see
:mod:`dunning_rules.rules.locales`).
``lower(s)``, ``upper(s)``
    Case conversion.

The clock is the engine's: :func:`clock_scope` binds it while the engine evaluates an event.
"""

from __future__ import annotations

import contextvars
import datetime as _dt
import json
from collections.abc import Callable
from typing import Any

from jmespath import functions as _jp

__all__ = ["FUNCTIONS", "DunningFunctions", "clock_scope", "format_money", "locale_scope"]

Clock = Callable[[], _dt.datetime]

_CLOCK: contextvars.ContextVar[Clock | None] = contextvars.ContextVar(
    "dunning_rules_clock", default=None
)
_LOCALE: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "dunning_rules_locale", default=None
)

# ISO 4217 currencies that Stripe treats as zero-decimal.
_ZERO_DECIMAL = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)
# Stripe's three-decimal currencies (amounts in thousandths).
_THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])
_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥"}


def format_money(amount: int | float, currency: str) -> str:
    """Format Stripe minor units: ``format_money(75000, 'usd') == '$750.00'``."""
    code = currency.lower()
    if code in _ZERO_DECIMAL:
        digits = 0
    elif code in _THREE_DECIMAL:
        digits = 3
    else:
        digits = 2
    value = amount / (10**digits) if digits else amount
    number = f"{value:,.{digits}f}" if digits else f"{int(value)}"
    if digits == 0 and isinstance(amount, float) and not amount.is_integer():
        number = f"{amount:g}"
    symbol = _SYMBOLS.get(code)
    if symbol is None:
        return f"{number} {code.upper()}"
    if number.startswith("-"):
        return f"-{symbol}{number[1:]}"
    return f"{symbol}{number}"


class _ClockScope:
    __slots__ = ("_clock", "_token")

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def __enter__(self) -> None:
        self._token = _CLOCK.set(self._clock)

    def __exit__(self, *exc: object) -> None:
        _CLOCK.reset(self._token)


def clock_scope(clock: Clock) -> _ClockScope:
    """Make ``now()`` and ``days_since()`` read ``clock`` inside the ``with`` block."""
    return _ClockScope(clock)


class _LocaleScope:
    __slots__ = ("_locale", "_token")

    def __init__(self, locale: str | None) -> None:
        self._locale = locale

    def __enter__(self) -> None:
        self._token = _LOCALE.set(self._locale)

    def __exit__(self, *exc: object) -> None:
        _LOCALE.reset(self._token)


class _NoScope:
    __slots__ = ()

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        pass


_NO_SCOPE = _NoScope()


def locale_scope(locale: str | None) -> _LocaleScope | _NoScope:
    """Make ``money()`` and ``date()`` write for ``locale`` inside the ``with`` block (None:
    as they do without one). The engine sets it while it renders a step whose text it picked
    by locale. No locale where none is set changes nothing: the scope then does nothing."""
    if locale is None and _LOCALE.get() is None:
        return _NO_SCOPE
    return _LocaleScope(locale)


def _now() -> _dt.datetime:
    clock = _CLOCK.get()
    return clock() if clock is not None else _dt.datetime.now(_dt.timezone.utc)


class DunningFunctions(_jp.Functions):
    """JMESPath's functions plus the ones this module documents."""

    @_jp.signature({"types": ["number"]}, {"types": ["string"]})
    def _func_money(self, amount: int | float, currency: str) -> str:
        locale = _LOCALE.get()
        if locale is not None:
            from .locales import format_money_for

            return format_money_for(amount, currency, locale)
        return format_money(amount, currency)

    @_jp.signature()
    def _func_now(self) -> int:
        return int(_now().timestamp())

    @_jp.signature({"types": ["number"]})
    def _func_days_since(self, epoch: int | float) -> int:
        return int((_now().timestamp() - epoch) // 86400)

    @_jp.signature({"types": ["number"]})
    def _func_date(self, epoch: int | float) -> str:
        locale = _LOCALE.get()
        if locale is not None:
            from .locales import format_date

            return format_date(epoch, locale)
        return _dt.datetime.fromtimestamp(epoch, _dt.timezone.utc).date().isoformat()

    @_jp.signature({"types": []})
    def _func_required(self, value: Any) -> Any:
        """``value`` itself, unless it is null or empty: then the placeholder fails, and so
        does its step, instead of sending "Dear ,"."""
        if value is None or value == "" or value == [] or value == {}:
            shown = "null" if value is None else json.dumps(value)
            raise ValueError(f"a required value is missing ({shown})")
        return value

    @_jp.signature({"types": ["string"]})
    def _func_lower(self, value: str) -> str:
        return value.lower()

    @_jp.signature({"types": ["string"]})
    def _func_upper(self, value: str) -> str:
        return value.upper()


FUNCTIONS: Any = DunningFunctions()
"""The one (stateless) function table every expression uses."""
