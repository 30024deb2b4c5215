"""The quote speaker ranker's trainer (pipeline/training/quote_speakers.py): its fits and its accuracy count."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.training.quote_speakers import Examples, accuracy, fit


def _examples() -> Examples:
    """Three quotes of two candidates each; the right one has feature 0 set, the rules picked the wrong
    one of quote 1 and none in quote 2 (which the eval does not read: not its attribution's first)."""
    x = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.0])
    return Examples(
        x=x,
        y=y,
        quote=np.array([0, 0, 1, 1, 2, 2]),
        picked=np.array([True, False, True, False, False, False]),
        scored=np.array([True, True, False]),
        ruled=np.array([True, True, False]),
        article=np.array([0, 1, 1]),
        matched=np.array([1, 2]),  # article 1 has a matched quote without a gold source
    )


@pytest.mark.parametrize("listwise", [False, True])
def test_fit_learns_the_feature_of_the_right_candidates(listwise: bool) -> None:
    ex = _examples()
    w, _ = fit(ex.x, ex.y, l2=0.1, quote=ex.quote if listwise else None)
    assert w[0] > 1.0 > w[1]


def test_accuracy_counts_as_the_eval_does() -> None:
    ex = _examples()
    assert accuracy(ex, None) == pytest.approx(1 / 3)  # the rules: quote 0 of three matched
    assert accuracy(ex, np.array([2.0, 0.0])) == pytest.approx(2 / 3)
    assert accuracy(ex.subset(np.array([0])), None) == 1.0


def test_threshold_holds_back_unruled_quotes() -> None:
    ex = _examples()
    ex.scored[:] = True
    ex.matched[1] = 3
    w = np.array([1.0, 0.0])
    assert accuracy(ex, w, bias=-1.0, threshold=0.4) == pytest.approx(3 / 4)  # p(quote 2) = 0.5
    assert accuracy(ex, w, bias=-1.0, threshold=0.6) == pytest.approx(2 / 4)
