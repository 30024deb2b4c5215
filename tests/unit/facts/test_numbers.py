"""Numbers as written (pipeline/facts/numbers.py)."""

from __future__ import annotations

import pytest

from pipeline.facts import parse_number
from pipeline.facts.numbers import fraction_denominator


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("two million", 2_000_000),
        ("190,000", 190_000),
        ("1.5 billion", 1_500_000_000),
        ("$2 million", 2_000_000),
        ("1.5bn", 1_500_000_000),
        ("fourteen", 14),
        ("twenty-five", 25),
        ("a dozen", 12),
        ("7,000", 7_000),
        ("40%", 40),
        ("fiscal", None),
        ("24World", None),
        ("", None),
        ("-", None),
        ("\u2013", None),
    ],
)
def test_parse_number(text: str, value: float | None) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize(
    ("word", "denominator"),
    [("half", 2), ("quarters", 4), ("third", 3), ("Thirds", 3), ("tenths", 10), ("hundredth", 100)],
)
def test_fraction_denominator(word: str, denominator: int) -> None:
    assert fraction_denominator(word) == denominator


@pytest.mark.parametrize("word", ["first", "second", "three", "party", "3rd"])
def test_no_fraction_denominator(word: str) -> None:
    assert fraction_denominator(word) is None
