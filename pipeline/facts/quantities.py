"""Quantities: the numbers an article reports, with their qualifier, range, unit and what they count.

A quantity is a number token outside dates, ordinals and names ("Big 12", "Apple Watch 5", "Title 42"; a
length of time such as "in 15 years" counts), with the scale words after it ("two million", "£3m"), or a
vague plural of a scale ("hundreds of migrants": 100 to 1,000, as CQE reads it). Around it: a range
("between 6,000 and 10,000", "6,000-10,000"), a currency ("$", "A$", "US$", "HK$300": CLDR's symbols), a
qualifier written before it ("more than", "up to": ``lexicons/qualifiers.json``; "exceeded two million"
reads as "more than") and the bound it sets, a unit (pint's units and CLDR's currency names through
``pipeline.facts.units``: "10km", "6.1-inch", "190 km/h", "Australian dollars"), what it is per ("$2.11
per gallon", "10,000 people a day"), the noun it counts (from the dependency parse: "10,000 of the
migrants") and its sentence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from spacy.tokens import Doc, Token

from pipeline import lexicons
from pipeline.facts import units
from pipeline.facts.components import SUBJECT_DEPS, ontonotes_label
from pipeline.facts.dates import MONTHS, month_number
from pipeline.facts.numbers import NUMBER_RE, SCALES, SUFFIX_SCALES, fraction_denominator, parse_number
from pipeline.text import name_key
from schemas.models import Quantity

__all__ = ["find_quantities"]

# Qualifiers as written, longest first; matched on the lowercased tokens before a number.
_QUALIFIERS = sorted(
    [q.text for q in lexicons.qualifiers() if q.before_number],
    key=lambda q: -len(q.split()),
)
# The qualifiers that end in each word, in _QUALIFIERS' order: only those can end right before a number.
_QUALIFIERS_BY_LAST_WORD = {
    last: [(q, len(q.split())) for q in _QUALIFIERS if q.split()[-1] == last]
    for last in {q.split()[-1] for q in _QUALIFIERS}
}
# "exceeded two million" claims the same as "more than two million".
_EXCEED_VERBS = frozenset(lexicons.words("exceed_verbs"))
_BOUNDS = {q.text: q.bound for q in lexicons.qualifiers()}
# A unit glued to its number ("640bhp", "10km", "4GB", "40C"), or a currency before it ("HK$300").
_GLUED_RE = re.compile(r"^(\d[\d,]*(?:\.\d+)?)([A-Za-z]{1,3})$")
_GLUED_CURRENCY_RE = re.compile(r"^([A-Z]{0,3}\$|[^\w\s])(\d[\d,]*(?:\.\d+)?)([a-z]{0,3})$")
# "hundreds of migrants": the plural of a scale, read as the range from it to ten times it.
_VAGUE_SCALES = {f"{word}s": factor for word, factor in SCALES.items()} | {"dozens": 12.0}
# After a length of time, "ago" makes it a point in time, a date ("a year ago"); "later" and "earlier"
# keep it a length, the time between two events ("six minutes later").
_DATE_AFTER = frozenset({"ago"})
_TENS_OF = {"tens": 10.0, "hundreds": 100.0}
# Words that make what follows a rate: "$2.11 per gallon", "10,000 people a day".
_PER_WORDS = frozenset({"per", "a", "an", "each", "every"})
# A unit word the parser tags as one of these is no unit here ("a 2 second delay" is, "No. 2 second" not).
_NOT_UNIT_POS = frozenset({"VERB", "ADP", "DET", "PRON", "AUX", "CCONJ", "SCONJ", "PART"})
_DURATION_UNITS = frozenset(lexicons.words("duration_units"))
_TIME_SPANS = frozenset(lexicons.words("time_spans"))
_VAGUE_NUMBERS = frozenset(lexicons.words("vague_numbers"))
# What "the number of ..." and its like count.
_COUNT_NOUNS = frozenset(lexicons.words("count_nouns"))


def find_quantities(docs: Sequence[Doc]) -> list[Quantity]:
    """Return the quantities of an article's docs, each (text, sentence) once, in order."""
    out: list[Quantity] = []
    seen: set[tuple[str, str]] = set()
    for doc in docs:
        for q in _doc_quantities(doc):
            if (q.text, q.sentence) not in seen:
                seen.add((q.text, q.sentence))
                out.append(q)
    return out


