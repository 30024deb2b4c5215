"""The furniture line classifier (pipeline/furniture.py) and its place in normalize."""

from __future__ import annotations

import pytest

from pipeline.furniture import furniture_model, line_features
from pipeline.normalize import normalize
from schemas import RawArticle
from tests.conftest import RECEIVED, raw_seed

BODY = [
    "Top US officials have arrived in Mexico, as pressure grows on the White House to address a surge.",
    "Secretary of State Antony Blinken met Mexico's president on Wednesday to discuss the border.",
    "The investigation is ongoing.",
    "No arrests have been made.",
    "Police said the man was taken to hospital with wounds that were not thought to be life-threatening.",
]


# Furniture worded unlike normalize's patterns: the model knows the kind of line, not its words.
@pytest.mark.parametrize(
    "line",
    [
        "Please enable Javascript to watch this video",
        "We have sent you a verification email. Please check your email and click on the link to activate.",
        "Sign in using your account with: {* loginWidget *}",
        # The model strips about two thirds of the furniture of sites it never saw (docs/quality.md):
        pytest.param(
            "Your notification has been saved.", marks=pytest.mark.xfail(reason="reads as a sentence")
        ),
        "Hide Transcript Show Transcript",
    ],
)
def test_furniture_lines_are_furniture(line: str) -> None:
    assert furniture_model().is_furniture(line)


@pytest.mark.parametrize("line", BODY)
def test_body_sentences_are_not(line: str) -> None:
    assert not furniture_model().is_furniture(line)


def test_the_seeds_lose_no_body_line() -> None:
    from pipeline.normalize import is_boilerplate

    for prefix in ("000", "001", "002", "003", "004"):
        raw = raw_seed(prefix)
        article = normalize(raw)
        lines = [" ".join(line.split()) for line in raw.text.split("\n") if line.strip()]
        stripped_by_model = [b for b in article.boilerplate if not is_boilerplate(b)]
        # Whatever the model strips must be a line of the page that no sentence of the body is.
        assert all(b in lines and b not in article.paragraphs for b in stripped_by_model)
        assert article.word_count > 100


def test_a_syndicated_copy_loses_its_unseen_widget_and_keeps_its_body() -> None:
    widget = "Tweet Share Pin Email"
    headline = "Blinken in Mexico for border talks"
    text = "\n".join([headline, widget, *BODY, "Copyright 2016 Example Media. All rights reserved."])
    article = normalize(RawArticle(article_id="a1", feed="test", received_at=RECEIVED, text=text))
    assert (article.headline, article.paragraphs) == (headline, BODY)
    assert widget in article.boilerplate


@pytest.mark.parametrize("line", ["—", "a", "", "12:30", "©", "x" * 5000])
def test_features_are_finite_on_odd_lines(line: str) -> None:
    assert all(v == v and abs(v) < 1e6 for v in line_features(line).values())
    assert 0.0 <= furniture_model().probability(line) <= 1.0
