"""The sink: upsert enriched articles, story snapshots and dead letters into SQLite or PostgreSQL; JSONL.

``SinkStore`` (SQLite) and ``PostgresSinkStore`` are the pure core (no Kafka): idempotent upserts by key
in batches, so a replayed batch leaves the store unchanged, and a story snapshot never overwrites a
newer one; the schema migrates on start. ``build_sink_app`` wraps a store in batched faust agents that
wait (bounded) while the database is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faust
from faust.types import StreamT

from pipeline import metrics
from pipeline.app import DEADLETTER, ENRICHED, STORIES
from pipeline.runtime.codec import decode
from pipeline.runtime.faust_app import new_app
from pipeline.settings import Settings
from schemas import DeadLetter, EnrichedArticle, StorySnapshot

__all__ = [
    "PostgresSinkStore",
    "SinkStore",
    "StoreUnavailable",
    "build_sink_app",
    "open_store",
    "write_with_retry",
]

log = logging.getLogger(__name__)

# Each entry migrates the database from version N to N+1. The SQL is the same for SQLite and PostgreSQL.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE articles (
            article_id   TEXT PRIMARY KEY,
            story_id     TEXT NOT NULL,
            feed         TEXT NOT NULL,
            source       TEXT,
            headline     TEXT NOT NULL,
            relation     TEXT NOT NULL,
            of_article   TEXT,
            received_at  TEXT NOT NULL,
            record       TEXT NOT NULL
        )""",
        "CREATE INDEX articles_story ON articles (story_id)",
        """CREATE TABLE stories (
            story_id     TEXT PRIMARY KEY,
            n_articles   INTEGER NOT NULL,
            last_updated TEXT NOT NULL,
            record       TEXT NOT NULL
        )""",
        """CREATE TABLE dead_letters (
            letter_id    TEXT PRIMARY KEY,
            stage        TEXT NOT NULL,
            message_key  TEXT,
            error        TEXT NOT NULL,
            record       TEXT NOT NULL
        )""",
    ),
    # When the sink first wrote the article: publish-to-sink latency is written_at - received_at.
    ("ALTER TABLE articles ADD COLUMN written_at TEXT",),
    # Which stories' snapshots list an article, so "has it reached the end" is a join, not a JSON scan.
    # Rows of a database from before are filled in from the stored snapshots (_backfill_story_articles).
    (
        """CREATE TABLE story_articles (
            article_id   TEXT NOT NULL,
            story_id     TEXT NOT NULL,
            PRIMARY KEY (article_id, story_id)
        )""",
    ),
    # The story a merged story's last snapshot points at: such a snapshot is final, and lists no articles.
    ("ALTER TABLE stories ADD COLUMN merged_into TEXT",),
)
_STORY_ARTICLES_VERSION = 3

# A replay keeps the first written_at: latency is measured to the first arrival.
_UPSERT_ARTICLES = """INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (article_id) DO UPDATE SET story_id = excluded.story_id, feed = excluded.feed,
    source = excluded.source, headline = excluded.headline, relation = excluded.relation,
    of_article = excluded.of_article, received_at = excluded.received_at, record = excluded.record"""
# A redelivered older snapshot (fewer articles) never replaces a newer one; a merged story's last snapshot
# replaces any other and is never replaced.
_UPSERT_STORIES = """INSERT INTO stories VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (story_id) DO UPDATE SET n_articles = excluded.n_articles,
    last_updated = excluded.last_updated, record = excluded.record, merged_into = excluded.merged_into
    WHERE stories.merged_into IS NULL
    AND (excluded.merged_into IS NOT NULL OR excluded.n_articles >= stories.n_articles)"""
_MERGED = "SELECT 1 FROM stories m WHERE m.story_id = ? AND m.merged_into IS NOT NULL"
_INSERT_DEAD_LETTERS = "INSERT INTO dead_letters VALUES (?, ?, ?, ?, ?) ON CONFLICT (letter_id) DO NOTHING"
_INSERT_STORY_ARTICLES = (
    "INSERT INTO story_articles VALUES (?, ?) ON CONFLICT (article_id, story_id) DO NOTHING"
)
# A merged story lists no articles, whatever older snapshots of it come later.
_INSERT_UNMERGED_STORY_ARTICLES = f"""INSERT INTO story_articles SELECT ?, ? WHERE NOT EXISTS ({_MERGED})
    ON CONFLICT (article_id, story_id) DO NOTHING"""
_DELETE_MERGED_STORY_ARTICLES = f"DELETE FROM story_articles WHERE story_id = ? AND EXISTS ({_MERGED})"


class StoreUnavailable(RuntimeError):
    """The database cannot be reached or written right now; the write may be retried."""


