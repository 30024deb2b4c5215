"""The copydesk worker: the faust App and every topic, table and agent, in pipeline order.

    wire.raw.<feed>  ──normalize──▶ copydesk.normalized ──dedupe──▶ copydesk.deduped ──facts──▶
    copydesk.facts ──stories──▶ wire.enriched + wire.stories          (any stage ──▶ wire.deadletter)
    (a long article: facts ──▶ copydesk.facts-rest ──facts-rest──▶ copydesk.facts, its whole facts)

Each agent reads, calls its stage's pure core, writes and counts. Dedupe reads a single-partition topic and
is the sequencer: it stamps each article with a gap-free number (``seq``). Facts, the slow stage, runs on
``kafka.partitions`` partitions of copydesk.deduped (keyed by article_id), so N workers share it. Stories
reads a single-partition topic again and restores dedupe's order with a reorder buffer, so decisions are
deterministic for a given input order however many workers run. A long article (``FACTS__INLINE_CHARS``)
goes on to the stories stage with the facts of its head and is read whole off that path (facts-rest), so
the articles behind it do not wait for its whole parse; its wire.enriched record waits for both. State
lives in changelog-backed tables (``Settings.table_store``: in memory by default), and each core replays
its first decision for a redelivered article, so faust's at-least-once delivery doubles nothing.

Each stage is a small class holding its core, its table and the topics it writes; its ``run(stream)`` is
the faust agent. ``build_app`` wires them, in the order records flow.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

import faust
from faust.types import EventT, StreamT

from pipeline import metrics
from pipeline.dedupe import DuplicateIndex
from pipeline.facts import AliasReads, FactExtractor
from pipeline.normalize import InvalidArticle, normalize, parse_raw
from pipeline.runtime.aliases import PartitionAliases
from pipeline.runtime.codec import decode, encode
from pipeline.runtime.cores import dedupe_index, fact_parser, stories_index
from pipeline.runtime.deadletter import dead_letter
from pipeline.runtime.faust_app import App, new_app
from pipeline.runtime.reorder import ReorderBuffer
from pipeline.runtime.replay import RecentDecisions
from pipeline.runtime.story_table import REST_PREFIX, SNAPSHOT_PREFIX, decision_rings, keep_story_state
from pipeline.settings import NormalizeSettings, Settings, StoriesSettings
from pipeline.stories import StoryIndex
from schemas import ArticleRest, DedupedArticle, EnrichedArticle, FactsArticle, NormalizedArticle

if TYPE_CHECKING:
    from spacy.tokens import Doc

__all__ = [
    "ALIAS_TABLE", "DEADLETTER", "DEDUPED", "DEDUPE_TABLE", "ENRICHED", "FACTS", "FACTS_REST", "NORMALIZED",
    "PUBLIC_TOPICS", "REORDER_TICK", "STORIES", "STORY_TABLE", "Pipeline", "build_app", "raw_topic",
    "topic_partitions",
]  # fmt: skip

log = logging.getLogger(__name__)

# --- topics and tables, in pipeline order -------------------------------------------------------------------

NORMALIZED = "copydesk.normalized"
DEDUPED = "copydesk.deduped"
FACTS_REST = "copydesk.facts-rest"
FACTS = "copydesk.facts"
ENRICHED = "wire.enriched"
STORIES = "wire.stories"
DEADLETTER = "wire.deadletter"
PUBLIC_TOPICS = (ENRICHED, STORIES, DEADLETTER)
# Tables, named as faust names their changelog topics: "<app id>-<table>-changelog".
DEDUPE_TABLE = "dedupe_window"
ALIAS_TABLE = "entity_aliases"
# The story states and the stories stage's reorder buffer (see pipeline/runtime/story_table.py).
STORY_TABLE = "story_state"
# Held records sent back to copydesk.facts at most at once (a gap-free run of them; the rest follow later).
RELEASE_RUN = 500
# A record the worker holding the stories stage sends itself on copydesk.facts when held records have waited
# for a missing sequence number a while: it wakes the stage to give up on the number even if nothing else comes.
# (Table writes need an event's context, so a timer cannot do it itself.)
REORDER_TICK = b"copydesk.reorder-tick"


def raw_topic(feed: str) -> str:
    """Return the topic a feed publishes to."""
    return f"wire.raw.{feed}"


def topic_partitions(settings: Settings) -> dict[str, int]:
    """Return every topic copydesk uses with its partition count (create them all before starting)."""
    kafka = settings.kafka
    topics = {raw_topic(feed): kafka.raw_partitions for feed in kafka.feeds}
    # copydesk.deduped is keyed by article_id and split so facts runs in parallel; the alias table lives
    # beside it (co-partitioned). Dedupe and stories read one partition each: the one arrival order.
    topics |= {NORMALIZED: 1, DEDUPED: kafka.partitions, FACTS_REST: kafka.partitions, FACTS: 1}
    topics |= {name: kafka.partitions for name in PUBLIC_TOPICS}
    topics |= {f"{settings.app_id}-{table}-changelog": 1 for table in (DEDUPE_TABLE, STORY_TABLE)}
    topics |= {f"{settings.app_id}-{ALIAS_TABLE}-changelog": kafka.partitions}
    return topics


# --- the agents, in pipeline order: each stage's core, table and outbound topics ----------------------------
# (eq=False: a stage hashes by identity, so its bound methods can be signal receivers; repr=False: a repr
# would print its whole core.)


@dataclass(eq=False, repr=False)
class Stage:
    """One stage's agent (``run``): each event decoded as the stage's record (``model``) and handed to
    ``handle``; a message that is not one goes to the dead letters."""

    name: ClassVar[str]  # the faust agent's name, and the stage label of the metrics and dead letters
    model: ClassVar[type[Any]]
    app: App
    deadletter: faust.TopicT
    # A stage with state in a table: whether it read the state back since this worker got the partitions.
    restored = False

    async def forget_state(self, app: faust.App, revoked: set[Any], **kwargs: Any) -> None:
        """Partitions revoked: another worker may own the state next, so read it again when it comes back."""
        self.restored = False

    async def run(self, stream: StreamT) -> None:
        async for event in stream.events():
            with self.app.handling(event):  # its offset is committed only if this block returns
                await self.forward(event)

    async def forward(self, event: EventT) -> None:
        metrics.RECORDS_IN.labels(self.name).inc()
        try:
            record = decode(self.model, event.value)
        except ValueError as error:
            await self.reject(f"not a {self.model.__name__}: {error}", event)
            return
        await self.handle(record, event)

    async def handle(self, record: Any, event: EventT) -> None:
        raise NotImplementedError

    async def reject(self, error: str, event: EventT) -> None:
        """Send the event's message to wire.deadletter, saying why the stage could not accept it."""
        letter = dead_letter(self.name, error, event)
        await self.deadletter.send(key=(letter.key or "").encode("utf-8") or None, value=encode(letter))
        metrics.DEAD_LETTERS.labels(self.name).inc()
        metrics.RECORDS_OUT.labels(self.name, "deadletter").inc()
        log.warning("dead letter from %s: %s (key %s)", self.name, error, letter.key)


