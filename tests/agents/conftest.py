"""Fixtures of the agent tier: faust apps ready for ``agent.test_context()``, outbound topics as AsyncMocks.

``agent.put(value)`` feeds one message to the agent and returns once the agent has *read* it (our agents do
not yield, so faust records the value on its way in), not once the agent has sent its output. Tests
therefore wait on a condition, the n-th record on an outbound topic or the n-th row in the sink store, and
never on a sleep.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar
from unittest.mock import AsyncMock

import faust
import pytest
from prometheus_client import REGISTRY
from pydantic import BaseModel

from pipeline.app import ALIAS_TABLE, DEADLETTER, DEDUPED, ENRICHED, FACTS, NORMALIZED, STORIES, Pipeline, build_app
from pipeline.codec import decode
from pipeline.facts import FactExtractor
from pipeline.settings import Settings
from pipeline.sink import SinkStore, build_sink_app
from schemas import DeadLetter, EnrichedArticle, StorySnapshot

M = TypeVar("M", bound=BaseModel)

# Long enough for any one record on a slow CI machine; a test that waits this long has failed.
WAIT_SECONDS = 10.0
# The sink tests put at most this many records per batch; a smaller batch is flushed after SINK_WITHIN.
SINK_BATCH = 5
SINK_WITHIN = 0.05


async def until(changed: asyncio.Event, predicate: Callable[[], bool], what: str) -> None:
    """Return once ``predicate()`` holds, re-checking each time ``changed`` is set; fail after WAIT_SECONDS."""
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            while not predicate():
                changed.clear()
                await changed.wait()
    except TimeoutError:
        pytest.fail(f"waited {WAIT_SECONDS:.0f} s for {what}")


class Outbox:
    """An outbound topic whose ``send`` is an AsyncMock; decodes what the agent sent and lets a test await it."""

    def __init__(self, topic: faust.TopicT) -> None:
        self.name = topic.get_topic_name()
        self._changed = asyncio.Event()
        self.send = AsyncMock(side_effect=self._sent)
        topic.send = self.send  # type: ignore[method-assign]

    async def _sent(self, *args: Any, **kwargs: Any) -> None:
        self._changed.set()

    def keys(self) -> list[bytes | None]:
        return [call.kwargs["key"] for call in self.send.await_args_list]

    def records(self, model: type[M]) -> list[M]:
        """Return every value sent so far, decoded as ``model``."""
        return [decode(model, call.kwargs["value"]) for call in self.send.await_args_list]

    async def wait_for(self, count: int) -> None:
        """Return once ``count`` records have been sent here."""
        await until(self._changed, lambda: self.send.await_count >= count, f"{count} record(s) on {self.name}")


def dead_letters_counted(stage: str) -> float:
    """Return copydesk_dead_letters_total{stage=...} from the default Prometheus registry."""
    return REGISTRY.get_sample_value("copydesk_dead_letters_total", {"stage": stage}) or 0.0


def ready_for_tests(app: faust.App) -> faust.App:
    """Prepare an app for ``agent.test_context()`` as faust's testing guide does."""
    app.finalize()
    app.conf.store = "memory://"
    # Flow control starts paused (the worker resumes it after a rebalance); paused streams skip every event.
    app.flow_control.resume()
    return app


def close_consumer_loop(app: faust.App) -> None:
    """Close the event loop of the app's never-started consumer thread.

    faust builds ``app.consumer`` the first time a stream is iterated, and its aiokafka consumer thread
    (a mode ServiceThread) creates an event loop in ``__init__`` that only the running thread would close.
    Left open, the loop's ResourceWarning fires during some later garbage collection, in another test.
    """
    consumer = app._consumer  # not the `consumer` property: that would build one just to close it
    thread = getattr(consumer, "_thread", None)
    loop = getattr(thread, "thread_loop", None)
    if loop is not None and not loop.is_running() and not loop.is_closed():
        loop.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        sink={"out_dir": tmp_path / "out", "batch_size": SINK_BATCH, "batch_seconds": SINK_WITHIN},
    )


@pytest.fixture(scope="module")
def spacy_extractor() -> FactExtractor:
    """One FactExtractor (one spaCy model load, about a second) per test module, without alias memory."""
    return FactExtractor()


@pytest.fixture
async def pipeline_factory(settings: Settings, spacy_extractor: FactExtractor) -> AsyncIterator[Callable[[], Pipeline]]:
    """Build worker apps with an in-memory store, ready for test_context (several, to model a restart)."""
    built: list[Pipeline] = []

    def build() -> Pipeline:
        # A copy shares the loaded spaCy model; its alias memory is this app's table, as build_app would wire it.
        extractor = copy.copy(spacy_extractor)
        pipeline = build_app(settings, store="memory://", extractor=extractor)
        extractor.aliases = pipeline.app.tables[ALIAS_TABLE]
        ready_for_tests(pipeline.app)
        built.append(pipeline)
        return pipeline

    yield build
    for pipeline in built:
        close_consumer_loop(pipeline.app)


@pytest.fixture
async def pipeline(pipeline_factory: Callable[[], Pipeline]) -> Pipeline:
    return pipeline_factory()


@pytest.fixture
def outboxes(pipeline: Pipeline) -> dict[str, Outbox]:
    """Every topic the worker's agents write to, by name, with ``send`` replaced by an AsyncMock."""
    return {name: Outbox(pipeline.topics[name]) for name in (NORMALIZED, DEDUPED, FACTS, ENRICHED, STORIES, DEADLETTER)}


class WatchedStore(SinkStore):
    """A SinkStore a test can await: the sink agents write batches in their own task, when a batch is due."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.batches: dict[str, int] = {"articles": 0, "stories": 0, "dead_letters": 0}
        self._changed = asyncio.Event()

    def _written(self, table: str, rows: int) -> int:
        self.batches[table] += 1
        self._changed.set()
        return rows

    def write_articles(self, articles: Sequence[EnrichedArticle]) -> int:
        return self._written("articles", super().write_articles(articles))

    def write_stories(self, snapshots: Sequence[StorySnapshot]) -> int:
        return self._written("stories", super().write_stories(snapshots))

    def write_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        return self._written("dead_letters", super().write_dead_letters(letters))

    async def wait_for_batches(self, table: str, count: int) -> None:
        """Return once ``count`` batches have been written to ``table`` in all."""
        await until(self._changed, lambda: self.batches[table] >= count, f"{count} batch(es) into {table}")


@pytest.fixture
def sink_store(tmp_path: Path) -> Iterator[WatchedStore]:
    store = WatchedStore(tmp_path / "sink" / "copydesk.sqlite")
    yield store
    store.close()


@pytest.fixture
async def sink_app(settings: Settings, sink_store: WatchedStore) -> AsyncIterator[faust.App]:
    """The sink app writing into ``sink_store``, ready for test_context."""
    app = ready_for_tests(build_sink_app(settings, sink_store))
    yield app
    close_consumer_loop(app)
