"""Canonical names and entity ids (pipeline/facts/names.py)."""

from __future__ import annotations

import pytest

from pipeline.facts import canonical_name, entity_id
from pipeline.text import name_key
from tests.unit.facts.conftest import LOPEZ_OBRADOR


@pytest.mark.parametrize(
    ("text", "label", "canonical"),
    [
        ("Antony J. Blinken", "PERSON", "Antony Blinken"),
        ("Secretary of State Antony Blinken", "PERSON", "Antony Blinken"),
        ("Mr. López Obrador's", "PERSON", "López Obrador"),
        ("Gov. Greg Abbott", "PERSON", "Greg Abbott"),
        ("President Andrés Manuel López Obrador", "PERSON", "Andrés Manuel López Obrador"),
        ("U.S.", "GPE", "United States"),
        ("US", "GPE", "United States"),
        ("the United States", "GPE", "United States"),
        ("U.N.", "ORG", "United Nations"),
        ("C.B.P.", "ORG", "CBP"),
        ("U.S. Customs and Border Protection", "ORG", "US Customs and Border Protection"),
        ("the White House", "ORG", "White House"),
    ],
)
def test_canonical_name(text: str, label: str, canonical: str) -> None:
    assert canonical_name(text, label) == canonical


def test_entity_id_ignores_accents_and_case_but_not_kind() -> None:
    assert entity_id("Andrés Manuel López Obrador", "PERSON") == LOPEZ_OBRADOR
    assert entity_id("Andres Manuel Lopez Obrador", "PERSON") == LOPEZ_OBRADOR
    assert entity_id("Mexico", "GPE") == entity_id("mexico", "LOC") == "place:mexico"
    assert entity_id("Washington", "GPE") != entity_id("Washington", "PERSON")
    assert name_key("López\u2019s") == "lopez s"
