"""Story tagging: file every article under a story across all feeds, and keep a snapshot of each story.

The pure core of the stories stage: no Kafka, no faust, no metrics. ``StoryIndex.tag(article)`` assigns the
article to an open story (or starts one) and returns the story's new ``StorySnapshot``;
``StoryIndex.drain_closed()`` then lists the stories that closed meanwhile, whose stored state can go, and
``StoryIndex.drain_merged()`` the last snapshots of those merged into another (``merged_into``, no articles).

Tagging is online news-stream clustering after Miranda et al. (2018), "Multilingual Clustering of Streaming
News": one pass in arrival order, each article compared with the centroid of every candidate story in three
TF-IDF spaces (body lemmas, headline lemmas, canonical entity ids). A learned decision joins or starts: a
logistic regression over per-field cosines, per-field cover (the share of the article's TF-IDF mass on
terms the story has), the time gap, the story's size, whether the article's main place, person and year
agree with the story's, and the cosine of its text embedding with the story's (``_embedding``: WordLlama's
vectors, ``pipeline.stories.embeddings``, which see what two wordings share beyond their words) gives the probability
that the article belongs to each candidate (``_FEATURES``; weights in ``data/stories_join.json``, trained on
ECB+, GVA and UCI dev streams, one model for articles with a long body and one for headlines and briefs),
and the article joins the likeliest one when that probability reaches ``join_threshold``. After a join the story is compared with the other open stories the same way (after
each of its first articles, then about eight times per doubling of its size: ``_merge_check_due``), and a
second logistic regression over the same features, trained on the story pairs an online run compares,
merges two fragments of one story (started apart by short or early articles) when its probability reaches
``merge_threshold``. Stories close after ``quiet_hours`` without news, which is what keeps two incidents of
the same kind weeks apart in two stories. Document frequencies are counted over the articles of the open
stories, so they follow the stream and can be rebuilt exactly from the stories' exported states after a
restart; a centroid's norm is taken under the current IDF (from three running sums), so an old story's
cosines are not inflated as the stream grows.

Quantity claims are grouped per story by what they measure (the unit, or the counted noun with people-like
nouns as one class, a per-day/per-week rate apart, "people apprehended" with "apprehensions") and by the
words around the number, so that "a caravan of about 7,000 people" and "roughly 7,000 migrants ...
caravan" are one claim while "10,000 people a day" is another. A value more than ten times outside a
claim's range joins it only when the context agrees strongly: "two million people apprehended" is not a
caravan's size. A claim is a conflict when two articles report values whose ranges (from their qualifiers:
"about" is +-15%, "up to X" is [0, X], "more than X" is [X, inf), ...) do not overlap, and corroborated when
one value is reported by two or more independent reports: copies, paraphrases and updates of an article (per
``dedup``) and articles of the same outlet count as one report; an article that names no outlet is a report
of its own, but lists no source.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import json
import math
import re
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import filterfalse, repeat
from operator import add, itemgetter, mul, truediv
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.stories.embeddings import DIMENSIONS, text_embedder
from schemas.models import ClaimValue, FactClaim, FactsArticle, Quantity, StoryEntity, StorySnapshot

__all__ = ["FIELD_WEIGHTS", "StoryIndex", "article_embedding"]

# Weights of the three spaces in the rough score that picks the candidate stories (the join decision itself
# is the learned model's). Entities weigh a lot; the headline is short and noisy.
FIELD_WEIGHTS: dict[str, float] = {"body": 0.45, "head": 0.15, "ent": 0.40}

# 2: centroid norm sums (``_Story.sums``) instead of norms; a version-1 state's sums are recomputed on restore.
# 3: the sum of the articles' word-vector embeddings (``_Story.emb``); estimated from the centroid for older states.
# 4: that sum in WordLlama's 128 dimensions (3's was GloVe's 100); estimated from the headlines for older states.
STATE_VERSION = 4
# The body's part of an article's embedding: its lead, where the copies of one story share most.
_EMBED_BODY_CHARS = 3000

# How many of an article's highest-weighted terms per field look up candidate stories, and how many candidates
# are scored exactly. Rare terms are the ones that find the right story; common terms only add work.
_PROBE_TERMS = {"body": 12, "head": 6, "ent": 12}
_MAX_CANDIDATES = 16
# A grown story is compared with the others for a merge after each of its first _MERGE_CHECKS articles,
# then about _MERGE_CHECKS times per doubling of its size (``_merge_check_due``).
_MERGE_CHECKS = 8
_MAX_POSTINGS = 2000  # a term in more open stories than this says nothing about which one
_TOP_ENTITIES = 10
_WEIGHT = itemgetter(1)  # of a centroid entry [articles with the term, summed weight]
_PLUS_ONE = (1).__add__

_COPY_RELATIONS = frozenset({"exact_duplicate", "near_duplicate", "paraphrase", "update"})
_SPIN_RELATIONS = frozenset({"exact_duplicate", "near_duplicate", "paraphrase"})

# --- text -----------------------------------------------------------------------------------------------

_STOPWORDS = frozenset(
    ["a", "about", "above", "after", "again", "against", "ago", "all", "almost", "also", "although", "am", "among", "an", "and", "another", "any", "are", "aren't", "around", "as", "at", "be", "became", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "cannot", "could", "couldn't", "did", "didn't", "do", "does", "doesn't", "doing", "don't", "down", "during", "each", "either", "else", "even", "ever", "every", "few", "for", "from", "further", "had", "hadn't", "has", "hasn't", "have", "haven't", "having", "he", "he'd", "he'll", "he's", "her", "here", "here's", "hers", "herself", "him", "himself", "his", "how", "how's", "however", "i", "i'd", "i'll", "i'm", "i've", "if", "in", "into", "is", "isn't", "it", "it's", "its", "itself", "just", "last", "least", "less", "let", "let's", "like", "made", "make", "many", "may", "me", "might", "more", "most", "much", "must", "mustn't", "my", "myself", "near", "neither", "never", "new", "next", "no", "nor", "not", "now", "of", "off", "often", "on", "once", "one", "only", "onto", "or", "other", "others", "otherwise", "ought", "our", "ours", "ourselves", "out", "over", "own", "per", "perhaps", "quite", "rather", "really", "same", "say", "says", "said", "shall", "shan't", "she", "she'd", "she'll", "she's", "should", "shouldn't", "since", "so", "some", "still", "such", "than", "that", "that's", "the", "their", "theirs", "them", "themselves", "then", "there", "there's", "therefore", "these", "they", "they'd", "they'll", "they're", "they've", "this", "those", "though", "through", "throughout", "thus", "to", "too", "toward", "towards", "under", "until", "up", "upon", "us", "very", "via", "was", "wasn't", "we", "we'd", "we'll", "we're", "we've", "were", "weren't", "what", "what's", "whatever", "when", "when's", "where", "where's", "whether", "which", "while", "who", "who's", "whom", "whose", "why", "why's", "will", "with", "within", "without", "won't", "would", "wouldn't", "yet", "you", "you'd", "you'll", "you're", "you've", "your", "yours", "yourself", "yourselves", "mr", "mrs", "ms", "dr", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "hundred", "hundreds", "thousand", "thousands", "million", "millions", "billion", "billions", "trillion", "percent", "per", "cent"]
)

# Words that say who reported a number, not what it counts: they must not make two claims look alike.
_REPORTING = frozenset(
    ["according", "announce", "announced", "announces", "estimate", "estimated", "estimates", "official", "officials", "report", "reported", "reports", "reportedly", "statement", "statements", "told", "tell", "tells", "added", "adding", "noted", "note", "claimed", "claims", "confirmed", "say", "saying", "stated", "states", "state", "number", "numbers", "total", "figure", "figures", "alone"]
)

_PEOPLE = frozenset(
    ["people", "person", "persons", "individual", "individuals", "migrant", "migrants", "immigrant", "immigrants", "resident", "residents", "civilian", "civilians"]
)

_EPISTEMIC = frozenset(
    {"estimated", "reported", "believed", "thought", "expected", "feared", "said", "alleged"}
)
_AUX = frozenset({"were", "was", "are", "is", "been", "have", "has", "had", "being", "be", "reportedly"})

_WORD = re.compile(r"[a-z]+(?:['’][a-z]+)*")
_TOKEN = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*|\d[\d,.]*")
# Not after initials and titles: "the U.S. border", "Mr. Biden".
_SENTENCE_END = re.compile(r"(?<![A-Z]\.)(?<!Mr\.)(?<!Ms\.)(?<!Dr\.)(?<=[.!?\"”])\s+(?=[A-Z“\"(])|\n+")
_RATE = re.compile(
    r"\b(?:a|per|each|every)\s+(day|week|month|year|hour)\b|\b(daily|weekly|monthly|yearly|annually|hourly)\b"
    r"|\b(days)\b",
    re.IGNORECASE,
)
_RATE_WORDS = {
    "daily": "day",
    "weekly": "week",
    "monthly": "month",
    "yearly": "year",
    "annually": "year",
    "hourly": "hour",
    "days": "day",
}


@functools.lru_cache(maxsize=1 << 16)
def _lemma(word: str) -> str:
    """Return a light lemma: lowercase, no possessive, singular (crude but cheap and deterministic)."""
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 4 and w.endswith(("sses", "shes", "ches", "xes")):
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


_PEOPLE_LEMMAS = frozenset(_lemma(p) for p in _PEOPLE)


def _stem(word: str) -> str:
    """Return a prefix stem for claim context: 'apprehended' and 'apprehensions' meet at 'appreh'."""
    return _lemma(word)[:6]


_PEOPLE_STEMS = frozenset(_stem(p) for p in _PEOPLE)


@functools.lru_cache(maxsize=1 << 17)
def _term(word: str) -> str | None:
    """Return the content lemma of a lowercase word, or None for a stopword."""
    if len(word) < 2 or word in _STOPWORDS:
        return None
    lem = _lemma(word)
    return None if lem in _STOPWORDS else lem


def _terms(text: str) -> list[str]:
    """Return the content lemmas of a text, in order."""
    return [t for t in map(_term, _WORD.findall(text.lower())) if t is not None]


def _tf(terms: Iterable[str]) -> dict[str, float]:
    """Return sublinear term frequencies, 1 + log(tf), in first-occurrence order."""
    return {t: 1.0 + math.log(c) for t, c in Counter(terms).items()}


# --- quantity claims ------------------------------------------------------------------------------------

_APPROX = (
    "about",
    "around",
    "roughly",
    "approximately",
    "approx",
    "some",
    "nearly",
    "almost",
    "an estimated",
    "estimated",
    "close to",
    "circa",
    "just over",
    "just under",
    "~",
)
_UPPER = ("up to", "as many as", "at most", "no more than", "fewer than", "less than", "under", "below")
_LOWER = (
    "more than",
    "over",
    "at least",
    "exceeded",
    "exceeding",
    "in excess of",
    "above",
    "upwards of",
    "no fewer than",
    "no less than",
    "beyond",
    "over the",
)
# Reported round numbers are rarely exact; +-5% keeps "7,000" and "7,100" one value's worth apart.
_EXACT_TOLERANCE = 0.05
_APPROX_TOLERANCE = 0.15
# Cosine of a quantity's context words with a claim's, above which the quantity joins that claim. A value
# more than _MAGNITUDE times outside the claim's range ("two million apprehended" against "a caravan of 7,000
# people") is a different figure unless its context agrees strongly: a shared setting is not enough.
_CLAIM_JOIN = 0.08
_CLAIM_JOIN_FAR = 0.75
_MAGNITUDE = 10.0


_QUALIFIERS_LONGEST_FIRST = sorted((*_APPROX, *_UPPER, *_LOWER, "between"), key=len, reverse=True)


def _qualifier_of(q: Quantity) -> str:
    if q.qualifier:
        return q.qualifier.lower().strip()
    head = q.text.lower().strip()
    for qual in _QUALIFIERS_LONGEST_FIRST:
        if head.startswith(qual + " "):
            return qual
    return ""


def _interval(value: float, high: float | None, qualifier: str | None) -> tuple[float, float]:
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
    lem = _lemma(low)
    if not low[0].isalpha() or len(low) < 2 or low in _STOPWORDS or low in _REPORTING:
        return None, lem
    if lem in _STOPWORDS or lem in _REPORTING:
        return None, lem
    return lem[:6], lem


def _mention(q: Quantity, body: str) -> dict[str, Any]:
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
        words = [w for w in words if w.lower() not in _STOPWORDS and w.lower() not in qual_words]
        if words:
            counted = words[-1].lower()
    unit = (q.unit or "").strip().lower() or None
    kind_word = unit or counted or ""
    kind = _lemma(kind_word.split()[-1]) if kind_word else "number"
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
            base, pred = _stem(after), after
    else:
        base = _stem(base) if unit is None else base

    rate = None
    if unit is None:
        m = _RATE.search(sentence)
        if m:
            rate = m.group(1) or _RATE_WORDS.get((m.group(2) or m.group(3) or "").lower())
    cls = f"{base}/{rate}" if rate else base

    skip = _PEOPLE_STEMS | {_stem(w) for w in (*kind_word.split(), base, *qual_words)}
    if rate:
        skip |= {_stem(rate), "day", "days", "daily"}
    ctx: dict[str, float] = {}
    words: dict[str, str] = {}

    def add(st: str | None, lemma: str, weight: float) -> None:
        if st is None or st in skip:
            return
        if weight > ctx.get(st, 0.0):
            ctx[st] = weight
        if st not in words:
            words[st] = lemma

    for i, (st, lemma) in enumerate(_context_words(sentence)):
        if first <= i <= last:
            continue
        near = (first - 6 <= i < first) or (last < i <= last + 6)
        add(st, lemma, 1.0 if near else 0.5)
    for st, lemma in _context_words(_previous_sentence(body, sentence)):
        add(st, lemma, 0.25)
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


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    dot = sum(w * b.get(k, 0.0) for k, w in a.items())
    if dot == 0.0:
        return 0.0
    return dot / math.sqrt(sum(w * w for w in a.values()) * sum(w * w for w in b.values()))


def _add_claims(claims: list[dict[str, Any]], article_id: str, mentions: list[dict[str, Any]]) -> None:
    """Add an article's quantity mentions to a story's claims: each joins the closest claim of its class."""
    if not mentions:
        return
    by_cls: dict[str, list[dict[str, Any]]] = {}  # the claims of each class, in the story's order
    for claim in claims:
        by_cls.setdefault(claim["cls"], []).append(claim)
    for m in mentions:
        best, best_sim = None, 0.0
        for claim in by_cls.get(m["cls"], ()):
            sim = _cosine(m["ctx"], claim["ctx"])
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


# --- the join decision ----------------------------------------------------------------------------------

# What the join model sees of an (article, candidate story) pair, in the order of its weights.
_FEATURES = (
    "body",
    "head",
    "ent",
    "cover_body",
    "cover_head",
    "cover_ent",
    "top_ent",
    "no_ent",
    "gap",
    "size",
    "short",
    "body_short",
    "head_short",
    "place_share",
    "place_conflict",
    "person_share",
    "person_conflict",
    "year_share",
    "year_conflict",
    "emb",
    "emb_short",
)
# A body this short (content terms) is a headline or a brief: its cosines run lower against any centroid.
_SHORT_TERMS = 30


def _features(
    cos: dict[str, float],
    cover: dict[str, float],
    has_ent: bool,
    top_ent: float,
    body_terms: int,
    gap_days: float,
    size: int,
    kinds: tuple[float, ...] = (0.0,) * 6,
    emb: float = 0.0,
) -> list[float]:
    """Return the join features of an (article, story) pair, in ``_FEATURES`` order.

    Per field the TF-IDF cosine with the story's centroid and the share of the article's own TF-IDF mass on
    terms the story has (its "cover", which a large story's spread-out centroid does not dilute); whether
    the article's most mentioned entity is in the story; whether entities can be compared at all; the time
    gap to the story's span (log days); the story's size (log articles); a short-body flag with its
    interactions, since a headline's cosines run lower against any centroid; the place, person and year
    features (``_kind_features``); and the cosine of the article's text embedding with the story's
    (``_embedding``), which sees what two wordings of one event share beyond their words.

    Every feature is nondecreasing in each cosine and cover: ``_candidates`` bounds a pair's features by
    calling this at a cosine's lower and upper bounds, so a new feature must keep that property.
    """
    short = 1.0 if body_terms < _SHORT_TERMS else 0.0
    return [
        cos["body"],
        cos["head"],
        cos["ent"],
        cover["body"],
        cover["head"],
        cover["ent"],
        top_ent,
        0.0 if has_ent else 1.0,
        math.log1p(gap_days),
        math.log(size),
        short,
        cos["body"] * short,
        cos["head"] * short,
        *kinds,
        emb,
        emb * short,
    ]


_MODEL_PATH = Path(__file__).resolve().parents[1] / "models" / "stories_join.json"


@functools.lru_cache(maxsize=1)
def _models() -> dict[str, tuple[list[float], float]]:
    """Return the join and merge models' weights (in ``_FEATURES`` order) and biases, from the JSON file."""
    model = json.loads(_MODEL_PATH.read_text(encoding="utf-8"))
    if tuple(model["features"]) != _FEATURES:
        raise ValueError(
            f"{_MODEL_PATH} has features {model['features']}, the code expects {list(_FEATURES)}"
        )
    out = {}
    parts = (
        ("join", model),
        ("join_short", model["short"]),
        ("merge", model["merge"]),
    )
    for name, part in parts:
        if len(part["weights"]) != len(_FEATURES):
            raise ValueError(f"{_MODEL_PATH}: the {name} model has {len(part['weights'])} weights")
        out[name] = ([float(w) for w in part["weights"]], float(part["bias"]))
    return out


_SHORT = _FEATURES.index("short")


def _model(name: str, x: list[float]) -> tuple[list[float], float]:
    """Return the weights and bias of the join or merge model for a pair's features.

    Articles with a short body (headlines, briefs) have a join model of their own: their evidence is a
    dozen words, and what decides for them (the headline, its embedding) counts for little in a long
    article. (A merge model per body length as well was measured and not adopted: README, "Stories".)
    """
    return _models()["join_short" if name == "join" and x[_SHORT] else name]


def _probability(model: str, x: list[float]) -> float:
    weights, bias = _model(model, x)
    if len(x) != len(weights):
        raise ValueError(f"{len(x)} features, the {model} model has {len(weights)} weights")
    z = bias + math.fsum(map(mul, weights, x))
    return 1.0 / (1.0 + math.exp(-z)) if z > -500 else 0.0


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


# Slack for floating-point rounding in the bounds that let ``_candidates`` skip a candidate: far above any
# rounding error of the sums involved, far below any difference a decision rests on.
_BOUND_MARGIN = 1e-6


def _upper_logit(model: str, low: list[float], high: list[float]) -> float:
    """Return the highest logit the model gives any features between ``low`` and ``high`` (per feature)."""
    weights, bias = _model(model, low)  # low and high share the short flag
    if len(low) != len(weights) or len(high) != len(weights):
        raise ValueError(f"{len(low)} and {len(high)} features, the {model} model has {len(weights)} weights")
    return bias + math.fsum(map(max, map(mul, weights, low), map(mul, weights, high)))


def _cosine_cover(
    mine: dict[str, float], squares: dict[str, float], centroid: dict[str, list[float]], norm: float
) -> tuple[float, float]:
    """Return the cosine of a vector (terms -> unit weight x idf) with a centroid, and the cover.

    The key intersection and the sums over it run in C. Set order depends on the hash seed, so fsum (exactly
    rounded, order-free) keeps decisions equal in every process.
    """
    shared = mine.keys() & centroid.keys()
    weights = map(_WEIGHT, map(centroid.__getitem__, shared))
    return (
        math.fsum(map(mul, map(mine.__getitem__, shared), weights)) / norm,
        math.fsum(map(squares.__getitem__, shared)),
    )


def _join_probability(x: list[float]) -> float:
    """Return the learned probability that an article belongs to a candidate story, from its features."""
    return _probability("join", x)


def _merge_probability(x: list[float]) -> float:
    """Return the learned probability that two open stories are one, from the features of their centroids.

    A model of its own: fragments of one story (split by their first articles) look unlike an article and
    its story, and merging two same-type events costs more than leaving a fragment apart.
    """
    return _probability("merge", x)



# Specific entities tell two events of one kind apart (two earthquakes, two shootings): the place, the main
# actor, the year. Per kind, the article's most mentioned one is either in the story (a share) or, when the
# story's own most mentioned one of that kind is not in the article either, a conflict.
_YEAR = re.compile(r"\b(19[5-9]\d|20[0-4]\d)\b")
_KINDS = (("place", ("place:", "facility:")), ("person", ("person:",)), ("year", ("year:",)))


_KIND_NAMES = tuple(kind for kind, _prefixes in _KINDS)
_KIND_OF_PREFIX = {p[:-1]: kind for kind, prefixes in _KINDS for p in prefixes}  # every prefix ends in ":"


def _kind_of(term: str) -> str | None:
    prefix, colon, _rest = term.partition(":")
    return _KIND_OF_PREFIX.get(prefix) if colon else None


def _tops(items: Iterable[tuple[str, Any]]) -> dict[str, str]:
    """Return the most weighted term of each kind (ties: the smallest term), from (term, weight) pairs."""
    best: dict[str, tuple[float, str]] = {}
    for t, w in items:
        kind = _kind_of(t)
        if kind is None:
            continue
        w = float(w)
        b = best.get(kind)
        if b is None or w > b[0] or (w == b[0] and t < b[1]):
            best[kind] = (w, t)
    return {k: t for k, (_w, t) in best.items()}


def _story_tops(s: Any) -> dict[str, str]:
    """Return the story's most mentioned entity of each kind, by summed weight (its mentions over articles)."""
    if s.tops is None:
        s.tops = _tops((t, w) for t, (_c, w) in s.fields["ent"].items())
    return s.tops


def _raise_tops(tops: dict[str, str], centroid: dict[str, list[Any]], updated: Iterable[str]) -> None:
    """Update a story's ``_tops`` after the weights of the ``updated`` entity terms grew.

    Weights only grow, so a term that was not updated cannot overtake its kind's old top: the new top is the
    old one or an updated term, the same as ``_tops`` over the whole centroid would give.
    """
    tops.update(_tops((t, centroid[t][1]) for t in (*tops.values(), *updated)))


def _kind_features(
    mine: dict[str, str], ents: dict[str, float], theirs: dict[str, str], story_ents: dict[str, Any]
) -> tuple[float, ...]:
    out: list[float] = []
    for kind in _KIND_NAMES:
        a = mine.get(kind)
        if a is None:
            out += (0.0, 0.0)
            continue
        b = theirs.get(kind)
        # The story's own main one missing from an article that names one of its kind: another event's.
        out += (1.0 if a in story_ents else 0.0, 1.0 if b is not None and b not in ents else 0.0)
    return tuple(out)


def _embedding(article: FactsArticle) -> tuple[float, ...] | None:
    """Return an article's unit embedding (``article_embedding`` of its headline and body)."""
    return article_embedding(article.headline, article.body)


def article_embedding(headline: str, body: str) -> tuple[float, ...] | None:
    """Return the unit embedding the stories stage compares articles by: the sum of the headline's and the
    body's unit embeddings (the body's first ``_EMBED_BODY_CHARS`` characters, ``pipeline.stories.embeddings``),
    scaled to unit length, or None when neither has a word."""
    embed = text_embedder().unit
    lead = body[:_EMBED_BODY_CHARS]
    head_unit = embed(headline)
    # A headline-only feed's body is its headline: embedded once, counted twice, as before.
    parts = [e for e in (head_unit, head_unit if lead == headline else embed(lead)) if e is not None]
    if not parts:
        return None
    total = sum(parts)
    norm = float(np.sqrt(total @ total))
    return tuple((total / norm).tolist()) if norm > 0.0 else None


# The dot product of two embeddings, in a fixed order (deterministic): math.sumprod (Python 3.12, in C,
# extended precision) where there is one.
_dot = getattr(math, "sumprod", None) or (lambda a, b: math.fsum(map(mul, a, b)))


def _emb_norm(s: _Story) -> float:
    """Return the norm of a story's sum of embeddings (kept until the sum changes)."""
    if s.emb_norm is None:
        s.emb_norm = math.sqrt(_dot(s.emb, s.emb))
    return s.emb_norm


def _emb_cosine(unit: tuple[float, ...] | None, s: _Story) -> float:
    """Return the cosine of a unit embedding with a story's sum of embeddings (0 when either is empty)."""
    if unit is None:
        return 0.0
    norm = _emb_norm(s)
    return _dot(unit, s.emb) / norm if norm > 0.0 else 0.0


# --- stories --------------------------------------------------------------------------------------------


def _merge_check_due(size: int) -> bool:
    """Return True when a story that just reached ``size`` articles is compared with the others for a merge.

    A fragment finds its sibling early (after each of its first articles), and a large story has little left
    to find: checking it after every article costs a comparison of its whole vector (thousands of terms) per
    article, while checking when its size is a multiple of ``size // _MERGE_CHECKS`` costs about
    ``_MERGE_CHECKS`` comparisons per doubling. A small fragment still checks against the large story after
    each of its own articles.
    """
    return size > 1 and (size <= _MERGE_CHECKS or size % (size // _MERGE_CHECKS) == 0)


def _estimated_emb(state: dict[str, Any]) -> list[float]:
    """Return an estimate of an older story state's embedding sum (version 3's has other dimensions, 2's
    none): the sum of its articles' headlines' unit embeddings (the state keeps no body)."""
    embed = text_embedder().unit
    units = [e for e in (embed(a.get("headline") or "") for a in state["articles"]) if e is not None]
    return sum(units, np.zeros(DIMENSIONS)).tolist()


def _timestamp(article: FactsArticle) -> datetime:
    """Return when the article happened: published_at, unless missing or later than its receipt."""
    if article.published_at is not None and article.published_at <= article.received_at:
        return article.published_at
    return article.received_at


def _story_id(article_id: str) -> str:
    return "story-" + hashlib.sha1(article_id.encode("utf-8")).hexdigest()[:12]


@dataclass
class _Story:
    story_id: str
    seq: int
    first_ts: datetime
    last_ts: datetime
    articles: list[dict[str, Any]]
    fields: dict[str, dict[str, list[float]]]  # field -> term -> [articles with it, sum of 1 + log tf]
    # Per field (sum W^2, sum W^2 l, sum W^2 l^2) over the centroid's terms, W the term's summed weight and
    # l = log(df + 1) as of the term's last update: the centroid's norm under the stream's current IDF
    # (L - l, L = log(n + 1) + 1) is sqrt(L^2 A - 2 L B + C), exact up to document-frequency drift.
    sums: dict[str, list[float]]
    entities: dict[str, list[Any]]  # entity_id -> [canonical, label, articles]
    claims: list[dict[str, Any]]
    # The sum of the articles' unit embeddings (``_embedding``; zeros while none has a known word).
    emb: list[float] = field(default_factory=lambda: [0.0] * DIMENSIONS)
    emb_norm: float | None = None  # derived: the norm of ``emb`` (None: recompute)
    tops: dict[str, str] | None = None  # derived: the most mentioned place, person, year (None: recompute)
    # Derived, for snapshots: per claim (claims and their values only ever grow), what was built from it
    # last time and from what (``_snapshot_claim``).
    built: list[dict[str, Any]] = field(default_factory=list)
    reports: _Reports | None = None  # derived: reports, outlets and title (None: build from the articles)
    # Derived, for snapshots: the most mentioned entities (``_TopEntities``; None: build from ``entities``).
    top: _TopEntities | None = None


class StoryIndex:
    """The open stories and the index to find the one an article belongs to.

    ``tag`` is the only mutating call in the stream; ``export_state``/``restore`` let a caller persist the
    stories (one JSON-able dict each) and rebuild an index that makes the same decisions, and ``drain_closed``
    says which persisted stories to forget. A caller that keeps a table keyed by story id does, per article::

        snapshot = index.tag(article)
        for story_id in index.drain_closed():
            table.pop(story_id, None)
        table[snapshot.story_id] = index.export_state(snapshot.story_id)
    """

    def __init__(
        self,
        join_threshold: float = 0.2,
        quiet_hours: float = 72.0,
        max_open_stories: int = 20_000,
        merge_threshold: float = 0.7,
    ) -> None:
        if not 0.0 < join_threshold < 1.0:
            raise ValueError(
                f"join_threshold must be in (0, 1), got {join_threshold!r}; it is a join probability, 0.2 is tuned"
            )
        if not 0.0 < merge_threshold <= 1.0:
            raise ValueError(f"merge_threshold must be in (0, 1] (1 never merges), got {merge_threshold!r}")
        if quiet_hours <= 0:
            raise ValueError(f"quiet_hours must be > 0, got {quiet_hours!r}")
        if max_open_stories < 1:
            raise ValueError(f"max_open_stories must be >= 1, got {max_open_stories!r}")
        self.join_threshold = join_threshold
        self.merge_threshold = merge_threshold
        self.quiet = timedelta(hours=quiet_hours)
        self.max_open_stories = max_open_stories
        # The model and the text embedder (about 0.3 s to load) are read now, at start, not in the first tag.
        _models()
        text_embedder()
        self._reset()

    def _reset(self) -> None:
        self._stories: dict[str, _Story] = {}
        self._story_of: dict[str, str] = {}
        self._df: dict[str, dict[str, int]] = {f: {} for f in FIELD_WEIGHTS}
        self._postings: dict[str, dict[str, dict[str, None]]] = {f: {} for f in FIELD_WEIGHTS}
        self._n = 0  # articles in open stories
        self._seq = 0
        self._clock: datetime | None = None
        self._by_age: list[tuple[float, int, str]] = []  # (last_ts, seq, story_id), stale entries skipped
        self._closed: dict[str, None] = {}  # closed since the last drain_closed, in closing order
        self._merged: list[StorySnapshot] = []  # last snapshots of the stories merged since drain_merged

    # --- public API ---------------------------------------------------------------------------------

    @property
    def open_stories(self) -> int:
        return len(self._stories)

    def story_of(self, article_id: str) -> str | None:
        """Return the story of an article seen while its story is open, else None."""
        return self._story_of.get(article_id)

    def tag(self, article: FactsArticle) -> StorySnapshot:
        """Assign the article to a story (the best open one, or a new one) and return that story's snapshot.

        An article already tagged in an open story (a redelivery) changes nothing and returns the snapshot
        again; one whose story has closed since is tagged anew.
        """
        known = self._story_of.get(article.article_id)
        if known is not None:
            return self._snapshot(self._stories[known])
        ts = _timestamp(article)
        self._advance(ts)
        vectors = self._vectors(article)
        emb = _embedding(article)
        story = self._best_story(vectors, ts, emb)
        if story is None:
            story = self._new_story(article, ts)
        self._add(story, article, vectors, ts, emb)
        if self.merge_threshold < 1.0 and _merge_check_due(len(story.articles)):
            story = self._merge_similar(story, ts)
        return self._snapshot(story)

    def _merge_similar(self, story: _Story, ts: datetime) -> _Story:
        """Merge the story with the open story its centroid now matches best, when the match is likely enough.

        Early articles can start a story's fragments apart (short headlines share few words); once a fragment
        grows, its centroid finds the other. The older story survives; the younger one is closed (reported by
        ``drain_closed``) and its articles, terms, entities and claims move over.
        """
        best, best_p = None, -1.0
        for s, x in self._merge_candidates(story, ts):
            p = _merge_probability(x)
            if p > best_p:
                best, best_p = s, p
        if best is None or best_p < self.merge_threshold:
            return story
        old, young = (best, story) if best.seq < story.seq else (story, best)
        self._absorb(old, young)
        return old

    def _merge_candidates(self, story: _Story, ts: datetime) -> list[tuple[_Story, list[float]]]:
        """Return the other open stories that may merge with ``story``, each with the features of the pair."""
        n = len(story.articles)
        vectors = {
            f: dict(zip(terms, map(truediv, map(_WEIGHT, terms.values()), repeat(n)), strict=True))
            for f, terms in story.fields.items()
        }
        body_terms = sum(1 for _t, (c, _w) in story.fields["body"].items() if c * 2 >= n) or len(vectors["body"])
        # A threshold of 1 never merges (``tag`` does not ask): all candidates come back, unbounded (training).
        floor = ("merge", self.merge_threshold) if self.merge_threshold < 1.0 else None
        norm = _emb_norm(story)
        emb = tuple(x / norm for x in story.emb) if norm > 0.0 else None
        return self._candidates(vectors, emb, ts, body_terms, floor=floor, exclude=story)

    def _absorb(self, old: _Story, young: _Story) -> None:
        """Move every article of ``young`` into ``old`` and close ``young`` (its last snapshot, which points
        at ``old``, waits for ``drain_merged``)."""
        self._merged.append(
            StorySnapshot(
                story_id=young.story_id,
                title=_title(young.articles),
                first_seen=young.first_ts,
                last_updated=max(old.last_ts, young.last_ts),
                article_ids=[],
                sources=[],
                top_entities=[],
                facts=[],
                conflicts=[],
                corroborated=[],
                merged_into=old.story_id,
            )
        )
        del self._stories[young.story_id]
        self._closed[young.story_id] = None
        old.articles.extend(young.articles)
        for a in young.articles:
            self._story_of[a["id"]] = old.story_id
        for f, terms in young.fields.items():
            centroid, postings = old.fields[f], self._postings[f]
            for t, (c, w) in terms.items():
                entry = centroid.get(t)
                if entry is None:
                    centroid[t] = [c, w]
                    postings[t][old.story_id] = None
                else:
                    entry[0] += c
                    entry[1] += w
                sids = postings[t]
                sids.pop(young.story_id, None)
            self._renorm(old, f)
        for eid, (canonical, label, count) in young.entities.items():
            if eid in old.entities:
                old.entities[eid][2] += count
            else:
                old.entities[eid] = [canonical, label, count]
        for claim in young.claims:
            for v in claim["values"]:
                m = {k: claim[k] for k in ("cls", "unit", "counted", "pred", "ctx", "words")}
                m.update(value=v["value"], high=v["high"], qualifier=v["qualifier"], text=v["text"])
                for aid in v["article_ids"]:
                    _add_claims(old.claims, aid, [m])
        old.emb = list(map(add, old.emb, young.emb))
        old.emb_norm = None
        old.tops = old.reports = old.top = None
        old.first_ts = min(old.first_ts, young.first_ts)
        old.last_ts = max(old.last_ts, young.last_ts)
        heapq.heappush(self._by_age, (old.last_ts.timestamp(), old.seq, old.story_id))

    def _renorm(self, s: _Story, f: str) -> None:
        """Recompute a field's norm sums exactly, from the current document frequencies."""
        df, log = self._df[f], math.log
        a = b = c = 0.0
        for t, (_n, w) in s.fields[f].items():
            w2, lt = w * w, log(df[t] + 1)
            a += w2
            b += w2 * lt
            c += w2 * lt * lt
        s.sums[f] = [a, b, c]

    def _new_story(self, article: FactsArticle, ts: datetime) -> _Story:
        """Open a story for the article (evicting the least recently updated one when full) and return it."""
        while len(self._stories) >= self.max_open_stories:
            self._close(self._oldest())
        story = _Story(
            story_id=_story_id(article.article_id),
            seq=self._seq,
            first_ts=ts,
            last_ts=ts,
            articles=[],
            fields={f: {} for f in FIELD_WEIGHTS},
            sums={f: [0.0, 0.0, 0.0] for f in FIELD_WEIGHTS},
            entities={},
            claims=[],
        )
        self._seq += 1
        self._stories[story.story_id] = story
        return story

    def drain_merged(self) -> list[StorySnapshot]:
        """Return the last snapshots of the stories merged into others since the last call, oldest merge first.

        Each lists no articles and names the surviving story in ``merged_into``; publish it beside the
        survivor's snapshot, so that subscribers drop the merged story (its articles are the survivor's now).
        Merged stories are reported by ``drain_closed`` too.
        """
        merged, self._merged = self._merged, []
        return merged

    def drain_closed(self) -> list[str]:
        """Return the ids of the stories closed since the last call: quiet, evicted or dropped by ``restore``.

        Call it after every ``tag`` (and after ``restore``) and delete those ids from wherever the states are
        kept: they will never be exported again. An id whose story is open again (a redelivered first article
        starts a story with the same id) is left out, so deleting every returned id is always safe.
        """
        closed = [sid for sid in self._closed if sid not in self._stories]
        self._closed.clear()
        return closed

    def export_state(self, story_id: str) -> dict[str, Any]:
        """Return the JSON-able state of one open story; raise KeyError for an unknown or closed story."""
        s = self._stories[story_id]
        return {
            "version": STATE_VERSION,
            "story_id": s.story_id,
            "seq": s.seq,
            "first_ts": s.first_ts.isoformat(),
            "last_ts": s.last_ts.isoformat(),
            "articles": [dict(a) for a in s.articles],
            "fields": {f: {t: list(v) for t, v in terms.items()} for f, terms in s.fields.items()},
            "sums": {f: list(v) for f, v in s.sums.items()},
            "entities": {k: list(v) for k, v in s.entities.items()},
            "claims": _copy_claims(s.claims),
            "emb": list(s.emb),
        }

    def restore(self, states: Iterable[dict[str, Any]]) -> None:
        """Replace the index with the stories in ``states`` (from ``export_state``), closing the stale ones.

        Give it every state the caller kept: the stream clock is the latest article time among them, and the
        stories that were closed (quiet or evicted) when they were exported are closed again here and
        reported by the next ``drain_closed``.
        """
        self._reset()
        stories = []
        for st in states:
            if st.get("version") not in (1, 2, 3, STATE_VERSION):
                raise ValueError(f"story state version {st.get('version')!r}, expected {STATE_VERSION}")
            stories.append(
                _Story(
                    story_id=st["story_id"],
                    seq=st["seq"],
                    first_ts=datetime.fromisoformat(st["first_ts"]),
                    last_ts=datetime.fromisoformat(st["last_ts"]),
                    articles=[dict(a) for a in st["articles"]],
                    fields={f: {t: list(v) for t, v in terms.items()} for f, terms in st["fields"].items()},
                    sums={f: list(v) for f, v in st.get("sums", {}).items()},
                    entities={k: list(v) for k, v in st["entities"].items()},
                    claims=_copy_claims(st["claims"]),
                    emb=[float(x) for x in st["emb"]]
                    if len(st.get("emb", ())) == DIMENSIONS
                    else _estimated_emb(st),
                )
            )
        if not stories:
            return
        self._seq = max(s.seq for s in stories) + 1
        self._clock = max(s.last_ts for s in stories)
        live = [s for s in stories if self._clock - s.last_ts <= self.quiet]
        # Stories were evicted least recently updated first, so the survivors are the most recent ones.
        live.sort(key=lambda s: (s.last_ts, s.seq))
        live = live[-self.max_open_stories :]
        kept = {s.story_id for s in live}
        self._closed.update((s.story_id, None) for s in stories if s.story_id not in kept)
        for s in sorted(live, key=lambda s: s.seq):
            self._stories[s.story_id] = s
            self._n += len(s.articles)
            for a in s.articles:
                self._story_of[a["id"]] = s.story_id
            for f, terms in s.fields.items():
                df, postings = self._df[f], self._postings[f]
                for t, (n, _w) in terms.items():
                    df[t] = df.get(t, 0) + int(n)
                    postings.setdefault(t, {})[s.story_id] = None
            heapq.heappush(self._by_age, (s.last_ts.timestamp(), s.seq, s.story_id))
        for s in live:
            for f in FIELD_WEIGHTS:
                if f not in s.sums:  # a version-1 state
                    self._renorm(s, f)

    # --- matching -----------------------------------------------------------------------------------

    def _vectors(self, article: FactsArticle) -> dict[str, dict[str, float]]:
        """Return each field's sublinear term frequencies (before IDF)."""
        ent = Counter()
        for e in article.facts.entities:
            ent[e.entity_id] += e.count
        for y in _YEAR.findall(article.headline):
            ent["year:" + y] += 1
        for y in _YEAR.findall(article.body):
            ent["year:" + y] += 1
        return {
            "body": _tf(_terms(article.body)),
            "head": _tf(_terms(article.headline)),
            "ent": {k: 1.0 + math.log(c) for k, c in ent.items()},
        }

    def _candidates(
        self,
        vectors: dict[str, dict[str, float]],
        emb: tuple[float, ...] | None,
        ts: datetime,
        body_terms: int | None = None,
        floor: tuple[str, float] | None = None,
        exclude: _Story | None = None,
    ) -> list[tuple[_Story, list[float]]]:
        """Return the open stories worth scoring for an article, each with its join features (``_FEATURES``).

        Candidates come from the inverted index: the stories that share the article's highest-weighted
        terms, the best ``_MAX_CANDIDATES`` of them by a rough score (``exclude`` is then left out). Returned
        in story creation order.

        With a ``floor`` (model name, probability), a candidate whose probability under that model provably
        stays below the floor is left out before its body cosine is computed in full: the body cosine is
        bounded by its part over the vector's heavy terms plus a Cauchy-Schwarz bound on the rest
        (``_upper_logit``). The caller's decision (the likeliest candidate, if it reaches the floor) is the
        same as without the floor; a merge check of a large story costs a fraction of the full comparison.

        ``emb`` is the article's unit embedding (``_embedding``), compared with each story's.
        """
        # Per field the article's terms, their unit-length TF-IDF weights x, x * idf (what a cosine with a
        # centroid's raw sums needs) and x^2 (the cover). The arithmetic runs in C through map(); it is the
        # same arithmetic, in the same order, as a plain loop, so the floats (and decisions) are the same.
        log_n = math.log(self._n + 1) + 1.0
        minus_idf = log_n.__sub__
        # Each centroid's norm under the current IDF, from its three sums (``_Story.sums``):
        # sqrt(L^2 A - 2 L B + C).
        l_sq, l_twice = log_n * log_n, 2.0 * log_n
        weighted: dict[str, list[float]] = {}  # field -> x, in the field's term order
        by_term: dict[str, dict[str, float]] = {}
        squares: dict[str, dict[str, float]] = {}
        for f, tf in vectors.items():
            if not tf:
                continue
            idfs = list(map(minus_idf, map(math.log, map(_PLUS_ONE, map(self._df[f].get, tf, repeat(0))))))
            raw = list(map(mul, tf.values(), idfs))
            norm = math.sqrt(sum(map(pow, raw, repeat(2))))
            if norm > 0.0:
                x = list(map(truediv, raw, repeat(norm)))
                weighted[f] = x
                by_term[f] = dict(zip(tf, map(mul, x, idfs), strict=True))
                squares[f] = dict(zip(tf, map(pow, x, repeat(2)), strict=True))
        if not weighted or not self._stories:
            return []

        rough: dict[str, float] = {}
        for f, x in weighted.items():
            postings, weight, terms = self._postings[f], FIELD_WEIGHTS[f], list(vectors[f])
            # The highest-weighted terms, ties in term order: what heapq.nlargest gives, by a sort in C.
            for i in sorted(range(len(x)), key=x.__getitem__, reverse=True)[: _PROBE_TERMS[f]]:
                sids = postings.get(terms[i])
                if not sids or len(sids) > _MAX_POSTINGS:
                    continue
                for sid in sids:
                    rough[sid] = rough.get(sid, 0.0) + weight * x[i]
        if not rough:
            return []
        seq = {sid: self._stories[sid].seq for sid in rough}
        candidates = sorted(rough, key=lambda sid: (-rough[sid], seq[sid]))[:_MAX_CANDIDATES]

        if body_terms is None:
            body_terms = len(vectors["body"])
        ents = vectors["ent"]
        top_entity = min(ents, key=lambda e: (-ents[e], e)) if ents else None
        mine_tops = _tops(ents.items())
        heavy = None
        if floor is not None and "body" in weighted:
            # The body terms above the mean unit weight, and the norm of the rest (at most 1).
            x, cut = weighted["body"], 1.0 / math.sqrt(len(weighted["body"]))
            pairs = zip(vectors["body"], by_term["body"].values(), x, strict=True)
            heavy = {t: v for t, v, xt in pairs if xt >= cut}
            light_norm = math.sqrt(math.fsum(map(pow, filterfalse(cut.__le__, x), repeat(2))))
            # A centroid term's IDF is at most L - log 2 (its story has it, so its df is at least 1).
            idf_max = log_n - math.log(2.0)
            floor_z = _logit(floor[1]) - _BOUND_MARGIN
        out = []
        for sid in sorted(candidates, key=seq.__getitem__):
            s = self._stories[sid]
            if s is exclude:
                continue
            cos, cover, norms = {}, {}, {}
            for f in FIELD_WEIGHTS:
                if f in weighted:
                    a, b, c = s.sums[f]
                    norm = norms[f] = math.sqrt(max(l_sq * a - l_twice * b + c, 0.0))
                else:
                    norm = norms[f] = 0.0
                if norm <= 0.0:
                    cos[f] = cover[f] = 0.0
                elif f == "body" and heavy is not None:
                    cos[f] = cover[f] = None  # bounded first, below
                else:
                    cos[f], cover[f] = _cosine_cover(by_term[f], squares[f], s.fields[f], norm)
            has_ent = "ent" in weighted and s.sums["ent"][0] > 0.0
            top_in = 1.0 if top_entity is not None and top_entity in s.entities else 0.0
            gap = self._gap_days(s, ts)
            kinds = _kind_features(mine_tops, ents, _story_tops(s), s.fields["ent"])
            rest = (has_ent, top_in, body_terms, gap, len(s.articles), kinds, _emb_cosine(emb, s))
            if cos["body"] is None:
                norm = norms["body"]
                part_cos, part_cover = _cosine_cover(heavy, squares["body"], s.fields["body"], norm)
                # Cauchy-Schwarz: the light terms add at most |light| * |centroid under current IDF| / norm.
                light = light_norm * idf_max * math.sqrt(s.sums["body"][0]) / norm * (1.0 + _BOUND_MARGIN)
                low = _features({**cos, "body": part_cos}, {**cover, "body": part_cover}, *rest)
                high = _features(
                    {**cos, "body": part_cos + light}, {**cover, "body": part_cover + light_norm**2}, *rest
                )
                if _upper_logit(floor[0], low, high) < floor_z:
                    continue
                cos["body"], cover["body"] = _cosine_cover(
                    by_term["body"], squares["body"], s.fields["body"], norm
                )
            out.append((s, _features(cos, cover, *rest)))
        return out

    def _best_story(
        self, vectors: dict[str, dict[str, float]], ts: datetime, emb: tuple[float, ...] | None
    ) -> _Story | None:
        """Return the candidate story most likely to be the article's, when that likelihood is high enough."""
        best, best_p = None, -1.0
        for s, x in self._candidates(vectors, emb, ts):
            p = _join_probability(x)
            if p > best_p:
                best, best_p = s, p
        return best if best_p >= self.join_threshold else None

    @staticmethod
    def _gap_days(story: _Story, ts: datetime) -> float:
        if ts < story.first_ts:
            gap = story.first_ts - ts
        elif ts > story.last_ts:
            gap = ts - story.last_ts
        else:
            return 0.0
        return gap.total_seconds() / 86400.0

    # --- updating -----------------------------------------------------------------------------------

    def _add(
        self,
        s: _Story,
        article: FactsArticle,
        vectors: dict[str, dict[str, float]],
        ts: datetime,
        emb: tuple[float, ...] | None,
    ) -> None:
        s.articles.append(
            {
                "id": article.article_id,
                "source": article.source,
                "feed": article.feed,
                "headline": article.headline,
                "cut_lede": _is_cut_lede(article.headline, article.body),
                "ts": ts.isoformat(),
                "relation": article.dedup.relation,
                "of": article.dedup.of,
            }
        )
        if s.reports is not None:
            s.reports.add(s.articles[-1])
        self._story_of[article.article_id] = s.story_id
        self._n += 1
        log = math.log
        # The norm sums move by this article's terms only (their old contribution out, the new one in, each
        # with the document frequency of the moment), and are recomputed in full when the story reaches a
        # power-of-two size (amortized O(1) per term), which resets the drift of the other terms' frequencies.
        full = len(s.articles) & (len(s.articles) - 1) == 0
        for f, tf in vectors.items():
            centroid, df, postings = s.fields[f], self._df[f], self._postings[f]
            sums = s.sums[f]
            for t, w in tf.items():
                before = df.get(t, 0)
                df[t] = before + 1
                l_new = log(before + 2)
                entry = centroid.get(t)
                if entry is None:
                    centroid[t] = [1, w]
                    postings.setdefault(t, {})[s.story_id] = None
                    w2 = w * w
                else:
                    old2, l_old = entry[1] * entry[1], log(before + 1)
                    entry[0] += 1
                    entry[1] += w
                    w2 = entry[1] * entry[1]
                    sums[0] -= old2
                    sums[1] -= old2 * l_old
                    sums[2] -= old2 * l_old * l_old
                sums[0] += w2
                sums[1] += w2 * l_new
                sums[2] += w2 * l_new * l_new
            if full:
                self._renorm(s, f)
        if s.tops is not None:
            _raise_tops(s.tops, s.fields["ent"], vectors["ent"])
        if emb is not None:
            s.emb = list(map(add, s.emb, emb))
            s.emb_norm = None
        seen: dict[str, None] = {}
        for e in article.facts.entities:
            if e.entity_id in seen:
                continue
            seen[e.entity_id] = None
            if e.entity_id in s.entities:
                s.entities[e.entity_id][2] += 1
            else:
                s.entities[e.entity_id] = [e.canonical, e.label, 1]
        if s.top is not None:
            s.top.raise_(s.entities, seen)
        mentions = [_mention(q, article.body) for q in article.facts.quantities]
        _add_claims(s.claims, article.article_id, mentions)
        s.first_ts = min(s.first_ts, ts)
        s.last_ts = max(s.last_ts, ts)
        heapq.heappush(self._by_age, (s.last_ts.timestamp(), s.seq, s.story_id))
        if len(self._by_age) > 2 * len(self._stories) + 1024:
            # Each update leaves a stale entry behind; rebuild before they outnumber the stories.
            self._by_age = [(x.last_ts.timestamp(), x.seq, x.story_id) for x in self._stories.values()]
            heapq.heapify(self._by_age)

    def _advance(self, ts: datetime) -> None:
        """Move the stream clock to ``ts`` and close the stories quiet for longer than ``quiet_hours``."""
        if self._clock is None or ts > self._clock:
            self._clock = ts
        while self._by_age:
            sid = self._oldest(pop=False)
            if sid is None or self._clock - self._stories[sid].last_ts <= self.quiet:
                return
            self._close(sid)

    def _oldest(self, pop: bool = True) -> str | None:
        """Return the least recently updated open story, dropping stale heap entries on the way."""
        while self._by_age:
            t, seq, sid = self._by_age[0]
            s = self._stories.get(sid)
            if s is None or s.seq != seq or s.last_ts.timestamp() != t:
                heapq.heappop(self._by_age)
                continue
            if pop:
                heapq.heappop(self._by_age)
            return sid
        return None

    def _close(self, sid: str | None) -> None:
        if sid is None:
            return
        s = self._stories.pop(sid)
        self._closed[sid] = None
        self._n -= len(s.articles)
        for a in s.articles:
            if self._story_of.get(a["id"]) == sid:
                del self._story_of[a["id"]]
        for f, centroid in s.fields.items():
            df, postings = self._df[f], self._postings[f]
            for t, (n, _w) in centroid.items():
                left = df[t] - int(n)
                if left:
                    df[t] = left
                else:
                    del df[t]
                sids = postings[t]
                sids.pop(sid, None)
                if not sids:
                    del postings[t]

    # --- snapshots ----------------------------------------------------------------------------------

    def _snapshot(self, s: _Story) -> StorySnapshot:
        arts = s.articles
        # A feed is not an outlet: an article that names none adds no source (it still counts as its own
        # report in ``_Reports`` unless dedup ties it to another).
        if s.reports is None:
            s.reports = _Reports(arts)
        report = s.reports
        outlet = report.outlet
        if s.top is None:
            s.top = _TopEntities(s.entities)
        top = s.top.built(s.entities)

        facts, conflicts, corroborated = [], [], []
        while len(s.built) < len(s.claims):
            s.built.append({"values": []})
        for claim, built in zip(s.claims, s.built, strict=True):
            fc, conflict, agreed = _snapshot_claim(claim, built, outlet, report)
            facts.append(fc)
            if conflict:
                conflicts.append(fc)
            if agreed is not None:
                corroborated.append(agreed)
        return StorySnapshot(
            story_id=s.story_id,
            title=report.title,
            first_seen=s.first_ts,
            last_updated=s.last_ts,
            article_ids=[a["id"] for a in arts],
            sources=list(dict.fromkeys(outlet.values())),
            top_entities=top,
            facts=facts,
            conflicts=conflicts,
            corroborated=corroborated,
        )


def _snapshot_claim(
    claim: dict[str, Any], built: dict[str, Any], outlet: dict[str, str], report: _Reports
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


class _TopEntities:
    """A story's ``_TOP_ENTITIES`` most mentioned entities, kept up to date as articles arrive (``raise_``).

    Ranked by articles naming them, ties by first mention (their order in the story's ``entities``), as a
    ranking of all the story's entities would rank them. Counts only grow, so an entity whose count did not
    change cannot overtake: the new top is the best of the old top and the entities just counted. Each
    entry's StoryEntity is kept while its count stays. Derived state: built again from the entities after a
    merge or a restore.
    """

    def __init__(self, entities: dict[str, list[Any]]) -> None:
        self.position = {eid: i for i, eid in enumerate(entities)}
        self.ids = self._best(entities, entities)
        self.cache: dict[str, tuple[int, StoryEntity]] = {}

    def _best(self, entities: dict[str, list[Any]], among: Iterable[str]) -> list[str]:
        position = self.position
        return heapq.nsmallest(_TOP_ENTITIES, among, key=lambda eid: (-entities[eid][2], position[eid]))

    def raise_(self, entities: dict[str, list[Any]], counted: Collection[str]) -> None:
        """Take in the entities whose counts just grew (new ones at the end of ``entities``)."""
        position = self.position
        for eid in counted:
            position.setdefault(eid, len(position))
        self.ids = self._best(entities, dict.fromkeys((*self.ids, *counted)))

    def built(self, entities: dict[str, list[Any]]) -> list[StoryEntity]:
        """Return the top entities as StoryEntity records (reused while an entity's count is unchanged)."""
        out, cache = [], {}
        for eid in self.ids:
            canonical, label, n = entities[eid]
            kept = self.cache.get(eid)
            if kept is None or kept[0] != n:
                entity = StoryEntity.model_construct(entity_id=eid, canonical=canonical, label=label, articles=n)
                kept = (n, entity)
            cache[eid] = kept
            out.append(kept[1])
        self.cache = cache
        return out


def _title(articles: list[dict[str, Any]]) -> str:
    """Return the story's headline: the first of an original article, else of any, real headlines first.

    A headline that normalize cut from the lead sentence ("Secretary of State ... on Wednesday…") is only
    used when no article has a real one.
    """
    ranked = sorted(range(len(articles)), key=lambda i: _title_rank(articles[i], i))
    return articles[ranked[0]]["headline"]


def _title_rank(article: dict[str, Any], i: int) -> tuple[bool, bool, int]:
    """Return the key ``_title`` ranks the ``i``-th article's headline by (lowest first)."""
    return (article.get("cut_lede", False), article["relation"] in _SPIN_RELATIONS, i)


def _is_cut_lede(headline: str, body: str) -> bool:
    """Return True when the headline is the body's first words cut off with an ellipsis (no real headline)."""
    head = headline.rstrip()
    if not head.endswith(("…", "...")):
        return False
    stem = " ".join(head.rstrip(".…").split())
    return bool(stem) and stem in " ".join(body[: len(head) + 400].split())


class _Reports:
    """A story's reports, outlets and title, kept up to date as its articles arrive (``add``).

    A report is what an article repeats: copies, spins and updates join their original, and an outlet's
    articles are one report. ``self[article_id]`` is the smallest article id of the article's report (union
    by smallest id: the same for any arrival order). A copy that arrives before its original waits for it.
    The title is the headline ``_title`` picks. Derived state: built again from the articles after a merge
    or a restore, so a snapshot costs little per article already in the story.
    """

    def __init__(self, articles: Iterable[dict[str, Any]] = ()) -> None:
        self.parent: dict[str, str] = {}
        self.by_source: dict[str, str] = {}  # outlet (lowercased) -> its first article
        self.waiting: dict[str, list[str]] = {}  # an original not in the story yet -> its copies
        self.outlet: dict[str, str] = {}  # article id -> outlet, for the articles that name one
        self.title_key: tuple[bool, bool, int] | None = None  # _title's ranking key of the title's article
        self.title = ""
        self.size = 0
        for a in articles:
            self.add(a)

    def add(self, a: dict[str, Any]) -> None:
        aid = a["id"]
        key = _title_rank(a, self.size)
        self.size += 1
        if self.title_key is None or key < self.title_key:
            self.title_key, self.title = key, a["headline"]
        self.parent[aid] = aid
        if a["relation"] in _COPY_RELATIONS and a["of"] is not None:
            if a["of"] in self.parent:
                self._union(aid, a["of"])
            else:
                self.waiting.setdefault(a["of"], []).append(aid)
        for copy in self.waiting.pop(aid, ()):
            self._union(copy, aid)
        if a["source"]:
            self.outlet[aid] = a["source"]
            src = a["source"].strip().lower()
            if src in self.by_source:
                self._union(aid, self.by_source[src])
            else:
                self.by_source[src] = aid

    def __getitem__(self, x: str) -> str:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def _union(self, x: str, y: str) -> None:
        rx, ry = self[x], self[y]
        if rx != ry:
            self.parent[max(rx, ry)] = min(rx, ry)


def _is_conflict(values: list[dict[str, Any]]) -> bool:
    ranges = [(_interval(v["value"], v["high"], v["qualifier"]), set(v["article_ids"])) for v in values]
    for i, (ra, ida) in enumerate(ranges):
        for rb, idb in ranges[i + 1 :]:
            if _disagree(ra, rb) and (ida | idb) != (ida & idb):
                return True
    return False


def _copy_claims(claims: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "cls": c["cls"],
            "unit": c["unit"],
            "counted": c["counted"],
            "pred": c.get("pred"),
            "ctx": dict(c["ctx"]),
            "words": dict(c["words"]),
            "values": [{**v, "article_ids": list(v["article_ids"])} for v in c["values"]],
        }
        for c in claims
    ]
