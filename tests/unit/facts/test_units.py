"""Units from pint's registry and currencies from the CLDR (pipeline/facts/units.py)."""

from __future__ import annotations

import pytest

from pipeline.facts.units import currency_symbol, glued_unit, is_currency, is_duration, resolve


@pytest.mark.parametrize(
    ("written", "unit"),
    [
        ("km", "kilometer"),
        ("kilometres", "kilometer"),
        ("mph", "mile per hour"),
        ("km/h", "kilometer per hour"),
        ("sq km", "square kilometer"),
        ("degrees Fahrenheit", "degree Fahrenheit"),
        ("lbs.", "pound"),
        ("kWh", "kilowatt hour"),
        ("per cent", "percent"),
        ("percentage points", "percentage points"),
        ("dollars", "USD"),
        ("Australian dollars", "AUD"),
        ("euros", "EUR"),
        ("Swiss francs", "CHF"),
    ],
)
def test_resolve_reads_a_written_unit(written: str, unit: str) -> None:
    assert resolve(written) == unit


@pytest.mark.parametrize(
    "written",
    # Nouns, prefixes news copy does not use (picometre, attometre), a parse pint finds twice (parsec or
    # percent), a unit that is an everyday noun, and a name several currencies share.
    ["people", "pm", "am", "dam", "units", "lines", "counts", "francs"],
)
def test_resolve_leaves_words_that_are_no_unit_here(written: str) -> None:
    assert resolve(written) is None


def test_glued_units_and_names() -> None:
    assert [glued_unit(s) for s in ("km", "bhp", "p", "GB", "C", "mph")] == [
        "kilometer",
        "bhp",
        "pence",
        "gigabyte",
        "degree Celsius",
        "mile per hour",
    ]
    assert [glued_unit(s) for s in ("G", "K", "st", "th")] == [None] * 4  # "5G", "4K", "21st"


def test_currency_symbols_from_english_locales() -> None:
    assert [currency_symbol(s) for s in ("$", "US$", "A$", "HK$", "€", "£", "₹", "USD")] == [
        "USD",
        "USD",
        "AUD",
        "HKD",
        "EUR",
        "GBP",
        "INR",
        "USD",
    ]
    assert currency_symbol("Rs") is None  # several rupees
    assert currency_symbol("usd") is None  # a code is written in capitals


def test_kinds_of_unit() -> None:
    assert is_currency("JPY") and not is_currency("kilometer")
    assert is_duration("day") and is_duration("week") and not is_duration("kilometer")
    assert not is_duration("USD") and not is_duration(None)


@pytest.mark.parametrize("unit", ["K-9 units", "1st-degree", "9mm", "(", "a b c", "5_000"])
def test_text_pint_cannot_parse_is_no_duration(unit: str) -> None:
    assert is_duration(unit) is False


def test_a_name_with_digits_after_a_number_is_no_unit(extractor) -> None:
    from tests.conftest import snippet

    facts = extractor.extract(snippet("", "Police used two K-9 units to search the area for 3 hours."))
    assert [q.value for q in facts.quantities] == [2, 3]
