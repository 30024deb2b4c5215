"""The sentence-pair paraphrase model: its shipped weights, its features and its fit."""

from __future__ import annotations

import json

import pytest

from pipeline.dedupe.paraphrase import FEATURES, ParaphraseModel, features, fit
from tests.conftest import SHARED_DATA

MSRP_TRAIN = SHARED_DATA / "msrp_train.jsonl"


def test_shipped_weights_match_the_features():
    model = ParaphraseModel.load()
    assert len(model.weights) == len(FEATURES)
    assert 0.0 < model.threshold < 1.0


def test_features_are_symmetric_and_see_changed_numbers():
    a = "The company said profit rose 12 percent to $1.2 billion in the quarter."
    b = "Profit rose 12 percent to $1.2 billion in the quarter, the company said."
    c = "The company said profit rose 15 percent to $1.4 billion in the quarter."
    assert features(a, b) == features(b, a)
    differ = FEATURES.index("numbers_differ")
    assert (features(a, b)[differ], features(a, c)[differ]) == (0.0, 1.0)
    assert ParaphraseModel.load().weights[differ] < 0  # learned on MSRP: a changed figure counts against


@pytest.mark.shared_data("msrp_train.jsonl")
def test_fit_learns_from_a_train_slice():
    rows = [json.loads(line) for line in MSRP_TRAIN.read_text("utf-8").splitlines()[:300]]
    model = fit([(r["text1"], r["text2"], r["label"]) for r in rows], steps=300)
    right = sum(model.is_paraphrase(r["text1"], r["text2"]) == bool(r["label"]) for r in rows)
    assert right / len(rows) > 0.7
