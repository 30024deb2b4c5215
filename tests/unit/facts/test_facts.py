"""The facts core on real snippets of the seed articles (five versions of one story)."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime

import dateparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.facts import (
    AliasReads,
    FactExtractor,
    canonical_name,
    capped_texts,
    entity_id,
    find_quote_spans,
    fold,
    parse_number,
    resolve_date,
    truecase_headline,
)
from schemas.models import Facts
from tests.conftest import PUBLISHED, snippet
from tests.conftest import seed_snippets as article

LOPEZ_OBRADOR = "person:andres-manuel-lopez-obrador"


@pytest.fixture(scope="module")
def extractor() -> FactExtractor:
    return FactExtractor()


@pytest.fixture(scope="module")
def seed_facts(extractor: FactExtractor) -> dict[str, Facts]:
    seeds = ["000", "001", "002", "003", "004"]
    return dict(zip(seeds, extractor.extract_many([article(s) for s in seeds]), strict=True))


# --- pure helpers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("two million", 2_000_000),
        ("190,000", 190_000),
        ("1.5 billion", 1_500_000_000),
        ("$2 million", 2_000_000),
        ("1.5bn", 1_500_000_000),
        ("fourteen", 14),
        ("twenty-five", 25),
        ("a dozen", 12),
        ("7,000", 7_000),
        ("40%", 40),
        ("fiscal", None),
        ("24World", None),
        ("", None),
    ],
)
def test_parse_number(text: str, value: float | None) -> None:
    assert parse_number(text) == value


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
    assert fold("López\u2019s") == "lopez s"


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


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Wednesday", "2023-12-27"),  # the publication day itself: day names mean the latest such day
        ("Wednesday\u2019s", "2023-12-27"),
        ("Friday", "2023-12-22"),
        ("Sunday", "2023-12-24"),
        ("Christmas Eve", "2023-12-24"),
        ("November", "2023-11"),
        ("last week", "2023-W51"),
        ("earlier this week", "2023-W52"),
        ("next year", "2024"),
        ("2024", "2024"),
        ("the 2023 fiscal years", "2023"),
        ("1 year ago", "2022"),
        ("December 5, 2023", "2023-12-05"),
        ("recent weeks", None),
        ("between May and the end of November", None),
        # What the NER calls a DATE and is not one: a bare number (dateparser made "1419" the year 1419)
        # and an age.
        ("1419", None),
        ("12", None),
        ("33-year-old", None),
        ("age 28", None),
        ("10 months old", None),
    ],
)
def test_resolve_date_with_published_at(text: str, value: str | None) -> None:
    assert resolve_date(text, PUBLISHED) == value


@settings(max_examples=300, deadline=None)
@given(
    weekday=st.sampled_from(["", "Monday, ", "Sunday ", "Thursday, "]),
    month=st.sampled_from(["January", "Feb.", "Feb", "March", "Sept.", "sep", "December", "MAY", "Jun"]),
    day=st.integers(min_value=0, max_value=32),
    suffix=st.sampled_from(["", "th", "st"]),
    year=st.sampled_from(["", ", 2017", " 1999", ", 2024"]),
    published=st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 12, 31)),
)
def test_month_day_dates_read_as_dateparser_reads_them(weekday, month, day, suffix, year, published) -> None:
    # The common "Monday, Aug. 10" forms skip dateparser (5 ms a call): the same dates, or None alike.
    text = f"{weekday}{month} {day}{suffix}{year}"
    at = datetime(published.year, published.month, published.day, 12, tzinfo=UTC)
    theirs = dateparser.parse(
        text,
        languages=["en"],
        settings={
            "PREFER_DATES_FROM": "past",
            "RETURN_AS_TIMEZONE_AWARE": False,
            "RELATIVE_BASE": datetime(published.year, published.month, published.day, 12),  # noqa: DTZ001
        },
    )
    assert resolve_date(text, at) == (theirs.date().isoformat() if theirs else None)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Wednesday", None),
        ("last week", None),
        ("November", None),
        ("2024", "2024"),
        ("Dec. 5, 2023", "2023-12-05"),
    ],
)
def test_resolve_date_without_published_at(text: str, value: str | None) -> None:
    assert resolve_date(text, None) == value


# --- entities --------------------------------------------------------------------------------------


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


# --- quantities ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "text", "value", "high", "qualifier", "unit", "counted"),
    [
        ("000", "more than 190,000 apprehensions", 190_000, None, "more than", None, "apprehensions"),
        ("000", "exceeded two million", 2_000_000, None, "more than", None, "people"),
        ("000", "up to 10,000 people", 10_000, None, "up to", None, "people"),
        ("000", "about 7,000 people", 7_000, None, "about", None, "people"),
        ("000", "about 1,000 miles", 1_000, None, "about", "miles", None),
        ("001", "over 190,000 people", 190_000, None, "over", None, "people"),
        ("001", "more than two million persons", 2_000_000, None, "more than", None, "persons"),
        ("001", "roughly 7,000 migrants", 7_000, None, "roughly", None, "migrants"),
        ("002", "around 3,000 people", 3_000, None, "around", None, "people"),
        ("002", "approximately 5,000 people", 5_000, None, "approximately", None, "people"),
        ("002", "more than 400,000 people", 400_000, None, "more than", None, "people"),
        ("003", "At least 7,000 migrants", 7_000, None, "at least", None, "migrants"),
        ("003", "14 buses", 14, None, None, None, "buses"),
        ("004", "between 6,000 and 10,000 people", 6_000, 10_000, "between", None, "people"),
        ("004", "about 1,600 miles", 1_600, None, "about", "miles", None),
    ],
)
def test_quantities(seed_facts, seed, text, value, high, qualifier, unit, counted) -> None:
    matches = [q for q in seed_facts[seed].quantities if q.text == text]
    assert matches, [q.text for q in seed_facts[seed].quantities]
    q = matches[0]
    assert (q.value, q.high, q.qualifier, q.unit, q.counted) == (value, high, qualifier, unit, counted)
    assert text in q.sentence


@pytest.mark.parametrize(
    "sentence",
    [
        "It would play a significant role in the US election of 2024.",
        "In both the fiscal years 2022 and 2023, there were more than two million persons detained.",
        "Speaking ahead of the summit he warned that it could become a key issue in the 2024 US election.",
        "Additionally, for the first time on Wednesday, Eric Adams signed an order.",
        "Later, during the institution of Title 42, Mexico agreed to take in migrants.",
    ],
)
def test_no_quantities_for_years_ordinals_or_names(extractor, sentence: str) -> None:
    values = {q.value for q in extractor.extract(snippet("Headline", sentence)).quantities}
    assert not values & {2024, 2022, 2023, 1, 42}


@pytest.mark.parametrize(
    ("headline", "body", "expected"),
    [
        (
            "Obama Reverses Bush on Species Protection Measure",
            "President Obama restored the rule that Bush had cut under the Endangered Species Act.",
            "Obama reverses Bush on Species protection measure",
        ),
        (
            "SUSPENDED WORKER KILLS 2 WOMEN IN KRAFT FACTORY",
            "A suspended worker shot two women at a Kraft plant.",
            "Suspended worker kills 2 women in Kraft factory",
        ),
        (
            "CHARGERS' RECEIVER ARRESTED ON FRIDAY",
            "The receiver of the Chargers was held.",
            "Chargers' receiver arrested on Friday",
        ),
        # Not title case, or the body writes it the same way (a headline-only feed): unchanged.
        (
            "Waitrose in Wellington catches fire",
            "A Waitrose in Wellington burned.",
            "Waitrose in Wellington catches fire",
        ),
        (
            "US Open: Stocks Fall After Fed Hints",
            "US Open: Stocks Fall After Fed Hints",
            "US Open: Stocks Fall After Fed Hints",
        ),
    ],
)
def test_truecase_headline(headline: str, body: str, expected: str) -> None:
    assert truecase_headline(headline, body) == expected
    assert len(truecase_headline(headline, body)) == len(headline)


def test_a_title_case_headline_names_no_run_of_capitalised_words(extractor) -> None:
    facts = extractor.extract(
        snippet(
            "Obama Reverses Bush on Species Protection Measure",
            "President Barack Obama on Tuesday restored a rule that President George W. Bush had cut.",
        )
    )
    names = {e.text for e in facts.entities}
    assert not any("Reverses" in n or "Protection" in n for n in names), names
    assert {"person:barack-obama", "person:george-bush"} <= {e.entity_id for e in facts.entities}


@pytest.mark.parametrize(
    ("sentence", "value", "unit", "qualifier"),
    [
        ("The program cost $1.5 billion last year.", 1.5e9, "USD", None),
        ("Apprehensions fell by nearly 40% in January.", 40, "percent", "nearly"),
        ("Bus companies must give 32 hours' notice.", 32, "hours", None),
    ],
)
def test_quantity_units(extractor, sentence: str, value: float, unit: str, qualifier: str | None) -> None:
    (q,) = extractor.extract(snippet("Headline", sentence)).quantities
    assert (q.value, q.unit, q.qualifier) == (value, unit, qualifier)


# --- quotes ----------------------------------------------------------------------------------------


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


# --- dates -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "text", "value"),
    [
        ("000", "Wednesday", "2023-12-27"),
        ("000", "Friday", "2023-12-22"),
        ("000", "November", "2023-11"),
        ("000", "Christmas Eve", "2023-12-24"),
        ("000", "earlier this week", "2023-W52"),
        ("001", "last week", "2023-W51"),
        ("001", "2024", "2024"),
        ("002", "Sunday", "2023-12-24"),
        ("002", "next year", "2024"),
    ],
)
def test_dates_with_published_at(seed_facts, seed: str, text: str, value: str) -> None:
    assert {d.text: d.value for d in seed_facts[seed].dates}[text] == value


def test_dates_without_published_at(extractor) -> None:
    facts = extractor.extract(article("000", published_at=None))
    values = {d.text: d.value for d in facts.dates}
    assert values["Wednesday"] is None
    assert values["November"] is None
    assert values["2022"] == "2022"


def test_durations_and_frequencies_are_not_dates(seed_facts) -> None:
    texts = {d.text for f in seed_facts.values() for d in f.dates}
    assert not texts & {"32 hours", "months", "each day", "every day"}


# --- the API ---------------------------------------------------------------------------------------


def test_extract_equals_extract_many(extractor, seed_facts) -> None:
    assert extractor.extract(article("002")) == seed_facts["002"]


def test_empty_article(extractor) -> None:
    assert extractor.extract(snippet("", "")) == Facts()


# --- the bound on an article's text ------------------------------------------------------------------


@given(
    st.lists(st.text(alphabet="ab .!?\u201d\n", max_size=60), min_size=1, max_size=12),
    st.integers(min_value=1, max_value=300),
)
def test_capped_texts_are_the_texts_read_up_to_the_bound(texts: list[str], max_chars: int) -> None:
    capped = capped_texts(texts, max_chars)
    assert 1 <= len(capped) <= len(texts)
    assert sum(map(len, capped)) <= max_chars
    assert capped[:-1] == texts[: len(capped) - 1]  # whole texts, in order, then ...
    assert texts[len(capped) - 1].startswith(capped[-1])  # ... the first of the last one
    if sum(map(len, texts)) <= max_chars:
        assert capped == texts


def test_capped_texts_cut_after_a_sentence_then_at_a_space() -> None:
    paragraph = "The caravan left on Monday. \u201cWe walk,\u201d she said. About 7,000 people"
    assert capped_texts(["Head", paragraph, "Next."], 4 + 40) == ["Head", "The caravan left on Monday."]
    assert capped_texts(["Head", paragraph], 4 + len(paragraph) - 3) == [
        "Head",
        "The caravan left on Monday. \u201cWe walk,\u201d she said.",
    ]
    # No sentence fits: a later paragraph is dropped, the first cut at a space, the headline mid-word.
    assert capped_texts(["Head", "First.", "no sentence end here"], 4 + 6 + 14) == ["Head", "First."]
    assert capped_texts(["Head", "no sentence end here at all"], 4 + 14) == ["Head", "no sentence"]
    assert capped_texts(["Head", "x" * 40], 10) == ["Head"]
    assert capped_texts(["Headline" * 10, "Body."], 10) == ["HeadlineHe"]
    assert capped_texts(["a", "b"], None) == ["a", "b"]


def test_facts_of_a_long_article_are_read_from_its_first_max_chars(extractor) -> None:
    long = article("001")
    bound = len(long.headline) + sum(len(p) for p in long.paragraphs[:3]) + 10
    capped = FactExtractor(max_chars=bound)
    assert capped.truncates(long) and not extractor.truncates(long)
    assert not capped.truncates(snippet(long.headline, *long.paragraphs[:3]))
    texts = capped.texts(long)
    assert texts == [long.headline, *long.paragraphs[:3]]  # the fourth crossed the bound by more than 10
    lead = snippet(long.headline, *long.paragraphs[:3], article_id="001")
    assert capped.extract(long) == extractor.extract(lead)
    assert capped.extract(long) != extractor.extract(long)  # the rest of the seed has facts of its own
    with pytest.raises(ValueError, match="max_chars"):
        FactExtractor(max_chars=0)


def test_a_long_article_is_read_in_two_passes_from_inline_chars(extractor) -> None:
    long = article("001")
    bound = len(long.headline) + sum(len(p) for p in long.paragraphs[:3]) + 10
    split = copy.copy(extractor)  # the same spaCy pipeline
    split.inline_chars = bound
    assert split.splits(long) and not extractor.splits(long)
    assert not split.splits(snippet(long.headline, *long.paragraphs[:3]))
    assert split.texts(long, head=True) == [long.headline, *long.paragraphs[:3]]
    assert split.texts(long) == extractor.texts(long)  # the whole, up to max_chars
    lead = snippet(long.headline, *long.paragraphs[:3], article_id="001")
    assert split.assemble(long, split.parse(long, head=True)) == extractor.extract(lead)
    split.max_chars = bound  # nothing past max_chars to read: one pass
    assert not split.splits(long)
    with pytest.raises(ValueError, match="inline_chars"):
        FactExtractor(inline_chars=0)


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


def test_bad_model_name_says_how_to_fix() -> None:
    with pytest.raises(ValueError, match="installed spaCy package"):
        FactExtractor(model="")


# --- the CoNLL name tagger beside the OntoNotes NER ------------------------------------------------


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
    assert [(doc[s:e].text, label) for s, e, label in extractor.entity_spans(doc)] == spans


# --- quantities as NewsQuant counts them -----------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("MIT researchers say nuclear fusion will feed the grid in 15 years.", [(15, None, "years", None)]),
        ("A year ago petrol averaged roughly $2.11 per gallon.", [(2.11, None, "USD per gallon", None)]),
        ("Vecturas shares rose 6.5% to 164p.", [(6.5, None, "percent", None), (164, None, "pence", None)]),
        ("It marked a record in March with sales of 5835 units.", [(5835, None, None, "units")]),
        (
            "A fine of 10.5 million Australian dollars was set.",
            [(10_500_000, None, "Australian dollars", None)],
        ),
        ("Rimasauskas, a 50 year-old man, pled guilty.", [(50, None, "years of age", None)]),
        ("It was one of the most spectacular catches ever.", [(1, None, None, "catches")]),
        # Numbers in names are not quantities.
        ("Campbells team was picked to finish behind Oklahoma in the Big 12.", []),
        ("In the S P 500 utilities are holding up better.", []),
        ("We went hands-on with the new Apple Watch 5 to see if it is special.", []),
        (
            "The Popolocas built the temple at a complex known as Ndachjian-Tehuacan between A.D. 1000 "
            "and 1260 and were later conquered by the Aztecs.",
            [],
        ),
    ],
)
def test_quantities_newsquant_style(extractor, sentence: str, expected) -> None:
    quantities = extractor.extract(snippet("", sentence)).quantities
    assert [(q.value, q.high, q.unit, q.counted) for q in quantities] == expected


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


def test_parse_then_assemble_is_extract(extractor, seed_facts) -> None:
    # The worker parses in a thread and assembles in the event loop: the same facts as extract_many's.
    assembled = {s: extractor.assemble(article(s), extractor.parse(article(s))) for s in seed_facts}
    assert assembled == seed_facts