class SinkStore:
    """The pipeline's output in SQLite (this class) or PostgreSQL (``PostgresSinkStore``), upserted by key."""

    placeholder = "?"

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db: Any = sqlite3.connect(path, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._migrate()

    # --- backend-specific -------------------------------------------------------------------------

    def _schema_version(self) -> int:
        return self._db.execute("PRAGMA user_version").fetchone()[0]

    def _apply_migrations(self) -> None:
        version = self._schema_version()
        for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
            self._db.execute("BEGIN IMMEDIATE")
            for statement in statements:
                self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version = {number}")
            self._db.execute("COMMIT")

    def _write(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(sql, rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.OperationalError as error:
            raise StoreUnavailable(f"SQLite {self.path}: {error}") from error

    def _rows(self, sql: str) -> list[tuple[Any, ...]]:
        return list(self._db.execute(sql))

    def close(self) -> None:
        self._db.close()

    # --- shared ------------------------------------------------------------------------------------

    def _migrate(self) -> None:
        """Bring the schema to the latest version, filling in what a migration's new table derives from."""
        before = self._schema_version()
        self._apply_migrations()
        if before < _STORY_ARTICLES_VERSION:
            pairs = [
                (article_id, story_id)
                for story_id, record in self._rows("SELECT story_id, record FROM stories")
                for article_id in json.loads(record)["article_ids"]
            ]
            if pairs:
                self._write(self._sql(_INSERT_STORY_ARTICLES), pairs)

    def _sql(self, sql: str) -> str:
        return sql.replace("?", self.placeholder) if self.placeholder != "?" else sql

    def write_articles(self, articles: Sequence[EnrichedArticle]) -> int:
        """Upsert articles by article_id (the last record wins); return the rows written."""
        now = datetime.now(UTC).isoformat()
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
                now,
            )
            for a in articles
        ]
        if rows:
            self._write(self._sql(_UPSERT_ARTICLES), rows)
        return len(rows)

    def write_stories(self, snapshots: Sequence[StorySnapshot]) -> int:
        """Upsert snapshots by story_id; an older snapshot (fewer articles) never replaces a newer one, and
        a merged story's last snapshot (``merged_into``) replaces any other and stays."""
        rows = [
            (s.story_id, len(s.article_ids), s.last_updated.isoformat(), s.model_dump_json(), s.merged_into)
            for s in snapshots
        ]
        if rows:
            self._write(self._sql(_UPSERT_STORIES), rows)
            pairs = {(article_id, s.story_id) for s in snapshots for article_id in s.article_ids}
            self._write(self._sql(_INSERT_UNMERGED_STORY_ARTICLES), [(a, s, s) for a, s in sorted(pairs)])
            merged = sorted({s.story_id for s in snapshots if s.merged_into is not None})
            if merged:
                self._write(self._sql(_DELETE_MERGED_STORY_ARTICLES), [(s, s) for s in merged])
        return len(rows)

    def write_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        """Insert dead letters, once each (keyed by where the message came from)."""
        rows = []
        for letter in letters:
            origin = f"{letter.stage}|{letter.topic}|{letter.partition}|{letter.offset}|{letter.key}"
            if letter.offset is None:
                origin += "|" + hashlib.sha256(letter.payload.encode("utf-8")).hexdigest()
            rows.append((origin, letter.stage, letter.key, letter.error, letter.model_dump_json()))
        if rows:
            self._write(self._sql(_INSERT_DEAD_LETTERS), rows)
        return len(rows)

    def articles(self) -> list[EnrichedArticle]:
        rows = self._rows("SELECT record FROM articles ORDER BY received_at, article_id")
        return [EnrichedArticle.model_validate_json(record) for (record,) in rows]

    def write_times(self) -> dict[str, tuple[float, float]]:
        """Return each article's publish time (received_at) and first write in the store, as epoch seconds."""
        rows = self._rows("SELECT article_id, received_at, written_at FROM articles")
        return {
            article_id: (
                datetime.fromisoformat(received).timestamp(),
                datetime.fromisoformat(written).timestamp(),
            )
            for article_id, received, written in rows
        }

    def latencies(self) -> dict[str, float]:
        """Return each article's seconds from publish (received_at) to its first write in the store."""
        return {
            article_id: written - received for article_id, (received, written) in self.write_times().items()
        }

    def stories(self) -> list[StorySnapshot]:
        rows = self._rows("SELECT record FROM stories ORDER BY story_id")
        return [StorySnapshot.model_validate_json(record) for (record,) in rows]

    def dead_letters(self) -> list[DeadLetter]:
        rows = self._rows("SELECT record FROM dead_letters ORDER BY letter_id")
        return [DeadLetter.model_validate_json(record) for (record,) in rows]

    def settled_ids(self) -> set[str]:
        """Return the article_ids that reached the end: enriched with their story stored, or dead-lettered."""
        rows = self._rows(
            "SELECT article_id FROM articles a WHERE EXISTS "
            "(SELECT 1 FROM story_articles s WHERE s.article_id = a.article_id) "
            "UNION SELECT message_key FROM dead_letters WHERE message_key IS NOT NULL"
        )
        return {row[0] for row in rows if row[0]}

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
                for (record,) in self._rows(query):
                    out.write(record + "\n")
            os.replace(partial, path)
            written[name] = path
        return written


class PostgresSinkStore(SinkStore):
    """The same store in PostgreSQL (``COPYDESK_SINK__DATABASE_URL=postgresql://...``).

    Reconnects after the server went away: a write that fails raises StoreUnavailable and the next
    call opens a new connection.
    """

    placeholder = "%s"

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = None  # type: ignore[assignment]
        self._db = None
        self._connect()
        self._migrate()

    def _connect(self) -> Any:
        import psycopg

        if self._db is None or self._db.closed:
            try:
                self._db = psycopg.connect(self.url, autocommit=False, connect_timeout=5)
            except psycopg.OperationalError as error:
                self._db = None
                raise StoreUnavailable(f"PostgreSQL: {error}") from error
        return self._db

    def _schema_version(self) -> int:
        db = self._connect()
        with db.transaction():
            db.execute("CREATE TABLE IF NOT EXISTS copydesk_schema (version INTEGER NOT NULL)")
            row = db.execute("SELECT max(version) FROM copydesk_schema").fetchone()
        return row[0] or 0

    def _apply_migrations(self) -> None:
        db = self._connect()
        version = self._schema_version()
        for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
            with db.transaction():
                # One migrator at a time, when several sinks start together.
                db.execute("LOCK TABLE copydesk_schema IN EXCLUSIVE MODE")
                if (db.execute("SELECT max(version) FROM copydesk_schema").fetchone()[0] or 0) >= number:
                    continue
                for statement in statements:
                    db.execute(statement)
                db.execute("INSERT INTO copydesk_schema VALUES (%s)", (number,))

    def _write(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        import psycopg

        try:
            db = self._connect()
            with db.transaction(), db.cursor() as cursor:
                cursor.executemany(sql, rows)
        except psycopg.OperationalError as error:
            self._drop_connection()
            raise StoreUnavailable(f"PostgreSQL: {error}") from error

    def _rows(self, sql: str) -> list[tuple[Any, ...]]:
        import psycopg

        try:
            db = self._connect()
            with db.transaction():
                return list(db.execute(sql))
        except psycopg.OperationalError as error:
            self._drop_connection()
            raise StoreUnavailable(f"PostgreSQL: {error}") from error

    def _drop_connection(self) -> None:
        if self._db is not None:
            with contextlib.suppress(Exception):
                self._db.close()
        self._db = None

    def close(self) -> None:
        self._drop_connection()


def open_store(settings: Settings) -> SinkStore:
    """Return the store the settings name: PostgreSQL when a database URL is set, else SQLite in out_dir."""
    url = settings.sink.database_url
    if url is not None:
        return PostgresSinkStore(url.get_secret_value())
    return SinkStore(settings.sink.out_dir / "copydesk.db")


async def write_with_retry(write: Callable[[], int], max_wait_s: float, what: str) -> int:
    """Call ``write`` until it succeeds; while the store is down, retry with backoff for up to ``max_wait_s``.

    The batch stays unacknowledged meanwhile, so Kafka keeps the records (and faust's flow control stops
    fetching more). Past ``max_wait_s`` the error propagates: the sink stops and its supervisor restarts it.
    """
    deadline = time.monotonic() + max_wait_s
    delay = 0.2
    while True:
        try:
            return write()
        except StoreUnavailable as error:
            metrics.SINK_RETRIES.inc()
            if time.monotonic() + delay > deadline:
                raise
            log.warning("sink store unavailable writing %s (%s); retrying in %.1fs", what, error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


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
    app = new_app(settings, app_id, "memory://")
    partitions = settings.kafka.partitions
    topics = {
        name: app.topic(name, partitions=partitions, value_serializer="raw", key_serializer="raw")
        for name in (ENRICHED, STORIES, DEADLETTER)
    }
    batch, within = settings.sink.batch_size, settings.sink.batch_seconds
    max_wait = settings.sink.max_outage_s
    dirty = {"export": False}

    @app.agent(topics[ENRICHED], name="sink-enriched")
    async def sink_enriched(stream: StreamT) -> None:
        async for values in stream.take(batch, within=within):
            metrics.RECORDS_IN.labels("sink").inc(len(values))
            articles = _decode_all(EnrichedArticle, values)
            started = time.perf_counter()
            written = await write_with_retry(
                lambda batch=articles: store.write_articles(batch), max_wait, "articles"
            )
            metrics.SINK_WRITES.labels("articles").inc(written)
            metrics.STAGE_SECONDS.labels("sink").observe(time.perf_counter() - started)
            now = datetime.now(UTC)
            for article in articles:
                metrics.END_TO_END_SECONDS.observe((now - article.received_at).total_seconds())
            metrics.RECORDS_OUT.labels("sink", "ok").inc(len(articles))
            dirty["export"] = True

    @app.agent(topics[STORIES], name="sink-stories")
    async def sink_stories(stream: StreamT) -> None:
        async for values in stream.take(batch, within=within):
            snapshots = _decode_all(StorySnapshot, values)
            written = await write_with_retry(
                lambda batch=snapshots: store.write_stories(batch), max_wait, "stories"
            )
            metrics.SINK_WRITES.labels("stories").inc(written)
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
