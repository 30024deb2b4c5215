"""Fingerprints: the packed JSON state of the window's articles, and version 1 states."""

from __future__ import annotations

import json

from pipeline.dedupe import DuplicateIndex, Fingerprint


def _version_1(state: dict) -> dict:
    """The state as version 1 wrote it: arrays as lists of ints, sentences as sorted lists."""
    print_ = Fingerprint.from_state(state)
    new_keys = ("version", "sentence_words", "sentence_ends", "received")
    old = {key: value for key, value in state.items() if key not in new_keys}
    old.update(
        shingles=print_.shingles.tolist(),
        terms=print_.terms.tolist(),
        sentences=[sorted(sentence) for sentence in print_.sentence_sets()],
    )
    return old


def test_state_is_packed_json_and_version_1_states_still_restore(seed_articles):
    articles = list(seed_articles.values())
    live = DuplicateIndex()
    for a in articles[:3]:
        live.match(a)
    states = [live.export(a.article_id) for a in articles[:3]]
    assert all(isinstance(state["shingles"], str) and state["version"] == 2 for state in states)
    assert json.loads(json.dumps(states)) == states
    restored = DuplicateIndex()
    restored.restore(_version_1(state) for state in states)
    # Version 1 kept no receipt time: such articles leave the window by count only.
    assert [restored.export(a.article_id) for a in articles[:3]] == [
        {**state, "received": None} for state in states
    ]
    for a in articles[3:]:
        assert restored.match(a) == live.match(a)
