from __future__ import annotations

import pytest

from pipeline.runtime.replay import RecentDecisions


def test_remembers_and_restores():
    store: dict = {}
    recent = RecentDecisions(store, size=3)
    for number in range(3):
        recent.remember(f"a{number}", f"story-{number}")
    again = RecentDecisions(store, size=3)
    again.restore()
    assert [again.get(f"a{n}") for n in range(3)] == ["story-0", "story-1", "story-2"]


def test_ring_forgets_the_oldest_and_stays_bounded():
    store: dict = {}
    recent = RecentDecisions(store, size=2)
    forgotten = [recent.remember(f"a{number}", number) for number in range(5)]
    assert forgotten == [None, None, ("a0", 0), ("a1", 1), ("a2", 2)]
    assert (recent.get("a2"), recent.get("a3"), recent.get("a4")) == (None, 3, 4)
    assert len(recent) == 2
    assert len(store) == 3  # two slots and the counter
    restored = RecentDecisions(store, size=2)
    restored.restore()
    assert (restored.get("a2"), restored.get("a3"), restored.get("a4")) == (None, 3, 4)


def test_a_repeated_decision_takes_no_slot():
    store: dict = {}
    recent = RecentDecisions(store, size=2)
    recent.remember("a0", "s")
    recent.remember("a0", "s")
    recent.remember("a1", "t")
    assert (recent.get("a0"), recent.get("a1")) == ("s", "t")


def test_size_must_be_positive():
    with pytest.raises(ValueError, match="size must be >= 1"):
        RecentDecisions({}, size=0)


def test_a_prefix_shares_the_store():
    store: dict = {"story-1": {"state": 1}}
    recent = RecentDecisions(store, size=2, prefix="recent:")
    recent.remember("a0", "story-1")
    assert sorted(store) == ["recent:0", "recent:next", "story-1"]
    assert recent.owns("recent:0") and not recent.owns("story-1")
    again = RecentDecisions(store, size=2, prefix="recent:")
    again.restore()
    assert again.get("a0") == "story-1"
