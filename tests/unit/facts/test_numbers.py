"""Numbers as written (pipeline/facts/numbers.py)."""

from __future__ import annotations

import pytest

from pipeline.facts import parse_number


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
    ],
)
def test_parse_number(text: str, value: float | None) -> None:
    assert parse_number(text) == value
