"""Date mentions and their values (pipeline/facts/dates.py), on strings and on the seed articles."""

from __future__ import annotations

from datetime import UTC, date, datetime

import dateparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.facts import resolve_date
from tests.conftest import PUBLISHED
from tests.conftest import seed_snippets as article


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Wednesday", "2023-12-27"),  # the publication day itself: day names mean the latest such day
        ("Wednesday\u2019s", "2023-12-27"),
        ("Friday", "2023-12-22"),
        ("Sunday", "2023-12-24"),
        ("Christmas Eve", "2023-12-24"),
        ("November", "2023-11"),
        ("last week", "2023-W51"),
        ("earlier this week", "2023-W52"),
        ("next year", "2024"),
        ("2024", "2024"),
        ("the 2023 fiscal years", "2023"),
        ("1 year ago", "2022"),
        ("December 5, 2023", "2023-12-05"),
        ("recent weeks", None),
        ("between May and the end of November", None),
        # What the NER calls a DATE and is not one: a bare number (dateparser made "1419" the year 1419)
        # and an age.
        ("1419", None),
        ("12", None),
        ("33-year-old", None),
        ("age 28", None),
        ("10 months old", None),
    ],
)
def test_resolve_date_with_published_at(text: str, value: str | None) -> None:
    assert resolve_date(text, PUBLISHED) == value


@settings(max_examples=300, deadline=None)
@given(
    weekday=st.sampled_from(["", "Monday, ", "Sunday ", "Thursday, "]),
    month=st.sampled_from(["January", "Feb.", "Feb", "March", "Sept.", "sep", "December", "MAY", "Jun"]),
    day=st.integers(min_value=0, max_value=32),
    suffix=st.sampled_from(["", "th", "st"]),
    year=st.sampled_from(["", ", 2017", " 1999", ", 2024"]),
    published=st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 12, 31)),
)
def test_month_day_dates_read_as_dateparser_reads_them(weekday, month, day, suffix, year, published) -> None:
    # The common "Monday, Aug. 10" forms skip dateparser (5 ms a call): the same dates, or None alike.
    text = f"{weekday}{month} {day}{suffix}{year}"
    at = datetime(published.year, published.month, published.day, 12, tzinfo=UTC)
    theirs = dateparser.parse(
        text,
        languages=["en"],
        settings={
            "PREFER_DATES_FROM": "past",
            "RETURN_AS_TIMEZONE_AWARE": False,
            "RELATIVE_BASE": datetime(published.year, published.month, published.day, 12),  # noqa: DTZ001
        },
    )
    assert resolve_date(text, at) == (theirs.date().isoformat() if theirs else None)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Wednesday", None),
        ("last week", None),
        ("November", None),
        ("2024", "2024"),
        ("Dec. 5, 2023", "2023-12-05"),
    ],
)
def test_resolve_date_without_published_at(text: str, value: str | None) -> None:
    assert resolve_date(text, None) == value


@pytest.mark.parametrize(
    ("seed", "text", "value"),
    [
        ("000", "Wednesday", "2023-12-27"),
        ("000", "Friday", "2023-12-22"),
        ("000", "November", "2023-11"),
        ("000", "Christmas Eve", "2023-12-24"),
        ("000", "earlier this week", "2023-W52"),
        ("001", "last week", "2023-W51"),
        ("001", "2024", "2024"),
        ("002", "Sunday", "2023-12-24"),
        ("002", "next year", "2024"),
    ],
)
def test_dates_with_published_at(seed_facts, seed: str, text: str, value: str) -> None:
    assert {d.text: d.value for d in seed_facts[seed].dates}[text] == value


def test_dates_without_published_at(extractor) -> None:
    facts = extractor.extract(article("000", published_at=None))
    values = {d.text: d.value for d in facts.dates}
    assert values["Wednesday"] is None
    assert values["November"] is None
    assert values["2022"] == "2022"


def test_durations_and_frequencies_are_not_dates(seed_facts) -> None:
    texts = {d.text for f in seed_facts.values() for d in f.dates}
    assert not texts & {"32 hours", "months", "each day", "every day"}
