"""Dates: the DATE mentions of an article and their ISO 8601 values, resolved against ``published_at``.

Values are at the precision the text gives: ``YYYY-MM-DD`` for a day ("Friday", "Dec. 5", "Christmas
Eve"), ``YYYY-Www`` for a week ("last week"), ``YYYY-MM`` for a month ("November"), ``YYYY`` for a year
("next year", "2024"); ``None`` when the mention can't be pinned (relative dates without ``published_at``,
"recent weeks"). Day names, month names and forms like "Monday, Aug. 10" are read here; anything else goes to
``dateparser``, which costs about 5 ms a call. Lengths of time ("32 hours") and frequencies ("each day"),
which the NER also calls DATE, are no dates. Word lists: ``lexicons/weekdays.txt``, ``months.txt``,
``month_abbreviations.json``, ``holidays.json``, ``relative_days.json``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache

import dateparser
from spacy.tokens import Doc

from pipeline import lexicons
from pipeline.facts.numbers import parse_number
from pipeline.text import name_key
from schemas.models import DateMention

__all__ = ["MONTHS", "WEEKDAYS", "find_dates", "month_number", "resolve_date"]

# In calendar order: a day's or month's number is its position.
WEEKDAYS = lexicons.words("weekdays")
MONTHS = lexicons.words("months")
_MONTH_ABBR: dict[str, int] = lexicons.table("month_abbreviations")["abbreviations"]
# Holiday -> (month, day of the month).
_HOLIDAYS = {name: (month, day) for name, (month, day) in lexicons.table("holidays")["holidays"].items()}
# A day named relative to the publication day -> days from it.
_RELATIVE_DAYS: dict[str, int] = lexicons.table("relative_days")["days"]
_TIME_UNITS = r"(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?|centuries|nights?)"
_NUM_WORD = r"(?:\d[\d,.]*|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\w+teen|\w+ty)"
_PLURAL_TIME_UNITS = r"(?:seconds|minutes|hours|days|weeks|months|years|decades|centuries|nights)"
_DURATION_RE = re.compile(  # "32 hours", "the past two years", "months", "several weeks"; not "last week"
    rf"^(?:the\s+)?(?:(?:past|last|next|previous|coming|first|final|for)\s+)?"
    rf"(?:{_NUM_WORD}[\s-]+{_TIME_UNITS}|(?:(?:several|a few|few|many|some)\s+)?{_PLURAL_TIME_UNITS})"
    rf"(?:['\u2019]s?)?$"
)
_AGE_RE = re.compile(r"(?:aged?|ages)\s+\d+|\d+\s+(?:year|month|week|day)s?\s+old")
_FREQUENCY_RE = re.compile(
    rf"^(?:each|every|a|per|daily|weekly|day-to-day|year-round)\b.*|.*\b{_TIME_UNITS}\s+a\b.*"
)


def find_dates(docs: Sequence[Doc], published_at: datetime | None) -> list[DateMention]:
    """Return the DATE mentions of an article's docs with their values, each (text, value) once, in order;
    lengths of time, frequencies and mentions without a letter (but a year) are left out."""
    out: list[DateMention] = []
    seen: set[tuple[str, str | None]] = set()
    for doc in docs:
        for ent in doc.ents:
            if ent.label_ != "DATE":
                continue
            text = ent.text.strip()
            low = name_key(text)
            if not re.search(r"[a-z]", low) and not re.fullmatch(r"\d{4}", low):
                continue
            if _DURATION_RE.match(low) or _FREQUENCY_RE.match(low):
                continue
            value = resolve_date(text, published_at)
            if (text, value) not in seen:
                seen.add((text, value))
                out.append(DateMention(text=text, value=value))
    return out


def resolve_date(text: str, published_at: datetime | None) -> str | None:
    """Return the ISO 8601 value of a date mention (precision as written: day, week, month or year),
    relative to `published_at`; None when it can't be resolved."""
    return _resolve_date(text, published_at.date() if published_at else None)