@dataclass(eq=False, repr=False)
class Normalize(Stage):
    """wire.raw.<feed> ──▶ copydesk.normalized: raw copy parsed and normalized; what is not an article goes
    to the dead letters."""

    name = "normalize"
    normalized: faust.TopicT
    limits: NormalizeSettings

    async def forward(self, event: EventT) -> None:
        metrics.RECORDS_IN.labels("normalize").inc()
        started = time.perf_counter()
        limits = self.limits
        try:
            article = normalize(parse_raw(event.value, limits.max_article_bytes), limits.min_body_words)
        except InvalidArticle as error:
            await self.reject(str(error), event)
            return
        metrics.STAGE_SECONDS.labels("normalize").observe(time.perf_counter() - started)
        await self.normalized.send(key=article.article_id.encode("utf-8"), value=encode(article))
        metrics.RECORDS_OUT.labels("normalize", "ok").inc()


@dataclass(eq=False, repr=False)
class Dedupe(Stage):
    """copydesk.normalized ──▶ copydesk.deduped: each article's relation to the window, and its number."""

    name = "dedupe"
    model = NormalizedArticle
    index: DuplicateIndex
    table: MutableMapping[str, Any]
    deduped: faust.TopicT

    async def handle(self, article: NormalizedArticle, event: EventT) -> None:
        index, table = self.index, self.table
        if not self.restored:
            index.restore(list(table.values()))
            self.restored = True
        started = time.perf_counter()
        received = len(article.paragraphs)
        article, decision, evicted = index.match_clean(article)
        metrics.DEDUPE_FURNITURE_STRIPPED.inc(received - len(article.paragraphs))
        metrics.STAGE_SECONDS.labels("dedupe").observe(time.perf_counter() - started)
        table[article.article_id] = index.export(article.article_id)
        for article_id in evicted:
            table.pop(article_id, None)
        metrics.DEDUPE_INDEX_SIZE.set(len(index))
        metrics.DEDUPE_FURNITURE_LINES.set(index.furniture_lines)
        metrics.DUPLICATES.labels(decision.relation).inc()
        # A redelivered article gets its first number again, so the stories stage sees a redelivery.
        record = DedupedArticle(**dict(article), dedup=decision, seq=index.seq_of(article.article_id))
        await self.deduped.send(key=event.message.key, value=encode(record))
        metrics.RECORDS_OUT.labels("dedupe", "ok").inc()


