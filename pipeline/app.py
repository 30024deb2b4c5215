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
lives in changelog-backed tables (rocksdb locally), and each core replays its first decision for a
redelivered article, so faust's at-least-once delivery doubles nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import faust
from faust.streams import current_event
from faust.types import EventT, StreamT
from mode.supervisors import CrashingSupervisor

from pipeline import metrics
from pipeline.dedupe import DuplicateIndex
from pipeline.facts import AliasReads, FactExtractor
from pipeline.normalize import InvalidArticle, normalize, parse_raw
from pipeline.runtime.broker import client_config
from pipeline.runtime.codec import decode, encode
from pipeline.runtime.faust_app import App
from pipeline.runtime.parse_pool import HeadDocs, ParsePool
from pipeline.runtime.reorder import ReorderBuffer
from pipeline.runtime.replay import RecentDecisions
from pipeline.settings import KafkaSettings, Settings
from pipeline.stories import StoryIndex
from schemas import ArticleRest, DeadLetter, DedupedArticle, EnrichedArticle, FactsArticle, NormalizedArticle

if TYPE_CHECKING:
    from spacy.tokens import Doc

__all__ = [
    "PUBLIC_TOPICS", "PartitionAliases", "Pipeline", "build_app", "new_app", "raw_topic", "topic_partitions",
]  # fmt: skip

log = logging.getLogger(__name__)

NORMALIZED = "copydesk.normalized"
DEDUPED = "copydesk.deduped"
FACTS = "copydesk.facts"
FACTS_REST = "copydesk.facts-rest"
ENRICHED = "wire.enriched"
STORIES = "wire.stories"
DEADLETTER = "wire.deadletter"
PUBLIC_TOPICS = (ENRICHED, STORIES, DEADLETTER)
# Tables, named as faust names their changelog topics: "<app id>-<table>-changelog".
DEDUPE_TABLE = "dedupe_window"
ALIAS_TABLE = "entity_aliases"
# The story states and the stories stage's reorder buffer (see pipeline/runtime/reorder.py).
STORY_TABLE = "story_state"
# Held records sent back to copydesk.facts at most at once (a gap-free run of them; the rest follow later).
RELEASE_RUN = 500
# A record the worker holding the stories stage sends itself on copydesk.facts when held records have waited
# for a missing sequence number a while: it wakes the stage to give up on the number even if nothing else comes.
# (Table writes need an event's context, so a timer cannot do it itself.)
REORDER_TICK = b"copydesk.reorder-tick"
# Story-table keys of each story's last snapshot (the story states themselves are keyed "story-...").
SNAPSHOT_PREFIX = "snap:"
# Story-table keys of a long article's whole facts that came before its head was tagged.
REST_PREFIX = "rest:"
# Dead letters keep the original message, cut to this size (the full message may be what broke things).
DEADLETTER_PAYLOAD_BYTES = 64 * 1024


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


def _credentials(kafka: KafkaSettings) -> faust.types.auth.CredentialsT | None:
    context = None
    if kafka.security_protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(cafile=str(kafka.ssl_cafile) if kafka.ssl_cafile else None)
        if kafka.ssl_certfile:
            context.load_cert_chain(
                str(kafka.ssl_certfile), str(kafka.ssl_keyfile) if kafka.ssl_keyfile else None
            )
    if kafka.security_protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password.get_secret_value() if kafka.sasl_password else None,
            mechanism=kafka.sasl_mechanism or "PLAIN",
            ssl_context=context,
        )
    return faust.SSLCredentials(context) if context else None


def dedupe_index(settings: Settings) -> DuplicateIndex:
    """Return an empty dedupe index configured by the settings."""
    cfg = settings.dedupe
    return DuplicateIndex(
        num_perm=cfg.num_perm,
        shingle_words=cfg.shingle_words,
        lsh_threshold=cfg.lsh_threshold,
        window_size=cfg.window_size,
        window_hours=cfg.window_hours,
    )


