"""Title-case headlines recased before the parse (pipeline/facts/truecase.py), and the common words it reads."""

from __future__ import annotations

import pytest

from pipeline.facts import truecase_headline, vocabulary
from tests.conftest import snippet


def test_the_common_words_are_50000_and_know_common_news_words() -> None:
    words = vocabulary()
    assert len(words) == 50_000
    for word in ("caravan", "migrants", "border", "earthquake", "shooting", "election"):
        assert word in words
    assert "xqzvvb" not in words


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
