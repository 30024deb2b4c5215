"""Furniture the dedupe window learns from lines that recur across unrelated articles
(pipeline/dedupe/recurring.py and DuplicateIndex.match_clean)."""

from __future__ import annotations

from pipeline.dedupe import DuplicateIndex
from pipeline.dedupe.recurring import line_key
from tests.unit.dedupe.test_index import article

# Worded unlike any pattern, and below the furniture model's own threshold: only its recurrence tells.
NOTICE = "Stories from our partners appear unedited."
STORIES = [
    "Police said two men were hurt in a shooting on Main Street late on Friday night. Officers closed the "
    "road for hours while detectives searched the area for evidence.",
    "The city council voted to raise parking fees downtown for the first time in a decade. The mayor said "
    "the money would pay for new bus lanes and repairs to the bridge.",
    "A storm knocked out power to thousands of homes across the county on Tuesday. Crews worked through "
    "the night and the utility said most customers would have power back by noon.",
    "The school board approved a new budget that adds twelve teachers and two counselors. Parents had "
    "asked for smaller classes at the board's last three meetings.",
    "A local bakery won a national award for its sourdough, beating more than two hundred entries. The "
    "owners said they would use the prize money to hire two more bakers.",
]


def _page(i: int, *extra: str) -> object:
    lead, rest = STORIES[i].split(". ", 1)
    return article(f"a{i}", "\n".join([f"Headline number {i}", lead + ".", rest, *extra]))


def test_a_line_recurring_under_unrelated_articles_is_learned_as_furniture() -> None:
    index = DuplicateIndex()
    cleaned = [index.match_clean(_page(i, NOTICE))[0] for i in range(5)]
    assert [NOTICE in a.paragraphs for a in cleaned] == [True, True, True, False, False]
    assert NOTICE in cleaned[3].boilerplate


def test_copies_of_one_article_count_once() -> None:
    index = DuplicateIndex()
    for copy in range(4):
        a, decision, _ = index.match_clean(_page(0, NOTICE).model_copy(update={"article_id": f"copy{copy}"}))
        assert NOTICE in a.paragraphs  # one family, however many copies
    assert decision.relation == "exact_duplicate"


def test_a_copy_in_a_learned_wrapper_is_an_exact_duplicate() -> None:
    index = DuplicateIndex()
    original = _page(4)
    index.match_clean(original)
    for i in range(3):
        index.match_clean(_page(i, NOTICE))
    copy = _page(4, NOTICE).model_copy(update={"article_id": "copy"})
    cleaned, decision, _ = index.match_clean(copy)
    assert (decision.relation, decision.of) == ("exact_duplicate", original.article_id)
    assert cleaned.paragraphs == original.paragraphs


def test_a_story_sentence_that_recurs_stays() -> None:
    index = DuplicateIndex()
    cleaned = [index.match_clean(_page(i, "The investigation is ongoing."))[0] for i in range(5)]
    assert all("The investigation is ongoing." in a.paragraphs for a in cleaned)


def test_what_was_learned_is_restored_and_replayed() -> None:
    index = DuplicateIndex()
    for i in range(4):
        index.match_clean(_page(i, NOTICE))
    again = DuplicateIndex()
    again.restore(index.export(f"a{i}") for i in range(4))
    assert (
        again.match_clean(_page(4, NOTICE))[0].paragraphs == index.match_clean(_page(4, NOTICE))[0].paragraphs
    )
    # A redelivery is cleaned as it was the first time, whatever the window learned since.
    replayed, _, _ = again.match_clean(_page(0, NOTICE))
    assert NOTICE in replayed.paragraphs


def test_learning_is_forgotten_with_the_articles_that_taught_it() -> None:
    index = DuplicateIndex(window_size=2)
    for i in range(4):
        index.match_clean(_page(i, NOTICE))
    assert NOTICE in index.match_clean(_page(4, NOTICE))[0].paragraphs


def test_line_keys_ignore_case_spacing_and_numbers() -> None:
    assert line_key("© 2016  KHOU") == line_key("© 2017 khou") != line_key("© 2017 WWL")
