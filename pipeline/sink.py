"""The sink: upsert enriched articles, story snapshots and dead letters into SQLite; export JSONL.

``SinkStore`` is the pure core (no Kafka): idempotent upserts by key, so a replayed batch leaves the
store unchanged, and a story snapshot never overwrites a newer one. ``build_sink_app`` wraps it in
batched faust agents.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faust
from faust.types import StreamT

from pipeline import metrics
from pipeline.app import DEADLETTER, ENRICHED, STORIES, faust_config
from pipeline.codec import decode
from pipeline.settings import Settings
from schemas import DeadLetter, EnrichedArticle, StorySnapshot

__all__ = ["SinkStore", "build_sink_app"]

log = logging.getLogger(__name__)

# Each entry migrates the database from version N to N+1 (PRAGMA user_version).
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE articles (
        article_id   TEXT PRIMARY KEY,
        story_id     TEXT NOT NULL,
        feed         TEXT NOT NULL,
        source       TEXT,
        headline     TEXT NOT NULL,
        relation     TEXT NOT NULL,
        of_article   TEXT,
        received_at  TEXT NOT NULL,
        record       TEXT NOT NULL
    );
    CREATE INDEX articles_story ON articles (story_id);
    CREATE TABLE stories (
        story_id     TEXT PRIMARY KEY,
        n_articles   INTEGER NOT NULL,
        last_updated TEXT NOT NULL,
        record       TEXT NOT NULL
    );
    CREATE TABLE dead_letters (
        letter_id    TEXT PRIMARY KEY,
        stage        TEXT NOT NULL,
        message_key  TEXT,
        error        TEXT NOT NULL,
        record       TEXT NOT NULL
    );
    """,
)


