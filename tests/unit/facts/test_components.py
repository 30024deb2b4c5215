"""The CoNLL name tagger beside the OntoNotes NER (pipeline/facts/components.py)."""

from __future__ import annotations

import pytest

from pipeline.facts import FactExtractor


def test_names_come_from_the_conll_tagger_with_ontonotes_labels(extractor) -> None:
    doc = extractor.nlp(
        "Antony Blinken met Andrés Manuel López Obrador in Mexico City on Wednesday, the State Department said."
    )
    ents = {e.text: e.label_ for e in doc.ents}
    assert ents["Antony Blinken"] == ents["Andrés Manuel López Obrador"] == "PERSON"
    assert ents["State Department"] == "ORG"
    assert ents["Mexico City"] == "GPE"  # LOC from the tagger, GPE from the OntoNotes model
    assert ents["Wednesday"] == "DATE"  # dates and numbers stay the OntoNotes model's
    assert "ontonotes" in doc.spans


def test_without_the_name_tagger_the_ontonotes_model_names(extractor) -> None:
    plain = FactExtractor(names_model=None)
    assert "names" not in plain.nlp.pipe_names
    assert "names" in extractor.nlp.pipe_names


def test_missing_name_tagger_says_how_to_fix(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"pipeline\.training\.ner"):
        FactExtractor(names_model=tmp_path)


def test_a_hyphenated_name_is_one_person(extractor) -> None:
    doc = extractor.nlp(
        "Wednesday's meeting also included Alejandro N. Mayorkas, the homeland security secretary, and "
        "Liz Sherwood-Randall, the White House homeland security adviser."
    )
    people = [e.text for e in doc.ents if e.label_ == "PERSON"]
    assert people == ["Alejandro N. Mayorkas", "Liz Sherwood-Randall"]


def test_names_of_other_kinds_stay_apart_across_a_hyphen(extractor) -> None:
    doc = extractor.nlp("Diplomats met over the Israel-Hamas war on Monday.")
    ents = {e.text: e.label_ for e in doc.ents}
    assert "Israel" in ents and "Hamas" in ents
