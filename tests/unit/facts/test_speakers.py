"""The quote speaker ranker (pipeline/facts/speakers.py) and the candidates quotes.py proposes to it."""

from __future__ import annotations

import json
import math

import pytest

from pipeline.facts.aliases import cluster_mentions
from pipeline.facts.mentions import find_mentions
from pipeline.facts.quotes import attribute_quotes, speaker_candidates
from pipeline.facts.speakers import FEATURES, MODEL_FILE, Candidate, SpeakerRanker, features, load_ranker
from tests.conftest import snippet


def _ranker(threshold: float = 0.5, bias: float = 0.0, **weights: float) -> SpeakerRanker:
    assert set(weights) <= set(FEATURES)
    return SpeakerRanker([weights.get(name, 0.0) for name in FEATURES], bias, threshold)


def test_features_follow_the_feature_names() -> None:
    c = Candidate(part=1, token=3, kind="pronoun", rule="cue_after", cue_subject=True, distance=4, mentions=2)
    x = dict(zip(FEATURES, features(c), strict=True))
    assert len(features(c)) == len(FEATURES)
    assert x["kind_pronoun"] == 1.0 and x["kind_person"] == 0.0
    assert x["rule_cue_after"] == 1.0 and x["rule_continues"] == 0.0
    assert x["cue_subject"] == 1.0 and x["cue_adjacent"] == 0.0
    assert x["log_distance"] == pytest.approx(math.log(5))
    assert x["log_mentions"] == pytest.approx(math.log(3))
    assert x["resolved"] == 0.0


def test_best_is_the_most_probable_candidate() -> None:
    near = Candidate(part=1, token=0, kind="person", distance=1)
    far = Candidate(part=1, token=9, kind="person", distance=20, rule="cue_before")
    ranker = _ranker(log_distance=-1.0)
    assert ranker.best([far, near]) is near
    assert ranker.probability(near) > ranker.probability(far)
    assert _ranker(rule_cue_before=5.0).best([near, far]) is far


def test_best_of_equals_is_the_first() -> None:
    a, b = Candidate(part=1, token=0, kind="noun"), Candidate(part=1, token=1, kind="noun")
    assert _ranker().best([a, b]) is a
    assert _ranker().best([]) is None


def test_threshold_applies_only_without_a_rules_pick() -> None:
    """A quote the rules found no speaker for gets one only when the ranker is sure enough."""
    weak = Candidate(part=1, token=0, kind="noun")
    assert _ranker(threshold=0.6).best([weak]) is None  # p = 0.5
    assert _ranker(threshold=0.4).best([weak]) is weak
    picked = Candidate(part=1, token=1, kind="noun", rule="colon")
    assert _ranker(threshold=0.9, bias=-3.0).best([weak, picked]) is weak  # the best still wins


def test_ranker_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="weights"):
        SpeakerRanker([1.0], 0.0)
    with pytest.raises(ValueError, match="threshold"):
        SpeakerRanker([0.0] * len(FEATURES), 0.0, threshold=1.5)


def test_load_ranker_reads_the_shipped_model(tmp_path) -> None:
    model = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    assert model["features"] == list(FEATURES)
    ranker = load_ranker()
    assert ranker is not None and ranker.weights == pytest.approx(model["weights"])
    assert load_ranker(tmp_path / "none.json") is None
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps({**model, "features": ["body"]}), encoding="utf-8")
    with pytest.raises(ValueError, match="features"):
        load_ranker(stale)


def _parse(extractor, *paragraphs: str):
    docs = extractor.parse(snippet("Headline", *paragraphs))
    mentions = [m for part, doc in enumerate(docs) for m in find_mentions(doc, part)]
    return docs, mentions, cluster_mentions(mentions, None)


def test_candidates_hold_the_rules_pick_and_the_other_names(extractor) -> None:
    paragraphs = (
        "Senator Maria Lopez met Governor Tom Reed in Austin on Monday.",
        "\u201cWe will not give up on this bill,\u201d Lopez said after the meeting.",
    )
    ((located, candidates),) = speaker_candidates(*_parse(extractor, *paragraphs))
    assert located.quote.speaker == "Lopez"
    by_text = {paragraphs[c.part - 1][c.chars[0] : c.chars[1]]: c for c in candidates}
    lopez = by_text["Lopez"]
    assert lopez.rule == "cue_after" and lopez.cue_subject and lopez.cue_adjacent
    assert lopez.same_paragraph and lopez.same_sentence and not lopez.before
    assert lopez.kind == "person" and lopez.entity_id == "person:maria-lopez" and lopez.mentions == 2
    reed = next(c for text, c in by_text.items() if "Reed" in text)
    assert reed.rule == "" and not reed.same_paragraph and reed.before and not reed.cue_subject
    assert reed.distance > lopez.distance


def test_a_ranker_picks_among_the_candidates(extractor) -> None:
    parsed = _parse(
        extractor,
        "Senator Maria Lopez met Governor Tom Reed in Austin on Monday.",
        "\u201cWe will not give up on this bill,\u201d Lopez said after the meeting.",
    )
    assert attribute_quotes(*parsed, ranker=None)[0].quote.speaker == "Lopez"
    # A ranker that wants the person nearest the quote in the paragraph before it.
    contrary = _ranker(same_paragraph=-10.0, kind_person=5.0, log_distance=-1.0)
    (quote,) = attribute_quotes(*parsed, ranker=contrary)
    assert quote.quote.speaker_entity_id == "person:tom-reed"
    assert quote.speaker_span is not None and quote.speaker_span[0] == 0
    assert quote.quote.text == "We will not give up on this bill,"  # the quote itself is the rules'