def _is_number_token(tok: Token) -> bool:
    low = tok.lower_
    glued = _glued(tok)
    if not (tok.like_num or NUMBER_RE.match(low) or glued):
        return False  # what every True below needs; the checks before it are costlier (spans)
    if glued and units.is_currency(glued[1]):
        return True  # "HK$300": the NER's label of such a token is noise
    if ontonotes_label(tok) in ("LAW", "PRODUCT", "EVENT", "WORK_OF_ART", "FAC"):
        return False  # "Title 42": a name to the OntoNotes model even where the name tagger sees none
    nxt = tok.doc[tok.i + 1] if tok.i + 1 < len(tok.doc) else None
    # "in 15 years", "the past two years": a length of time, which the NER calls a DATE.
    is_span = nxt is not None and nxt.lower_ in _TIME_SPANS and tok.ent_type_ == "DATE"
    is_span = is_span or _age_end(tok.doc, tok.i + 1) is not None  # "a 30-year-old man"
    # The small model calls many plain numbers DATE ("sales of 5835 units", "$32280"); a day of
    # the month is at most 31 and a year matches 18xx-21xx.
    prev = tok.doc[tok.i - 1] if tok.i > 0 else None
    if tok.ent_type_ == "DATE" and re.fullmatch(r"\d[\d,]*", tok.text):
        number = int(tok.text.replace(",", ""))
        is_span = is_span or (
            (number > 31 or (prev is not None and units.currency_symbol(prev.text) is not None))
            and not (1000 <= number < 2200)  # "between 1600 and 1900", "A.D. 1000"
            and not (prev is not None and month_number(name_key(prev.text)) is not None)
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
    if glued:
        return True
    if not (tok.like_num or NUMBER_RE.match(low)):
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
    return parse_number(low) is not None or low in SCALES


def _is_name_number(tok: Token) -> bool:
    """True for a number that is part of a name: "Big 12", "Apple Watch 5", "Part 3", "787 Dreamliner"."""
    if not tok.is_digit:
        return False
    doc = tok.doc
    prev = doc[tok.i - 1] if tok.i > 0 else None
    if prev is not None and re.fullmatch(r"[B-HJ-Z]", prev.text):  # "S&P 500" written "S P 500"; not "A 30-"
        return True
    if (
        prev is not None
        and prev.pos_ == "PROPN"
        and prev.text[:1].isalpha()
        and not prev.is_sent_start
        and name_key(prev.text) not in MONTHS
        and month_number(name_key(prev.text)) is None
    ):
        return True
    nxt = doc[tok.i + 1] if tok.i + 1 < len(doc) else None
    return (
        nxt is not None
        and nxt.pos_ == "PROPN"
        and nxt.text[:1].isupper()
        and not nxt.text.endswith("s")
        and units.resolve(nxt.text) is None
    )


def _glued(tok: Token) -> tuple[float, str] | None:
    """(value, unit) of a number written with its unit or currency glued on ("640bhp", "4GB", "HK$300",
    "HK$1.5bn"), else None."""
    m = _GLUED_RE.match(tok.text)
    if m and parse_number(tok.text) is None:
        unit = units.glued_unit(m.group(2))
        return (float(m.group(1).replace(",", "")), unit) if unit else None
    m = _GLUED_CURRENCY_RE.match(tok.text)
    if m and (code := units.currency_symbol(m.group(1))) is not None:
        value = parse_number(m.group(2) + m.group(3))
        return (value, code) if value is not None else None
    return None


def _group_value(doc: Doc, s: int, e: int) -> tuple[float | None, str | None]:
    """(value, glued unit) of the number at doc[s:e]: "640bhp" -> (640, "bhp"), "two million" -> (2e6, None)."""
    glued = _glued(doc[s]) if e - s == 1 else None
    return glued if glued is not None else (parse_number(doc[s:e].text), None)


def _age_end(doc: Doc, i: int) -> int | None:
    """The token after "-year-old" / "years old" written at doc[i], else None."""
    for n in (3, 2):
        if i + n <= len(doc) and units.resolve(doc[i : i + n].text.lstrip("-")) == "years of age":
            return i + n
    if i + 4 <= len(doc) and doc[i].text == "-" and units.resolve(doc[i + 1 : i + 4].text) == "years of age":
        return i + 4
    return None


def _groups(doc: Doc) -> list[tuple[int, int]]:
    """The token spans of the numbers in `doc`, each with its scale words ("two million", "3 m" after a
    currency, "1.2 bn")."""
    groups: list[tuple[int, int]] = []
    i = 0
    while i < len(doc):
        if _is_number_token(doc[i]) and doc[i].lower_ not in SCALES:
            j = i + 1
            while j < len(doc) and (
                doc[j].lower_ in SCALES
                or (_is_number_token(doc[j]) and not any(c.isdigit() for c in doc[j].text))
                or _is_scale_suffix(doc, i, j)
            ):
                j += 1
            groups.append((i, j))
            i = j
        else:
            i += 1
    return groups


def _is_scale_suffix(doc: Doc, start: int, j: int) -> bool:
    """ "£3m", "$1.2 bn": a scale suffix the tokenizer cut from its number, read as one after money only
    ("3 m" alone may be metres)."""
    tok = doc[j]
    if tok.lower_ not in SUFFIX_SCALES or j != start + 1 or (doc[start].whitespace_ and len(tok) == 1):
        return False
    return start > 0 and units.currency_symbol(doc[start - 1].text) is not None


def _vague(doc: Doc) -> list[Quantity]:
    """ "hundreds of migrants", "tens of thousands of people": from the scale to ten times it."""
    out = []
    for tok in doc:
        factor = _VAGUE_SCALES.get(tok.lower_)
        if factor is None or tok.i + 1 >= len(doc) or doc[tok.i + 1].lower_ != "of":
            continue
        start = tok.i
        if start >= 2 and doc[start - 2].lower_ in _TENS_OF and doc[start - 1].lower_ == "of":
            start -= 2  # "tens of thousands": 10,000 to 100,000
            factor *= _TENS_OF[doc[start].lower_]
        counted = _counted_of(tok)
        if counted is None:
            continue
        end = counted.i + 1
        out.append(
            Quantity(
                text=doc[start:end].text,
                value=factor,
                high=factor * 10,
                bound="magnitude",
                counted=counted.lower_,
                sentence=tok.sent.text.strip(),
            )
        )
    return out


def _fractions(doc: Doc) -> list[tuple[Quantity, range]]:
    """ "two-thirds of voters", "a third of those screened", "half of the respondents", "one in five adults":
    the share as a value (0.667, 0.333, 0.5, 0.2) with what it is a share of, and the tokens it covers."""
    out = []
    for tok in doc:
        i = tok.i
        denominator = fraction_denominator(tok.text)
        if denominator is not None and i + 1 < len(doc) and doc[i + 1].lower_ == "of":
            at = i - 1 if i > 0 and doc[i - 1].text == "-" and not doc[i - 1].whitespace_ else i
            numerator = _numerator(doc[at - 1]) if at > 0 else None
            if numerator is None and denominator != 2:
                continue  # "the final third of the pitch"; but "half of ..." needs no "one"
            start = at - 1 if numerator is not None else i
            counted = _counted_of(tok) or _object_of(doc[i + 1])
            if counted is None or (numerator or 1) >= denominator:
                continue
            value = (numerator or 1) / denominator
        elif tok.lower_ == "in" and 0 < i < len(doc) - 2:
            numerator, over = _numerator(doc[i - 1]), parse_number(doc[i + 1].text)
            counted = doc[i + 2] if doc[i + 2].pos_ in ("NOUN", "PROPN") else None
            # "in" must hang off the first number: "scored 3 in 10 games" is no share.
            if numerator is None or over is None or counted is None or tok.head.i != i - 1:
                continue
            if not 1 <= numerator < over:
                continue
            start, value = i - 1, numerator / over
        else:
            continue
        if start > 0 and doc[start - 1].text == "-":
            continue
        end = counted.i + 1
        qualifier, start = _qualifier_before(doc, start)
        quantity = Quantity(
            text=doc[start:end].text,
            value=value,
            qualifier=qualifier,
            bound=_bound(qualifier, None),
            counted=counted.lower_,
            sentence=tok.sent.text.strip(),
        )
        out.append((quantity, range(start, end)))
    return out


def _numerator(tok: Token) -> int | None:
    """The count a fraction's first word writes ("a" and "one" 1, "two" 2, "3" 3), or None."""
    if tok.lower_ in ("a", "an"):
        return 1
    value = parse_number(tok.text) if tok.like_num else None
    return int(value) if value is not None and value.is_integer() and value >= 1 else None


def _object_of(prep: Token) -> Token | None:
    """The object of a preposition, whatever it is: "those" in "a third of those screened"."""
    return next((c for c in prep.children if c.dep_ == "pobj"), None)


def _doc_quantities(doc: Doc) -> list[Quantity]:
    out = []
    groups = _groups(doc)
    fractions = _fractions(doc)
    in_fraction = {i for _, covered in fractions for i in covered}
    used: set[int] = set()
    for gi, (s, e) in enumerate(groups):
        if gi in used or s in in_fraction:
            continue
        value, glued_unit = _group_value(doc, s, e)
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
                hv, _ = _group_value(doc, s2, e2)
                if hv is not None and hv > value:
                    high = hv
                    end = e2
                    used.add(gi + 1)
                    if lead in ("between", "from"):
                        start = s - 1
                    qualifier = "between"
        unit = glued_unit
        if unit is None and start > 0 and (code := units.currency_symbol(doc[start - 1].text)) is not None:
            unit = code
            start -= 1
        if qualifier is None:
            qualifier, start = _qualifier_before(doc, start)
        last = doc[end - 1]
        scaled = any(t.lower_ in SCALES or t.lower_ in SUFFIX_SCALES for t in doc[s:e])
        counted, counted_tok = None, None
        read = _unit_after(doc, end, unit, scaled)
        if read is not None:
            unit, end = read
        elif unit is None or units.is_currency(unit):
            noun = _counted_noun(doc, s, end, last)
            if noun is not None:
                as_unit = units.resolve(noun.text) if unit is None else None
                if as_unit is not None:
                    unit = as_unit  # "two million barrels": the parse's head of the number is a unit
                else:
                    counted, counted_tok = noun.lower_, noun
                if noun.i >= end and noun.i - end <= 4:
                    end = noun.i + 1
        if counted is None and unit is None:
            counted = _counted_by_subject(last)
        per = None
        if end + 1 < len(doc) and doc[end].lower_ in _PER_WORDS and doc[end + 1].pos_ in ("NOUN", "PROPN"):
            over = doc[end + 1]
            over_unit = units.resolve(over.text)
            # "per" makes a rate of any noun; "a"/"each" only of a length of time or after money
            # ("10,000 people a day", "$4 a gallon"; not "5 people a week ago").
            after = doc[end + 2].lower_ if end + 2 < len(doc) else ""
            if doc[end].lower_ == "per" or (
                (units.is_duration(over_unit) or units.is_currency(unit)) and after not in ("ago", "earlier")
            ):
                per = over_unit or over.lemma_.lower()
                end += 2
        if per is not None and unit is not None:
            unit = f"{unit} per {per}"
        if counted_tok is not None and counted_tok.ent_type_ == "DATE":
            continue
        if units.is_duration(unit) and end < len(doc) and doc[end].lower_ in _DATE_AFTER:
            continue
        out.append(
            Quantity(
                text=doc[start:end].text,
                value=value,
                high=high,
                qualifier=qualifier,
                bound=_bound(qualifier, high),
                unit=unit,
                counted=counted,
                per=per,
                sentence=last.sent.text.strip(),
            )
        )
    out.extend(q for q, _ in fractions)
    taken = {q.text for q in out}
    out.extend(q for q in _vague(doc) if q.text not in taken)
    return out


def _bound(qualifier: str | None, high: float | None) -> str:
    if high is not None:
        return "range"
    if qualifier is None:
        return "exact"
    return _BOUNDS.get(qualifier, "approx")


def _unit_after(doc: Doc, end: int, unit: str | None, scaled: bool) -> tuple[str, int] | None:
    """(unit, end) of the unit written after a number ending at `end`, or None: "%", "percentage points",
    "10km", "6.1-inch" (a compound adjective), "a 30-year-old", "Australian dollars", "5 million pounds"
    (sterling after a scale word, weight else)."""
    if end >= len(doc):
        return None
    nxt = doc[end]
    age = _age_end(doc, end)
    if age is not None:
        return "years of age", age
    at = end + 1 if nxt.text == "-" and not nxt.whitespace_ and not doc[end - 1].whitespace_ else end
    match = units.unit_at(doc, at) if at < len(doc) else None
    if match is not None and match.end == at + 1 and doc[at].pos_ in _NOT_UNIT_POS:
        match = None  # one word the parser reads as no noun: "5 second" in "the 5 second-largest"
    if match is None:
        # "7.5 million Danish crowns": a currency name CLDR spells otherwise, kept as written.
        if (
            at + 1 < len(doc)
            and doc[at].text[:1].isupper()
            and doc[at].pos_ in ("ADJ", "PROPN")
            and units.resolve(doc[at + 1].text) is None
            and doc[at + 1].lower_ in units.currency_words()
        ):
            return f"{doc[at].text} {doc[at + 1].text}", at + 2
        return None
    found = match.unit
    if found == "pound" and scaled:
        found = units.currency_symbol("£") or found  # "5 million pounds" is money
    if unit is not None and units.is_currency(unit) and not units.is_currency(found):
        return None  # "$5 million" then a noun: the noun is counted, the unit stays the currency
    return found, match.end


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
    return _counted_of(last)


def _counted_of(tok: Token) -> Token | None:
    """ "10,000 of the migrants", "hundreds of people": the noun after "of"."""
    for c in tok.children:
        if c.dep_ == "prep" and c.lower_ == "of":
            objs = [o for o in c.children if o.dep_ == "pobj" and o.pos_ in ("NOUN", "PROPN")]
            if objs:
                return objs[0]
    return None


def _counted_by_subject(num: Token) -> str | None:
    """'The number of people ... exceeded two million' counts people."""
    verb = num.head
    if num.dep_ not in ("dobj", "attr", "pobj") or verb.pos_ not in ("VERB", "AUX", "ADP"):
        return None
    if verb.pos_ == "ADP":
        verb = verb.head
    for c in verb.children:
        if c.dep_ in SUBJECT_DEPS and c.lemma_.lower() in _COUNT_NOUNS:
            for p in c.children:
                if p.dep_ == "prep" and p.lower_ == "of":
                    objs = [o for o in p.children if o.dep_ == "pobj"]
                    if objs:
                        return objs[0].lower_
    return None