def stories_index(settings: Settings) -> StoryIndex:
    """Return an empty story index configured by the settings."""
    cfg = settings.stories
    return StoryIndex(
        join_threshold=cfg.join_threshold, quiet_hours=cfg.quiet_hours, max_open_stories=cfg.max_open_stories
    )


def decision_rings(
    settings: Settings, table: MutableMapping[str, Any]
) -> tuple[RecentDecisions, RecentDecisions]:
    """Return the stories stage's rings of recent decisions and of recently closed stories, kept in ``table``.

    Story decisions outlive their story: a record redelivered after a crash, whose story closed since, gets
    the same story id again (kept in the story table, beside the states and the reorder buffer). So does
    each story's last snapshot, to send again with such a record: the first one may have died with the
    worker. Kept for the open stories and the most recently closed ones.
    """
    size = settings.stories.remember_decisions
    return (
        RecentDecisions(table, size, prefix="recent:"),
        RecentDecisions(table, max(1, size // 10), prefix="closed:"),
    )


def enriched_record(article: FactsArticle, story_id: str) -> EnrichedArticle:
    """Return the article's wire.enriched record, tagged ``story_id`` now."""
    return EnrichedArticle(
        **article.model_dump(exclude={"part"}), story_id=story_id, processed_at=datetime.now(UTC)
    )


def in_turn(extractor: FactExtractor) -> Callable[..., list[Doc]]:
    """Return ``extractor.parse`` in process, taking a lock: the facts and facts-rest agents call it from
    threads of their own, and one spaCy pipeline parses one text at a time. A background call (the rest's)
    goes as the stream's do; a head's docs are kept for it, as the parse pool keeps them (``HeadDocs``)."""
    lock = threading.Lock()
    heads = HeadDocs()

    def parse_texts(texts: list[str]) -> list[Doc]:
        with lock:
            return list(extractor.nlp.pipe(texts))

    def parse_in_turn(article: Any, head: bool = False, background: bool = False) -> list[Doc]:
        return heads.parse(extractor.texts(article, head), parse_texts, keep=head)

    return parse_in_turn


def owns_topic(app: faust.App, topic: str) -> bool:
    """Return whether this worker's consumer is assigned a partition of ``topic`` now."""
    return any(tp.topic == topic for tp in app.consumer.assignment())


def keep_story_state(
    index: StoryIndex,
    table: MutableMapping[str, Any],
    recent: RecentDecisions,
    closed: RecentDecisions,
    article_id: str,
    snapshot: Any,
) -> list[Any]:
    """Write to the story table what the stories stage keeps after tagging an article; return the last
    snapshots of the stories merged meanwhile, to publish before ``snapshot``.

    The closed stories' states go (changelog tombstones) while their last snapshots stay for the most
    recently closed ones (a merged story's is the one that points at its survivor); the tagged story's
    state and snapshot are written; the decision is remembered.
    """
    for story_id in index.drain_closed():
        table.pop(story_id, None)
        forgotten = closed.remember(story_id, True)
        if forgotten is not None:
            table.pop(f"{SNAPSHOT_PREFIX}{forgotten[0]}", None)
    merged = index.drain_merged()
    for last in merged:
        table[f"{SNAPSHOT_PREFIX}{last.story_id}"] = last.model_dump(mode="json")
    table[snapshot.story_id] = index.export_state(snapshot.story_id)
    table[f"{SNAPSHOT_PREFIX}{snapshot.story_id}"] = snapshot.model_dump(mode="json")
    recent.remember(article_id, snapshot.story_id)
    return merged


def new_app(settings: Settings, app_id: str, store: str) -> App:
    """Return a faust app of copydesk (the worker's or the sink's) configured from the settings."""
    app = App(app_id, **faust_config(settings, app_id, store))
    app.fetch_max_wait_ms = settings.kafka.fetch_max_wait_ms
    if settings.kafka.probe_end_offsets:
        app.end_offset_probe = client_config(settings.kafka)
    return app


def faust_config(settings: Settings, app_id: str, store: str) -> dict[str, Any]:
    """Return faust App settings shared by the worker and the sink."""
    kafka = settings.kafka
    config: dict[str, Any] = {
        "broker": ";".join(f"kafka://{server}" for server in kafka.servers().split(",")),
        "broker_credentials": _credentials(kafka),
        "store": store,
        "datadir": str(settings.data_dir / app_id),
        "topic_partitions": 1,
        "topic_replication_factor": kafka.replication_factor,
        "consumer_auto_offset_reset": "earliest",
        "producer_max_request_size": kafka.max_message_bytes,
        "web_enabled": False,
        "autodiscover": False,
        # An agent that raises is a bug: stop the worker, so its supervisor restarts it and it resumes from
        # the committed offsets, rather than leave a live process that no longer processes anything.
        "agent_supervisor": CrashingSupervisor,
    }
    if kafka.session_timeout_s is not None:
        config["broker_session_timeout"] = kafka.session_timeout_s
    if kafka.heartbeat_interval_s is not None:
        config["broker_heartbeat_interval"] = kafka.heartbeat_interval_s
    if kafka.producer_max_batch_bytes is not None:
        config["producer_max_batch_size"] = kafka.producer_max_batch_bytes
    return config


def dead_letter(stage: str, error: str, event: EventT | None, payload: bytes | None = None) -> DeadLetter:
    """Return the dead letter of a message a stage could not accept."""
    message = event.message if event is not None else None
    raw = payload if payload is not None else (message.value if message is not None else b"")
    raw = raw if isinstance(raw, bytes) else str(raw).encode("utf-8")
    key = message.key if message is not None else None
    return DeadLetter(
        stage=stage,
        error=error,
        topic=message.topic if message is not None else None,
        partition=message.partition if message is not None else None,
        offset=message.offset if message is not None else None,
        key=key.decode("utf-8", "replace") if isinstance(key, bytes) else key,
        payload=raw[:DEADLETTER_PAYLOAD_BYTES].decode("utf-8", "replace"),
        payload_bytes=len(raw),
        payload_truncated=len(raw) > DEADLETTER_PAYLOAD_BYTES,
        failed_at=datetime.now(UTC),
    )


class PartitionAliases(MutableMapping[str, str]):
    """The facts alias memory of the copydesk.deduped partition being processed, kept in a faust table.

    A faust table is co-partitioned with the stream that writes it, so each partition of copydesk.deduped
    has its own alias memory, whichever worker holds it: it depends only on that partition's articles, in
    their order, which makes entity ids the same with one worker or many (for a given partition count). Keys
    are ``<partition>:<alias key>``, so the in-memory store of the tests keeps partitions apart as rocksdb does.
    Use it only inside an agent's event (table writes need one).

    Each entry is ``[canonical, seq]``, the dedupe number of the article that wrote it, and ``begin(seq)``
    says which article reads next: it sees the entries of earlier articles and its own writes, never those
    of later ones. After a crash faust redelivers the articles after the last committed offset, while the
    table (restored from its changelog) may already hold what they and the articles after them wrote: a
    redelivered article then reads the memory it read the first time, and gets the same entity ids. Entries
    of an unsequenced article (seq 0) and plain-string entries of earlier versions are seen by every article.

    With a ``window`` the memory is bounded: an article sees only what the ``window`` articles before it (by
    dedupe number, across partitions) taught, and a name taught earlier is taught again by the next article
    that spells it out. That article's version goes first in the entry and the one before stays behind it
    (``[canonical, seq, older canonical, older seq]``), so a redelivered article still reads what it read the
    first time. Every ``window // 4`` dedupe numbers, the table's keys are listed, and the ``begin`` of each
    of a partition's articles in the next ``window // 4`` checks its share of the list for its own and
    deletes the entries no article from ``window // 4`` before the current one on can see; a redelivery from
    further back may find fewer names than it found the first time. The memory holds what the last
    ``window`` articles taught, and at most what ``window // 2`` more taught, which wait for deletion.
    """

    def __init__(self, table: MutableMapping[str, Any], window: int | None = None) -> None:
        if window is not None and window < 1:
            raise ValueError(f"window must be >= 1 article, got {window}")
        self.table = table
        self.window = window
        self._seq = 0
        self._own: dict[str, str] = {}
        # The window step the sweep is in, and the table's keys when it began (one copy for all the partitions
        # this worker holds).
        self._step_keys: tuple[int, list[str]] = (-1, [])
        # Partition prefix -> the window step its scan belongs to, and how far this step's articles of the
        # partition have checked its keys.
        self._scans: dict[str, tuple[int, int]] = {}

    def begin(self, seq: int) -> None:
        """Start reading for the article numbered ``seq`` (0: unsequenced, sees every entry)."""
        self._seq = seq
        self._own = {}
        if self.window is not None and seq:
            self._sweep(seq)

    def _sweep(self, seq: int) -> None:
        window = self.window
        assert window is not None  # only a bounded memory sweeps
        step = max(1, window // 4)
        prefix = self._prefix()
        # An article from seq - step on sees no version older than seq - step - window.
        horizon = seq - step - window
        number = seq // step
        if self._step_keys[0] != number:
            # Each step, one copy of the table's keys as they are now (quick: 15 ms for half a million, where
            # sorting them by partition would hold one article 130 ms); each partition's articles of the step
            # check the list a share each, in proportion to how far the dedupe number has moved into the step
            # (a partition gets only some of the numbers), so no article holds the event loop for a scan of
            # the whole table (half a million entries, GVA-like copy, once the window is full) and deletions
            # come as a trickle, about as many an article as articles taught. A key written later waits for
            # the next step's list.
            self._step_keys = (number, list(self.table))
            metrics.ALIAS_ENTRIES.set(len(self._step_keys[1]))
        keys = self._step_keys[1]
        scanned, checked = self._scans.get(prefix, (-1, 0))
        if scanned != number:
            checked = 0
        share = -(-len(keys) * (seq % step + 1) // step)
        for key in keys[checked:share]:
            if not key.startswith(prefix):
                continue
            entry = self.table.get(key)
            if isinstance(entry, list) and 0 < max(entry[1::2]) < horizon:  # not taught again meanwhile
                del self.table[key]
                metrics.ALIAS_ENTRIES.dec()
        self._scans[prefix] = (number, min(share, len(keys)))

    def _prefix(self) -> str:
        event = current_event()
        if event is None:
            raise RuntimeError("the alias memory is per partition: use it while an agent handles an event")
        return f"{event.message.partition}:"

    def _visible(self, entry: Any) -> str | None:
        if isinstance(entry, str):
            return entry
        # Versions newest first: the first one this article may see.
        for value, seq in _versions(entry):
            if not self._seq or not seq:
                return value
            if seq < self._seq:
                return value if self.window is None or seq >= self._seq - self.window else None
        return None

    def __getitem__(self, key: str) -> str:
        if key in self._own:
            return self._own[key]
        value = self._visible(self.table[self._prefix() + key])
        if value is None:
            raise KeyError(key)  # written by a later article, or too long ago: not there for this one
        return value

    def __setitem__(self, key: str, value: str) -> None:
        self._own[key] = value
        full = self._prefix() + key
        entry: list[Any] = [value, self._seq]
        old = self.table.get(full) if self.window is not None else None
        if self.window is not None and old is None:
            metrics.ALIAS_ENTRIES.inc()
        if isinstance(old, list):
            # Keep the newest other version (a redelivered earlier article may read it), newest first.
            versions = sorted(((seq, v) for v, seq in _versions(old) if seq != self._seq), reverse=True)
            if versions:
                seq, other = versions[0]
                entry = [value, self._seq, other, seq] if seq < self._seq else [other, seq, value, self._seq]
        self.table[full] = entry

    def __delitem__(self, key: str) -> None:
        self._own.pop(key, None)
        del self.table[self._prefix() + key]

    def __iter__(self) -> Iterator[str]:
        prefix = self._prefix()
        keys = []
        for key, entry in list(self.table.items()):
            if key.startswith(prefix):
                name = key[len(prefix) :]
                if name in self._own or self._visible(entry) is not None:
                    keys.append(name)
        return iter(keys)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _versions(entry: list[Any]) -> Iterator[tuple[str, int]]:
    """Yield an alias entry's (canonical, seq) versions, newest first (``[canonical, seq, older, seq, ...]``)."""
    return zip(entry[::2], entry[1::2], strict=True)


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
    raw = app.topic(
        *(raw_topic(feed) for feed in settings.kafka.feeds), value_serializer="raw", key_serializer="raw"
    )
    normalized = app.topic(NORMALIZED, partitions=1, value_serializer="raw", key_serializer="raw")
    partitions = settings.kafka.partitions
    deduped = app.topic(DEDUPED, partitions=partitions, value_serializer="raw", key_serializer="raw")
    rest_topic = app.topic(FACTS_REST, partitions=partitions, value_serializer="raw", key_serializer="raw")
    facts_topic = app.topic(FACTS, partitions=1, value_serializer="raw", key_serializer="raw")
    enriched = app.topic(ENRICHED, partitions=partitions, value_serializer="raw", key_serializer="raw")
    stories_topic = app.topic(STORIES, partitions=partitions, value_serializer="raw", key_serializer="raw")
    deadletter = app.topic(DEADLETTER, partitions=partitions, value_serializer="raw", key_serializer="raw")

    # Table keys are article, alias and story ids; values are the cores' JSON-able exports.
    # Plain JSON keys and values, no faust Record types (changelog recovery would call Record.from_data).
    json_schema = faust.Schema(key_serializer="json", value_serializer="json")
    dedupe_table = app.Table(DEDUPE_TABLE, partitions=1, schema=json_schema)
    alias_table = app.Table(ALIAS_TABLE, partitions=partitions, schema=json_schema)
    story_table = app.Table(STORY_TABLE, partitions=1, schema=json_schema)

    stories_cfg = settings.stories
    index = dedupe_index(settings)
    story_index = stories_index(settings)
    parse: Callable[..., Any]
    if extractor is None:
        if sys.version_info < (3, 12):
            log.warning(
                "Python %d.%d: spaCy's wheels for Pythons before 3.12 are built with Cython's profiling hooks, "
                "which take the GIL at every call in the parser's and NER's transition loops; the facts "
                "stage parses about 1.7x slower than on Python 3.12 (the same docs)",
                *sys.version_info[:2],
            )
        extractor = FactExtractor(
            settings.facts.spacy_model,
            aliases=PartitionAliases(alias_table, settings.facts.alias_window or None),
            max_chars=settings.facts.text_bound,
            inline_chars=settings.facts.inline_bound,
        )
        processes = settings.facts.parse_processes
        parse = ParsePool(extractor, processes).parse_article if processes else in_turn(extractor)
    else:
        parse = in_turn(extractor)
    # One table for the story states and the reorder buffer: one changelog partition, so a crash at any
    # point leaves a prefix of the stage's writes, in order (a buffer never ahead of the stories, or behind).
    reorder = ReorderBuffer(
        story_table,
        max_pending=stories_cfg.reorder_max_pending,
        gap_timeout_s=stories_cfg.reorder_gap_timeout_s,
    )
    recent_stories, closed_stories = decision_rings(settings, story_table)
    restored = {"dedupe": False, "stories": False}

    @app.on_partitions_revoked.connect
    async def forget_restored_state(app: faust.App, revoked: set[Any], **kwargs: Any) -> None:
        # Another worker may own the state next; take it from the table again when it comes back.
        restored.update(dedupe=False, stories=False)

    async def send_dead_letter(stage: str, error: str, event: EventT | None) -> None:
        letter = dead_letter(stage, error, event)
        await deadletter.send(key=(letter.key or "").encode("utf-8") or None, value=encode(letter))
        metrics.DEAD_LETTERS.labels(stage).inc()
        metrics.RECORDS_OUT.labels(stage, "deadletter").inc()
        log.warning("dead letter from %s: %s (key %s)", stage, error, letter.key)

    async def forward(
        stage: str,
        stream: StreamT,
        model: type[Any],
        handle: Callable[[Any, EventT], Awaitable[None]],
        on_tick: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Decode each event as ``model`` and hand it on; records that are not one go to the dead letters."""
        async for event in stream.events():
            with app.handling(event):  # its offset is committed only if this block returns
                await forward_event(stage, event, model, handle, on_tick)

    async def forward_event(
        stage: str,
        event: EventT,
        model: type[Any],
        handle: Callable[[Any, EventT], Awaitable[None]],
        on_tick: Callable[[], Awaitable[None]] | None,
    ) -> None:
        if on_tick is not None and event.message.key == REORDER_TICK:
            await on_tick()
            return
        metrics.RECORDS_IN.labels(stage).inc()
        try:
            record = decode(model, event.value)
        except ValueError as error:
            await send_dead_letter(stage, f"not a {model.__name__}: {error}", event)
            return
        await handle(record, event)

    @app.agent(raw, name="normalize")
    async def normalize_agent(stream: StreamT) -> None:
        limits = settings.normalize

        async def handle(event: EventT) -> None:
            metrics.RECORDS_IN.labels("normalize").inc()
            started = time.perf_counter()
            try:
                article = normalize(parse_raw(event.value, limits.max_article_bytes), limits.min_body_words)
            except InvalidArticle as error:
                await send_dead_letter("normalize", str(error), event)
                return
            metrics.STAGE_SECONDS.labels("normalize").observe(time.perf_counter() - started)
            await normalized.send(key=article.article_id.encode("utf-8"), value=encode(article))
            metrics.RECORDS_OUT.labels("normalize", "ok").inc()

        async for event in stream.events():
            with app.handling(event):
                await handle(event)

    @app.agent(normalized, name="dedupe")
    async def dedupe_agent(stream: StreamT) -> None:
        async def handle(article: NormalizedArticle, event: EventT) -> None:
            if not restored["dedupe"]:
                index.restore(list(dedupe_table.values()))
                restored["dedupe"] = True
            started = time.perf_counter()
            decision, evicted = index.match(article)
            metrics.STAGE_SECONDS.labels("dedupe").observe(time.perf_counter() - started)
            dedupe_table[article.article_id] = index.export(article.article_id)
            for article_id in evicted:
                dedupe_table.pop(article_id, None)
            metrics.DEDUPE_INDEX_SIZE.set(len(index))
            metrics.DUPLICATES.labels(decision.relation).inc()
            # A redelivered article gets its first number again, so the stories stage sees a redelivery.
            record = DedupedArticle(**dict(article), dedup=decision, seq=index.seq_of(article.article_id))
            await deduped.send(key=event.message.key, value=encode(record))
            metrics.RECORDS_OUT.labels("dedupe", "ok").inc()

        await forward("dedupe", stream, NormalizedArticle, handle)

    @app.agent(deduped, name="facts")
    async def facts_agent(stream: StreamT) -> None:
        # One article at a time: its paragraphs already go through spaCy's nlp.pipe as one batch, and the
        # alias table (like every rocksdb-backed table) is written inside the event's own context, in the
        # partition of the event (see PartitionAliases).
        async def handle(article: DedupedArticle, event: EventT) -> None:
            started = time.perf_counter()
            # spaCy's parse (most of the stage's time) runs in a thread, so the event loop keeps turning
            # meanwhile: the other agents, the fetches and the producer, which hands each table write to the
            # Kafka client only on a turn of the loop (with spaCy in the loop, commits waited minutes for
            # them). A long article's paragraphs are parsed in the parse processes, in parallel
            # (FACTS__PARSE_PROCESSES). The alias memory is read and written back here, in the event's context.
            # An article longer than FACTS__INLINE_CHARS goes on with its head's facts, and to facts-rest.
            split = extractor.splits(article)
            docs = await asyncio.to_thread(parse, article, split)
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
                rest = ArticleRest(
                    **dict(article), aliases=memory.seen if isinstance(memory, AliasReads) else {}
                )
                await rest_topic.send(key=event.message.key, value=encode(rest))
                metrics.FACTS_SPLIT.inc()
            record = FactsArticle(**dict(article), facts=facts, part="head" if split else "whole")
            await facts_topic.send(key=event.message.key, value=encode(record))
            metrics.RECORDS_OUT.labels("facts", "ok").inc()

        await forward("facts", stream, DedupedArticle, handle)

    @app.agent(rest_topic, name="facts-rest")
    async def facts_rest_agent(stream: StreamT) -> None:
        # The whole of a long article, parsed in the background (the parse pool's children at the lowest CPU
        # priority, so the stream's parses keep the cores; only the texts its head did not parse) and read
        # with the alias memory its head read: deterministic, and it teaches the memory nothing (its head
        # did, in order).
        async def handle(job: ArticleRest, event: EventT) -> None:
            started = time.perf_counter()
            article = DedupedArticle(**job.model_dump(exclude={"aliases"}))
            docs = await asyncio.to_thread(parse, article, False, True)
            memory = dict(job.aliases) if extractor.aliases is not None else None
            facts = extractor.assemble(article, docs, memory)
            metrics.STAGE_SECONDS.labels("facts-rest").observe(time.perf_counter() - started)
            record = FactsArticle(**dict(article), facts=facts, part="rest")
            await facts_topic.send(key=event.message.key, value=encode(record))
            metrics.RECORDS_OUT.labels("facts-rest", "ok").inc()

        await forward("facts-rest", stream, ArticleRest, handle)

    def restore_stories() -> None:
        if not restored["stories"]:
            story_index.restore(
                [
                    state
                    for key, state in story_table.items()
                    if isinstance(key, str) and key.startswith("story-")
                ]
            )
            reorder.restore()
            recent_stories.restore()
            closed_stories.restore()
            restored["stories"] = True

    async def publish(article: FactsArticle, story_id: str) -> None:
        """Send the article's wire.enriched record. A long article's carries its whole facts: the rest itself,
        or for a head the rest kept for it; without one, the rest publishes it when it comes."""
        key = article.article_id.encode("utf-8")
        if article.part == "whole":
            await enriched.send(key=key, value=encode(enriched_record(article, story_id)))
            return
        kept = f"{REST_PREFIX}{article.article_id}"
        rest = article
        if article.part == "head":
            stored = story_table.get(kept)
            if stored is None:
                return
            rest = FactsArticle.model_validate(stored)
        delivered = await enriched.send(key=key, value=encode(enriched_record(rest, story_id)))
        # Forgotten only once the broker has the record: a crash in between publishes it again, never loses it.
        await delivered
        story_table.pop(kept, None)

    async def complete(rest: FactsArticle) -> None:
        """A long article's whole facts: published now if its head was tagged, else kept until it is."""
        story_id = story_index.story_of(rest.article_id) or recent_stories.get(rest.article_id)
        if story_id is None:
            story_table[f"{REST_PREFIX}{rest.article_id}"] = rest.model_dump(mode="json")
        else:
            await publish(rest, story_id)
            metrics.RECORDS_OUT.labels("stories", "ok").inc()

    async def tag_story(article: FactsArticle) -> None:
        remembered = recent_stories.get(article.article_id)
        if remembered is not None and story_index.story_of(article.article_id) is None:
            # Redelivered after its story closed: the same story, and its last snapshot, again.
            await publish(article, remembered)
            last = story_table.get(f"{SNAPSHOT_PREFIX}{remembered}")
            if last is not None:
                await stories_topic.send(
                    key=remembered.encode("utf-8"), value=json.dumps(last).encode("utf-8")
                )
            metrics.RECORDS_OUT.labels("stories", "ok").inc()
            return
        started = time.perf_counter()
        snapshot = story_index.tag(article)
        metrics.STAGE_SECONDS.labels("stories").observe(time.perf_counter() - started)
        merged = keep_story_state(
            story_index, story_table, recent_stories, closed_stories, article.article_id, snapshot
        )
        metrics.OPEN_STORIES.set(story_index.open_stories)
        await publish(article, snapshot.story_id)
        for last in merged:
            await stories_topic.send(key=last.story_id.encode("utf-8"), value=encode(last))
        await stories_topic.send(key=snapshot.story_id.encode("utf-8"), value=encode(snapshot))
        metrics.RECORDS_OUT.labels("stories", "ok").inc()

    resent: set[int] = set()  # held records sent back to copydesk.facts by this process

    async def release_held() -> None:
        """Send back the held record whose turn came; give up on a number waited on too long."""
        restore_stories()
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
        # before the producer's flush would leave it marked done with its outputs lost (the chaos run found
        # one such article in 2,000). A copy sent twice (after a restart) is a redelivery, replayed. The whole
        # gap-free run goes at once: one partition keeps it in order, and one trip through the topic per
        # record would make a burst of held records drain at the topic's round-trip rate.
        for seq, state in reorder.ready(RELEASE_RUN):
            if seq in resent:
                continue
            resent.add(seq)
            await facts_topic.send(
                key=str(state["article_id"]).encode("utf-8"), value=json.dumps(state).encode()
            )
        metrics.REORDER_PENDING.set(len(reorder))

    @app.agent(facts_topic, name="stories")
    async def stories_agent(stream: StreamT) -> None:
        # Facts ran in parallel: records come in any order. Each is tagged in dedupe's order (seq), the early
        # ones held in the story table meanwhile: their offsets are committed once the agent moves on, so the
        # buffer must survive a crash as the stories do.
        async def handle(article: FactsArticle, event: EventT) -> None:
            restore_stories()
            if article.part == "rest":  # not in the sequence: its head is
                await complete(article)
                return
            if reorder.offer(article.seq, article.model_dump(mode="json"), time.monotonic()):
                if (
                    0 < article.seq < reorder.next_seq
                    and story_index.story_of(article.article_id) is None
                    and recent_stories.get(article.article_id) is None
                ):
                    log.warning(
                        "stories: seq %d (%s) came after it was given up on", article.seq, article.article_id
                    )
                await tag_story(article)
                reorder.done(article.seq)
                resent.discard(article.seq)
            await release_held()

        await forward("stories", stream, FactsArticle, handle, on_tick=release_held)

    async def wake_stalled_reorder() -> None:
        # The stories stage restores its buffer with the first record it gets after a start or a rebalance. Held
        # records whose turn had come before a crash need a record to come: with its input all consumed, none
        # would (the chaos run stopped there, 1,331 records held). So the worker that owns copydesk.facts
        # wakes the stage until it has restored.
        if not restored["stories"]:
            if owns_topic(app, FACTS):
                await facts_topic.send(key=REORDER_TICK, value=b"{}")
            return
        # Then: held records behind a number that never comes, while nothing else arrives.
        if reorder.waiting_s(time.monotonic()) >= stories_cfg.reorder_gap_timeout_s:
            await facts_topic.send(key=REORDER_TICK, value=b"{}")

    # Registered, not decorated: the decorator returns the timer's loop, and tests call one wake-up.
    app.timer(interval=min(5.0, stories_cfg.reorder_gap_timeout_s / 2))(wake_stalled_reorder)

    @app.timer(interval=5.0)
    async def report_consumer_lag() -> None:
        consumer = app.consumer
        for tp in consumer.assignment():
            position = await consumer.position(tp)
            highwater = consumer.highwater(tp)
            if position is not None and highwater is not None:
                metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, highwater - position))

    topics = {
        "raw": raw,
        NORMALIZED: normalized,
        DEDUPED: deduped,
        FACTS_REST: rest_topic,
        FACTS: facts_topic,
        ENRICHED: enriched,
        STORIES: stories_topic,
        DEADLETTER: deadletter,
    }
    agents = {
        "normalize": normalize_agent,
        "dedupe": dedupe_agent,
        "facts": facts_agent,
        "facts-rest": facts_rest_agent,
        "stories": stories_agent,
    }
    return Pipeline(
        app=app,
        topics=topics,
        agents=agents,
        dedupe=index,
        stories=story_index,
        reorder=reorder,
        wake_stories=wake_stalled_reorder,
    )
