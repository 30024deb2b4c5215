"""Quantity claims: which reported numbers are one figure, and where a story's reports conflict or agree.

Each quantity the facts stage found in an article is a mention (``mention``): what it measures (``cls``:
the unit, or the counted noun with people-like nouns as one class, a per-day/per-week rate apart, "people
apprehended" with "apprehensions"), the stems of the words around it, its value and its qualifier.
``add_claims`` files an article's mentions under a story's claims, each joining the claim of its class whose
context words it shares most, so that "a caravan of about 7,000 people" and "roughly 7,000 migrants ...
caravan" are one claim while "10,000 people a day" is another. A value more than ten times outside a
claim's range joins it only when the context agrees strongly: "two million people apprehended" is not a
caravan's size.

``interval`` is the range a value allows, from its qualifier (``qualifiers.json``, shared with the facts
stage: "about" is +-15%, "up to X" is [0, X], "more than X" is [X, inf), an exact or unqualified value
+-5%). ``snapshot_claim`` builds a claim's ``FactClaim`` for a snapshot: the claim is a conflict when two
articles report values whose ranges do not overlap, and a value is corroborated when two or more
independent reports give it (``pipeline.stories.reports.Reports``: copies, paraphrases and updates of an
article, per ``dedup``, and the articles of one outlet count as one report; an article that names no outlet
is a report of its own, but lists no source).
"""

from __future__ import annotations

import functools
import math
import re
from typing import TYPE_CHECKING, Any

from pipeline import lexicons
from pipeline.stories.terms import STOPWORDS, cosine, lemma, stem
from schemas.models import ClaimValue, FactClaim, Quantity

if TYPE_CHECKING:
    from pipeline.stories.reports import Reports

__all__ = ["add_claims", "interval", "mention", "snapshot_claim"]

# Words that say who reported a number, not what it counts: they must not make two claims look alike.
_REPORTING = frozenset(lexicons.words("story_reporting_words"))
_PEOPLE = frozenset(lexicons.words("story_people_words"))
_EPISTEMIC = frozenset(lexicons.words("story_epistemic_words"))
_AUX = frozenset(lexicons.words("story_auxiliaries"))
_PEOPLE_LEMMAS = frozenset(lemma(p) for p in _PEOPLE)
_PEOPLE_STEMS = frozenset(stem(p) for p in _PEOPLE)

_TOKEN = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*|\d[\d,.]*")
# Not after initials and titles: "the U.S. border", "Mr. Biden".
_SENTENCE_END = re.compile(r"(?<![A-Z]\.)(?<!Mr\.)(?<!Ms\.)(?<!Dr\.)(?<=[.!?\"”])\s+(?=[A-Z“\"(])|\n+")
_RATE = re.compile(
    r"\b(?:a|per|each|every)\s+(day|week|month|year|hour)\b|\b(daily|weekly|monthly|yearly|annually|hourly)\b"
    r"|\b(days)\b",
    re.IGNORECASE,
)
# The adverbs (and "days") _RATE matches -> the period they count per.
_RATE_WORDS: dict[str, str] = lexicons.table("story_rate_words")["rates"]

# The qualifiers of each bound (qualifiers.json, shared with the facts stage). An exact one ("exactly",
# "only") allows what an unqualified value does: _EXACT_TOLERANCE.
_BOUNDS = {
    bound: frozenset(q.text for q in lexicons.qualifiers() if q.bound == bound)
    for bound in lexicons.QUALIFIER_BOUNDS
}
_APPROX, _UPPER, _LOWER = _BOUNDS["approx"], _BOUNDS["upper"], _BOUNDS["lower"]

# Reported round numbers are rarely exact; +-5% keeps "7,000" and "7,100" one value's worth apart.
_EXACT_TOLERANCE = 0.05
_APPROX_TOLERANCE = 0.15
# Cosine of a quantity's context words with a claim's, above which the quantity joins that claim. A value
# more than _MAGNITUDE times outside the claim's range ("two million apprehended" against "a caravan of 7,000
# people") is a different figure unless its context agrees strongly: a shared setting is not enough.
_CLAIM_JOIN = 0.08
_CLAIM_JOIN_FAR = 0.75
_MAGNITUDE = 10.0


