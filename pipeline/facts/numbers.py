"""Numbers as news copy writes them: digits with thousands commas, words, scales and glued suffixes.

`parse_number` reads "190,000", "two million", "1.5bn", "$2 million" and "a dozen" as a value; number words
go through ``text_to_num``. The scale words and suffixes are ``lexicons/number_scales.json``.
"""

from __future__ import annotations

import re

from text_to_num import alpha2digit, text2num

from pipeline import lexicons

__all__ = ["NUMBER_RE", "SCALES", "SUFFIX_SCALES", "fraction_denominator", "parse_number"]

# Scale word -> factor ("two million"), and suffix glued to the digits -> factor ("1.5bn", "10k").
SCALES: dict[str, float] = lexicons.table("number_scales")["words"]
SUFFIX_SCALES: dict[str, float] = lexicons.table("number_scales")["suffixes"]
# Fraction words that are not ordinals ("half", "quarter") -> denominator.
_FRACTIONS: dict[str, int] = lexicons.table("number_scales")["fractions"]
# An ordinal as text_to_num writes it in digits, maybe plural: "thirds" -> "3rds".
_ORDINAL_RE = re.compile(r"^(\d+)(?:st|nd|rd|th)s?$")
# Digits, maybe with thousands commas and decimals, then up to three letters (a suffix or a glued unit).
NUMBER_RE = re.compile(r"^(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?([a-z]{0,3})$")


def fraction_denominator(word: str) -> int | None:
    """The denominator a fraction word stands for ("half" 2, "quarters" 4, "thirds" 3, "tenth" 10), or None.
    "first" and "second" are no fractions ("a second of the ..." is rare beside "the second of ...")."""
    low = word.lower()
    if low in _FRACTIONS:
        return _FRACTIONS[low]
    if not low.isalpha():
        return None
    m = _ORDINAL_RE.match(alpha2digit(low, "en"))
    if m is None or int(m.group(1)) < 3:
        return None
    return int(m.group(1))


def parse_number(text: str) -> float | None:
    """Return the value of a number as written ("190,000", "two million", "1.5bn", "$2 million",
    "a dozen"), or None when `text` is not a number."""
    s = text.strip().lower().replace("\u2019", "'")
    s = re.sub(r"^(?:us\$|[$€£¥₹])\s*", "", s)
    s = s.rstrip("%").strip()
    if not s:
        return None
    words = s.replace("-", " ").split()
    if not words:
        return None  # a lone hyphen or dash
    if words[0] in ("a", "an", "one") and len(words) > 1 and words[1] in ("dozen", *SCALES):
        words[0] = "1"
    if words == ["1", "dozen"] or words == ["dozen"]:
        return 12.0
    m = NUMBER_RE.match(words[0])
    if m:
        if m.group(3) and m.group(3) not in SUFFIX_SCALES:
            return None
        value = float(m.group(1).replace(",", "") + (m.group(2) or ""))
        value *= SUFFIX_SCALES.get(m.group(3), 1.0)
        for w in words[1:]:
            if w not in SCALES:
                return None
            value *= SCALES[w]
        return value
    if any(c.isdigit() for c in s):
        return None
    try:
        return float(text2num(" ".join(words), "en"))
    except ValueError:
        return None
