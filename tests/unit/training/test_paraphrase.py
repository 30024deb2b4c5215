"""`python -m pipeline.training.paraphrase` refits the paraphrase model from an MSRP-layout file."""

from __future__ import annotations

import json
import sys

from pipeline.dedupe.paraphrase import ParaphraseModel
from pipeline.training import paraphrase as training

PAIRS = [
    ("The caravan set off from Tapachula on Sunday.", "On Sunday the caravan left Tapachula.", 1),
    ("Blinken met López Obrador in Mexico City.", "López Obrador met Blinken in Mexico City.", 1),
    ("The caravan set off from Tapachula on Sunday.", "Border arrests topped 190,000 in November.", 0),
    ("Blinken met López Obrador in Mexico City.", "Rail crossings in Texas reopened on Thursday.", 0),
]


def test_refits_and_writes_a_model_that_loads(tmp_path, monkeypatch, capsys) -> None:
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps({"text1": a, "text2": b, "label": y}) + "\n" for a, b, y in PAIRS))
    out = tmp_path / "paraphrase.json"
    monkeypatch.setattr(sys, "argv", ["paraphrase", str(train), "--out", str(out)])
    training.main()
    assert f"wrote {out}" in capsys.readouterr().out
    model = ParaphraseModel.load(out)
    assert training.read_pairs(train) == PAIRS
    assert [model.is_paraphrase(a, b) for a, b, _ in PAIRS] == [True, True, False, False]
