"""Quote spans and their speakers (pipeline/facts/quotes.py), on strings and on the seed articles."""

from __future__ import annotations

import pytest

from pipeline.facts import find_quote_spans
from schemas.models import Facts
from tests.conftest import snippet
from tests.unit.facts.conftest import LOPEZ_OBRADOR


@pytest.mark.parametrize(
    ("paragraphs", "quotes"),
    [
        (
            ['"Now we have," Mr López Obrador said. "We have a proposal."'],
            ["Now we have,", "We have a proposal."],
        ),
        (["Mexico was “going to help, as we always do” to tackle it."], ["going to help, as we always do"]),
        # An unclosed quote continues into the next paragraph when that one opens with a mark.
        (
            ["“We are facing a challenge.", "“We need more resources,” he said."],
            ["We are facing a challenge. We need more resources,"],
        ),
        # ... and ends at the paragraph's end when the next one does not.
        (["He said “we will", "Next paragraph."], ["we will"]),
    ],
)
def test_find_quote_spans(paragraphs: list[str], quotes: list[str]) -> None:
    assert [q.text for q in find_quote_spans(paragraphs)] == quotes


def _quote(facts: Facts, start: str):
    matches = [q for q in facts.quotes if q.text.startswith(start)]
    assert matches, [q.text[:40] for q in facts.quotes]
    return matches[0]


@pytest.mark.parametrize(
    ("seed", "start", "speaker", "speaker_id", "verb"),
    [
        ("000", "We are facing a serious challenge", "Troy Miller", "person:troy-miller", "said"),
        ("000", "Now we have an extraordinary situation", "Mr López Obrador", LOPEZ_OBRADOR, "said"),
        # No cue of its own: continues the quote before it in the same paragraph.
        ("000", "We have a proposal to strengthen our plans", "Mr López Obrador", LOPEZ_OBRADOR, "said"),
        ("000", "going to help, as we always do", "Mr López Obrador", LOPEZ_OBRADOR, "told"),
        ("001", "We have to be careful", "Mr. López Obrador", LOPEZ_OBRADOR, "told"),
        ("001", "It is more efficient and more humane", "Mr. López Obrador", LOPEZ_OBRADOR, "told"),
        ("001", "we are facing a serious challenge", "Troy Miller", "person:troy-miller", "stated"),
        (
            "001",
            "unprecedented irregular migration",
            "the state department",
            "org:state-department",
            "according to",
        ),
        # "he said" resolves to the latest PERSON subject before it.
        ("002", "It is more efficient and more humane", "he", LOPEZ_OBRADOR, "said"),
        ("002", "Now we have an extraordinary situation", "he", LOPEZ_OBRADOR, "said"),
        ("002", "The migration issue is going to intensify", "he", LOPEZ_OBRADOR, "said"),
        ("002", "significant compromises", "He", "person:biden", "said"),
        ("002", "We are facing a serious challenge", "Troy Miller", "person:troy-miller", "said"),
        ("002", "removed or returned", "U.S. officials", None, "said"),
        ("003", "We were really impressed", "the official", None, "quoted"),
        ("003", "never draw conclusions", "The official", None, "added"),
        ("003", "shared challenges", "Mr Blinken", "person:antony-blinken", "said"),
        (
            "003",
            "structural causes of migration",
            "Mexico\u2019s Foreign Minister",
            "person:alicia-barcena",
            "told",
        ),
        ("004", "We now find ourselves", "he", LOPEZ_OBRADOR, "said"),
        (
            "004",
            "We face a serious challenge",
            "Troy Miller",
            "person:troy-miller",
            "said",
        ),  # "..., said Troy Miller"
        (
            "004",
            "restore humanity",
            "President Biden",
            "person:biden",
            "promised",
        ),  # "Biden, who ... promised"
    ],
)
def test_quote_speakers(seed_facts, seed, start, speaker, speaker_id, verb) -> None:
    q = _quote(seed_facts[seed], start)
    assert (q.speaker, q.speaker_entity_id, q.verb) == (speaker, speaker_id, verb)


def test_speaker_entity_ids_point_at_entities(seed_facts) -> None:
    for facts in seed_facts.values():
        ids = {e.entity_id for e in facts.entities}
        assert {q.speaker_entity_id for q in facts.quotes} - {None} <= ids


def test_scare_quotes_and_titles_are_not_quotes(seed_facts) -> None:
    texts = {q.text for f in seed_facts.values() for q in f.quotes}
    assert not texts & {"Exodus from poverty", "Remain in Mexico"}


def test_quote_over_a_paragraph_break(extractor) -> None:
    facts = extractor.extract(
        snippet(
            "Headline",
            "Troy Miller, the acting leader of the border agency, spoke on Friday.",
            "“We are facing a serious challenge along the southwest border.",
            "“Our federal partners need more resources from Congress,” Mr Miller said.",
        )
    )
    (q,) = facts.quotes
    assert q.text == (
        "We are facing a serious challenge along the southwest border. "
        "Our federal partners need more resources from Congress,"
    )
    assert (q.speaker, q.speaker_entity_id, q.verb) == ("Mr Miller", "person:troy-miller", "said")


def test_quote_paragraph_continues_previous_speaker(extractor) -> None:
    facts = extractor.extract(
        snippet(
            "Headline",
            "“The migration issue is going to intensify,” Andrés Manuel López Obrador said on Wednesday.",
            "“It is more efficient and more humane to invest in the development of the people.”",
        )
    )
    assert [(q.speaker, q.speaker_entity_id) for q in facts.quotes] == [
        ("Andrés Manuel López Obrador", LOPEZ_OBRADOR)
    ] * 2


# --- quotes located for evaluation -----------------------------------------------------------------


def test_located_quotes_give_content_speaker_and_attribution(extractor) -> None:
    paragraphs = [
        "Trump said that voting fraud is “a big, big problem” but “nobody has the guts to talk about it.”",
        "“We will win,” Pence said. “We will win big.”",
    ]
    (located,) = extractor.locate_quotes([snippet("Headline", *paragraphs)])
    assert [q.quote.text for q in located] == [
        "a big, big problem",
        "nobody has the guts to talk about it.",
        "We will win,",
        "We will win big.",
    ]
    # Partial quotes in one attributed clause, and a quote with its same-paragraph continuation,
    # are one attribution each.
    assert [q.attribution for q in located] == [0, 0, 1, 1]
    p, s, e = located[0].content[0]
    assert paragraphs[p][s:e].startswith("that voting fraud is")
    p, s, e = located[2].speaker_span
    assert paragraphs[p][s:e] == "Pence"
    assert located[3].speaker_span == located[2].speaker_span


@pytest.mark.parametrize(
    ("paragraphs", "speaker"),
    [
        (["Limbaugh continued: “They are demanding this, and they are putting pressure on.”"], "Limbaugh"),
        (
            ["“I would rather live in what he calls hell than anywhere else.” ― Adriana Rodarte"],
            "Adriana Rodarte",
        ),
        (["Flynn, a top Trump surrogate, said Thursday morning: “There is a lot of frustration.”"], "Flynn"),
    ],
)
def test_speakers_after_colons_and_dashes(extractor, paragraphs: list[str], speaker: str) -> None:
    (quote,) = extractor.extract(snippet("Headline", *paragraphs)).quotes
    assert quote.speaker == speaker
