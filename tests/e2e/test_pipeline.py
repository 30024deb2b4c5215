"""The whole pipeline against a real Kafka-protocol broker process (tansu), as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from pipeline.runtime.broker import EmbeddedBroker, client_config
from pipeline.runtime.seeder import Seeder
from pipeline.settings import KafkaSettings
from pipeline.sink import SinkStore
from schemas import EnrichedArticle, StorySnapshot
from tests.conftest import SEEDS, raw_seed
from tests.e2e.conftest import Processes, wait_for

pytestmark = pytest.mark.e2e

SEED_IDS = sorted(path.stem for path in SEEDS.glob("*.txt"))
ID = {seed_id[:3]: seed_id for seed_id in SEED_IDS}


def copydesk_run(out: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    """Run `copydesk run` on the seeds into ``out``, with no COPYDESK_ variable but ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYDESK_")} | settings
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture(scope="module")
def run_output(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """`copydesk run` exactly as the README has it: embedded broker, worker, sink, seeds."""
    out = tmp_path_factory.mktemp("run") / "out"
    return copydesk_run(out), out


def _enriched(out: Path) -> dict[str, EnrichedArticle]:
    records = [
        EnrichedArticle.model_validate_json(line)
        for line in (out / "enriched.jsonl").read_text().splitlines()
    ]
    return {record.article_id: record for record in records}


def test_run_exits_zero_and_writes_every_output(run_output):
    result, out = run_output
    assert result.returncode == 0, result.stdout + result.stderr
    assert "done in" in result.stdout
    assert sorted(_enriched(out)) == SEED_IDS
    assert len((out / "stories.jsonl").read_text().splitlines()) == 1
    store = SinkStore(out / "copydesk.db")
    try:
        assert sorted(a.article_id for a in store.articles()) == SEED_IDS
    finally:
        store.close()


def test_run_dedup_relations(run_output):
    articles = _enriched(run_output[1])
    relations = {seed_id[:3]: (a.dedup.relation, a.dedup.of) for seed_id, a in articles.items()}
    assert relations == {
        "000": ("unique", None),
        "001": ("paraphrase", ID["000"]),
        "002": ("unique", None),
        "003": ("update", ID["000"]),
        "004": ("paraphrase", ID["002"]),
    }


def test_run_one_story_with_conflicts_and_corroboration(run_output):
    result, out = run_output
    articles = _enriched(out)
    (story,) = [
        StorySnapshot.model_validate_json(line) for line in (out / "stories.jsonl").read_text().splitlines()
    ]
    assert {a.story_id for a in articles.values()} == {story.story_id}
    assert sorted(story.article_ids) == SEED_IDS
    conflicts = {tuple(sorted(v.value for v in claim.values)) for claim in story.conflicts}
    caravan = next(values for values in conflicts if 7000.0 in values)
    assert {3000.0, 5000.0, 6000.0, 7000.0} <= set(caravan)
    assert any({1000.0, 1600.0} <= set(values) for values in conflicts)
    corroborated = {v.value: v for claim in story.corroborated for v in claim.values}
    assert corroborated[190000.0].independent_reports >= 2
    assert "conflict" in result.stdout


def test_run_facts(run_output):
    articles = _enriched(run_output[1])
    obrador = {e.entity_id for a in articles.values() for e in a.facts.entities if "Obrador" in e.canonical}
    assert len(obrador) == 1, "one López Obrador across all articles"
    (obrador_id,) = obrador
    bbc = articles[ID["000"]].facts
    assert any(q.value == 190000 and q.counted == "apprehensions" for q in bbc.quantities)
    assert any(q.value == 2_000_000 for q in bbc.quantities)
    speakers = {q.text[:31]: q.speaker_entity_id for q in bbc.quotes}
    assert speakers["Now we have an extraordinary si"] == obrador_id
    assert any(q.speaker == "Troy Miller" for q in bbc.quotes)
    resolved = [q for q in articles[ID["002"]].facts.quotes if q.speaker == "he"]
    assert resolved and all(q.speaker_entity_id == obrador_id for q in resolved[:2])


def test_worker_restart_keeps_dedupe_state_and_bad_input_is_dead_lettered(
    processes: Processes, broker: EmbeddedBroker, copydesk_env: dict[str, str], tmp_path: Path
):
    processes.call("topics", "create")
    worker = processes.start("worker")
    processes.start("sink")
    kafka = KafkaSettings(bootstrap_servers=broker.bootstrap_servers)
    seeder = Seeder(client_config(kafka))
    store = SinkStore(tmp_path / "out" / "copydesk.db")
    try:
        seeder.publish([raw_seed("000"), raw_seed("002")], lambda feed: f"wire.raw.{feed}")
        wait_for(
            lambda: {ID["000"], ID["002"]} <= store.settled_ids(),
            90,
            "the first two seeds in the sink",
            processes,
        )

        processes.kill(worker)  # no clean shutdown: state must come back from disk and changelog
        processes.start("worker")
        # A syndicated copy in another page wrapper: the same words once the boilerplate is gone.
        copy = raw_seed(
            "000",
            article_id="000-copy",
            text=raw_seed("000").text + "\n\nShare this article\n\nADVERTISEMENT",
        )
        seeder.publish([copy, raw_seed("003")], lambda feed: f"wire.raw.{feed}")
        for key, value in (
            (b"bad-utf8", b"\xff\xfe not text"),
            (b"bad-json", b"{nope"),
            (b"bad-version", json.dumps({"schema_version": 9}).encode()),
        ):
            seeder.send_bytes("wire.raw.seeds", key, value)
        wait_for(
            lambda: {"000-copy", ID["003"], "bad-utf8", "bad-json", "bad-version"} <= store.settled_ids(),
            120,
            "the restarted worker's output in the sink",
            processes,
        )

        articles = {a.article_id: a for a in store.articles()}
        assert (articles["000-copy"].dedup.relation, articles["000-copy"].dedup.of) == (
            "exact_duplicate",
            ID["000"],
        )
        assert (articles[ID["003"]].dedup.relation, articles[ID["003"]].dedup.of) == ("update", ID["000"])
        assert len({a.story_id for a in articles.values()}) == 1
        errors = {letter.key: letter for letter in store.dead_letters()}
        assert "not UTF-8" in errors["bad-utf8"].error
        assert "malformed JSON" in errors["bad-json"].error
        assert "unknown schema_version 9" in errors["bad-version"].error
        assert all(letter.stage == "normalize" for letter in errors.values())
        assert errors["bad-json"].payload == "{nope"

        # Every process serves its metrics: the restarted worker counted the three bad messages.
        worker_port = copydesk_env["COPYDESK_METRICS__WORKER_PORT"]
        # The counter counts deliveries: a rebalance after the restart may hand a message over twice (at least
        # once), while the sink keeps each dead letter once (checked above, by origin).
        assert _metric(worker_port, "copydesk_dead_letters_total", 'stage="normalize"') >= 3.0
        assert len(store.dead_letters()) == 3
        # At least the two new articles; records the killed worker had not committed come again
        # (at-least-once), and the sink's upserts absorb them, as the assertions above show.
        assert _metric(worker_port, "copydesk_records_out_total", 'outcome="ok",stage="stories"') >= 2.0
        sink_port = copydesk_env["COPYDESK_METRICS__SINK_PORT"]
        assert _metric(sink_port, "copydesk_sink_writes_total", 'table="articles"') >= 4.0
    finally:
        store.close()
        seeder.close()


def test_seed_and_tail_commands(processes: Processes, copydesk_env: dict[str, str]):
    seeded = processes.call("seed", str(SEEDS), "--feed", "seeds")
    assert "published 5 articles to wire.raw.seeds" in seeded.stdout
    tailed = processes.call("tail", "wire.raw.seeds", "--max", "5", "--timeout", "20")
    for seed_id in SEED_IDS:
        assert f"key={seed_id}" in tailed.stdout
    assert '"feed": "seeds"' in tailed.stdout
    listed = processes.call("topics", "list")
    assert "wire.raw.seeds  (1 partitions)" in listed.stdout


def _metric(port: str, name: str, labels: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith(f"{name}{{{labels}}} "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_run_reads_long_articles_in_two_passes_and_publishes_their_whole_facts(run_output, tmp_path):
    """Every seed over FACTS__INLINE_CHARS goes through copydesk.facts-rest on the real broker: one record an
    article still, with the facts of the whole article (those that do not hang on the alias memory)."""
    out = tmp_path / "out"
    result = copydesk_run(out, COPYDESK_FACTS__INLINE_CHARS="1500")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = (out / "enriched.jsonl").read_text().splitlines()
    assert len(lines) == len(SEED_IDS)  # one record an article
    split, whole = _enriched(out), _enriched(run_output[1])
    assert sorted(split) == SEED_IDS
    long = [i for i, a in whole.items() if len(a.headline) + sum(map(len, a.paragraphs)) > 1500]
    assert len(long) >= 3
    for article_id in SEED_IDS:
        assert split[article_id].dedup == whole[article_id].dedup
        assert split[article_id].facts.quantities == whole[article_id].facts.quantities
        assert [q.text for q in split[article_id].facts.quotes] == [
            q.text for q in whole[article_id].facts.quotes
        ]
