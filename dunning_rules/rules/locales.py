"""Text in the customer's language: locale variants of a parameter, and money and dates.

A parameter gives variants by locale with a mapping that names its ``default``::

    text:
      en: "Your payment of {{ money(data.object.amount_due, data.object.currency) }} failed"
      es: "No se pudo cobrar su pago de {{ money(data.object.amount_due, data.object.currency) }}"
      default: en

Every other key is a locale tag (``en``, ``es``, ``es-MX``, ``pt-BR``; ``_`` for ``-`` and any
case are accepted). :func:`choose` picks one for the customer's preferred locales, in order:
for each preferred locale, the same tag, then the tag with its last parts cut (``es-MX``, then
``es``), then any variant of the same language (``es`` finds ``es-ES``); when none matches, the
default. A mapping without ``default`` is a plain mapping (an ``http`` body keeps its keys).

:func:`format_money` and :func:`format_date` write amounts and dates as the locale does, from a
small table (:data:`NUMBER_FORMATS`, :data:`MONTHS`): ``$1,234.56`` in English, ``1.234,56 €``
in German, Spanish, Italian and Portuguese, ``1 234,56 €`` in French, ``R$ 1.234,56`` in
Brazil. Only plain spaces are used, so that a text message stays in the GSM alphabet. A locale
the table does not know formats as ``money()`` and ``date()`` do without one.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from .functions import _THREE_DECIMAL, _ZERO_DECIMAL, format_money

__all__ = [
    "DEFAULT_KEY",
    "MONTHS",
    "NUMBER_FORMATS",
    "Choice",
    "NumberFormat",
    "choose",
    "format_date",
    "format_money_for",
    "is_locale_tag",
    "is_localised",
    "localise",
    "localised_problem",
    "locales_in",
    "normalise_tag",
    "preferred_locales",
]

DEFAULT_KEY = "default"
_TAG = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")
_MAX_TAG = 35


class NumberFormat(NamedTuple):
    """How a locale writes an amount: separators, and where the currency goes."""

    group: str
    decimal: str
    symbol_first: bool
    space: bool
    """A space between the currency and the number."""


_EN = NumberFormat(",", ".", symbol_first=True, space=False)
_CONTINENTAL = NumberFormat(".", ",", symbol_first=False, space=True)
_SPACED = NumberFormat(" ", ",", symbol_first=False, space=True)

NUMBER_FORMATS: Mapping[str, NumberFormat] = {
    **dict.fromkeys(("en", "ja", "zh", "ko", "he", "th", "ms", "es-MX", "es-US"), _EN),
    **dict.fromkeys(("de", "es", "it", "pt", "da", "id", "tr", "ro", "hr", "el"), _CONTINENTAL),
    **dict.fromkeys(("fr", "sv", "nb", "no", "fi", "pl", "cs", "sk", "ru", "uk", "hu"), _SPACED),
    "nl": NumberFormat(".", ",", symbol_first=True, space=True),
    "pt-BR": NumberFormat(".", ",", symbol_first=True, space=True),
    "de-CH": NumberFormat("'", ".", symbol_first=True, space=True),
}
"""Locale (a language, or a language and region that differ from it) -> its number format."""

_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "brl": "R$"}

MONTHS: Mapping[str, tuple[str, ...]] = {
    "en": (
        "January", "February", "March", "April", "May", "June", "July", "August",
        "September", "October", "November", "December",
    ),
    "es": (
        "enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
        "septiembre", "octubre", "noviembre", "diciembre",
    ),
    "pt": (
        "janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto",
        "setembro", "outubro", "novembro", "dezembro",
    ),
    "de": (
        "Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
        "Oktober", "November", "Dezember",
    ),
    "fr": (
        "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
        "octobre", "novembre", "décembre",
    ),
    "it": (
        "gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto",
        "settembre", "ottobre", "novembre", "dicembre",
    ),
    "nl": (
        "januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
        "september", "oktober", "november", "december",
    ),
}  # fmt: skip
"""Language -> its month names, for :func:`format_date`."""

_DATE_PATTERNS = {
    "en-US": "{month} {day}, {year}",
    "en": "{day} {month} {year}",
    "es": "{day} de {month} de {year}",
    "pt": "{day} de {month} de {year}",
    "de": "{day}. {month} {year}",
    "fr": "{day} {month} {year}",
    "it": "{day} {month} {year}",
    "nl": "{day} {month} {year}",
}


# -- tags -----------------------------------------------------------------------------------


def is_locale_tag(value: object) -> bool:
    """True for a tag like ``en``, ``es-MX``, ``pt_BR``, ``zh-Hant-TW``."""
    return isinstance(value, str) and len(value) <= _MAX_TAG and _TAG.match(value) is not None


def normalise_tag(tag: str) -> str:
    """``es_mx`` -> ``es-MX``, ``ZH-hant-tw`` -> ``zh-Hant-TW``: language lower case, a script
    (four letters) title case, a region (two letters) upper case."""
    parts = tag.replace("_", "-").split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha():
            out.append(part.title())
        elif len(part) == 2 and part.isalpha():
            out.append(part.upper())
        else:
            out.append(part.lower())
    return "-".join(out)


def preferred_locales(*sources: object) -> tuple[str, ...]:
    """The customer's preferred locales: the first of ``sources`` that holds any (a list of
    tags, like Stripe's ``preferred_locales``, or one tag), normalised; other values are
    skipped."""
    for source in sources:
        items = [source] if isinstance(source, str) else source
        if not isinstance(items, (list, tuple)):
            continue
        found = tuple(normalise_tag(item) for item in items if is_locale_tag(item))
        if found:
            return found
    return ()


# -- variants -------------------------------------------------------------------------------


def is_localised(value: object) -> bool:
    """True when ``value`` gives variants by locale: a mapping with a ``default`` that names
    one of its other keys, which are all locale tags."""
    if not isinstance(value, Mapping) or DEFAULT_KEY not in value:
        return False
    variants = [key for key in value if key != DEFAULT_KEY]
    default = value[DEFAULT_KEY]
    return (
        bool(variants)
        and all(is_locale_tag(key) for key in variants)
        and isinstance(default, str)
        and default in value
        and default != DEFAULT_KEY
    )


def localised_problem(value: object) -> str | None:
    """For the loader: what is wrong with a mapping that looks like locale variants (a
    ``default`` and only locale tags besides) but is not one; None when nothing is."""
    if not isinstance(value, Mapping) or DEFAULT_KEY not in value:
        return None
    variants = [key for key in value if key != DEFAULT_KEY]
    if not variants or not all(is_locale_tag(key) for key in variants):
        return None
    default = value[DEFAULT_KEY]
    if not isinstance(default, str) or default not in variants:
        names = ", ".join(repr(k) for k in variants)
        return f"'default' must name one of the locales given ({names}), not {default!r}"
    return None


class Choice(NamedTuple):
    """The variant picked (its key in the mapping) and the locale to format money and dates
    for: the customer's locale that matched, or the default's."""

    key: str
    locale: str


def _language(tag: str) -> str:
    return tag.split("-")[0]


def choose(variants: Mapping[str, Any], preferred: Sequence[str]) -> Choice:
    """The variant of ``variants`` (see :func:`is_localised`) for ``preferred`` locales."""
    keys = {normalise_tag(key): key for key in variants if key != DEFAULT_KEY}
    for wanted in (normalise_tag(p) for p in preferred):
        if wanted in keys:
            return Choice(keys[wanted], wanted)
        parts = wanted.split("-")
        for cut in range(len(parts) - 1, 0, -1):
            shorter = "-".join(parts[:cut])
            if shorter in keys:
                return Choice(keys[shorter], wanted)
        language = _language(wanted)
        for tag, key in keys.items():
            if _language(tag) == language:
                return Choice(key, wanted)
    default = str(variants[DEFAULT_KEY])
    return Choice(default, normalise_tag(default))


def localise(value: Any, preferred: Sequence[str]) -> tuple[Any, str | None]:
    """``value`` with every locale-variant mapping in it, at any depth, replaced by the
    variant :func:`choose` picks; and the locale of the first one picked (None: none)."""
    found: list[str] = []

    def walk(item: Any) -> Any:
        if is_localised(item):
            choice = choose(item, preferred)
            found.append(choice.locale)
            return walk(item[choice.key])
        if isinstance(item, Mapping):
            return {key: walk(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [walk(inner) for inner in item]
        return item

    result = walk(value)
    return result, (found[0] if found else None)


def locales_in(value: Any) -> Iterable[str]:
    """Every locale tag that a variant mapping in ``value`` gives, at any depth."""
    if is_localised(value):
        for key, inner in value.items():
            if key != DEFAULT_KEY:
                yield key
                yield from locales_in(inner)
    elif isinstance(value, Mapping):
        for inner in value.values():
            yield from locales_in(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from locales_in(inner)


# -- money and dates ------------------------------------------------------------------------


def _lookup(table: Mapping[str, Any], locale: str) -> Any:
    """The entry for ``locale``, or for its shorter forms (``pt-BR-x`` -> ``pt-BR`` -> ``pt``)."""
    parts = normalise_tag(locale).split("-")
    for cut in range(len(parts), 0, -1):
        entry = table.get("-".join(parts[:cut]))
        if entry is not None:
            return entry
    return None


def _group(digits: str, separator: str) -> str:
    head = len(digits) % 3 or 3
    groups = [digits[:head], *(digits[i : i + 3] for i in range(head, len(digits), 3))]
    return separator.join(groups)


def format_money_for(amount: float, currency: str, locale: str | None) -> str:
    """Stripe minor units as ``locale`` writes them (``1.234,56 €`` for ``de``); as
    :func:`~dunning_rules.rules.functions.format_money` does when the locale is None or not
    in :data:`NUMBER_FORMATS`."""
    style: NumberFormat | None = _lookup(NUMBER_FORMATS, locale) if locale else None
    if style is None or isinstance(amount, bool):
        return format_money(amount, currency)
    code = currency.lower()
    digits = 0 if code in _ZERO_DECIMAL else 3 if code in _THREE_DECIMAL else 2
    value = amount / (10**digits)
    text = f"{abs(value):.{digits}f}"
    whole, _, fraction = text.partition(".")
    number = _group(whole, style.group) + (style.decimal + fraction if fraction else "")
    sign = "-" if value < 0 and float(text) != 0 else ""
    symbol = _SYMBOLS.get(code)
    if symbol is None:  # a code goes after the number, as money() writes it
        return f"{sign}{number} {code.upper()}"
    gap = " " if style.space else ""
    if style.symbol_first:
        return f"{sign}{symbol}{gap}{number}"
    return f"{sign}{number}{gap}{symbol}"


def format_date(epoch: float, locale: str | None) -> str:
    """The UTC date of ``epoch`` as ``locale`` writes it in full (``26 de julio de 2024``,
    ``July 26, 2024``); ``YYYY-MM-DD`` when the locale is None or has no month names here."""
    day = _dt.datetime.fromtimestamp(epoch, _dt.timezone.utc).date()
    if not locale:
        return day.isoformat()
    tag = normalise_tag(locale)
    months = MONTHS.get(_language(tag))
    if months is None:
        return day.isoformat()
    english_us = tag == "en" or tag.startswith("en-US")
    pattern = _DATE_PATTERNS["en-US"] if english_us else _DATE_PATTERNS[_language(tag)]
    return pattern.format(day=day.day, month=months[day.month - 1], year=day.year)
