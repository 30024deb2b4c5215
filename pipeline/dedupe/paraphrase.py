"""Sentence-pair paraphrase model: cheap lexical and facts-like features under a logistic regression.

``ParaphraseModel.load()`` reads the weights from ``pipeline/models/paraphrase.json`` (plain JSON, no
pickle). ``python -m pipeline.training.paraphrase TRAIN.jsonl`` refits them on an MSRP-layout file (train split only)
and writes that file; ``copydesk eval paraphrase DEV.jsonl`` scores it.

Features: word, content-word, bigram and character 4-gram overlap; containment both ways; n-gram precision
(1-4, BLEU-like) both ways; longest common word subsequence; length difference; content words left
unmatched on each side; and the facts a rewrite must keep: numbers and capitalized names present in one
sentence but not the other.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.text import content_words, words

__all__ = ["FEATURES", "ParaphraseModel", "features", "fit"]

WEIGHTS = Path(__file__).resolve().parents[1] / "models" / "paraphrase.json"
FEATURES = (
    "word_jaccard",
    "content_jaccard",
    "bigram_jaccard",
    "char4_jaccard",
    "containment_min",
    "containment_max",
    "ngram1",
    "ngram2",
    "ngram3",
    "ngram4",
    "lcs",
    "length_diff",
    "unmatched_min",
    "unmatched_max",
    "numbers_differ",
    "numbers_shared",
    "names_differ",
    "log_length",
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-zA-Z]+")


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def _ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def _precision(a: list[str], b: list[str], n: int) -> float:
    grams_a, grams_b = _ngrams(a, n), set(_ngrams(b, n))
    return sum(g in grams_b for g in grams_a) / len(grams_a) if grams_a else 1.0


def _lcs(a: list[str], b: list[str]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def features(text1: str, text2: str) -> list[float]:
    """Return the feature vector of a sentence pair, in the order of FEATURES (symmetric in the two texts)."""
    w1, w2 = words(text1), words(text2)
    c1, c2 = set(content_words(text1)), set(content_words(text2))
    s1, s2 = set(w1), set(w2)
    chars1 = {text1.lower()[i : i + 4] for i in range(max(1, len(text1) - 3))}
    chars2 = {text2.lower()[i : i + 4] for i in range(max(1, len(text2) - 3))}
    inter = len(c1 & c2)
    contain = (inter / len(c1) if c1 else 1.0, inter / len(c2) if c2 else 1.0)
    ngram = [(_precision(w1, w2, n) + _precision(w2, w1, n)) / 2 for n in (1, 2, 3, 4)]
    numbers1, numbers2 = set(_NUMBER.findall(text1)), set(_NUMBER.findall(text2))
    names1, names2 = set(_NAME.findall(text1)), set(_NAME.findall(text2))
    longer = max(len(w1), len(w2)) or 1
    return [
        _jaccard(s1, s2),
        _jaccard(c1, c2),
        _jaccard(set(_ngrams(w1, 2)), set(_ngrams(w2, 2))),
        _jaccard(chars1, chars2),
        min(contain),
        max(contain),
        *ngram,
        _lcs(w1, w2) / longer,
        abs(len(w1) - len(w2)) / longer,
        float(min(len(c1 - c2), len(c2 - c1))),
        float(max(len(c1 - c2), len(c2 - c1))),
        float(len(numbers1 ^ numbers2) > 0),
        float(len(numbers1 & numbers2)),
        float(len(names1 ^ names2)),
        math.log(longer),
    ]


@dataclass(frozen=True)
class ParaphraseModel:
    """A logistic regression over standardized features; ``threshold`` is on the probability."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    threshold: float

    @classmethod
    def load(cls, path: Path = WEIGHTS) -> ParaphraseModel:
        state = json.loads(path.read_text("utf-8"))
        if state["features"] != list(FEATURES):
            raise ValueError(
                f"{path} was fitted on other features; refit: python -m pipeline.training.paraphrase TRAIN"
            )
        return cls(
            mean=np.array(state["mean"]),
            scale=np.array(state["scale"]),
            weights=np.array(state["weights"]),
            bias=state["bias"],
            threshold=state["threshold"],
        )

    def probability(self, text1: str, text2: str) -> float:
        """Return the probability that the two sentences say the same thing."""
        x = (np.array(features(text1, text2)) - self.mean) / self.scale
        return float(1.0 / (1.0 + np.exp(-(x @ self.weights + self.bias))))

    def is_paraphrase(self, text1: str, text2: str) -> bool:
        return self.probability(text1, text2) >= self.threshold

    def to_state(self) -> dict:
        return {
            "features": list(FEATURES),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "weights": self.weights.tolist(),
            "bias": self.bias,
            "threshold": self.threshold,
        }


def fit(pairs: list[tuple[str, str, int]], l2: float = 1e-3, steps: int = 3000) -> ParaphraseModel:
    """Return a model fitted by full-batch gradient descent; the threshold maximizes accuracy on the pairs."""
    x = np.array([features(a, b) for a, b, _ in pairs])
    y = np.array([label for _, _, label in pairs], dtype=float)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = (x - mean) / scale
    w, b = np.zeros(z.shape[1]), 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(z @ w + b)))
        w -= 0.5 * (z.T @ (p - y) / len(y) + l2 * w)
        b -= 0.5 * float(np.mean(p - y))
    p = 1.0 / (1.0 + np.exp(-(z @ w + b)))
    candidates = np.linspace(0.2, 0.8, 61)
    accuracy = [float(np.mean((p >= t) == (y == 1))) for t in candidates]
    threshold = float(candidates[int(np.argmax(accuracy))])
    return ParaphraseModel(mean=mean, scale=scale, weights=w, bias=b, threshold=round(threshold, 3))
