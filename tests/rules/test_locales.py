"""Locale variants of a parameter, the choice for the customer's locales, money and dates."""

from __future__ import annotations

import pytest

from dunning_rules.rules.functions import format_money
from dunning_rules.rules.locales import (
    Choice,
    choose,
    format_date,
    format_money_for,
    is_locale_tag,
    is_localised,
    locales_in,
    localise,
    localised_problem,
    normalise_tag,
    preferred_locales,
)

TEXT = {"en": "Your payment failed", "es": "Su pago no se pudo procesar", "default": "en"}
JULY_26 = 1721995200  # 2024-07-26T12:00:00Z


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (TEXT, True),
        ({"en-US": "a", "pt_BR": "b", "default": "pt_BR"}, True),
        ({"en": "a", "es": "b"}, False),
        ({"en": "a", "default": "es"}, False),
        ({"to": "a", "subject": "b", "default": "to"}, False),
        ({"default": "en"}, False),
        ("Your payment failed", False),
    ],
    ids=[
        "variants",
        "regions",
        "no-default",
        "default-names-nothing",
        "not-locale-keys",
        "default-only",
        "plain-string",
    ],
)
def test_is_localised(value, expected):
    """Variants are a mapping of locale tags with a `default` that names one of them."""
    assert is_localised(value) is expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {"en": "a", "es": "b", "default": "fr"},
            "'default' must name one of the locales given ('en', 'es'), not 'fr'",
        ),
        ({"en": "a", "default": 3}, "'default' must name one of the locales given ('en'), not 3"),
        (TEXT, None),
        ({"json": {"x": 1}, "default": "json"}, None),
    ],
    ids=["unknown-default", "number-default", "valid", "plain-mapping"],
)
def test_localised_problem(value, message):
    """A mapping of locales whose default names none of them is a problem for the loader."""
    assert localised_problem(value) == message


@pytest.mark.parametrize(
    ("preferred", "key", "locale"),
    [
        (["es"], "es", "es"),
        (["es-MX"], "es", "es-MX"),
        (["es_mx"], "es", "es-MX"),
        (["fr", "es"], "es", "es"),
        (["de"], "en", "en"),
        ([], "en", "en"),
    ],
    ids=["exact", "region-falls-to-language", "underscore-lower", "second-choice", "none", "empty"],
)
def test_choose(preferred, key, locale):
    """es-MX picks es, then the default; the locale to format for is the customer's."""
    assert choose(TEXT, preferred) == Choice(key, locale)


def test_choose_prefers_the_exact_region():
    """es-MX picks the es-MX variant over es."""
    variants = {"es": "a", "es-MX": "b", "en": "c", "default": "en"}
    assert choose(variants, ["es-MX"]).key == "es-MX"


def test_choose_finds_another_region_of_the_language():
    """A customer who prefers es gets the es-ES variant when there is no plain es."""
    variants = {"es-ES": "a", "en": "c", "default": "en"}
    assert choose(variants, ["es"]) == Choice("es-ES", "es")


def test_choose_follows_the_customers_order():
    """A French-speaking customer who also reads Spanish gets fr-CA before es."""
    variants = {"fr-CA": "a", "es": "b", "en": "c", "default": "en"}
    assert choose(variants, ["fr", "es"]).key == "fr-CA"


def test_localise_replaces_variants_at_any_depth():
    """Every variant mapping in a tree becomes its chosen text; other mappings stay."""
    tree = {
        "subject": {"en": "Payment failed", "es": "Pago fallido", "default": "en"},
        "json": {"blocks": [{"text": {"en": "Hi", "es": "Hola", "default": "en"}}], "n": 1},
        "to": "a@example.com",
    }
    value, locale = localise(tree, ["es-AR"])
    assert value == {
        "subject": "Pago fallido",
        "json": {"blocks": [{"text": "Hola"}], "n": 1},
        "to": "a@example.com",
    }
    assert locale == "es-AR"


def test_localise_without_variants_has_no_locale():
    """A tree of plain text keeps its values and picks no locale."""
    assert localise({"text": "Hi", "n": [1, 2]}, ["es"]) == ({"text": "Hi", "n": [1, 2]}, None)


def test_locales_in_lists_every_variant():
    """The locales of every variant mapping, for the loader's checks."""
    tree = {"a": TEXT, "b": [{"fr": "x", "default": "fr"}]}
    assert sorted(locales_in(tree)) == ["en", "es", "fr"]


