"""Quantities: the numbers an article reports, with their qualifier, range, unit and what they count.

A quantity is a number token outside dates, ordinals and names ("Big 12", "Apple Watch 5", "Title 42"; a
length of time such as "in 15 years" counts), with the scale words after it ("two million"). Around it:
a range ("between 6,000 and 10,000", "6,000-10,000"), a currency symbol, a qualifier written before it
("more than", "up to": ``lexicons/qualifiers.json``; "exceeded two million" reads as "more than"), a unit
(glued "640bhp", "percent", rates "$2.11 per gallon", "Australian dollars", ages: ``lexicons/units.json``,
``glued_units.json``), the noun it counts (from the dependency parse: "10,000 of the migrants") and its
sentence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from spacy.tokens import Doc, Token

from pipeline import lexicons
from pipeline.facts.components import SUBJECT_DEPS, ontonotes_label
from pipeline.facts.dates import MONTHS, month_number
from pipeline.facts.numbers import NUMBER_RE, SCALES, parse_number
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
_CURRENCY_SYMBOLS: dict[str, str] = lexicons.table("currency_symbols")["symbols"]
_UNITS: dict[str, str] = lexicons.table("units")["units"]
# Units glued to their number: "640bhp", "164p", "10km", "5G" is a name.
_GLUED_UNITS: dict[str, str] = lexicons.table("glued_units")["units"]
_GLUED_RE = re.compile(r"^(\d[\d,]*(?:\.\d+)?)([a-z]{1,3})$")
_CURRENCY_WORDS = frozenset(lexicons.words("currency_words"))
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
    glued = _GLUED_RE.match(low)
    if not (tok.like_num or NUMBER_RE.match(low) or (glued and glued.group(2) in _GLUED_UNITS)):
        return False  # what every True below needs; the checks before it are costlier (spans)
    if ontonotes_label(tok) in ("LAW", "PRODUCT", "EVENT", "WORK_OF_ART", "FAC"):
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
    if glued and glued.group(2) in _GLUED_UNITS:
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
    if prev is not None and re.fullmatch(r"[A-Z]", prev.text):  # "S&P 500" written "S P 500"
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
        and nxt.lower_ not in _UNITS
    )


def _doc_quantities(doc: Doc) -> list[Quantity]:
    out = []
    groups: list[tuple[int, int]] = []
    i = 0
    while i < len(doc):
        if _is_number_token(doc[i]) and doc[i].lower_ not in SCALES:
            j = i + 1
            while j < len(doc) and (
                doc[j].lower_ in SCALES
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
        if c.dep_ in SUBJECT_DEPS and c.lemma_.lower() in _COUNT_NOUNS:
            for p in c.children:
                if p.dep_ == "prep" and p.lower_ == "of":
                    objs = [o for o in p.children if o.dep_ == "pobj"]
                    if objs:
                        return objs[0].lower_
    return None
