"""Shared fixtures: the seed articles as raw and normalized records."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pipeline.normalize import normalize
from schemas import NormalizedArticle, RawArticle
from tests.postgres import PostgresServer

if TYPE_CHECKING:
    import faust

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
# The development corpora: ../shared/data beside the checkout (as on the dev machines and in CI).
SHARED_DATA = Path(os.environ.get("COPYDESK_SHARED_DATA") or REPO.parent / "shared" / "data")
RECEIVED = datetime(2023, 12, 27, 18, 0, tzinfo=UTC)
# The seed story ran on Wednesday 27 December 2023 (Blinken's Mexico City visit).
PUBLISHED = datetime(2023, 12, 27, 15, 0, tzinfo=UTC)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip a test marked ``shared_data(*names)`` where a corpus it names is not in SHARED_DATA."""
    for marker in item.iter_markers("shared_data"):
        missing = [name for name in marker.args if not (SHARED_DATA / name).exists()]
        if missing:
            pytest.skip(f"{', '.join(missing)} not in {SHARED_DATA} (set COPYDESK_SHARED_DATA)")


def last_json(output: str) -> dict:
    """Return the JSON object on the last line of a command's output (every eval, bench and chaos ends so)."""
    return json.loads(output.strip().splitlines()[-1])


def raw_seed(prefix: str, **changes: object) -> RawArticle:
    """Return the seed whose file name starts with ``prefix`` ("000".."004") as a raw article."""
    (path,) = SEEDS.glob(f"{prefix}*.txt")
    fields = {
        "article_id": path.stem,
        "feed": "seeds",
        "received_at": RECEIVED,
        "text": path.read_text("utf-8"),
    }
    return RawArticle(**{**fields, **changes})


def seed_snippets(seed: str, published_at: datetime | None = PUBLISHED) -> NormalizedArticle:
    """A NormalizedArticle from seeds/<seed>_*.txt without normalize: first line headline, other non-empty
    lines paragraphs (the facts core's view of a seed, whatever normalize would strip)."""
    (path,) = SEEDS.glob(f"{seed}_*.txt")
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return snippet(*lines, article_id=seed, published_at=published_at)


def snippet(
    headline: str, *paragraphs: str, article_id: str = "t", published_at: datetime | None = PUBLISHED
) -> NormalizedArticle:
    """A NormalizedArticle of these paragraphs, as normalize would make it."""
    return NormalizedArticle(
        article_id=article_id,
        feed="test",
        published_at=published_at,
        received_at=datetime(2023, 12, 27, 16, 0, tzinfo=UTC),
        headline=headline,
        paragraphs=list(paragraphs),
        body="\n\n".join(paragraphs),
        word_count=sum(len(p.split()) for p in paragraphs),
    )


@pytest.fixture(scope="session")
def seed_articles() -> dict[str, NormalizedArticle]:
    """The five seeds, normalized, by their three-digit prefix."""
    return {prefix: normalize(raw_seed(prefix)) for prefix in ("000", "001", "002", "003", "004")}


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of the test session's own (initdb in a temporary folder, its own port)."""
    server = PostgresServer().init()
    server.start()
    yield server
    server.remove()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a fresh, empty database on the test server."""
    import psycopg

    name = f"t{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return postgres_server.url(name)


def close_consumer_loop(app: faust.App) -> None:
    """Close the event loop of the app's consumer thread, which test_context never starts.

    faust builds ``app.consumer`` the first time a stream is iterated; its aiokafka consumer thread (a mode
    ServiceThread) creates an event loop in ``__init__`` that only the running thread would close. Left
    open, its ResourceWarning fires in some later garbage collection, inside another test.
    """
    consumer = app._consumer  # not the `consumer` property, which would build one just to close it
    loop = getattr(getattr(consumer, "_thread", None), "thread_loop", None)
    if loop is not None and not loop.is_running() and not loop.is_closed():
        loop.close()
