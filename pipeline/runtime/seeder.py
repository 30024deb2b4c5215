"""The seeder: publish article files to ``wire.raw.<feed>``, keyed by article_id.

A folder of ``.txt`` files (each file one article; its name without extension is the article_id) or JSONL
corpora (one object per line with ``id``, ``text`` and optionally ``title``, ``source``, ``date``, ``url``,
as in shared/data). Label fields such as ``story`` are not published.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import dateparser
from kafka import KafkaProducer

from pipeline.runtime.codec import encode
from schemas import RawArticle

__all__ = ["Seeder", "collect_files", "read_articles"]

SUFFIXES = (".txt", ".jsonl")


def collect_files(paths: Iterable[Path]) -> list[Path]:
    """Return the .txt and .jsonl files named or inside the folders named, in sorted order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return files


def _published_at(value: object) -> datetime | None:
    if not value:
        return None
    parsed = dateparser.parse(str(value), settings={"TIMEZONE": "UTC", "RETURN_AS_TIMEZONE_AWARE": True})
    return parsed


def read_articles(files: Iterable[Path], feed: str) -> Iterator[RawArticle]:
    """Yield the raw articles in the files, stamped as received now."""
    for path in files:
        if path.suffix == ".jsonl":
            with path.open(encoding="utf-8") as lines:
                for number, line in enumerate(lines, 1):
                    if not line.strip():
                        continue
                    row = json.loads(line)
                    if "id" not in row or "text" not in row:
                        raise ValueError(f"{path}:{number}: a JSONL article needs 'id' and 'text'")
                    yield RawArticle(
                        article_id=str(row["id"]),
                        feed=feed,
                        source=row.get("source") or None,
                        url=row.get("url") or None,
                        published_at=_published_at(row.get("date")),
                        received_at=datetime.now(UTC),
                        title=row.get("title") or None,
                        text=row["text"],
                    )
        else:
            yield RawArticle(
                article_id=path.stem,
                feed=feed,
                received_at=datetime.now(UTC),
                text=path.read_text(encoding="utf-8", errors="replace"),
            )


class Seeder:
    """Publishes raw articles to their feed's topic with a kafka-python producer."""

    def __init__(self, client_config: dict[str, object], max_request_size: int = 1_000_000) -> None:
        self._producer = KafkaProducer(
            **client_config,
            acks="all",
            linger_ms=5,
            max_request_size=max_request_size,
            retries=10,
        )

    def publish(
        self,
        articles: Iterable[RawArticle],
        topic_of: Callable[[str], str],
        rate: float | None = None,
        on_sent: Callable[[RawArticle], None] | None = None,
    ) -> list[str]:
        """Publish each article (at most ``rate`` per second when given); return the article_ids sent."""
        sent: list[str] = []
        started = time.monotonic()
        remaining = iter(articles)
        while True:
            # Wait before taking the next article, not after: a lazy iterable that stamps each article as it
            # is taken (the bench's publish time) then sees it sent at once.
            if rate:
                delay = started + len(sent) / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            article = next(remaining, None)
            if article is None:
                break
            self._producer.send(
                topic_of(article.feed), key=article.article_id.encode("utf-8"), value=encode(article)
            )
            sent.append(article.article_id)
            if on_sent:
                on_sent(article)
        self._producer.flush()
        return sent

    def send_bytes(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Publish a message as it is (operators' and tests' hand-made messages)."""
        self._producer.send(topic, key=key, value=value)
        self._producer.flush()

    def close(self) -> None:
        self._producer.close()