@lru_cache(maxsize=16384)
def _resolve_date(text: str, base: date | None) -> str | None:
    """``resolve_date`` on the publication day alone (all it reads), cached: dateparser costs ~5 ms a call."""
    t = name_key(text.replace("\u2019", "'")).replace(" s ", "'s ")
    t = re.sub(r"^(?:the|on|in|by|since|until|of)\s+", "", t)
    t = re.sub(r"\s+s$", "", t)  # "Wednesday's" -> "wednesday"
    if _AGE_RE.fullmatch(t):
        return None  # "33-year-old", "age 28": an age, which the NER calls a DATE (dateparser: 5 ms for None)
    years = re.findall(r"\b(1[89]\d\d|20\d\d|21\d\d)\b", t)
    if t.isdigit() and not years:
        return None  # "1419" (a house number, a count): dateparser would make it a year, "1419-08-12"

    m = re.fullmatch(r"(?:(last|this|next|past)\s+)?(" + "|".join(WEEKDAYS) + r")", t)
    if m:
        if base is None:
            return None
        wd = WEEKDAYS.index(m.group(2))
        back = (base.weekday() - wd) % 7  # day names in news mean the latest such day, today included
        day = base - timedelta(days=back)
        if m.group(1) == "next":
            day = base + timedelta(days=(wd - base.weekday()) % 7 or 7)
        elif m.group(1) in ("last", "past") and back == 0:
            day -= timedelta(days=7)
        return day.isoformat()
    if t in _RELATIVE_DAYS:
        return (base + timedelta(days=_RELATIVE_DAYS[t])).isoformat() if base else None
    m = re.fullmatch(r"(?:(?:earlier|later)\s+)?(last|this|next|past|previous|coming)\s+(week|month|year)", t)
    if m:
        if base is None:
            return None
        step = {"last": -1, "past": -1, "previous": -1, "this": 0, "next": 1, "coming": 1}[m.group(1)]
        return _shift(base, m.group(2), step)
    m = re.fullmatch(r"(\w+)\s+(day|week|month|year)s?\s+ago", t)
    if m:
        n = parse_number(m.group(1))
        return _shift(base, m.group(2), -int(n)) if base and n is not None else None
    for name, (month, day_of_month) in _HOLIDAYS.items():
        if t == name or t == f"{name} {years[0] if years else ''}".strip():
            year = int(years[0]) if years else None
            if year is None:
                if base is None:
                    return None
                year = base.year if (month, day_of_month) <= (base.month, base.day) else base.year - 1
            return date(year, month, day_of_month).isoformat()
    m = re.fullmatch(r"(?:early|mid|late|the end of|end of|the start of|start of)?\s*(\w+)(?:\s+(\d{4}))?", t)
    if m:
        month = month_number(m.group(1))
        if month:
            if m.group(2):
                return f"{m.group(2)}-{month:02d}"
            if base is None:
                return None
            year = base.year if month <= base.month else base.year - 1
            return f"{year}-{month:02d}"
    if (
        re.fullmatch(r"(?:\w+\s+)*?(1[89]\d\d|20\d\d|21\d\d)(?:\s+\w+)*", t)
        and len(years) == 1
        and not any(w in t.split() for w in (*MONTHS, *_MONTH_ABBR))
    ):
        return years[0]
    if not re.search(r"\d|" + "|".join(MONTHS), t):
        return None
    m = _MONTH_DAY_RE.fullmatch(t)
    if m and (month := month_number(m.group(1))):
        return _month_day(month, int(m.group(2)), m.group(3), base)
    settings: dict[str, object] = {"PREFER_DATES_FROM": "past", "RETURN_AS_TIMEZONE_AWARE": False}
    if base is not None:
        settings["RELATIVE_BASE"] = datetime(base.year, base.month, base.day, 12)  # noqa: DTZ001 (dateparser wants naive)
    elif not years:
        return None
    parsed = dateparser.parse(text, languages=["en"], settings=settings)
    return parsed.date().isoformat() if parsed else None


# "Monday, Aug. 10", "June 13th", "Wednesday March 23, 2017" (folded: no punctuation): most of the dates
# news give, which dateparser takes ~5 ms to read. Days 1-31 only: dateparser reads "January 32" as 1932.
_MONTH_DAY_RE = re.compile(
    rf"(?:(?:{'|'.join(WEEKDAYS)})\s+)?([a-z]+)\s+(3[01]|[12]\d|0?[1-9])(?:st|nd|rd|th)?(?:\s+(\d{{4}}))?"
)


def _month_day(month: int, day: int, year: str | None, base: date | None) -> str | None:
    """Return a month and day as a date: in the given year, else the latest one not after ``base`` (as
    dateparser does, preferring the past: "Feb. 29" is the last leap day); None when there is no such day
    ("Feb. 30") or no year to put it in."""
    if year is not None:
        years = [int(year)]
    elif base is not None:
        latest = base.year if (month, day) <= (base.month, base.day) else base.year - 1
        years = list(range(latest, latest - 8, -1))  # leap years are at most 8 apart (1896, 1904)
    else:
        return None
    for y in years:
        with contextlib.suppress(ValueError):
            return date(y, month, day).isoformat()
    return None


def month_number(word: str) -> int | None:
    """Return the number of a month named in lower case, in full or abbreviated ("sept.", "dec"), else None."""
    word = word.rstrip(".")
    if word in MONTHS:
        return MONTHS.index(word) + 1
    return _MONTH_ABBR.get(word)


def _shift(base: date, unit: str, n: int) -> str:
    if unit == "day":
        return (base + timedelta(days=n)).isoformat()
    if unit == "week":
        year, week, _ = (base + timedelta(weeks=n)).isocalendar()
        return f"{year}-W{week:02d}"
    if unit == "month":
        months = base.year * 12 + base.month - 1 + n
        return f"{months // 12}-{months % 12 + 1:02d}"
    return str(base.year + n)