# The qualifiers (and "between") a quantity's text may start with, longest first: "over the" before "over".
_QUALIFIERS_LONGEST_FIRST = sorted(
    (*(q.text for q in lexicons.qualifiers()), "between"), key=len, reverse=True
)


def _qualifier_of(q: Quantity) -> str:
    if q.qualifier:
        return q.qualifier.lower().strip()
    head = q.text.lower().strip()
    for qual in _QUALIFIERS_LONGEST_FIRST:
        if head.startswith(qual + " "):
            return qual
    return ""


def interval(value: float, high: float | None, qualifier: str | None) -> tuple[float, float]:
    """Return the range of values a reported number allows, given its qualifier."""
    qualifier = (qualifier or "").lower().strip()
    if high is not None:
        return (min(value, high), max(value, high))
    if qualifier in _UPPER:
        return (0.0, value) if value >= 0 else (value, 0.0)
    if qualifier in _LOWER:
        return (value, math.inf)
    tol = _APPROX_TOLERANCE if qualifier in _APPROX or qualifier.startswith("about") else _EXACT_TOLERANCE
    lo, hi = value * (1 - tol), value * (1 + tol)
    return (min(lo, hi), max(lo, hi))


def _direction(qualifier: str | None) -> str:
    qualifier = (qualifier or "").lower().strip()
    if qualifier in _UPPER:
        return "<="
    if qualifier in _LOWER:
        return ">="
    return "~"