@dataclass(eq=False, repr=False)
class Facts(Stage):
    """copydesk.deduped ──▶ copydesk.facts: each article's facts; a long one's head's, and the article on to
    copydesk.facts-rest.

    One article at a time: its paragraphs already go through spaCy's nlp.pipe as one batch, and the alias
    table (like every rocksdb-backed table) is written inside the event's own context, in the partition of
    the event (see PartitionAliases).
    """

    name = "facts"
    model = DedupedArticle
    extractor: FactExtractor
    parse: Callable[..., list[Doc]]  # cores.fact_parser: in the parse processes, or in process
    rest_topic: faust.TopicT
    facts_topic: faust.TopicT

    async def handle(self, article: DedupedArticle, event: EventT) -> None:
        extractor = self.extractor
        started = time.perf_counter()
        # spaCy's parse (most of the stage's time) runs in a thread, so the event loop keeps turning
        # meanwhile: the other agents, the fetches and the producer, which hands each table write to the Kafka
        # client only on a turn of the loop (spaCy in the loop would hold commits back for minutes). A long
        # article's paragraphs are parsed in the parse processes, in parallel (FACTS__PARSE_PROCESSES). The
        # alias memory is read and written back here, in the event's context. An article longer than
        # FACTS__INLINE_CHARS goes on with its head's facts, and to facts-rest.
        split = extractor.splits(article)
        docs = await asyncio.to_thread(self.parse, article, split)
        if extractor.truncates(article):
            metrics.FACTS_TRUNCATED.inc()
        if isinstance(extractor.aliases, PartitionAliases):
            extractor.aliases.begin(article.seq)  # what an earlier article taught, even on a redelivery
        # A head keeps what it read from the alias memory, for the whole article's facts to read the same.
        memory = extractor.aliases
        if split and memory is not None:
            memory = AliasReads(memory)
        facts = extractor.assemble(article, docs, memory)
        metrics.STAGE_SECONDS.labels("facts").observe(time.perf_counter() - started)
        if split:
            rest = ArticleRest(**dict(article), aliases=memory.seen if isinstance(memory, AliasReads) else {})
            await self.rest_topic.send(key=event.message.key, value=encode(rest))
            metrics.FACTS_SPLIT.inc()
        record = FactsArticle(**dict(article), facts=facts, part="head" if split else "whole")
        await self.facts_topic.send(key=event.message.key, value=encode(record))
        metrics.RECORDS_OUT.labels("facts", "ok").inc()


