"""Quantity claims (pipeline/stories/claims.py): which reported numbers are one figure, their ranges, and
the conflicts and corroborated values of a story, on the seeds' fixtures and the facts stage's real output."""

from __future__ import annotations

import pytest

from pipeline.stories import StoryIndex
from pipeline.stories.claims import interval
from schemas.models import Dedup, StorySnapshot
from tests.unit.stories.conftest import (
    claim_with,
    make_article,
    run,
    seed_articles,
)


def test_caravan_size_conflict_is_reported(story: StorySnapshot) -> None:
    caravan = claim_with(story.facts, 7000, 3000, 6000)
    assert "caravan" in caravan.claim
    assert caravan.counted == "people"
    # "removed or returned more than 400,000 people" is another claim.
    assert 400000 not in {v.value for v in caravan.values}
    assert caravan in story.conflicts
    about, at_least = (v for v in caravan.values if v.value == 7000)  # "about" and "at least" 7,000 differ
    assert (about.article_ids, at_least.article_ids) == (["a000", "a001", "a003"], ["a003"])
    assert next(v for v in caravan.values if v.value == 6000).high == 10000


def test_distance_conflict_is_reported(story: StorySnapshot) -> None:
    miles = claim_with(story.facts, 1000, 1600)
    assert miles.unit == "miles"
    assert miles in story.conflicts
    reports = {v.value: v.article_ids for v in miles.values}
    assert reports == {1000: ["a000", "a001", "a002", "a003"], 1600: ["a004"]}


def test_daily_crossings_are_a_claim_apart_and_agree(story: StorySnapshot) -> None:
    daily = claim_with(story.facts, 10000)
    assert "day" in daily.claim
    assert daily not in story.conflicts  # "up to 10,000" and "more than 10,000" meet at 10,000
    assert {a for v in daily.values for a in v.article_ids} == {"a000", "a001", "a002", "a003", "a004"}


def test_apprehensions_are_corroborated_by_two_independent_outlets(story: StorySnapshot) -> None:
    claim = claim_with(story.corroborated, 190000)
    (value,) = claim.values
    # "190,000 apprehensions" and "190,000 people were apprehended" (001) are one claim.
    assert value.article_ids == ["a000", "a001", "a002", "a003", "a004"]
    # BBC (000, its spin 001, its update 003) and 002 (with its spin 004).
    assert value.independent_reports == 2
    assert {"BBC News", "24World Media"} <= set(value.sources)
    assert claim not in story.conflicts


def test_spun_copies_do_not_corroborate() -> None:
    """BBC's report, a spin of it and BBC's own update are one report."""
    a000, a001, _, a003, _ = seed_articles()
    snapshot = run(StoryIndex(), [a000, a001, a003])[-1]
    assert snapshot.corroborated == []
    apprehensions = claim_with(snapshot.facts, 190000)
    assert apprehensions.values[0].independent_reports == 1


def test_same_outlet_counts_once() -> None:
    a000, *_ = seed_articles()
    unique = Dedup(relation="unique", similarity=0.0)
    other = a000.model_copy(update={"article_id": "a000-bis", "dedup": unique})
    snapshot = run(StoryIndex(), [a000, other])[-1]
    assert snapshot.corroborated == []


def test_articles_without_an_outlet_add_no_source_but_count_as_reports() -> None:
    a000, _, a002, *_ = seed_articles()
    anonymous = a002.model_copy(update={"source": None})  # unique, names no outlet: a report of its own
    snapshot = run(StoryIndex(), [a000, anonymous])[-1]
    assert snapshot.sources == ["BBC News"]
    (value,) = claim_with(snapshot.corroborated, 190000).values
    assert value.independent_reports == 2
    assert value.sources == ["BBC News"]
    alone = StoryIndex().tag(anonymous)
    assert alone.sources == []
    assert all(v.sources == [] for claim in alone.facts for v in claim.values)


CHIAPAS = "Officials in Chiapas said they expected the group to split up before it reached the border."


