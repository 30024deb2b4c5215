"""The word vectors the stories stage embeds articles with (pipeline/vectors.py)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pipeline.vectors import DIMENSIONS, VECTORS_PATH, WordVectors, build, word_vectors


def _cosine(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    return math.fsum(x * y for x, y in zip(a, b, strict=True))


def test_the_packaged_vectors_load_without_pickle_and_know_common_news_words() -> None:
    with np.load(VECTORS_PATH, allow_pickle=False) as data:
        assert data["vectors"].dtype == np.int8
        assert data["vectors"].shape == (50_000, DIMENSIONS)
    vecs = word_vectors()
    for word in ("caravan", "migrants", "border", "earthquake", "shooting", "election"):
        assert word in vecs
    assert "xqzvvb" not in vecs


def test_an_embedding_is_a_unit_vector_and_unknown_words_give_none() -> None:
    vecs = word_vectors()
    e = vecs.embed({"earthquake": 0.7, "xqzvvb": 0.3})
    assert e is not None and len(e) == DIMENSIONS
    assert math.isclose(math.sqrt(_cosine(e, e)), 1.0, rel_tol=1e-9)
    only = vecs.embed({"earthquake": 1.0})
    assert only is not None and _cosine(e, only) == pytest.approx(1.0)  # the unknown word is left out
    assert vecs.embed({"xqzvvb": 1.0}) is None
    assert vecs.embed({}) is None


def test_two_wordings_of_one_event_embed_closer_than_another_event() -> None:
    vecs = word_vectors()
    quake = vecs.embed({"earthquake": 1.0, "kills": 1.0, "dozens": 1.0, "turkey": 1.0})
    tremor = vecs.embed({"quake": 1.0, "death": 1.0, "toll": 1.0, "rises": 1.0, "turkish": 1.0})
    vote = vecs.embed({"senate": 1.0, "passes": 1.0, "budget": 1.0, "bill": 1.0})
    assert quake and tremor and vote
    assert _cosine(quake, tremor) > _cosine(quake, vote) + 0.2


def test_common_words_count_less_than_rare_ones() -> None:
    # Smooth inverse frequency: "the" (rank 1) barely moves a text's vector; "caravan" moves it.
    vecs = word_vectors()
    base = vecs.embed({"migrants": 1.0})
    with_the = vecs.embed({"migrants": 1.0, "the": 1.0})
    with_caravan = vecs.embed({"migrants": 1.0, "caravan": 1.0})
    assert base and with_the and with_caravan
    assert _cosine(base, with_the) > 0.99 > _cosine(base, with_caravan)


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
    vecs = WordVectors.load(tmp_path / "v.npz")
    assert [w for w in words if w in vecs] == ["the", "don't", "caravan"]
    with np.load(tmp_path / "v.npz", allow_pickle=False) as data:
        restored = data["vectors"].astype(np.float32) * data["scale"][:, None]
    expected = matrix[[0, 3, 4]]
    assert np.abs(restored - expected).max() <= np.abs(expected).max(axis=1).max() / 127.0


def test_build_rejects_vectors_of_another_size(tmp_path) -> None:
    (tmp_path / "wink.json").write_text(json.dumps({"dimensions": 50, "words": [], "vectors": {}}))
    with pytest.raises(ValueError, match="50 dimensions"):
        build(tmp_path / "wink.json", tmp_path / "v.npz")


def test_a_table_whose_shape_does_not_match_its_words_is_refused() -> None:
    with pytest.raises(ValueError, match="2 words"):
        WordVectors(["a", "b"], np.zeros((3, DIMENSIONS), dtype=np.float32))