@dataclass(eq=False, repr=False)
class FactsRest(Stage):
    """copydesk.facts-rest ──▶ copydesk.facts: a long article's whole facts.

    Parsed in the background (the parse pool's children at the lowest CPU priority, so the stream's parses
    keep the cores; only the texts its head did not parse) and read with the alias memory its head read:
    deterministic, and it teaches the memory nothing (its head did, in order).
    """

    name = "facts-rest"
    model = ArticleRest
    extractor: FactExtractor
    parse: Callable[..., list[Doc]]
    facts_topic: faust.TopicT

    async def handle(self, job: ArticleRest, event: EventT) -> None:
        started = time.perf_counter()
        article = DedupedArticle(**job.model_dump(exclude={"aliases"}))
        docs = await asyncio.to_thread(self.parse, article, False, True)
        memory = dict(job.aliases) if self.extractor.aliases is not None else None
        facts = self.extractor.assemble(article, docs, memory)
        metrics.STAGE_SECONDS.labels("facts-rest").observe(time.perf_counter() - started)
        record = FactsArticle(**dict(article), facts=facts, part="rest")
        await self.facts_topic.send(key=event.message.key, value=encode(record))
        metrics.RECORDS_OUT.labels("facts-rest", "ok").inc()


@dataclass(eq=False, repr=False)
class Stories(Stage):
    """copydesk.facts ──▶ wire.enriched + wire.stories: each article tagged with its story, in dedupe's order.

    Facts ran in parallel: records come in any order. Each is tagged in dedupe's order (seq), the early ones
    held in the story table meanwhile (``reorder``): their offsets are committed once the agent moves on, so
    the buffer must survive a crash as the stories do. Held records whose turn came go back to the stage's
    own input (``facts_topic``), to be tagged as their own events.
    """

    name = "stories"
    model = FactsArticle
    index: StoryIndex
    table: MutableMapping[str, Any]
    reorder: ReorderBuffer
    recent: RecentDecisions  # story_table.decision_rings: the recent decisions, the recently closed stories
    closed: RecentDecisions
    facts_topic: faust.TopicT
    enriched: faust.TopicT
    stories_topic: faust.TopicT
    cfg: StoriesSettings
    resent: set[int] = field(default_factory=set, init=False)  # held records sent back by this process

    def restore(self) -> None:
        if not self.restored:
            self.index.restore(
                [
                    state
                    for key, state in self.table.items()
                    if isinstance(key, str) and key.startswith("story-")
                ]
            )
            self.reorder.restore()
            self.recent.restore()
            self.closed.restore()
            self.restored = True

    async def forward(self, event: EventT) -> None:
        if event.message.key == REORDER_TICK:
            await self.release_held()
            return
        await super().forward(event)

    async def handle(self, article: FactsArticle, event: EventT) -> None:
        self.restore()
        if article.part == "rest":  # not in the sequence: its head is
            await self.complete(article)
            return
        reorder = self.reorder
        if reorder.offer(article.seq, article.model_dump(mode="json"), time.monotonic()):
            if (
                0 < article.seq < reorder.next_seq
                and self.index.story_of(article.article_id) is None
                and self.recent.get(article.article_id) is None
            ):
                log.warning(
                    "stories: seq %d (%s) came after it was given up on", article.seq, article.article_id
                )
            await self.tag(article)
            reorder.done(article.seq)
            self.resent.discard(article.seq)
        await self.release_held()

    async def tag(self, article: FactsArticle) -> None:
        remembered = self.recent.get(article.article_id)
        if remembered is not None and self.index.story_of(article.article_id) is None:
            # Redelivered after its story closed: the same story, and its last snapshot, again.
            await self.publish(article, remembered)
            last = self.table.get(f"{SNAPSHOT_PREFIX}{remembered}")
            if last is not None:
                await self.stories_topic.send(
                    key=remembered.encode("utf-8"), value=json.dumps(last).encode("utf-8")
                )
            metrics.RECORDS_OUT.labels("stories", "ok").inc()
            return
        started = time.perf_counter()
        snapshot = self.index.tag(article)
        metrics.STAGE_SECONDS.labels("stories").observe(time.perf_counter() - started)
        merged = keep_story_state(
            self.index, self.table, self.recent, self.closed, article.article_id, snapshot
        )
        metrics.OPEN_STORIES.set(self.index.open_stories)
        await self.publish(article, snapshot.story_id)
        for last in merged:
            await self.stories_topic.send(key=last.story_id.encode("utf-8"), value=encode(last))
        await self.stories_topic.send(key=snapshot.story_id.encode("utf-8"), value=encode(snapshot))
        metrics.RECORDS_OUT.labels("stories", "ok").inc()

    async def complete(self, rest: FactsArticle) -> None:
        """A long article's whole facts: published now if its head was tagged, else kept until it is."""
        story_id = self.index.story_of(rest.article_id) or self.recent.get(rest.article_id)
        if story_id is None:
            self.table[f"{REST_PREFIX}{rest.article_id}"] = rest.model_dump(mode="json")
        else:
            await self.publish(rest, story_id)
            metrics.RECORDS_OUT.labels("stories", "ok").inc()

    async def publish(self, article: FactsArticle, story_id: str) -> None:
        """Send the article's wire.enriched record. A long article's carries its whole facts: the rest itself,
        or for a head the rest kept for it; without one, the rest publishes it when it comes."""
        key = article.article_id.encode("utf-8")
        if article.part == "whole":
            await self.enriched.send(key=key, value=encode(enriched_record(article, story_id)))
            return
        kept = f"{REST_PREFIX}{article.article_id}"
        rest = article
        if article.part == "head":
            stored = self.table.get(kept)
            if stored is None:
                return
            rest = FactsArticle.model_validate(stored)
        delivered = await self.enriched.send(key=key, value=encode(enriched_record(rest, story_id)))
        # Forgotten only once the broker has the record: a crash in between publishes it again, never loses
        # it.
        await delivered
        self.table.pop(kept, None)

    async def release_held(self) -> None:
        """Send back the held record whose turn came; give up on a number waited on too long."""
        self.restore()
        reorder = self.reorder
        skipped = reorder.skip_gap(time.monotonic())
        if skipped:
            metrics.REORDER_SKIPPED.inc(len(skipped))
            log.warning(
                "stories: gave up waiting for seq %d..%d (%d later records held); an article that comes "
                "later is tagged out of order",
                skipped.start,
                skipped.stop - 1,
                len(reorder),
            )
        # The held record whose turn came goes back to copydesk.facts and is tagged as its own event, so its
        # outputs are committed with its own offset. Tagged here, inside another record's event, a crash
        # before the producer's flush would leave it marked done with its outputs lost. A copy sent twice
        # (after a restart) is a redelivery, replayed. The whole gap-free run goes at once: one partition
        # keeps it in order, and one trip through the topic per record would make a burst of held records
        # drain at the topic's round-trip rate.
        for seq, state in reorder.ready(RELEASE_RUN):
            if seq in self.resent:
                continue
            self.resent.add(seq)
            await self.facts_topic.send(
                key=str(state["article_id"]).encode("utf-8"), value=json.dumps(state).encode()
            )
        metrics.REORDER_PENDING.set(len(reorder))

    async def wake_stalled_reorder(self) -> None:
        """The timer that wakes a stories stage with held records (a tick record on copydesk.facts)."""
        # The stage restores its buffer with the first record it gets after a start or a rebalance. Held
        # records whose turn had come before a crash need a record to come: with its input all consumed, none
        # would, and they would stay held. So the worker that owns copydesk.facts wakes the stage until it has
        # restored.
        if not self.restored:
            if owns_topic(self.app, FACTS):
                await self.facts_topic.send(key=REORDER_TICK, value=b"{}")
            return
        # Then: held records behind a number that never comes, while nothing else arrives.
        if self.reorder.waiting_s(time.monotonic()) >= self.cfg.reorder_gap_timeout_s:
            await self.facts_topic.send(key=REORDER_TICK, value=b"{}")