@pytest.mark.parametrize(
    ("sentence", "quantity", "same_claim"),
    [
        # A shared setting ("southern Mexico", "US border") does not make two million a caravan's size.
        (
            "More than two million people live in southern Mexico near the US border.",
            ("More than two million people", 2e6, "more than", None, "people"),
            False,
        ),
        # A similar value in a similar context is the same figure, reported differently: a conflict.
        (
            "Local officials said the caravan crossing southern Mexico has around 3,000 people.",
            ("around 3,000 people", 3000, "around", None, "people"),
            True,
        ),
        # Ten times off, but in the very same words: a disagreement (or a typo) about the same figure.
        (
            "A caravan of about 80,000 people is crossing southern Mexico toward the US border, a report says.",
            ("about 80,000 people", 80000, "about", None, "people"),
            True,
        ),
    ],
)
def test_values_far_outside_a_claim_join_it_only_on_strong_context(
    sentence: str, quantity: tuple, same_claim: bool
) -> None:
    first = make_article(
        "c001",
        "Caravan crosses Mexico",
        "A caravan of about 7,000 people is crossing southern Mexico toward the US border.\n" + CHIAPAS,
        source="Wire",
        quantities=(("about 7,000 people", 7000, "about", None, "people"),),
    )
    second = make_article(
        "c002",
        "Caravan crosses Mexico",
        sentence + "\n" + CHIAPAS,
        source="Other Wire",
        hours=1,
        quantities=(quantity,),
    )
    snapshot = run(StoryIndex(), [first, second])[-1]
    assert snapshot.article_ids == ["c001", "c002"]
    caravan = claim_with(snapshot.facts, 7000)
    assert (quantity[1] in {v.value for v in caravan.values}) is same_claim
    assert (caravan in snapshot.conflicts) is same_claim


@pytest.mark.parametrize(
    ("a", "b", "disagree"),
    [
        ((7000, None, "about"), (3000, None, "around"), True),
        ((7000, None, "about"), (6000, 10000, "between"), False),
        ((3000, None, "around"), (6000, 10000, "between"), True),
        ((7000, None, "roughly"), (7000, None, "at least"), False),
        ((1000, None, "about"), (1600, None, "about"), True),
        ((1000, None, "about"), (1100, None, None), False),
        ((10000, None, "up to"), (10000, None, "more than"), False),
        ((10000, None, "up to"), (12000, None, "more than"), True),
        ((190000, None, "more than"), (250000, None, None), False),
    ],
)
def test_qualifiers_set_the_range_of_a_value(a: tuple, b: tuple, disagree: bool) -> None:
    (lo_a, hi_a), (lo_b, hi_b) = interval(*a), interval(*b)
    assert (hi_a < lo_b or hi_b < lo_a) is disagree


def test_real_seeds_conflict_on_caravan_size_and_distance(real_story: StorySnapshot) -> None:
    values = [sorted((v.value, v.high or v.value) for v in claim.values) for claim in real_story.conflicts]
    assert sorted(values) == [
        [(1000, 1000), (1600, 1600)],  # about 1,000 miles (000, 001, 002, 003) vs about 1,600 (004)
        [(3000, 3000), (5000, 5000), (6000, 10000), (7000, 7000)],  # caravan: 7,000 vs 3,000, 5,000, 6-10,000
    ]
    caravan = claim_with(real_story.conflicts, 7000, 3000, 5000, 6000)
    assert "caravan" in caravan.claim


def test_real_seeds_corroborate_the_apprehensions(real_story: StorySnapshot) -> None:
    claim = claim_with(real_story.corroborated, 190000)
    (value,) = claim.values
    assert len(value.article_ids) == 5  # "190,000 apprehensions" and "190,000 people were apprehended"
    assert value.independent_reports == 2
    assert value.sources == ["BBC News", "24World Media"]
    assert claim not in real_story.conflicts


def test_real_seeds_keep_two_million_apprehended_apart(real_story: StorySnapshot) -> None:
    """ "The number of people apprehended ... exceeded two million" is a yearly total, not the caravan."""
    two_million = [c for c in real_story.facts if 2e6 in {v.value for v in c.values}]
    assert two_million
    for claim in two_million:
        assert {v.value for v in claim.values} == {2e6}
        assert claim not in real_story.conflicts
    assert any("apprehended" in c.claim for c in two_million)
