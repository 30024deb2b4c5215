"""Mentions merged into entities, within an article and across articles through the alias memory
(pipeline/facts/aliases.py), on the seed articles."""

from __future__ import annotations

import pytest

from pipeline.facts import AliasReads, FactExtractor
from schemas.models import Facts
from tests.conftest import seed_snippets as article
from tests.conftest import snippet
from tests.unit.facts.conftest import LOPEZ_OBRADOR


def _entity(facts: Facts, eid: str):
    matches = [e for e in facts.entities if e.entity_id == eid]
    assert matches, f"{eid} not in {[e.entity_id for e in facts.entities]}"
    return matches[0]


@pytest.mark.parametrize(
    ("seed", "eid", "text", "min_count"),
    [
        # "President Andrés Manuel López Obrador" ... "Mr López Obrador" (tagged "López" + untagged "Obrador")
        ("000", LOPEZ_OBRADOR, "Andrés Manuel López Obrador", 4),
        ("001", LOPEZ_OBRADOR, "Andrés Manuel López Obrador", 4),  # "Mr. Lopez Obrador" without accents
        ("002", LOPEZ_OBRADOR, "Andrés Manuel López Obrador", 2),  # "Mr. López" tagged alone
        ("003", LOPEZ_OBRADOR, "Andrés Manuel López Obrador", 3),  # also "Andres Manuel Lopez Obrador (C)"
        ("004", LOPEZ_OBRADOR, "Andrés Manuel López Obrador", 2),  # "López Obrador briefed" tagged ORG
        ("002", "person:antony-blinken", "Antony J. Blinken", 1),  # tagged "State" + "J. Blinken"
        ("004", "person:antony-blinken", "Antony J. Blinken", 4),  # "Blinken" alone, once tagged GPE
        ("000", "person:antony-blinken", "Antony Blinken", 2),
        ("000", "org:us-customs-and-border-protection", "US Customs and Border Protection", 2),  # + [CBP]
        ("002", "org:us-customs-and-border-protection", "U.S. Customs and Border Protection", 2),  # + C.B.P.
        ("004", "org:us-customs-and-border-protection", "U.S. Customs and Border Protection", 2),  # + CBP
        ("000", "place:united-states", "United States", 10),  # US, the United States
        ("002", "place:united-states", "United States", 5),  # U.S., the United States
        ("002", "org:united-nations", "U.N.", 1),
        ("002", "person:greg-abbott", "Greg Abbott", 1),  # "Gov. Greg Abbott"
        ("003", "person:alicia-barcena", "Alicia Barcena", 2),  # not "Foreign Affairs Alicia Barcena"
    ],
)
def test_entities_merge_within_article(seed_facts, seed: str, eid: str, text: str, min_count: int) -> None:
    entity = _entity(seed_facts[seed], eid)
    assert entity.text == text
    assert entity.count >= min_count


def test_entities_have_no_fragments_or_numbers(seed_facts) -> None:
    for facts in seed_facts.values():
        labels = {e.label for e in facts.entities}
        assert not labels & {"CARDINAL", "DATE", "MONEY", "QUANTITY", "PERCENT", "ORDINAL", "TIME"}
        texts = {e.text for e in facts.entities}
        assert not texts & {"State", "Obrador", "López", "CBP", "C.B.P.", "Blinken"}


def test_one_entity_id_per_person_across_articles(seed_facts) -> None:
    for seed in ["000", "001", "002", "003", "004"]:
        ids = {e.entity_id for e in seed_facts[seed].entities if "obrador" in e.entity_id}
        assert ids == {LOPEZ_OBRADOR}, seed


def test_alias_memory_resolves_surnames_and_labels_across_articles(extractor: FactExtractor) -> None:
    fresh = FactExtractor(aliases={})
    fresh.nlp = extractor.nlp  # share the loaded model; the memory is what's under test
    first, later = fresh.extract_many(
        [
            snippet("Talks", "President Joe Biden met Mexican President Andrés Manuel López Obrador."),
            snippet("Talks", "Mr Biden and Mr López Obrador agreed, Alejandro Mayorkas said."),
        ]
    )
    assert {e.entity_id for e in first.entities} >= {"person:joe-biden", LOPEZ_OBRADOR}
    later_ids = {e.entity_id: e for e in later.entities}
    assert later_ids["person:joe-biden"].canonical == "Joe Biden"
    assert later_ids[LOPEZ_OBRADOR].canonical == "Andrés Manuel López Obrador"
    assert fresh.aliases["person:biden"] == "Joe Biden"


def test_without_memory_a_bare_surname_stays_a_surname(seed_facts) -> None:
    assert _entity(seed_facts["002"], "person:biden").canonical == "Biden"


def test_alias_reads_keep_what_the_memory_held_before_the_article_wrote(extractor) -> None:
    memory = {"person:blinken": "Antony J. Blinken", "place:mexico": "Mexico"}
    reads = AliasReads(memory)
    assert reads.get("person:blinken") == "Antony J. Blinken"
    assert "person:nobody" not in reads  # a miss is not kept: the memory did not hold it
    reads["person:nobody"] = "Nobody"
    assert reads["person:nobody"] == "Nobody" and memory["person:nobody"] == "Nobody"  # written through
    assert reads.seen == {"person:blinken": "Antony J. Blinken"}
    # The whole article read with what its head read resolves names as the head did.
    long = article("000")
    head_memory = AliasReads({"person:antony blinken": "Antony J. Blinken"})
    head = extractor.assemble(long, extractor.parse(long), head_memory)
    whole = extractor.assemble(long, extractor.parse(long), dict(head_memory.seen))
    assert whole == head
    assert "Antony J. Blinken" in {e.canonical for e in whole.entities}
