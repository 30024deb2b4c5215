"""Terms: what the stories stage compares articles by, word for word.

An article is three bags of terms (``article_vectors``): the content lemmas of its body and of its headline
(``content_terms``: lowercase, a light lemma, no stopword of ``story_stopwords.txt``), and its canonical
entity ids with the years it names. Each bag is weighted by sublinear term frequency
(``term_frequencies``); the index weights it by inverse document frequency over the open stories and
compares it with a story's centroid (``cosine_cover``). ``lemma`` and ``stem`` also serve the context words
of quantity claims (``pipeline.stories.claims``), whose weighted stems ``cosine`` compares.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Iterable
from itertools import repeat
from operator import itemgetter, mul, truediv

from pipeline import lexicons
from schemas.models import FactsArticle

__all__ = [
    "STOPWORDS",
    "WEIGHT",
    "article_vectors",
    "content_terms",
    "cosine",
    "cosine_cover",
    "lemma",
    "stem",
    "term_frequencies",
    "unit_tfidf",
]

STOPWORDS = frozenset(lexicons.words("story_stopwords"))
WEIGHT = itemgetter(1)  # of a centroid entry [articles with the term, summed weight]
_PLUS_ONE = (1).__add__

_WORD = re.compile(r"[a-z]+(?:['’][a-z]+)*")
# The years an article names are entity terms of their own ("year:2019"): two events of one kind are often
# told apart by their year (``pipeline.stories.model``'s kind features).
_YEAR = re.compile(r"\b(19[5-9]\d|20[0-4]\d)\b")


@functools.lru_cache(maxsize=1 << 16)
def lemma(word: str) -> str:
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


def stem(word: str) -> str:
    """Return a prefix stem for claim context: 'apprehended' and 'apprehensions' meet at 'appreh'."""
    return lemma(word)[:6]


@functools.lru_cache(maxsize=1 << 17)
def _term(word: str) -> str | None:
    """Return the content lemma of a lowercase word, or None for a stopword."""
    if len(word) < 2 or word in STOPWORDS:
        return None
    lem = lemma(word)
    return None if lem in STOPWORDS else lem


def content_terms(text: str) -> list[str]:
    """Return the content lemmas of a text, in order."""
    return [t for t in map(_term, _WORD.findall(text.lower())) if t is not None]


def term_frequencies(terms: Iterable[str]) -> dict[str, float]:
    """Return sublinear term frequencies, 1 + log(tf), in first-occurrence order."""
    return {t: 1.0 + math.log(c) for t, c in Counter(terms).items()}


def article_vectors(article: FactsArticle) -> dict[str, dict[str, float]]:
    """Return each field's sublinear term frequencies (before IDF): body, headline and entities."""
    ent = Counter()
    for e in article.facts.entities:
        ent[e.entity_id] += e.count
    for y in _YEAR.findall(article.headline):
        ent["year:" + y] += 1
    for y in _YEAR.findall(article.body):
        ent["year:" + y] += 1
    return {
        "body": term_frequencies(content_terms(article.body)),
        "head": term_frequencies(content_terms(article.headline)),
        "ent": {k: 1.0 + math.log(c) for k, c in ent.items()},
    }


def unit_tfidf(
    vectors: dict[str, dict[str, float]], df: dict[str, dict[str, int]], log_n: float
) -> tuple[dict[str, list[float]], dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """Return per field the unit-length TF-IDF weights x of a vector's terms (in the field's term order), x *
    idf by term (what a cosine with a centroid's raw sums needs) and x^2 by term (the cover).

    A term's IDF is ``log_n - log(df + 1)``, ``log_n`` being log(articles + 1) + 1 and ``df`` the document
    frequencies per field; a field without terms, or whose weights are all zero, is left out. The arithmetic
    runs in C through map(); it is the same arithmetic, in the same order, as a plain loop, so the floats
    (and decisions) are the same.
    """
    minus_idf = log_n.__sub__
    weighted: dict[str, list[float]] = {}  # field -> x, in the field's term order
    by_term: dict[str, dict[str, float]] = {}
    squares: dict[str, dict[str, float]] = {}
    for f, tf in vectors.items():
        if not tf:
            continue
        idfs = list(map(minus_idf, map(math.log, map(_PLUS_ONE, map(df[f].get, tf, repeat(0))))))
        raw = list(map(mul, tf.values(), idfs))
        norm = math.sqrt(sum(map(pow, raw, repeat(2))))
        if norm > 0.0:
            x = list(map(truediv, raw, repeat(norm)))
            weighted[f] = x
            by_term[f] = dict(zip(tf, map(mul, x, idfs), strict=True))
            squares[f] = dict(zip(tf, map(pow, x, repeat(2)), strict=True))
    return weighted, by_term, squares


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    """Return the cosine of two sparse vectors (key -> weight), 0 when they share no key."""
    if len(a) > len(b):
        a, b = b, a
    dot = sum(w * b.get(k, 0.0) for k, w in a.items())
    if dot == 0.0:
        return 0.0
    return dot / math.sqrt(sum(w * w for w in a.values()) * sum(w * w for w in b.values()))


def cosine_cover(
    mine: dict[str, float], squares: dict[str, float], centroid: dict[str, list[float]], norm: float
) -> tuple[float, float]:
    """Return the cosine of a vector (terms -> unit weight x idf) with a centroid, and the cover.

    The key intersection and the sums over it run in C. Set order depends on the hash seed, so fsum (exactly
    rounded, order-free) keeps decisions equal in every process.
    """
    shared = mine.keys() & centroid.keys()
    weights = map(WEIGHT, map(centroid.__getitem__, shared))
    return (
        math.fsum(map(mul, map(mine.__getitem__, shared), weights)) / norm,
        math.fsum(map(squares.__getitem__, shared)),
    )
