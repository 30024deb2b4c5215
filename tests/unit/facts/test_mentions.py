"""Entity mentions as the stage reads them off a parse (pipeline/facts/mentions.py)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("sentence", "spans"),
    [
        # A capitalised "The" is part of the name as CoNLL marks it; a role opening a sentence is not.
        ("The Hague said on Monday it would appeal.", [("The Hague", "GPE")]),
        ("Coach Berti Vogts named his squad.", [("Berti Vogts", "PERSON")]),
        (
            "He will miss England 's match against former Yugoslavia .",
            [("England", "GPE"), ("Yugoslavia", "GPE")],
        ),
    ],
)
def test_entity_spans_keep_conll_boundaries(extractor, sentence: str, spans) -> None:
    from spacy.tokens import Doc

    (doc,) = extractor.nlp.pipe([Doc(extractor.nlp.vocab, words=sentence.split())])
    (found,) = extractor.entity_spans([doc])
    assert [(doc[s:e].text, label) for s, e, label in found] == spans
