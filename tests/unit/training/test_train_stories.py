"""The stories stage's trainer (pipeline/training/stories.py): the split join models and the held-out check."""

from __future__ import annotations

import math

import numpy as np
import pytest

import pipeline.stories as stories
from pipeline.stories import FEATURES
from pipeline.training.stories import MODEL, auc, fit_join, held_out_auc, shipped_model_after, topic_half

BODY, HEAD, SHORT = (FEATURES.index(f) for f in ("body", "head", "short"))


def _pairs(rng: np.random.Generator, n: int, short: float, signal: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs whose label follows one feature (``signal``) alone; every other feature is noise."""
    x = rng.uniform(size=(n, len(FEATURES)))
    x[:, SHORT] = short
    y = (x[:, signal] > 0.5).astype(float)
    return x, y


def test_short_and_long_articles_get_models_of_their_own() -> None:
    # Long pairs are decided by the body cosine, short ones by the headline's: each model learns its own.
    rng = np.random.default_rng(3)
    (long_x, long_y), (short_x, short_y) = _pairs(rng, 400, 0.0, BODY), _pairs(rng, 400, 1.0, HEAD)
    sets = {
        "a": (np.vstack([long_x, short_x]), np.concatenate([long_y, short_y])),
        "b": _pairs(rng, 400, 0.0, BODY),
    }
    (long_w, _), (short_w, _) = fit_join(sets, l2=1e-6)
    assert long_w[BODY] > 5 * abs(long_w[HEAD])
    assert short_w[HEAD] > 5 * abs(short_w[BODY])
    scores = held_out_auc(((long_w, 0.0), (short_w, 0.0)), sets["a"])
    assert scores["long"] > 0.95 and scores["short"] > 0.95


def test_without_short_pairs_short_articles_get_the_long_model() -> None:
    rng = np.random.default_rng(4)
    long_model, short_model = fit_join({"a": _pairs(rng, 300, 0.0, BODY)}, l2=1e-6)
    assert short_model is long_model


@pytest.mark.parametrize(
    ("scores", "labels", "expected"),
    [
        ([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], 0.75),  # 3 of the 4 positive-negative pairs ordered right
        ([1.0, 2.0], [0, 1], 1.0),
        ([2.0, 1.0], [0, 1], 0.0),
        ([1.0, 1.0], [0, 1], 0.5),  # a tie counts half
    ],
)
def test_auc_counts_ordered_pairs(scores, labels, expected) -> None:
    assert auc(np.array(scores), np.array(labels, dtype=float)) == pytest.approx(expected)


def test_auc_of_one_class_is_undefined() -> None:
    assert math.isnan(auc(np.array([0.2, 0.4]), np.array([1.0, 1.0])))


def test_topic_halves_keep_an_ecbplus_topic_together_and_are_stable() -> None:
    # ECB+'s two events of a topic are one topic: a held-out half must hold both (the hard case).
    for topic in range(1, 46):
        assert topic_half("ecbplus", f"{topic}_ecb") == topic_half("ecbplus", f"{topic}_ecbplus")
    halves = [topic_half("gva", f"incident-{i}") for i in range(400)]
    assert 150 < sum(halves) < 250  # about half each
    assert halves == [topic_half("gva", f"incident-{i}") for i in range(400)]  # no per-process hash seed


def test_the_split_check_points_the_stage_back_at_the_shipped_model(tmp_path) -> None:
    with pytest.raises(RuntimeError), shipped_model_after():
        stories.use_model_file(tmp_path / "half.json")
        raise RuntimeError("a failed half")
    assert stories.model_file() == MODEL
