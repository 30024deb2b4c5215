"""`copydesk chaos` and `copydesk bench` as operators run them: real broker, worker and sink processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA

pytestmark = pytest.mark.e2e


def copydesk(*args: str, timeout: float = 900) -> tuple[subprocess.CompletedProcess[str], dict]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("COPYDESK_")}
    result = subprocess.run([sys.executable, "-m", "pipeline.cli", *args], env=env, capture_output=True, text=True,
                            timeout=timeout)  # fmt: skip
    last = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "{}"
    return result, json.loads(last)


@pytest.mark.shared_data("gva_dev.jsonl")
@pytest.mark.timeout(900)  # ~80 s here; a stalled partition fails as lost after the harness's 240 s
def test_chaos_loses_nothing_doubles_nothing(tmp_path: Path):
    result, figures = copydesk(
        "chaos", str(SHARED_DATA / "gva_dev.jsonl"), "--trials", "3", "--articles", "120", "--timeout", "240",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert figures == {**figures, "trials": 3, "records": 120, "lost": 0, "doubled": 0, "mismatched": 0}


@pytest.mark.shared_data("gva_dev.jsonl")
def test_bench_reports_every_figure(tmp_path: Path):
    result, figures = copydesk(
        "bench", str(SHARED_DATA / "gva_dev.jsonl"), "--articles", "20", "--out", str(tmp_path)
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for name in ("transport_per_s", "core_per_s", "pipeline_per_s", "pipeline_over_core",
                 "pipeline_over_transport", "p50_latency_s", "p99_latency_s"):  # fmt: skip
        assert figures[name] > 0, name
    assert figures["p99_latency_s"] >= figures["p50_latency_s"]
    assert figures["transport_per_s"] > figures["pipeline_per_s"]
    # Every hop was measured, and the hops add up to about the whole publish-to-sink time.
    hops = figures["hop_p50_s"]
    assert set(hops) == {"normalize", "dedupe", "facts", "stories", "sink"}
    assert all(seconds >= -0.05 for seconds in hops.values()), hops  # clocks of one machine
    assert 0.5 * figures["p50_latency_s"] <= sum(hops.values()) <= 2 * figures["p99_latency_s"] + 0.1, hops
    assert set(figures["peak_rss_mb"]) == {"worker", "worker_children", "sink", "broker"}  # children: parse
    assert all(mb > 0 for mb in figures["peak_rss_mb"].values())
