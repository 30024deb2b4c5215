"""Fixtures of the agent tier: faust apps ready for ``agent.test_context()``, outbound topics as AsyncMocks.

``agent.put(value)`` returns once the agent has *read* the message (our agents do not yield, so faust
records each value on its way in), not once the agent has sent what it makes of it; the sink agents even
hold records back until a batch is due. So a test waits on a condition, the n-th record sent to an
outbound topic or handed to the sink store, never on a sleep. ``Watch`` does the waiting
and fails at once, with the agent's exception, when the agent crashes instead.
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
from faust.types import AgentT
from prometheus_client import REGISTRY
from pydantic import BaseModel

from pipeline.app import (
    ALIAS_TABLE,
    DEADLETTER,
    DEDUPED,
    ENRICHED,
    FACTS,
    FACTS_REST,
    NORMALIZED,
    STORIES,
    Pipeline,
    build_app,
)
from pipeline.facts import FactExtractor
from pipeline.runtime.aliases import PartitionAliases
from pipeline.runtime.codec import decode
from pipeline.settings import Settings
from pipeline.sink import SinkStore, build_sink_app
from schemas import DeadLetter, EnrichedArticle, StorySnapshot
from tests.conftest import close_consumer_loop

M = TypeVar("M", bound=BaseModel)

# Far longer than any agent here needs for a record; reaching it means the condition will not come.
WAIT_SECONDS = 10.0
# The sink writes a batch once it holds SINK_BATCH records (the five seeds), or SINK_WITHIN seconds after it began.
SINK_BATCH = 5
SINK_WITHIN = 0.05


class Watch:
    """Lets a test await what the agents under test do, and see their crashes."""

    def __init__(self) -> None:
        self.changed = asyncio.Event()
        self.crash: BaseException | None = None

    def test_context(self, agent: AgentT) -> Any:
        """Return ``agent.test_context()``, with this watch told when the agent crashes."""
        return agent.test_context(on_error=self._crashed)

    async def _crashed(self, agent: AgentT, error: BaseException) -> None:
        self.crash = error
        self.changed.set()

    async def until(self, predicate: Callable[[], bool], what: str) -> None:
        """Return once ``predicate()`` holds; raise the agent's error if it crashes; fail after WAIT_SECONDS."""
        try:
            async with asyncio.timeout(WAIT_SECONDS):
                while self.crash is None and not predicate():
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            pytest.fail(f"waited {WAIT_SECONDS:.0f} s for {what}")
        # Even when the condition holds: the agent may have died right after meeting it.
        if self.crash is not None:
            raise self.crash


class Outbox:
    """An outbound topic whose ``send`` is an AsyncMock: what the agent sent, decoded, and a way to await it."""

    def __init__(self, topic: faust.TopicT, watch: Watch) -> None:
        self.name = topic.get_topic_name()
        self.watch = watch
        self.send = AsyncMock(side_effect=self._sent)
        topic.send = self.send  # type: ignore[method-assign]

    async def _sent(self, *args: Any, **kwargs: Any) -> asyncio.Future[None]:
        self.watch.changed.set()
        # faust's send returns a future the broker's acknowledgement fulfils: here, at once.
        delivered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        delivered.set_result(None)
        return delivered

    def keys(self) -> list[bytes | None]:
        return [call.kwargs["key"] for call in self.send.await_args_list]

    def records(self, model: type[M]) -> list[M]:
        """Return every value sent so far, decoded as ``model``."""
        return [decode(model, call.kwargs["value"]) for call in self.send.await_args_list]

    async def wait_for(self, count: int) -> None:
        """Return once ``count`` records in all have been sent here."""
        await self.watch.until(lambda: self.send.await_count >= count, f"{count} record(s) on {self.name}")


class WatchedStore(SinkStore):
    """A SinkStore a test can await: the sink agents write in their own task, a batch at a time, when it is due."""

    def __init__(self, path: Path, watch: Watch) -> None:
        super().__init__(path)
        self.watch = watch
        # Records handed to each write method so far, however the sink happened to batch them.
        self.received: dict[str, int] = {"articles": 0, "stories": 0, "dead_letters": 0}

    def _received(self, table: str, records: Sequence[Any]) -> None:
        self.received[table] += len(records)
        self.watch.changed.set()

    def write_articles(self, articles: Sequence[EnrichedArticle]) -> int:
        written = super().write_articles(articles)
        self._received("articles", articles)
        return written

    def write_stories(self, snapshots: Sequence[StorySnapshot]) -> int:
        written = super().write_stories(snapshots)
        self._received("stories", snapshots)
        return written

    def write_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        written = super().write_dead_letters(letters)
        self._received("dead_letters", letters)
        return written

    async def wait_for(self, table: str, count: int) -> None:
        """Return once ``count`` records in all have been written (or skipped as already there) to ``table``."""
        await self.watch.until(lambda: self.received[table] >= count, f"{count} record(s) written to {table}")


def dead_letters_counted(stage: str) -> float:
    """Return copydesk_dead_letters_total{stage=...} from the default Prometheus registry."""
    return REGISTRY.get_sample_value("copydesk_dead_letters_total", {"stage": stage}) or 0.0


def ready_for_tests(app: faust.App) -> faust.App:
    """Prepare an app for ``agent.test_context()`` as faust's testing guide does."""
    app.finalize()
    app.conf.store = "memory://"
    # Flow control starts paused (a worker resumes it after each rebalance); a paused stream skips every event.
    app.flow_control.resume()
    return app


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        sink={"out_dir": tmp_path / "out", "batch_size": SINK_BATCH, "batch_seconds": SINK_WITHIN},
    )


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture(scope="module")
def spacy_extractor() -> FactExtractor:
    """One FactExtractor (one spaCy model load, about a second) per test module, without alias memory."""
    return FactExtractor()


@pytest.fixture
async def pipeline_factory(
    settings: Settings, spacy_extractor: FactExtractor
) -> AsyncIterator[Callable[[], Pipeline]]:
    """Build worker apps with an in-memory store, ready for test_context (two of them model a restart)."""
    built: list[Pipeline] = []

    def build() -> Pipeline:
        # The copy shares the loaded spaCy model; its alias memory is this app's table, as build_app wires it.
        extractor = copy.copy(spacy_extractor)
        pipeline = build_app(settings, store="memory://", extractor=extractor)
        extractor.aliases = PartitionAliases(
            pipeline.app.tables[ALIAS_TABLE], settings.facts.alias_window or None
        )
        extractor.max_chars = settings.facts.text_bound
        extractor.inline_chars = settings.facts.inline_bound
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
def outboxes(pipeline: Pipeline, watch: Watch) -> dict[str, Outbox]:
    """Every topic the worker's agents write to, by name, with ``send`` replaced by an AsyncMock."""
    names = (NORMALIZED, DEDUPED, FACTS_REST, FACTS, ENRICHED, STORIES, DEADLETTER)
    return {name: Outbox(pipeline.topics[name], watch) for name in names}


@pytest.fixture
def sink_store(tmp_path: Path, watch: Watch) -> Iterator[WatchedStore]:
    store = WatchedStore(tmp_path / "sink" / "copydesk.sqlite", watch)
    yield store
    store.close()


@pytest.fixture
async def sink_app(settings: Settings, sink_store: WatchedStore) -> AsyncIterator[faust.App]:
    """The sink app writing into ``sink_store``, ready for test_context."""
    app = ready_for_tests(build_sink_app(settings, sink_store))
    yield app
    close_consumer_loop(app)
