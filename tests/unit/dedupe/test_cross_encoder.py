"""The sentence-pair cross-encoder: the shipped int8 ONNX model, its tokenizer and its batching."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from pipeline.dedupe.cross_encoder import MODEL_DIR, CrossEncoder
from tests.conftest import REPO

# A rewrite of one wire sentence, the same story told with other facts, and copy about something else.
REWRITE = (
    "The company said quarterly profit rose 12 percent to $1.2 billion, beating analysts' forecasts.",
    "Quarterly profit climbed 12 percent to $1.2 billion, ahead of analysts' forecasts, the company said.",
)
UNRELATED = (
    "The company said quarterly profit rose 12 percent to $1.2 billion, beating analysts' forecasts.",
    "Heavy rain flooded roads across the north of the country on Sunday, closing two schools.",
)
PAIRS = [
    REWRITE,
    UNRELATED,
    (
        "Blinken arrived in Mexico City on Wednesday.",
        "The secretary of state landed in Mexico City on Wednesday.",
    ),
    (
        "Shares fell 3 percent.",
        "Shares fell 3 percent in early trading on the Nasdaq after the report was released.",
    ),
    ("", "An empty sentence on one side still scores."),
]


@pytest.fixture(scope="module")
def model() -> CrossEncoder:
    return CrossEncoder.load()


def test_shipped_model_loads_with_its_metadata(model):
    meta = json.loads((MODEL_DIR / "meta.json").read_text("utf-8"))
    assert 0.0 < model.threshold < 1.0
    assert model.max_length == meta["max_length"] <= 512
    assert (MODEL_DIR / "model.onnx").stat().st_size <= 30 * 2**20  # the wheel carries it


def test_probabilities_are_one_per_pair_in_zero_one(model):
    p = model.probabilities(PAIRS)
    assert p.shape == (len(PAIRS),)
    assert p.dtype == np.float32
    assert np.all((p >= 0.0) & (p <= 1.0))
    assert model.probabilities([]).shape == (0,)


def test_a_rewrite_scores_above_unrelated_copy(model):
    rewrite, unrelated = model.probabilities([REWRITE, UNRELATED])
    assert rewrite > unrelated
    assert model.is_paraphrase(*REWRITE)
    assert not model.is_paraphrase(*UNRELATED)


def test_batching_and_padding_leave_the_scores_alone(model):
    one_by_one = np.array([model.probability(a, b) for a, b in PAIRS])
    for batch_size in (2, 32):
        np.testing.assert_allclose(model.probabilities(PAIRS, batch_size=batch_size), one_by_one, atol=1e-5)


def test_long_pairs_are_truncated_not_refused(model):
    long = " ".join(["The minister said the talks would continue next week."] * 80)
    assert 0.0 <= model.probability(long, long) <= 1.0


def test_bad_arguments_say_what_to_pass(tmp_path):
    with pytest.raises(ValueError, match="threads"):
        CrossEncoder(threads=0)
    with pytest.raises(FileNotFoundError, match=r"pipeline\.training\.cross_encoder"):
        CrossEncoder(tmp_path)


def test_scoring_imports_neither_torch_nor_transformers():
    script = (
        "import sys\n"
        "from pipeline.dedupe.cross_encoder import CrossEncoder\n"
        "CrossEncoder.load().probabilities([('a', 'b')])\n"
        "print(sorted({'torch', 'transformers'} & set(sys.modules)))\n"
    )
    # The checkout first, so the child imports the code under test and not an installed copy.
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env
    )
    assert result.stdout.strip() == "[]"