def _disagree(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[1] < b[0] or b[1] < a[0]


@functools.lru_cache(maxsize=256)  # the quantities of one sentence share it
def _previous_sentence(body: str, sentence: str) -> str:
    idx = body.find(sentence[:80].strip())
    if idx <= 0:
        return ""
    pieces = [p for p in _SENTENCE_END.split(body[max(0, idx - 600) : idx]) if p.strip()]
    return pieces[-1] if pieces else ""


def _participle_after(tokens: list[tuple[str, int, int]], j: int) -> str | None:
    """Return the participle at ``j``, past up to two auxiliaries ('were apprehended'), else None."""
    end = j + 3
    while j < len(tokens) and j < end and tokens[j][0].lower() in _AUX:
        j += 1
    if j < len(tokens) and j < end:
        word = tokens[j][0].lower()
        if word.endswith("ed") and word not in _EPISTEMIC and len(word) > 4:
            return word
    return None


@functools.lru_cache(maxsize=1024)
def _sentence_tokens(sentence: str) -> tuple[tuple[str, int, int], ...]:
    return tuple((m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(sentence))


@functools.lru_cache(maxsize=1024)
def _context_words(text: str) -> tuple[tuple[str | None, str], ...]:
    """Return each token's claim-context stem (None: it says nothing) and lemma, for a sentence."""
    return tuple(map(_context_word, _TOKEN.findall(text)))


@functools.lru_cache(maxsize=1 << 16)
def _context_word(word: str) -> tuple[str | None, str]:
    """Return a word's claim-context stem (None for a word that says nothing about what is counted), and its
    lemma."""
    low = word.lower()
    lem = lemma(low)
    if not low[0].isalpha() or len(low) < 2 or low in STOPWORDS or low in _REPORTING:
        return None, lem
    if lem in STOPWORDS or lem in _REPORTING:
        return None, lem
    return lem[:6], lem


def mention(q: Quantity, body: str) -> dict[str, Any]:
    """Return what a quantity measures (``cls``) and the weighted stems of its context (``ctx``)."""
    sentence = q.sentence or q.text
    tokens = _sentence_tokens(sentence)
    start = sentence.lower().find(q.text.lower()) if q.text else -1
    if start >= 0:
        end = start + len(q.text)
        span = [i for i, (_, s, _e) in enumerate(tokens) if start <= s < end]
    else:
        span = [i for i, (t, _, _) in enumerate(tokens) if t[0].isdigit()][:1]
    if not span:
        span = [0] if tokens else []
    first, last = (span[0], span[-1]) if span else (0, -1)

    qualifier = _qualifier_of(q)
    qual_words = set(qualifier.split())
    counted = (q.counted or "").strip().lower() or None
    if counted is None and q.unit is None:
        # The noun after the number, when the facts stage left it out.
        words = [t for t, _, _ in tokens[first : last + 1] if t[0].isalpha()]
        words = [w for w in words if w.lower() not in STOPWORDS and w.lower() not in qual_words]
        if words:
            counted = words[-1].lower()
    unit = (q.unit or "").strip().lower() or None
    kind_word = unit or counted or ""
    kind = lemma(kind_word.split()[-1]) if kind_word else "number"
    base = "people" if kind in _PEOPLE_LEMMAS else kind
    pred = None

    if base == "people":
        # "190,000 people were apprehended" counts apprehensions, as "190,000 apprehensions" does; so does
        # "the number of people apprehended ... exceeded two million", where the noun comes before the number.
        after = _participle_after(tokens, last + 1)
        in_span = any(t.lower() == counted for t, _, _ in tokens[first : last + 1])
        if after is None and counted and not in_span:
            noun = [i for i, (t, _, _) in enumerate(tokens[:first]) if t.lower() == counted]
            after = _participle_after(tokens, noun[-1] + 1) if noun else None
        if after is not None:
            base, pred = stem(after), after
    else:
        base = stem(base) if unit is None else base

    rate = None
    if unit is None:
        m = _RATE.search(sentence)
        if m:
            rate = m.group(1) or _RATE_WORDS.get((m.group(2) or m.group(3) or "").lower())
    cls = f"{base}/{rate}" if rate else base

    skip = _PEOPLE_STEMS | {stem(w) for w in (*kind_word.split(), base, *qual_words)}
    if rate:
        skip |= {stem(rate), "day", "days", "daily"}
    ctx: dict[str, float] = {}
    words: dict[str, str] = {}

    def add(st: str | None, lem: str, weight: float) -> None:
        if st is None or st in skip:
            return
        if weight > ctx.get(st, 0.0):
            ctx[st] = weight
        if st not in words:
            words[st] = lem

    for i, (st, lem) in enumerate(_context_words(sentence)):
        if first <= i <= last:
            continue
        near = (first - 6 <= i < first) or (last < i <= last + 6)
        add(st, lem, 1.0 if near else 0.5)
    for st, lem in _context_words(_previous_sentence(body, sentence)):
        add(st, lem, 0.25)
    return {
        "cls": cls,
        "unit": q.unit,
        "counted": q.counted or counted,
        "pred": pred,
        "ctx": ctx,
        "words": words,
        "value": q.value,
        "high": q.high,
        "qualifier": qualifier or None,
        "text": q.text,
    }


def add_claims(claims: list[dict[str, Any]], article_id: str, mentions: list[dict[str, Any]]) -> None:
    """Add an article's quantity mentions to a story's claims: each joins the closest claim of its class."""
    if not mentions:
        return
    by_cls: dict[str, list[dict[str, Any]]] = {}  # the claims of each class, in the story's order
    for claim in claims:
        by_cls.setdefault(claim["cls"], []).append(claim)
    for m in mentions:
        best, best_sim = None, 0.0
        for claim in by_cls.get(m["cls"], ()):
            sim = cosine(m["ctx"], claim["ctx"])
            floor = _CLAIM_JOIN_FAR if _is_far(m, claim["values"]) else _CLAIM_JOIN
            if sim >= floor and (best is None or sim > best_sim):
                best, best_sim = claim, sim
        if best is None:
            best = {
                "cls": m["cls"],
                "unit": m["unit"],
                "counted": m["counted"],
                "pred": m["pred"],
                "ctx": {},
                "words": {},
                "values": [],
            }
            claims.append(best)
            by_cls.setdefault(m["cls"], []).append(best)
        best["label"] = None  # the context changes: label it again when next shown
        for st, w in m["ctx"].items():
            best["ctx"][st] = best["ctx"].get(st, 0.0) + w
            best["words"].setdefault(st, m["words"][st])
        for v in best["values"]:
            # "up to 10,000" and "more than 10,000" are different values; "about" and "roughly" 7,000 are one.
            if (v["value"], v["high"], _direction(v["qualifier"])) == (
                m["value"],
                m["high"],
                _direction(m["qualifier"]),
            ):
                if article_id not in v["article_ids"]:
                    v["article_ids"].append(article_id)
                break
        else:
            best["values"].append(
                {
                    "value": m["value"],
                    "high": m["high"],
                    "qualifier": m["qualifier"],
                    "text": m["text"],
                    "article_ids": [article_id],
                }
            )


def _is_far(m: dict[str, Any], values: list[dict[str, Any]]) -> bool:
    """Return True when a mention's value lies more than _MAGNITUDE times outside the range of ``values``.

    Only positive numbers have a magnitude to compare; a zero or a negative change is never far.
    """
    lo, hi = min(m["value"], m["high"] or m["value"]), max(m["value"], m["high"] or m["value"])
    if lo <= 0 or not values:
        return False
    c_lo = min(min(v["value"], v["high"] or v["value"]) for v in values)
    c_hi = max(max(v["value"], v["high"] or v["value"]) for v in values)
    if c_lo <= 0:
        return False
    return lo > c_hi * _MAGNITUDE or hi * _MAGNITUDE < c_lo


def _claim_label(claim: dict[str, Any]) -> str:
    head = claim["unit"] or claim["counted"] or claim["cls"]
    if claim.get("pred"):  # "people apprehended": the participle is what the claim counts
        head = f"{head} {claim['pred']}"
    cls = claim["cls"]
    if "/" in cls:
        head = f"{head} per {cls.split('/', 1)[1]}"
    ranked = sorted(claim["ctx"].items(), key=lambda kv: -kv[1])[:2]
    return " ".join([head, *(claim["words"][st] for st, _ in ranked)])


def snapshot_claim(
    claim: dict[str, Any], built: dict[str, Any], outlet: dict[str, str], report: Reports
) -> tuple[FactClaim, bool, FactClaim | None]:
    """Return a claim's FactClaim, whether it is a conflict, and its corroborated values (None: none).

    ``built`` keeps what was built last time, with what it was built from: a value's article count and its
    independent reports (its article list only grows; the reports can merge as articles arrive), the claim's
    label. What did not change is reused, so a snapshot of a long story costs little per untouched claim.
    Built from the index's own checked data: construct, not validate, on this per-article path.
    """
    values_built = built["values"]
    changed = len(values_built) != len(claim["values"]) or claim.get("label") is None
    values = []
    for i, v in enumerate(claim["values"]):
        ids = v["article_ids"]
        key = (len(ids), len({report[a] for a in ids}))
        if i < len(values_built) and values_built[i][0] == key:
            values.append(values_built[i][1])
            continue
        value = ClaimValue.model_construct(
            value=v["value"],
            high=v["high"],
            qualifier=v["qualifier"],
            text=v["text"],
            article_ids=list(ids),
            sources=list(dict.fromkeys(outlet[a] for a in ids if a in outlet)),
            independent_reports=key[1],
        )
        if i < len(values_built):
            values_built[i] = (key, value)
        else:
            values_built.append((key, value))
        values.append(value)
        changed = True
    if changed or "claim" not in built:
        if claim.get("label") is None:
            claim["label"] = _claim_label(claim)
        fc = FactClaim.model_construct(
            claim=claim["label"], counted=claim["counted"], unit=claim["unit"], values=values
        )
        agreed = [v for v in values if v.independent_reports >= 2]
        built["claim"] = fc
        built["conflict"] = _is_conflict(claim["values"])
        built["agreed"] = fc.model_copy(update={"values": agreed}) if agreed else None
    return built["claim"], built["conflict"], built["agreed"]


def _is_conflict(values: list[dict[str, Any]]) -> bool:
    ranges = [(interval(v["value"], v["high"], v["qualifier"]), set(v["article_ids"])) for v in values]
    for i, (ra, ida) in enumerate(ranges):
        for rb, idb in ranges[i + 1 :]:
            if _disagree(ra, rb) and (ida | idb) != (ida & idb):
                return True
    return False
