"""Units as news copy writes them, read from general sources rather than from a table of our own.

- Physical units come from pint's unit registry: names, plurals, spellings ("kilometres"), symbols ("km",
  "mph", "kWh") and SI prefixes, reported by pint's canonical name with spaces ("kilometer", "mile per
  hour"). Only the prefixes news copy uses are read ("km", "MW", "mg"; not "pm" as picometre or "dam" as
  decametre), single-letter symbols only glued to a number or after a degree sign ("40C", "40 °C"), and
  units that are everyday nouns in news copy ("line", "hand", "count": ``lexicons/unit_lookalikes.txt``)
  are left to be counted nouns.
- Currencies come from the Unicode CLDR through babel: every ISO 4217 code, its English names singular and
  plural ("Australian dollars"), and the symbols English locales write ("$", "US$", "A$", "HK$", "€").
  A bare "dollars" is the US dollar and "$" too, as English copy writes them; a bare name that several
  currencies share ("pesos", "francs") stays a word.
- Units of news copy that neither source knows ("percentage points", "basis points", "years of age",
  "bhp", "pence") are ``lexicons/news_units.json``.

`resolve` reads one written unit; `unit_at` finds the longest unit written at a token; `currency_symbol`
reads a currency written before a number.
"""

from __future__ import annotations

from functools import cache, lru_cache
from tokenize import TokenError
from typing import NamedTuple

from spacy.tokens import Doc

from pipeline import lexicons

__all__ = [
    "UnitMatch",
    "currency_symbol",
    "currency_words",
    "glued_unit",
    "is_currency",
    "is_duration",
    "load",
    "resolve",
    "unit_at",
]

# The SI prefixes of units news copy writes ("kilometres", "MW", "mg", "GB", "µg").
_NEWS_PREFIXES = frozenset({"", "kilo", "mega", "giga", "tera", "milli", "centi", "micro"})
# The English locales whose currency symbols are read, in order of precedence: "$" is the US dollar.
_LOCALES = ("en", "en_GB", "en_AU", "en_CA", "en_IN", "en_NZ", "en_HK", "en_SG")
# "square miles", "cubic feet", "sq km".
_POWERS = {"square": "square", "sq": "square", "cubic": "cubic", "cu": "cubic"}
_ORDINAL_SUFFIXES = frozenset({"st", "nd", "rd", "th"})
_DEGREE = {"°", "º", "degree", "degrees"}


class UnitMatch(NamedTuple):
    unit: str  # pint's name with spaces ("kilometer"), an ISO 4217 code ("USD") or a news unit ("points")
    end: int  # the token after the unit


def load() -> None:
    """Read pint's registry and the CLDR's currencies now (about a second), not on the first number."""
    _registry()
    _currencies()


@cache
def _registry():
    import pint

    return pint.UnitRegistry()


@cache
def _news_units() -> dict[str, str]:
    return lexicons.table("news_units")["units"]


@cache
def _lookalikes() -> frozenset[str]:
    return frozenset(lexicons.words("unit_lookalikes"))


@cache
def _currencies() -> tuple[dict[str, str], dict[str, str], frozenset[str]]:
    """(symbol -> code, lower-case English name -> code, ISO codes)."""
    from babel.numbers import get_currency_name, get_currency_symbol, list_currencies

    codes = sorted(list_currencies())
    # English's own symbols first ("$" is the US dollar); another English locale's only where it holds a
    # currency sign and is the symbol of one currency in all of them ("US$"; not "Rs", which names several).
    symbols: dict[str, str] = {}
    elsewhere: dict[str, set[str]] = {}
    for locale in _LOCALES:
        for code in codes:
            symbol = get_currency_symbol(code, locale=locale)
            # A one-letter symbol ("R", South African rand) is too often a letter.
            if symbol == code or (len(symbol) == 1 and symbol.isalpha()):
                continue
            if locale == _LOCALES[0]:
                symbols.setdefault(symbol, code)
            elif not symbol.isalpha():
                elsewhere.setdefault(symbol, set()).add(code)
    for symbol, owners in elsewhere.items():
        if symbol not in symbols and len(owners) == 1:
            symbols[symbol] = next(iter(owners))
    names: dict[str, str] = {}
    last_words: dict[str, set[str]] = {}
    for code in codes:
        for count in (1, 2):
            name = get_currency_name(code, count=count, locale="en").lower()
            if name == code.lower():
                continue
            names.setdefault(name, code)
            last_words.setdefault(name.split()[-1], set()).add(code)
    dollar = symbols["$"]
    for word, owners in last_words.items():
        if len(owners) == 1:
            names.setdefault(word, next(iter(owners)))
        elif dollar in owners:  # "dollars" as English copy writes it
            names.setdefault(word, dollar)
    return symbols, names, frozenset(codes)


@cache
def currency_words() -> frozenset[str]:
    """The last words of CLDR's English currency names ("dollars", "kroner"), and the English renderings CLDR
    spells otherwise ("crowns": ``lexicons/currency_words.txt``)."""
    return frozenset(name.split()[-1] for name in _currencies()[1]) | frozenset(
        lexicons.words("currency_words")
    )


