"""Page furniture by what a line is: a logistic regression over a line's shape and words.

Scraped pages carry lines that are not the article: share and follow widgets, sign-in and newsletter forms,
video-player prompts, copyright and responsibility notices. `normalize`'s patterns know the common
wordings; this model knows the kind of line, so a syndicator's notice worded unlike any pattern goes too.
A line is scored on what separates running text from page chrome in any page (Pomikalek 2011, jusText):
its length, its share of stop words (``lexicons/stopwords_en.txt``), closing punctuation, capitals, digits
and symbols, plus its words, learned from a labelled sample of real pages
(``python -m pipeline.training.furniture``; weights in ``pipeline/models/furniture.json``, plain JSON).

`FurnitureModel.probability` gives the chance that a line is furniture; `is_furniture` compares it with
the threshold the trainer chose, set high, since a body sentence lost costs more than a widget kept. A line
is read alone, without where it sits or what is next to it, on purpose: a truncated, updated or re-wrapped
copy puts its lines elsewhere and beside other lines, and dedupe needs a copy's lines read as its
original's were.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pipeline import lexicons

__all__ = ["WEIGHTS", "FurnitureModel", "furniture_model", "line_features", "line_words"]

WEIGHTS = Path(__file__).resolve().parent / "models" / "furniture.json"

_STOP_WORDS = frozenset(lexicons.words("stopwords_en"))
_WORD_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
_TERMINAL_RE = re.compile(r"[.!?][\"”’')\]]*$")


def line_words(line: str) -> list[str]:
    """The lowercased words of a line, as the model's vocabulary reads them."""
    return [w.lower() for w in _WORD_RE.findall(line)]


def line_features(line: str) -> dict[str, float]:
    """The shape features of a line (its words are read apart)."""
    words = line_words(line)
    tokens = line.split()
    n_chars = max(len(line), 1)
    n_words = len(tokens)
    capitalised = sum(1 for t in tokens if t[:1].isupper())
    stop_share = sum(1 for w in words if w in _STOP_WORDS) / max(len(words), 1)
    return {
        "log_words": math.log1p(n_words),
        "short": float(n_words <= 3),
        "stop_share": stop_share,
        "terminal": float(bool(_TERMINAL_RE.search(line))),
        "question": float(line.rstrip().endswith("?")),
        "capital_share": capitalised / max(n_words, 1),
        "upper": float(line.isupper()),
        "digit_share": sum(c.isdigit() for c in line) / n_chars,
        "symbol_share": sum(not (c.isalnum() or c.isspace()) for c in line) / n_chars,
        "no_letters": float(not words),
    }


@dataclass(frozen=True)
class FurnitureModel:
    """A logistic regression over `line_features` and the words of a line; `threshold` on its probability."""

    weights: dict[str, float]
    words: dict[str, float]
    bias: float
    threshold: float

    @classmethod
    def load(cls, path: Path = WEIGHTS) -> FurnitureModel:
        state = json.loads(path.read_text("utf-8"))
        return cls(
            weights=dict(state["weights"]),
            words=dict(state["words"]),
            bias=float(state["bias"]),
            threshold=float(state["threshold"]),
        )

    def probability(self, line: str) -> float:
        """The probability that a line of a page is furniture."""
        z = self.bias + sum(self.weights.get(k, 0.0) * v for k, v in line_features(line).items())
        words = set(line_words(line))
        if words:
            # Over the root of their number, so a long sentence does not add up many small weights.
            z += sum(self.words.get(w, 0.0) for w in words) / math.sqrt(len(words))
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))

    def is_furniture(self, line: str) -> bool:
        return self.probability(line) >= self.threshold

    def to_json(self) -> dict[str, object]:
        return {
            "source": "python -m pipeline.training.furniture: a logistic regression over line features and "
            "words, trained on labelled lines of real pages",
            "bias": self.bias,
            "threshold": self.threshold,
            "weights": self.weights,
            "words": dict(sorted(self.words.items())),
        }


@cache
def furniture_model() -> FurnitureModel:
    """The shipped model, loaded once per process."""
    return FurnitureModel.load()
