"""The sink store on SQLite and on a real PostgreSQL server: idempotent upserts, migrations, outages."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.sink import PostgresSinkStore, SinkStore, StoreUnavailable, write_with_retry
from schemas import DeadLetter, Dedup, EnrichedArticle, Facts, StorySnapshot
from tests.conftest import RECEIVED
from tests.postgres import PostgresServer


def enriched(article_id: str, story_id: str = "story-1", relation: str = "unique") -> EnrichedArticle:
    return EnrichedArticle(
        article_id=article_id, feed="seeds", received_at=RECEIVED, headline=f"Headline {article_id}",
        paragraphs=["One two three four five."], body="One two three four five.", word_count=5,
        dedup=Dedup(relation=relation, of=None if relation == "unique" else "a0", similarity=0.5),
        facts=Facts(), story_id=story_id, processed_at=RECEIVED + timedelta(seconds=1),
    )  # fmt: skip


def snapshot(article_ids: list[str], story_id: str = "story-1") -> StorySnapshot:
    return StorySnapshot(
        story_id=story_id, title="A story", first_seen=RECEIVED, last_updated=RECEIVED + timedelta(minutes=len(article_ids)),
        article_ids=article_ids, sources=[], top_entities=[], facts=[], conflicts=[], corroborated=[],
    )  # fmt: skip


def letter(key: str, offset: int) -> DeadLetter:
    return DeadLetter(
        stage="normalize",
        error="malformed JSON",
        topic="wire.raw.seeds",
        partition=0,
        offset=offset,
        key=key,
        payload="{nope",
        payload_bytes=5,
        failed_at=datetime.now(UTC),
    )


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    opened = (
        SinkStore(tmp_path / "copydesk.db")
        if request.param == "sqlite"
        else PostgresSinkStore(request.getfixturevalue("postgres_url"))
    )
    yield opened
    opened.close()


def test_upserts_are_idempotent(store):
    articles = [enriched("a0"), enriched("a1", relation="paraphrase")]
    store.write_articles(articles)
    store.write_stories([snapshot(["a0", "a1"])])
    store.write_dead_letters([letter("bad", 7)])
    before = (store.articles(), store.stories(), store.dead_letters())
    # A replay of everything (at-least-once redelivery) changes nothing.
    store.write_articles(articles)
    store.write_stories([snapshot(["a0", "a1"])])
    store.write_dead_letters([letter("bad", 7)])
    assert (store.articles(), store.stories(), store.dead_letters()) == before
    assert [a.article_id for a in store.articles()] == ["a0", "a1"]
    assert len(store.dead_letters()) == 1


def test_older_snapshot_never_replaces_a_newer_one(store):
    store.write_stories([snapshot(["a0", "a1", "a2"])])
    store.write_stories([snapshot(["a0"])])
    (story,) = store.stories()
    assert story.article_ids == ["a0", "a1", "a2"]
    store.write_stories([snapshot(["a0", "a1", "a2", "a3"])])
    assert store.stories()[0].article_ids == ["a0", "a1", "a2", "a3"]


def test_last_record_per_article_wins(store):
    store.write_articles([enriched("a0", story_id="story-1")])
    store.write_articles([enriched("a0", story_id="story-2")])
    assert [a.story_id for a in store.articles()] == ["story-2"]


def test_settled_ids_need_the_story_or_a_dead_letter(store):
    store.write_articles([enriched("a0"), enriched("a1")])
    store.write_stories([snapshot(["a0"])])
    store.write_dead_letters([letter("bad", 3)])
    assert store.settled_ids() == {"a0", "bad"}


def test_export_jsonl(store, tmp_path):
    store.write_articles([enriched("a0")])
    store.write_stories([snapshot(["a0"])])
    paths = store.export_jsonl(tmp_path / "out")
    assert EnrichedArticle.model_validate_json(paths["enriched"].read_text().strip()).article_id == "a0"
    assert StorySnapshot.model_validate_json(paths["stories"].read_text().strip()).story_id == "story-1"
    assert paths["deadletter"].read_text() == ""


def test_reopening_migrates_once(store, tmp_path):
    store.write_articles([enriched("a0")])
    again = (
        SinkStore(store.path) if isinstance(store, SinkStore) and store.path else PostgresSinkStore(store.url)
    )
    try:
        assert [a.article_id for a in again.articles()] == ["a0"]
    finally:
        again.close()


def test_a_version_2_database_gets_its_story_articles_filled_in(tmp_path):
    # A sink from before migration 3 stored snapshots only; settled_ids now reads story_articles.
    import sqlite3

    from pipeline.sink import MIGRATIONS

    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    for statements in MIGRATIONS[:2]:
        for statement in statements:
            db.execute(statement)
    db.execute("PRAGMA user_version = 2")
    old = snapshot(["a0", "a1"])
    db.execute(
        "INSERT INTO stories VALUES (?, ?, ?, ?)",
        (old.story_id, 2, old.last_updated.isoformat(), old.model_dump_json()),
    )
    db.close()
    store = SinkStore(path)
    try:
        store.write_articles([enriched("a0"), enriched("a1"), enriched("a2")])
        assert store.settled_ids() == {"a0", "a1"}
        assert store._schema_version() == len(MIGRATIONS)
    finally:
        store.close()


def test_a_merged_story_still_settles_its_articles(store):
    # The young story's last snapshot listed a1 before it merged into story-1; either listing settles it.
    store.write_articles([enriched("a0"), enriched("a1", story_id="story-1")])
    store.write_stories([snapshot(["a1"], story_id="story-2"), snapshot(["a0", "a1"])])
    assert store.settled_ids() == {"a0", "a1"}


def test_a_merged_storys_last_snapshot_replaces_its_listing_for_good(store):
    store.write_articles([enriched("a0"), enriched("a1", story_id="story-2")])
    store.write_stories([snapshot(["a1"], story_id="story-2"), snapshot(["a0"])])
    last = snapshot([], story_id="story-2").model_copy(update={"merged_into": "story-1"})
    store.write_stories([last, snapshot(["a0", "a1"])])
    store.write_stories([snapshot(["a1"], story_id="story-2")])  # redelivered from before the merge
    stories = {s.story_id: s for s in store.stories()}
    assert stories["story-2"] == last
    assert stories["story-1"].article_ids == ["a0", "a1"]
    assert store._rows("SELECT article_id, story_id FROM story_articles ORDER BY article_id, story_id") == [
        ("a0", "story-1"),
        ("a1", "story-1"),
    ]
    assert store.settled_ids() == {"a0", "a1"}


def test_postgres_outage_waits_and_writes_when_the_server_returns(tmp_path):
    """The sink's store stops and comes back: the batch waits (bounded) and is written, nothing lost."""
    server = PostgresServer().init()
    server.start()
    store = PostgresSinkStore(server.url())
    try:
        store.write_articles([enriched("a0")])
        server.stop()
        with pytest.raises(StoreUnavailable):
            store.write_articles([enriched("a1")])

        restarted = threading.Event()

        def restart_soon() -> None:
            server.start()
            restarted.set()

        timer = threading.Timer(1.5, restart_soon)
        timer.start()
        written = asyncio.run(
            write_with_retry(lambda: store.write_articles([enriched("a1")]), 60, "articles")
        )
        timer.join()
        assert restarted.is_set() and written == 1
        assert [a.article_id for a in store.articles()] == ["a0", "a1"]
    finally:
        store.close()
        server.remove()


def test_outage_longer_than_the_bound_raises():
    calls = []

    def always_down() -> int:
        calls.append(1)
        raise StoreUnavailable("PostgreSQL: connection refused")

    with pytest.raises(StoreUnavailable):
        asyncio.run(write_with_retry(always_down, 0.5, "articles"))
    assert len(calls) >= 2


def test_latency_is_measured_to_the_first_write(store):
    store.write_articles([enriched("a0")])
    first = store.latencies()["a0"]
    store.write_articles([enriched("a0")])
    assert store.latencies()["a0"] == first > 0
