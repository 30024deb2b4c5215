"""The extractor's API and the bound on an article's text (pipeline/facts/extractor.py), on the seed articles."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.facts import FactExtractor, capped_texts
from schemas.models import Facts
from tests.conftest import seed_snippets as article
from tests.conftest import snippet


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


def test_bad_model_name_says_how_to_fix() -> None:
    with pytest.raises(ValueError, match="installed spaCy package"):
        FactExtractor(model="")


def test_parse_then_assemble_is_extract(extractor, seed_facts) -> None:
    # The worker parses in a thread and assembles in the event loop: the same facts as extract_many's.
    assembled = {s: extractor.assemble(article(s), extractor.parse(article(s))) for s in seed_facts}
    assert assembled == seed_facts
