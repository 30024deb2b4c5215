"""The tune/check cut of the development files: deterministic, about half each, whole documents."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pipeline.evals.facts import read_conll, read_conll_documents
from pipeline.evals.paraphrase import paraphrase
from pipeline.evals.split import PARTS, part_of, select
from tests.conftest import last_json

CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O

BRUSSELS NNP B-NP B-LOC
1996-08-22 CD I-NP O
"""


def test_a_key_always_falls_in_the_same_part_and_keys_split_about_evenly() -> None:
    keys = [f"doc-{i}" for i in range(2000)]
    parts = [part_of(key) for key in keys]
    assert parts == [part_of(key) for key in keys]
    assert set(parts) == set(PARTS)
    assert 900 <= parts.count("tune") <= 1100


def test_select_keeps_order_and_the_whole_file_without_a_split() -> None:
    rows = [{"id": i} for i in range(50)]
    tune = select(rows, lambda r: str(r["id"]), "tune")
    check = select(rows, lambda r: str(r["id"]), "check")
    assert select(rows, lambda r: str(r["id"]), None) == rows
    assert sorted(tune + check, key=lambda r: r["id"]) == rows
    assert tune == sorted(tune, key=lambda r: r["id"]) and not {r["id"] for r in tune} & {
        r["id"] for r in check
    }
    with pytest.raises(ValueError, match="not one of"):
        select(rows, lambda r: str(r["id"]), "test")


def test_conll_sentences_carry_their_documents_key(tmp_path) -> None:
    path = tmp_path / "conll.txt"
    path.write_text(CONLL, encoding="utf-8")
    documents = read_conll_documents(path)
    assert [key for key, _ in documents] == ["EU rejects", "EU rejects", "BRUSSELS 1996-08-22"]
    assert [sentence for _, sentence in documents] == read_conll(path)
    assert documents[1][1] == (["Peter", "Blackburn"], [(0, 2, "PER")])


def test_eval_paraphrase_scores_the_two_parts_apart(tmp_path) -> None:
    path = tmp_path / "pairs.jsonl"
    rows = [
        {
            "pair_index": i,
            "label": i % 2,
            "text1": f"Profit rose {i} percent.",
            "text2": f"Profit rose {i} percent.",
        }
        for i in range(40)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    counts = {}
    for part in (*PARTS, None):
        args = [str(path)] + (["--split", part] if part else [])
        result = CliRunner().invoke(paraphrase, args)
        assert result.exit_code == 0, result.output
        counts[part] = last_json(result.output)["pairs"]
    expected = sum(part_of(str(i)) == "tune" for i in range(40))
    assert (counts["tune"], counts["check"], counts[None]) == (expected, 40 - expected, 40)
