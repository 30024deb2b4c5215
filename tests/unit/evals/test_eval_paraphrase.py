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
