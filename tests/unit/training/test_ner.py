"""The CoNLL tagger's trainer (pipeline/training/ner.py): which dev sentences pick its epoch."""

from __future__ import annotations

import spacy

from pipeline.evals.split import part_of
from pipeline.training.ner import _examples


def _conll(documents: list[list[str]]) -> str:
    """A CoNLL-2003 file of one-sentence documents, every word a person's name."""
    blocks = ["-DOCSTART- -X- -X- O\n"]
    for words in documents:
        blocks.append("\n".join(f"{w} NNP B-NP I-PER" for w in words) + "\n")
        blocks.append("-DOCSTART- -X- -X- O\n")
    return "\n".join(blocks)


def test_the_epoch_is_picked_on_the_dev_documents_of_one_part(tmp_path) -> None:
    documents = [[f"Name{i}", "Surname"] for i in range(12)]
    path = tmp_path / "dev.txt"
    path.write_text(_conll(documents), "utf-8")
    nlp = spacy.blank("en")
    keys = [" ".join(words) for words in documents]
    for part in ("tune", "check"):
        picked = [[t.text for t in e.reference] for e in _examples(nlp, path, part)]
        assert picked == [words for words, key in zip(documents, keys, strict=True) if part_of(key) == part]
    whole = _examples(nlp, path)
    assert len(whole) == len(documents)
    assert [(e.start, e.end, e.label_) for e in whole[0].reference.ents] == [(0, 2, "PER")]
