"""GloVe's packaged word list, which the facts stage reads as its common English words (pipeline/facts/vectors.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.facts.vectors import DIMENSIONS, VECTORS_PATH, build, vocabulary


def test_the_packaged_vectors_load_without_pickle_and_know_common_news_words() -> None:
    with np.load(VECTORS_PATH, allow_pickle=False) as data:
        assert data["vectors"].dtype == np.int8
        assert data["vectors"].shape == (50_000, DIMENSIONS)
    words = vocabulary()
    assert len(words) == 50_000
    for word in ("caravan", "migrants", "border", "earthquake", "shooting", "election"):
        assert word in words
    assert "xqzvvb" not in words


def test_build_keeps_the_most_frequent_alphabetic_words_and_round_trips(tmp_path) -> None:
    rng = np.random.default_rng(7)
    words = ["the", "1999", "u.s.", "don't", "caravan", "border"]
    matrix = rng.normal(size=(len(words), DIMENSIONS)).astype(np.float32)
    # wink's layout: per word its vector, then its norm and its index.
    source = {
        "dimensions": DIMENSIONS,
        "words": words,
        "vectors": {w: [*map(float, matrix[i]), 1.0, float(i)] for i, w in enumerate(words)},
    }
    (tmp_path / "wink.json").write_text(json.dumps(source), encoding="utf-8")
    build(tmp_path / "wink.json", tmp_path / "v.npz", words=3)
    with np.load(tmp_path / "v.npz", allow_pickle=False) as data:
        assert [str(w) for w in data["words"]] == ["the", "don't", "caravan"]
        restored = data["vectors"].astype(np.float32) * data["scale"][:, None]
    expected = matrix[[0, 3, 4]]
    assert np.abs(restored - expected).max() <= np.abs(expected).max(axis=1).max() / 127.0


def test_build_rejects_vectors_of_another_size(tmp_path) -> None:
    (tmp_path / "wink.json").write_text(json.dumps({"dimensions": 50, "words": [], "vectors": {}}))
    with pytest.raises(ValueError, match="50 dimensions"):
        build(tmp_path / "wink.json", tmp_path / "v.npz")
