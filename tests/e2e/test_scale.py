"""Scale-out: the same real articles through one worker and through two, on 4 partitions of copydesk.deduped.

Two workers must give exactly the output of one (dedupe relations, facts, story ids, story snapshots), and
each must run a real share of the facts stage, the one that needs more than one worker.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer

from pipeline.app import DEDUPED, FACTS, REORDER_TICK
from pipeline.runtime.broker import client_config
from pipeline.runtime.seeder import collect_files, read_articles
from pipeline.runtime.stack import LocalStack
from pipeline.settings import Settings
from schemas import RawArticle, StorySnapshot
from tests.conftest import SEEDS, SHARED_DATA

pytestmark = pytest.mark.e2e

ARTICLES = 100
PARTITIONS = 4
TIMEOUT_S = 300.0


@dataclass
class Run:
    articles: dict[str, dict[str, Any]]  # article_id -> the enriched record without processed_at
    stories: list[StorySnapshot]  # the newest snapshot of each story
    facts_in: dict[str, float]  # worker -> copydesk_records_in_total{stage="facts"}
    skipped: float  # sequence numbers the stories stage gave up waiting for, all workers
    facts_order: list[int]  # seq of each record on copydesk.facts, in the order the stories stage read them


def _metrics(port: int) -> str:
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()


def _sample(text: str, name: str, labels: str = "") -> float:
    prefix = f"{name}{{{labels}}} " if labels else f"{name} "
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))


def _deduped_partitions(port: int) -> set[str]:
    """The copydesk.deduped partitions a worker reports lag for: those it was assigned (every 5 s)."""
    try:
        text = _metrics(port)
    except OSError:
        return set()
    pattern = rf'copydesk_consumer_lag_records{{partition="(\d+)",topic="{re.escape(DEDUPED)}"}}'
    return set(re.findall(pattern, text))


def _facts_order(stack: LocalStack, count: int) -> list[int]:
    consumer = KafkaConsumer(
        FACTS, **client_config(stack.settings.kafka), group_id=None, auto_offset_reset="earliest",
        consumer_timeout_ms=10_000,
    )  # fmt: skip
    try:
        order = []
        for message in consumer:
            if message.key != REORDER_TICK:
                order.append(json.loads(message.value)["seq"])
            # Released held records come twice (the original, then the copy sent back): count distinct ones.
            if len(set(order)) == count:
                break
        return order
    finally:
        consumer.close()


def _wait_until(condition, what: str, stack: LocalStack, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        stack.check_alive()
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.5)


def _run(articles: list[RawArticle], out_dir: Path, workers: int) -> Run:
    settings = Settings(_env_file=None, kafka={"partitions": PARTITIONS})
    with LocalStack(settings, out_dir, feed=articles[0].feed) as stack:
        names = ["worker"] + [f"worker-{index}" for index in range(1, workers)]
        for index, name in enumerate(names):
            stack.start("worker", index=index)
            # Join one at a time, and publish only once the last one holds partitions: the group is complete.
            port = stack.metrics_port(name)
            _wait_until(
                lambda port=port: _deduped_partitions(port), f"{name} to be assigned partitions", stack
            )
        stack.start("sink")
        ids = stack.publish(articles)
        stack.wait_for_sink(set(ids), TIMEOUT_S)
        enriched = {
            a.article_id: a.model_dump(mode="json", exclude={"processed_at"}) for a in stack.store.articles()
        }
        stories = sorted(stack.store.stories(), key=lambda s: s.story_id)
        texts = {name: _metrics(stack.metrics_port(name)) for name in names}
        order = _facts_order(stack, len(ids))
    return Run(
        articles=enriched,
        stories=stories,
        facts_in={
            name: _sample(text, "copydesk_records_in_total", 'stage="facts"') for name, text in texts.items()
        },
        skipped=sum(_sample(text, "copydesk_reorder_skipped_total") for text in texts.values()),
        facts_order=order,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Run]:
    """The same articles, in the same order, through one worker and through two: the seeds (copies, spins,
    an update, one story) then real GVA articles."""
    corpus = SHARED_DATA / "gva_dev.jsonl"
    if not corpus.exists():
        pytest.skip(f"{corpus} is not there")
    articles = list(read_articles(collect_files([SEEDS]), "gva"))
    articles += islice(read_articles(collect_files([corpus]), "gva"), ARTICLES - len(articles))
    one = _run(articles, tmp_path_factory.mktemp("one-worker") / "out", workers=1)
    two = _run(articles, tmp_path_factory.mktemp("two-workers") / "out", workers=2)
    relations = [a["dedup"]["relation"] for a in one.articles.values()]
    print(f"facts per worker: one {one.facts_in}, two {two.facts_in}; {len(one.stories)} stories, "
          f"{len(relations) - relations.count('unique')} non-unique relations; skipped {one.skipped}/{two.skipped}")  # fmt: skip
    return one, two


def test_two_workers_decide_as_one(runs):
    one, two = runs
    assert len(one.articles) == ARTICLES
    outcome = {k: (a["dedup"]["relation"], a["dedup"]["of"], a["story_id"]) for k, a in one.articles.items()}
    assert outcome == {
        k: (a["dedup"]["relation"], a["dedup"]["of"], a["story_id"]) for k, a in two.articles.items()
    }
    # Not a trivial input: some articles relate to earlier ones, some stories gather several articles.
    assert sum(relation != "unique" for relation, _, _ in outcome.values()) >= 3
    assert any(len(story.article_ids) > 1 for story in one.stories)


def test_two_workers_give_the_same_records_and_stories(runs):
    one, two = runs
    # Every field, facts and entity ids included (the alias memory is per partition, not per worker),
    # and dedupe's sequence numbers.
    assert two.articles == one.articles
    assert two.stories == one.stories
    assert one.skipped == two.skipped == 0


def test_facts_records_reach_the_stories_stage_out_of_order(runs):
    _, two = runs
    # What the reorder buffer is for: two facts workers interleave their partitions' records. The stories
    # stage sends each held record back to copydesk.facts once its turn comes, so some numbers come twice.
    first = list(dict.fromkeys(two.facts_order))
    assert sorted(first) == list(range(1, ARTICLES + 1))
    assert first != sorted(first)
    again = [seq for position, seq in enumerate(two.facts_order) if seq in two.facts_order[:position]]
    assert len(again) == len(set(again)), "a released record is sent back once"


def test_each_of_two_workers_runs_a_real_share_of_facts(runs):
    one, two = runs
    assert one.facts_in["worker"] >= ARTICLES
    # 4 partitions between 2 workers: 2 each; article ids hash unevenly, so "a real share" is a quarter.
    assert sum(two.facts_in.values()) >= ARTICLES
    assert all(count >= ARTICLES / 4 for count in two.facts_in.values()), two.facts_in