@pytest.mark.parametrize(
    ("tag", "normal"),
    [("es_mx", "es-MX"), ("ZH-hant-tw", "zh-Hant-TW"), ("EN", "en"), ("es-419", "es-419")],
    ids=["underscore", "script", "upper", "numeric-region"],
)
def test_normalise_tag(tag, normal):
    """Language lower case, script title case, region upper case."""
    assert normalise_tag(tag) == normal


@pytest.mark.parametrize(
    ("value", "expected"),
    [("en", True), ("pt-BR", True), ("default", False), ("e", False), ("en us", False), (3, False)],
    ids=["language", "region", "word", "one-letter", "space", "number"],
)
def test_is_locale_tag(value, expected):
    """Locale tags are two or three letters, then parts joined by - or _."""
    assert is_locale_tag(value) is expected


def test_preferred_locales_take_the_first_source_with_any():
    """An empty customer list falls through to the next source; junk entries are skipped."""
    assert preferred_locales([], None, ["es_mx", 7, "en"], ["fr"]) == ("es-MX", "en")
    assert preferred_locales("de") == ("de",)
    assert preferred_locales(None, {"en": 1}) == ()


@pytest.mark.parametrize(
    ("locale", "amount", "currency", "text"),
    [
        ("en-US", 123456, "usd", "$1,234.56"),
        ("en", 123456, "eur", "€1,234.56"),
        ("de", 123456, "eur", "1.234,56 €"),
        ("es", 123456, "eur", "1.234,56 €"),
        ("it", 123456, "eur", "1.234,56 €"),
        ("pt-PT", 123456, "eur", "1.234,56 €"),
        ("fr", 123456, "eur", "1 234,56 €"),
        ("fr-CA", 123456, "usd", "1 234,56 $"),
        ("pt-BR", 123456, "brl", "R$ 1.234,56"),
        ("es-MX", 123456, "usd", "$1,234.56"),
        ("nl", 123456, "eur", "€ 1.234,56"),
        ("de-CH", 123456, "chf", "1'234.56 CHF"),
        ("de", 100000, "jpy", "100.000 ¥"),
        ("de", 1234567, "kwd", "1.234,567 KWD"),
        ("de", -123456, "eur", "-1.234,56 €"),
        ("de", 5, "eur", "0,05 €"),
    ],
    ids=[
        "en-us",
        "en-eur",
        "de",
        "es",
        "it",
        "pt",
        "fr",
        "fr-ca",
        "pt-br",
        "es-mx",
        "nl",
        "de-ch",
        "zero-decimal",
        "three-decimal",
        "negative",
        "cents",
    ],
)
def test_format_money_for(locale, amount, currency, text):
    """Amounts follow the locale's separators and currency position."""
    assert format_money_for(amount, currency, locale) == text


@pytest.mark.parametrize("locale", [None, "", "xx", "tlh"], ids=["none", "empty", "xx", "klingon"])
def test_format_money_without_a_known_locale_is_money(locale):
    """No locale, or one the table lacks, formats as money() always has."""
    assert format_money_for(75000, "usd", locale) == format_money(75000, "usd") == "$750.00"
    assert format_money_for(1000, "jpy", locale) == "¥1000"


def test_format_money_uses_only_gsm_characters():
    """No non-breaking or thin spaces: a text message stays in the GSM alphabet."""
    text = format_money_for(123456789, "eur", "fr")
    assert text == "1 234 567,89 €"
    assert all(ch == " " or not ch.isspace() for ch in text)


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        ("en", "July 26, 2024"),
        ("en-US", "July 26, 2024"),
        ("en-GB", "26 July 2024"),
        ("es", "26 de julio de 2024"),
        ("es-MX", "26 de julio de 2024"),
        ("pt-BR", "26 de julho de 2024"),
        ("de", "26. Juli 2024"),
        ("fr", "26 juillet 2024"),
        ("it", "26 luglio 2024"),
        ("nl", "26 juli 2024"),
        ("ja", "2024-07-26"),
        (None, "2024-07-26"),
    ],
    ids=["en", "en-us", "en-gb", "es", "es-mx", "pt-br", "de", "fr", "it", "nl", "ja", "none"],
)
def test_format_date(locale, text):
    """Dates are written out in the locale's language, or ISO when it has no month names."""
    assert format_date(JULY_26, locale) == text
