"""The quote speaker ranker: which of a quote's candidate speakers said it.

``pipeline.facts.quotes`` proposes, for each quote, the mentions that could have said it (``Candidate``:
the subjects and person or organisation names outside quotes in the quote's paragraphs and the paragraph
before, plus what its rules pick) and what it knows of each. `features` turns a candidate into the vector
`FEATURES` names; `SpeakerRanker` scores the vectors with a logistic regression whose weights are in
``pipeline/models/quote_speakers.json`` (``python -m pipeline.training.quote_speakers`` makes it) and picks
the best. The rules stay what proposes candidates and what they know, so a ranker sees every choice the
rules would make and learns when to trust it.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "FEATURES",
    "KINDS",
    "MODEL_FILE",
    "RULES",
    "Candidate",
    "SpeakerRanker",
    "features",
    "load_ranker",
]

MODEL_FILE = Path(__file__).resolve().parents[1] / "models" / "quote_speakers.json"

# What a candidate mention is: a person's or organisation's name, a place or group ("Russia", "Democrats"),
# a pronoun, another proper noun, a common noun ("the official").
KINDS = ("person", "org", "place", "pronoun", "propn", "noun")
# The rule of ``pipeline.facts.quotes`` that picked a candidate.
RULES = ("cue_after", "cue_before", "colon", "dash", "person_before", "continues")

FEATURES = (
    *(f"kind_{k}" for k in KINDS),
    *(f"rule_{r}" for r in RULES),
    "rule_entity",
    "cue_subject",
    "cue_adjacent",
    "cue_object",
    "subject",
    "governs_quote",
    "log_distance",
    "before",
    "same_paragraph",
    "same_sentence",
    "before_opening",
    "previous_speaker",
    "recent_subject",
    "log_mentions",
    "resolved",
)


@dataclass(frozen=True)
class Candidate:
    """One mention that may have said a quote, and what the parse says of it.

    `part` and `token` locate its head token; `kind` is one of `KINDS`; `rule` the rule (of `RULES`) that
    picked it, "" for none; `rule_entity` is True when it names the entity the rules' pick resolves to
    without being that pick; `cue_subject` when it is the subject of a cue verb, `cue_adjacent` when that
    verb is the one right after or before the quote, `cue_object` when it is the object a cue verb's words
    go to ("told reporters"); `governs_quote` when the clause it is the subject of holds the quote;
    `before_opening` when it is in the paragraph before a quote that opens its own; `distance` counts the tokens between it and the quote,
    `before` says on which side it is; `previous_speaker` when it is (or names the entity of) the previous
    quote's speaker; `recent_subject` when it names the latest person subject before the quote; `mentions`
    counts its entity's mentions in the article (0 without one); `entity_id` is its entity, None for none;
    `chars` are the (start, end) characters of its mention in its paragraph, as a speaker span reports them.
    """

    part: int
    token: int
    kind: str
    chars: tuple[int, int] = (0, 0)
    rule: str = ""
    rule_entity: bool = False
    cue_subject: bool = False
    cue_adjacent: bool = False
    cue_object: bool = False
    subject: bool = False
    governs_quote: bool = False
    distance: int = 0
    before: bool = True
    same_paragraph: bool = True
    same_sentence: bool = False
    before_opening: bool = False
    previous_speaker: bool = False
    recent_subject: bool = False
    mentions: int = 0
    entity_id: str | None = None


def features(c: Candidate) -> list[float]:
    """Return the feature vector of a candidate, in `FEATURES` order."""
    return [
        *(float(c.kind == k) for k in KINDS),
        *(float(c.rule == r) for r in RULES),
        float(c.rule_entity),
        float(c.cue_subject),
        float(c.cue_adjacent),
        float(c.cue_object),
        float(c.subject),
        float(c.governs_quote),
        math.log1p(c.distance),
        float(c.before),
        float(c.same_paragraph),
        float(c.same_sentence),
        float(c.before_opening),
        float(c.previous_speaker),
        float(c.recent_subject),
        math.log1p(c.mentions),
        float(c.entity_id is not None),
    ]


class SpeakerRanker:
    """A logistic regression over `FEATURES`: `weights` in that order and a `bias`; `threshold` is the
    probability a candidate needs to speak a quote the rules found no speaker for."""

    def __init__(self, weights: Sequence[float], bias: float, threshold: float = 0.5):
        if len(weights) != len(FEATURES):
            raise ValueError(f"a speaker ranker needs {len(FEATURES)} weights (FEATURES), got {len(weights)}")
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be a probability in [0, 1], got {threshold}")
        self.weights = [float(w) for w in weights]
        self.bias = float(bias)
        self.threshold = float(threshold)

    def probability(self, c: Candidate) -> float:
        """Return the probability that `c` said the quote."""
        z = self.bias + sum(w * x for w, x in zip(self.weights, features(c), strict=True))
        return 1.0 / (1.0 + math.exp(-z)) if z > -500 else 0.0

    def best(self, candidates: Sequence[Candidate]) -> Candidate | None:
        """Return the most probable candidate (the first of equals), or None when there is none or when
        none was the rules' pick and the best is below `threshold`."""
        if not candidates:
            return None
        scored = [(self.probability(c), -i, c) for i, c in enumerate(candidates)]
        p, _, top = max(scored, key=lambda s: (s[0], s[1]))
        if p < self.threshold and not any(c.rule for c in candidates):
            return None
        return top


@functools.lru_cache(maxsize=1)
def load_ranker(path: Path = MODEL_FILE) -> SpeakerRanker | None:
    """Return the ranker stored at `path` (read once), or None when there is no such file; raise ValueError
    when its features are not `FEATURES`."""
    if not path.exists():
        return None
    model = json.loads(path.read_text(encoding="utf-8"))
    if tuple(model["features"]) != FEATURES:
        raise ValueError(f"{path} has features {model['features']}, the code expects {list(FEATURES)}")
    return SpeakerRanker(model["weights"], model["bias"], model.get("threshold", 0.5))