class SinkStore:
    """An SQLite store of the pipeline's output, upserted by key."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._migrate()

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            self._db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")

    def close(self) -> None:
        self._db.close()

    def write_articles(self, articles: Sequence[EnrichedArticle]) -> int:
        """Upsert articles by article_id (the last record wins); return the rows written."""
        rows = [
            (
                a.article_id,
                a.story_id,
                a.feed,
                a.source,
                a.headline,
                a.dedup.relation,
                a.dedup.of,
                a.received_at.isoformat(),
                a.model_dump_json(),
            )
            for a in articles
        ]
        with self._transaction():
            self._db.executemany(
                """INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (article_id) DO UPDATE SET story_id = excluded.story_id, feed = excluded.feed,
                   source = excluded.source, headline = excluded.headline, relation = excluded.relation,
                   of_article = excluded.of_article, received_at = excluded.received_at,
                   record = excluded.record""",
                rows,
            )
        return len(rows)

    def write_stories(self, snapshots: Sequence[StorySnapshot]) -> int:
        """Upsert snapshots by story_id; an older snapshot (fewer articles) never replaces a newer one."""
        rows = [
            (s.story_id, len(s.article_ids), s.last_updated.isoformat(), s.model_dump_json())
            for s in snapshots
        ]
        with self._transaction():
            self._db.executemany(
                """INSERT INTO stories VALUES (?, ?, ?, ?)
                   ON CONFLICT (story_id) DO UPDATE SET n_articles = excluded.n_articles,
                   last_updated = excluded.last_updated, record = excluded.record
                   WHERE excluded.n_articles >= stories.n_articles""",
                rows,
            )
        return len(rows)

    def write_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        """Insert dead letters, once each (keyed by where the message came from)."""
        rows = []
        for letter in letters:
            origin = f"{letter.stage}|{letter.topic}|{letter.partition}|{letter.offset}|{letter.key}"
            if letter.offset is None:
                origin += "|" + hashlib.sha256(letter.payload.encode("utf-8")).hexdigest()
            rows.append((origin, letter.stage, letter.key, letter.error, letter.model_dump_json()))
        with self._transaction():
            self._db.executemany("INSERT OR IGNORE INTO dead_letters VALUES (?, ?, ?, ?, ?)", rows)
        return len(rows)

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def articles(self) -> list[EnrichedArticle]:
        rows = self._db.execute("SELECT record FROM articles ORDER BY received_at, article_id")
        return [EnrichedArticle.model_validate_json(record) for (record,) in rows]

    def stories(self) -> list[StorySnapshot]:
        rows = self._db.execute("SELECT record FROM stories ORDER BY story_id")
        return [StorySnapshot.model_validate_json(record) for (record,) in rows]

    def dead_letters(self) -> list[DeadLetter]:
        rows = self._db.execute("SELECT record FROM dead_letters ORDER BY letter_id")
        return [DeadLetter.model_validate_json(record) for (record,) in rows]

    def settled_ids(self) -> set[str]:
        """Return the article_ids that reached the end: enriched with their story stored, or dead-lettered."""
        enriched = {row[0] for row in self._db.execute("SELECT article_id FROM articles")}
        in_stories: set[str] = set()
        for (record,) in self._db.execute("SELECT record FROM stories"):
            in_stories.update(json.loads(record)["article_ids"])
        dead = {row[0] for row in self._db.execute("SELECT message_key FROM dead_letters") if row[0]}
        return (enriched & in_stories) | dead

    def export_jsonl(self, out_dir: Path) -> dict[str, Path]:
        """Write enriched.jsonl, stories.jsonl and deadletter.jsonl (atomically); return their paths."""
        out_dir.mkdir(parents=True, exist_ok=True)
        written = {}
        for name, query in (
            ("enriched", "SELECT record FROM articles ORDER BY received_at, article_id"),
            ("stories", "SELECT record FROM stories ORDER BY story_id"),
            ("deadletter", "SELECT record FROM dead_letters ORDER BY letter_id"),
        ):
            path = out_dir / f"{name}.jsonl"
            partial = path.with_suffix(".jsonl.partial")
            with partial.open("w", encoding="utf-8") as out:
                for (record,) in self._db.execute(query):
                    out.write(record + "\n")
            os.replace(partial, path)
            written[name] = path
        return written


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")


def _decode_all(model: type[Any], values: Iterable[bytes]) -> list[Any]:
    records = []
    for value in values:
        try:
            records.append(decode(model, value))
        except ValueError as error:
            # The worker wrote these; a record that does not parse is a contract bug worth seeing, not a crash.
            log.error("sink skipped a record that is not a %s: %s", model.__name__, error)
            metrics.DEAD_LETTERS.labels("sink").inc()
    return records


def build_sink_app(settings: Settings, store: SinkStore) -> faust.App:
    """Return the sink's faust app (its own consumer group), writing batches into ``store``."""
    app_id = f"{settings.app_id}-sink"
    app = faust.App(app_id, **faust_config(settings, app_id, "memory://"))
    partitions = settings.kafka.partitions
    topics = {
        name: app.topic(name, partitions=partitions, value_serializer="raw", key_serializer="raw")
        for name in (ENRICHED, STORIES, DEADLETTER)
    }
    batch, within = settings.sink.batch_size, settings.sink.batch_seconds
    dirty = {"export": False}

    @app.agent(topics[ENRICHED], name="sink-enriched")
    async def sink_enriched(stream: StreamT) -> None:
        async for values in stream.take(batch, within=within):
            metrics.RECORDS_IN.labels("sink").inc(len(values))
            articles = _decode_all(EnrichedArticle, values)
            started = time.perf_counter()
            metrics.SINK_WRITES.labels("articles").inc(store.write_articles(articles))
            metrics.STAGE_SECONDS.labels("sink").observe(time.perf_counter() - started)
            now = datetime.now(UTC)
            for article in articles:
                metrics.END_TO_END_SECONDS.observe((now - article.received_at).total_seconds())
            metrics.RECORDS_OUT.labels("sink", "ok").inc(len(articles))
            dirty["export"] = True

    @app.agent(topics[STORIES], name="sink-stories")
    async def sink_stories(stream: StreamT) -> None:
        async for values in stream.take(batch, within=within):
            metrics.SINK_WRITES.labels("stories").inc(store.write_stories(_decode_all(StorySnapshot, values)))
            dirty["export"] = True

    @app.agent(topics[DEADLETTER], name="sink-deadletter")
    async def sink_dead_letters(stream: StreamT) -> None:
        async for values in stream.take(batch, within=within):
            metrics.SINK_WRITES.labels("dead_letters").inc(
                store.write_dead_letters(_decode_all(DeadLetter, values))
            )
            dirty["export"] = True

    @app.timer(interval=5.0)
    async def export_jsonl() -> None:
        if dirty["export"]:
            dirty["export"] = False
            store.export_jsonl(settings.sink.out_dir)

    return app
