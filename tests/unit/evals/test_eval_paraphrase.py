from __future__ import annotations

import pytest
from click.testing import CliRunner

from pipeline.evals.paraphrase import paraphrase
from tests.conftest import SHARED_DATA, last_json

MSRP_DEV = SHARED_DATA / "msrp_dev.jsonl"


@pytest.mark.shared_data("msrp_dev.jsonl")
def test_paraphrase_eval_on_a_dev_slice():
    result = CliRunner().invoke(paraphrase, [str(MSRP_DEV), "--limit", "80"])
    assert result.exit_code == 0, result.output
    figures = last_json(result.output)
    assert figures["pairs"] == 80
    assert {"accuracy", "f1", "pairs_per_second"} <= figures.keys()
    assert figures["accuracy"] > 0.67  # above always saying "paraphrase" on MSRP (67%)
    assert "not paraphrase (0)" in result.output


@pytest.mark.shared_data("msrp_dev.jsonl")
def test_cross_encoder_is_scored_the_same_way_and_timed_per_thread_count():
    args = [str(MSRP_DEV), "--limit", "40", "--model", "cross-encoder", "--threads", "1", "--threads", "2"]
    result = CliRunner().invoke(paraphrase, args)
    assert result.exit_code == 0, result.output
    figures = last_json(result.output)
    assert (figures["model"], figures["pairs"]) == ("cross-encoder", 40)
    assert figures["pairs_per_second_by_threads"].keys() == {"1", "2"}
    assert figures["accuracy"] > 0.67
    assert "on 2 threads" in result.output