def enriched_record(article: FactsArticle, story_id: str) -> EnrichedArticle:
    """Return the article's wire.enriched record, tagged ``story_id`` now."""
    return EnrichedArticle(
        **article.model_dump(exclude={"part"}), story_id=story_id, processed_at=datetime.now(UTC)
    )


def owns_topic(app: faust.App, topic: str) -> bool:
    """Return whether this worker's consumer is assigned a partition of ``topic`` now."""
    return any(tp.topic == topic for tp in app.consumer.assignment())


async def report_consumer_lag(app: faust.App) -> None:
    """The timer that sets copydesk_consumer_lag for each partition this worker is assigned."""
    consumer = app.consumer
    for tp in consumer.assignment():
        position = await consumer.position(tp)
        highwater = consumer.highwater(tp)
        if position is not None and highwater is not None:
            metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, highwater - position))


# --- the worker app -----------------------------------------------------------------------------------------


@dataclass
class Pipeline:
    """The worker app with handles on its topics, tables, cores and agents (tests use them)."""

    app: faust.App
    topics: dict[str, faust.TopicT]
    agents: dict[str, Any]
    dedupe: DuplicateIndex
    stories: StoryIndex
    reorder: ReorderBuffer
    wake_stories: Callable[[], Awaitable[None]]  # the timer that wakes a stories stage with held records


