"""The join and merge decisions: the features of a pair, and the learned models that weigh them.

A pair is an article and a candidate story (the join decision) or two open stories (the merge decision).
``features`` describes it in ``FEATURES`` order: per field (body, headline, entities) the TF-IDF cosine and
the cover, the entity and time evidence, a short-body flag with its interactions, whether the main place,
person and year agree (``kind_features``), and the cosine of the text embeddings. Two logistic regressions
over those features give the probability that the article belongs to the story (``join_probability``; one
model for long articles, one for headlines and briefs) and that two stories are one
(``merge_probability``). Their weights are in ``pipeline/models/stories_join.json`` (``MODEL_FILE``), made
by ``python -m pipeline.training.stories`` from the ECB+, GVA and UCI dev streams.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable
from datetime import datetime
from operator import mul
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.stories.state import Story

__all__ = [
    "BOUND_MARGIN",
    "FEATURES",
    "MODEL_FILE",
    "features",
    "join_probability",
    "kind_features",
    "kind_tops",
    "load_models",
    "logit",
    "merge_probability",
    "model_file",
    "raise_kind_tops",
    "story_gap_days",
    "story_tops",
    "upper_logit",
    "use_model_file",
]

# What the join model sees of an (article, candidate story) pair, in the order of its weights.
FEATURES = (
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


def features(
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
    """Return the join features of an (article, story) pair, in ``FEATURES`` order.

    Per field the TF-IDF cosine with the story's centroid and the share of the article's own TF-IDF mass on
    terms the story has (its "cover", which a large story's spread-out centroid does not dilute); whether
    the article's most mentioned entity is in the story; whether entities can be compared at all; the time
    gap to the story's span (log days); the story's size (log articles); a short-body flag with its
    interactions, since a headline's cosines run lower against any centroid; the place, person and year
    features (``kind_features``); and the cosine of the article's text embedding with the story's
    (``article_embedding``), which sees what two wordings of one event share beyond their words.

    Every feature is nondecreasing in each cosine and cover: ``StoryIndex`` bounds a pair's features by
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


# The shipped model; ``use_model_file`` points the stage at another (the trainer does, while it trains).
MODEL_FILE = Path(__file__).resolve().parents[1] / "models" / "stories_join.json"
_model_path = MODEL_FILE


def model_file() -> Path:
    """Return the file the join and merge models are read from (``MODEL_FILE`` unless ``use_model_file``)."""
    return _model_path


def use_model_file(path: Path) -> None:
    """Read the join and merge models from ``path`` from the next ``load_models`` call on."""
    global _model_path
    _model_path = path
    load_models.cache_clear()


@functools.lru_cache(maxsize=1)
def load_models() -> dict[str, tuple[list[float], float]]:
    """Return the join and merge models' weights (in ``FEATURES`` order) and biases, from ``model_file()``.

    Read once; raise ValueError when the file's features or weights do not match ``FEATURES``. Keys:
    "join", "join_short" (articles with a short body) and "merge".
    """
    path = _model_path
    model = json.loads(path.read_text(encoding="utf-8"))
    if tuple(model["features"]) != FEATURES:
        raise ValueError(f"{path} has features {model['features']}, the code expects {list(FEATURES)}")
    out = {}
    parts = (
        ("join", model),
        ("join_short", model["short"]),
        ("merge", model["merge"]),
    )
    for name, part in parts:
        if len(part["weights"]) != len(FEATURES):
            raise ValueError(f"{path}: the {name} model has {len(part['weights'])} weights")
        out[name] = ([float(w) for w in part["weights"]], float(part["bias"]))
    return out


_SHORT = FEATURES.index("short")


def _model(name: str, x: list[float]) -> tuple[list[float], float]:
    """Return the weights and bias of the join or merge model for a pair's features.

    Articles with a short body (headlines, briefs) have a join model of their own: their evidence is a
    dozen words, and what decides for them (the headline, its embedding) counts for little in a long
    article. The merge decision has one model for every body length.
    """
    return load_models()["join_short" if name == "join" and x[_SHORT] else name]


def _probability(model: str, x: list[float]) -> float:
    weights, bias = _model(model, x)
    if len(x) != len(weights):
        raise ValueError(f"{len(x)} features, the {model} model has {len(weights)} weights")
    z = bias + math.fsum(map(mul, weights, x))
    return 1.0 / (1.0 + math.exp(-z)) if z > -500 else 0.0


def logit(p: float) -> float:
    """Return the log-odds of a probability in (0, 1): the logit a model must reach to give ``p``."""
    return math.log(p / (1.0 - p))


# Slack for floating-point rounding in the bounds that let ``StoryIndex`` skip a candidate: far above any
# rounding error of the sums involved, far below any difference a decision rests on.
BOUND_MARGIN = 1e-6


def upper_logit(model: str, low: list[float], high: list[float]) -> float:
    """Return the highest logit the model gives any features between ``low`` and ``high`` (per feature)."""
    weights, bias = _model(model, low)  # low and high share the short flag
    if len(low) != len(weights) or len(high) != len(weights):
        raise ValueError(f"{len(low)} and {len(high)} features, the {model} model has {len(weights)} weights")
    return bias + math.fsum(map(max, map(mul, weights, low), map(mul, weights, high)))


def join_probability(x: list[float]) -> float:
    """Return the learned probability that an article belongs to a candidate story, from its features."""
    return _probability("join", x)


def merge_probability(x: list[float]) -> float:
    """Return the learned probability that two open stories are one, from the features of their centroids.

    A model of its own: fragments of one story (split by their first articles) look unlike an article and
    its story, and merging two same-type events costs more than leaving a fragment apart.
    """
    return _probability("merge", x)


# Specific entities tell two events of one kind apart (two earthquakes, two shootings): the place, the main
# actor, the year. Per kind, the article's most mentioned one is either in the story (a share) or, when the
# story's own most mentioned one of that kind is not in the article either, a conflict.
_KINDS = (("place", ("place:", "facility:")), ("person", ("person:",)), ("year", ("year:",)))


_KIND_NAMES = tuple(kind for kind, _prefixes in _KINDS)
_KIND_OF_PREFIX = {p[:-1]: kind for kind, prefixes in _KINDS for p in prefixes}  # every prefix ends in ":"


def _kind_of(term: str) -> str | None:
    prefix, colon, _rest = term.partition(":")
    return _KIND_OF_PREFIX.get(prefix) if colon else None


def kind_tops(items: Iterable[tuple[str, Any]]) -> dict[str, str]:
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


def story_tops(s: Story) -> dict[str, str]:
    """Return the story's most mentioned entity of each kind, by summed weight (its mentions over articles)."""
    if s.tops is None:
        s.tops = kind_tops((t, w) for t, (_c, w) in s.fields["ent"].items())
    return s.tops


def raise_kind_tops(tops: dict[str, str], centroid: dict[str, list[Any]], updated: Iterable[str]) -> None:
    """Update a story's ``kind_tops`` after the weights of the ``updated`` entity terms grew.

    Weights only grow, so a term that was not updated cannot overtake its kind's old top: the new top is the
    old one or an updated term, the same as ``kind_tops`` over the whole centroid would give.
    """
    tops.update(kind_tops((t, centroid[t][1]) for t in (*tops.values(), *updated)))


def kind_features(
    mine: dict[str, str], ents: dict[str, float], theirs: dict[str, str], story_ents: dict[str, Any]
) -> tuple[float, ...]:
    """Return the (share, conflict) pair of each kind, place, person and year, in ``FEATURES`` order.

    ``mine`` and ``theirs`` are the article's and the story's main entity per kind (``kind_tops``), ``ents``
    the article's entity terms and ``story_ents`` the story's. Share: the article's main one is in the
    story. Conflict: the story's main one of that kind is not in the article at all.
    """
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


def story_gap_days(story: Story, ts: datetime) -> float:
    """Return the time from ``ts`` to the story's span, in days (0 inside it)."""
    if ts < story.first_ts:
        gap = story.first_ts - ts
    elif ts > story.last_ts:
        gap = ts - story.last_ts
    else:
        return 0.0
    return gap.total_seconds() / 86400.0