# pint reads a unit as a Python expression, so text that is none ("K-9 units") raises what Python's own
# tokenizer raises as well as pint's errors (subclasses of ValueError and AttributeError).
_PARSE_ERRORS = (ValueError, AttributeError, TypeError, SyntaxError, TokenError)


@lru_cache(maxsize=1024)
def is_duration(unit: str | None) -> bool:
    """Whether a reported unit is a length of time ("day", "week", "hour")."""
    if unit is None or is_currency(unit) or unit in _news_units().values():
        return False
    try:
        return bool(_registry().parse_units(unit.replace(" ", "_")).dimensionality == {"[time]": 1})
    except _PARSE_ERRORS:
        return False


def is_currency(unit: str | None) -> bool:
    """Whether a reported unit is an ISO 4217 currency code."""
    return unit is not None and unit in _currencies()[2]


def currency_symbol(text: str) -> str | None:
    """The ISO 4217 code of a currency written before a number ("$", "US$", "A$", "€", "USD"), or None."""
    symbols, _names, codes = _currencies()
    if text in symbols:
        return symbols[text]
    if text.isupper() and text in codes:
        return text
    return None


@lru_cache(maxsize=8192)
def _physical(text: str, glued: bool = False) -> str | None:
    """pint's name of a unit written as one word, or None."""
    if not text or not (text[0].isalpha() or text[0] in "°µ%"):
        return None
    if text.lower() in _lookalikes() or (len(text) == 1 and not glued and text != "%"):
        return None
    registry = _registry()
    try:
        parses = registry.parse_unit_name(text) or registry.parse_unit_name(text, case_sensitive=False)
    except _PARSE_ERRORS:
        return None
    parses = [(prefix, name) for prefix, name, _suffix in parses if prefix in _NEWS_PREFIXES]
    if len(parses) != 1 or parses[0][1] in _lookalikes():
        return None  # "pc": a parsec or percent to pint; "pm": a picometre, a prefix news copy does not use
    prefix, name = parses[0]
    if prefix and len(text) > 4 and not text.lower().startswith(prefix):
        return None  # a prefix is spelt out ("kilometres") or a symbol's ("kWh"): "units" is not micro-nits
    return (prefix + name).replace("_", " ")


# Read for every number and the words after it, many of them again and again ("people", "percent").
@lru_cache(maxsize=8192)
def resolve(text: str) -> str | None:
    """The unit a written unit names ("km" -> "kilometer", "Australian dollars" -> "AUD", "mph" ->
    "mile per hour", "per cent" -> "percent"), or None when neither source nor the news table knows it."""
    text = " ".join(text.split())
    if len(text) > 2 and text.endswith(".") and "." not in text[:-1]:
        text = text[:-1]  # "lbs.", "ft.", "km/h." at the end of a sentence
    low = text.lower()
    if low in _news_units():
        return _news_units()[low]
    code = currency_symbol(text) or _currencies()[1].get(low)
    if code is not None:
        return code
    if text.count("/") == 1:  # "km/h"
        num, den = text.split("/")
        over, under = resolve(num), _physical(den.strip(), glued=True)
        return f"{over} per {under}" if over and under else None
    words = text.split()
    if len(words) > 1 and words[0].lower() in _POWERS:
        base = _physical("_".join(words[1:]))
        return f"{_POWERS[words[0].lower()]} {base}" if base else None
    if len(words) > 1 and words[0].lower() in _DEGREE:
        return _physical("degree_" + "_".join(words[1:]).lower())
    return _physical("_".join(words))


def glued_unit(suffix: str) -> str | None:
    """The unit of letters glued to a number ("640bhp", "10km", "4GB", "40C"), or None ("5G" is a name)."""
    low = suffix.lower()
    if low in _news_units():
        return _news_units()[low]
    if suffix in ("C", "F"):  # "40C": weather copy writes temperatures so
        return "degree Celsius" if suffix == "C" else "degree Fahrenheit"
    if len(suffix) < 2 or low in _ORDINAL_SUFFIXES:
        return None  # "5G", "4K", "3D" are names; "21st" is an ordinal
    return _physical(suffix, glued=True)


def unit_at(doc: Doc, i: int, max_words: int = 3) -> UnitMatch | None:
    """The longest unit written at doc[i] (up to `max_words` words: "percentage points", "square miles",
    "Australian dollars", "degrees Fahrenheit"), or None. Function words are never units ("in", "a", "at")."""
    first = doc[i] if i < len(doc) else None
    if first is None or (first.is_punct and first.text not in ("%", "°", "º")):
        return None
    for n in range(min(max_words, len(doc) - i), 0, -1):
        span = doc[i : i + n]
        if n == 1 and first.is_stop:
            return None
        if n > 1 and any(t.is_punct and t.text not in "/-" for t in span[1:]):
            continue
        unit = resolve(span.text)
        if unit is not None:
            return UnitMatch(unit, i + n)
    return None