def build_app(
    settings: Settings, *, store: str = "rocksdb://", extractor: FactExtractor | None = None
) -> Pipeline:
    """Return the worker app wired from the settings (``store='memory://'`` for tests)."""
    app = new_app(settings, settings.app_id, store)
    feeds = (raw_topic(feed) for feed in settings.kafka.feeds)
    topics = {"raw": app.topic(*feeds, value_serializer="raw", key_serializer="raw")}
    partitions = topic_partitions(settings)
    for name in (NORMALIZED, DEDUPED, FACTS_REST, FACTS, ENRICHED, STORIES, DEADLETTER):
        topics[name] = app.topic(
            name, partitions=partitions[name], value_serializer="raw", key_serializer="raw"
        )
    deadletter = topics[DEADLETTER]

    # Table keys are article, alias and story ids; values are the cores' JSON-able exports.
    # Plain JSON keys and values, no faust Record types (changelog recovery would call Record.from_data).
    json_schema = faust.Schema(key_serializer="json", value_serializer="json")
    dedupe_table = app.Table(DEDUPE_TABLE, partitions=1, schema=json_schema)
    alias_table = app.Table(ALIAS_TABLE, partitions=settings.kafka.partitions, schema=json_schema)
    story_table = app.Table(STORY_TABLE, partitions=1, schema=json_schema)

    normalize_stage = Normalize(app, deadletter, normalized=topics[NORMALIZED], limits=settings.normalize)
    dedupe = Dedupe(
        app, deadletter, index=dedupe_index(settings), table=dedupe_table, deduped=topics[DEDUPED]
    )
    extractor, parse = fact_parser(settings, alias_table, extractor)
    facts = Facts(app, deadletter, extractor, parse, rest_topic=topics[FACTS_REST], facts_topic=topics[FACTS])
    facts_rest = FactsRest(app, deadletter, extractor, parse, facts_topic=topics[FACTS])
    recent, closed = decision_rings(settings, story_table)
    stories = Stories(
        app,
        deadletter,
        index=stories_index(settings),
        table=story_table,
        # One table for the story states and the reorder buffer: one changelog partition, so a crash at
        # any point leaves a prefix of the stage's writes, in order (a buffer never ahead of the stories,
        # or behind).
        reorder=ReorderBuffer(
            story_table,
            max_pending=settings.stories.reorder_max_pending,
            gap_timeout_s=settings.stories.reorder_gap_timeout_s,
        ),
        recent=recent,
        closed=closed,
        facts_topic=topics[FACTS],
        enriched=topics[ENRICHED],
        stories_topic=topics[STORIES],
        cfg=settings.stories,
    )
    app.on_partitions_revoked.connect(dedupe.forget_state)
    app.on_partitions_revoked.connect(stories.forget_state)

    # Each stage's agent reads the topic the stage before it writes.
    agents = {
        "normalize": app.agent(topics["raw"], name="normalize")(normalize_stage.run),
        "dedupe": app.agent(topics[NORMALIZED], name="dedupe")(dedupe.run),
        "facts": app.agent(topics[DEDUPED], name="facts")(facts.run),
        "facts-rest": app.agent(topics[FACTS_REST], name="facts-rest")(facts_rest.run),
        "stories": app.agent(topics[FACTS], name="stories")(stories.run),
    }
    app.timer(interval=min(5.0, settings.stories.reorder_gap_timeout_s / 2))(stories.wake_stalled_reorder)
    app.timer(interval=5.0)(report_consumer_lag)
    return Pipeline(
        app=app,
        topics=topics,
        agents=agents,
        dedupe=dedupe.index,
        stories=stories.index,
        reorder=stories.reorder,
        wake_stories=stories.wake_stalled_reorder,
    )
