"""Pair comparison: the sentence alignment (``best_counterparts``)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipeline.dedupe import best_counterparts


def _every_pair_counterparts(new, old):
    """The plain sentence alignment: every new sentence scored against every old one."""

    def jaccard(a, b):
        union = len(a | b)
        return len(a & b) / union if union else 0.0

    return [max(((jaccard(s, o), i) for i, o in enumerate(old)), default=(0.0, -1)) for s in new]


_SENTENCES = st.lists(st.frozensets(st.integers(0, 30), max_size=8), max_size=12)


@given(_SENTENCES, _SENTENCES)
def test_counterparts_through_the_word_index_equal_every_pair_scored(new, old):
    # The same floats and the same index on ties, empty sentences and sentences sharing no word included.
    assert best_counterparts(new, old) == _every_pair_counterparts(new, old)
