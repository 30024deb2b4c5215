"""``copydesk bench``: the pipeline's speed beside its limits, all measured in one run on the same articles.

1. transport: raw produce -> consume of the same payloads through the same broker (kafka-python);
2. core: every stage's pure core called in a plain loop (normalize, dedupe, facts, stories);
3. pipeline: publish everything at once, articles/s until all reached the sink (worker + sink processes);
4. latency: publish-to-sink p50/p99 at a fixed offered load of half the measured pipeline rate;
5. peak RSS of each process; 6. the ratios pipeline/core and pipeline/transport.

The latency phase is also broken down by hop: each stage's output record carries the time its producer
wrote it (Kafka's CreateTime), so the time an article spent between two topics is the difference of its
records' timestamps, and the last hop ends at the sink's write.
"""

from __future__ import annotations

import contextlib
import itertools
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer

from pipeline.app import DEDUPED, ENRICHED, FACTS, NORMALIZED
from pipeline.runtime.aliases import PartitionAliases
from pipeline.runtime.broker import client_config, create_topics
from pipeline.runtime.codec import encode
from pipeline.runtime.cores import dedupe_index, stories_index
from pipeline.runtime.stack import LocalStack
from pipeline.runtime.story_table import decision_rings, keep_story_state
from pipeline.settings import Settings
from schemas import DedupedArticle, FactsArticle, NormalizedArticle, RawArticle

__all__ = [
    "BenchResult",
    "core_rate",
    "facts_cut",
    "facts_split",
    "run_bench",
    "transport_rate",
    "words_rates",
]


@dataclass
class BenchResult:
    articles: int
    transport_per_s: float = 0.0
    core_per_s: float = 0.0
    core_stage_per_s: dict[str, float] = field(default_factory=dict)
    pipeline_per_s: float = 0.0
    offered_per_s: float = 0.0
    p50_latency_s: float = 0.0
    p99_latency_s: float = 0.0
    hop_p50_s: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    facts_max_chars: int | None = None  # FACTS__MAX_CHARS (None: no bound) ...
    facts_cut: int = 0  # ... and how many of the articles it cuts: latency bought with their later facts
    facts_inline_chars: int | None = None  # FACTS__INLINE_CHARS (None: one pass) ...
    facts_split: int = 0  # ... and how many articles it reads in two passes (a head, then the whole)
    # Words/s of the bare spaCy model and of the facts stage on the same texts, rounds alternated: the
    # model's own speed is the limit the facts stage is held to.
    spacy_words_per_s: float = 0.0
    facts_words_per_s: float = 0.0

    def figures(self) -> dict[str, object]:
        return {
            "articles": self.articles,
            "transport_per_s": self.transport_per_s,
            "core_per_s": self.core_per_s,
            "core_stage_per_s": self.core_stage_per_s,
            "pipeline_per_s": self.pipeline_per_s,
            "pipeline_over_core": self.pipeline_per_s / self.core_per_s if self.core_per_s else 0.0,
            "pipeline_over_transport": self.pipeline_per_s / self.transport_per_s
            if self.transport_per_s
            else 0.0,
            "offered_per_s": self.offered_per_s,
            "p50_latency_s": self.p50_latency_s,
            "p99_latency_s": self.p99_latency_s,
            "hop_p50_s": self.hop_p50_s,
            "peak_rss_mb": self.peak_rss_mb,
            "facts_max_chars": self.facts_max_chars,
            "facts_cut": self.facts_cut,
            "facts_inline_chars": self.facts_inline_chars,
            "facts_split": self.facts_split,
            "spacy_words_per_s": self.spacy_words_per_s,
            "facts_words_per_s": self.facts_words_per_s,
            "facts_over_spacy": self.facts_words_per_s / self.spacy_words_per_s
            if self.spacy_words_per_s
            else 0.0,
        }


def _status_mb(pid: int | str | None, field: str) -> float:
    """Return a memory field of /proc/<pid>/status (VmHWM: peak resident set, VmRSS: now) in MiB, 0 if unknown."""
    if pid is None:
        return 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _peak_rss_mb(pid: int | None) -> float:
    """Return a process's peak resident set (VmHWM) in MiB, 0 when unknown."""
    return _status_mb(pid, "VmHWM")


def _children(pid: int) -> list[int]:
    """Return the pids of a process's children (the worker's parse processes), [] when unknown."""
    pids: list[int] = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            pids += [int(child) for child in children.read_text().split()]
    return pids


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def transport_rate(settings: Settings, payloads: list[bytes]) -> float:
    """Return records/s of a plain produce then consume of the payloads through the broker."""
    topic = f"copydesk.bench.{uuid.uuid4().hex[:8]}"
    create_topics(settings.kafka, {topic: 1})
    config = client_config(settings.kafka)
    producer = KafkaProducer(
        **config, acks="all", linger_ms=5, max_request_size=settings.kafka.max_message_bytes
    )
    consumer = KafkaConsumer(
        topic, **config, group_id=None, auto_offset_reset="earliest", consumer_timeout_ms=30_000
    )
    try:
        started = time.perf_counter()
        for number, payload in enumerate(payloads):
            producer.send(topic, key=str(number).encode(), value=payload)
        producer.flush()
        received = 0
        for _ in consumer:
            received += 1
            if received == len(payloads):
                break
        return received / (time.perf_counter() - started)
    finally:
        producer.close()
        consumer.close()


def _normalize(settings: Settings, payload: bytes) -> NormalizedArticle:
    """The normalize stage's output for a raw message, as the worker gets it (raises ``InvalidArticle``)."""
    from pipeline.normalize import normalize, parse_raw

    limits = settings.normalize
    return normalize(parse_raw(payload, limits.max_article_bytes), limits.min_body_words)


def facts_cut(settings: Settings, articles: list[RawArticle]) -> int:
    """Return how many of the articles the facts stage reads only in part (``FACTS__MAX_CHARS``)."""
    from pipeline.facts import exceeds

    bound = settings.facts.text_bound
    return 0 if bound is None else _count(settings, articles, lambda article: exceeds(article, bound))


def facts_split(settings: Settings, articles: list[RawArticle]) -> int:
    """Return how many of the articles the facts stage reads in two passes (``FACTS__INLINE_CHARS``)."""
    from pipeline.facts import splits

    inline, bound = settings.facts.inline_bound, settings.facts.text_bound
    if inline is None:
        return 0
    return _count(settings, articles, lambda article: splits(article, inline, bound))


def _count(settings: Settings, articles: list[RawArticle], holds: Callable[[NormalizedArticle], bool]) -> int:
    """Return how many of the articles normalize accepts ``holds`` is true of."""
    from pipeline.normalize import InvalidArticle

    count = 0
    for raw in articles:
        try:
            count += holds(_normalize(settings, encode(raw)))
        except InvalidArticle:
            continue
    return count


def core_rate(settings: Settings, articles: list[RawArticle]) -> tuple[float, dict[str, float]]:
    """Return articles/s of all four cores in a plain loop, and each stage's own rate."""
    from pipeline.facts import FactExtractor
    from pipeline.normalize import InvalidArticle

    extractor = FactExtractor(settings.facts.spacy_model, aliases={}, max_chars=settings.facts.text_bound)
    index = dedupe_index(settings)
    stories = stories_index(settings)
    spent = dict.fromkeys(("normalize", "dedupe", "facts", "stories"), 0.0)

    def timed(stage: str, call: Callable[[], object]) -> object:
        started = time.perf_counter()
        value = call()
        spent[stage] += time.perf_counter() - started
        return value

    for raw in articles:
        payload = encode(raw)
        try:
            article = timed("normalize", lambda p=payload: _normalize(settings, p))
        except InvalidArticle:
            continue
        article, decision, _ = timed("dedupe", lambda a=article: index.match_clean(a))
        deduped = DedupedArticle(**dict(article), dedup=decision)
        facts = timed("facts", lambda a=deduped: extractor.extract(a))
        record = FactsArticle(**dict(deduped), facts=facts)
        timed("stories", lambda r=record: stories.tag(r))
        stories.drain_closed()
    total = sum(spent.values())
    per_stage = {stage: len(articles) / seconds for stage, seconds in spent.items() if seconds}
    return len(articles) / total, per_stage


def words_rates(settings: Settings, articles: list[RawArticle], rounds: int = 3) -> tuple[float, float]:
    """Return (words/s of the bare spaCy model, words/s of the facts stage) on the texts the facts stage
    reads of `articles`, the two timed in alternating rounds so that a noisy machine slows both alike."""
    import spacy

    from pipeline.facts import FactExtractor
    from pipeline.normalize import InvalidArticle

    extractor = FactExtractor(settings.facts.spacy_model, aliases={}, max_chars=settings.facts.text_bound)
    bare = spacy.load(settings.facts.spacy_model)
    normalized = []
    for raw in articles:
        try:
            normalized.append(_normalize(settings, encode(raw)))
        except InvalidArticle:
            continue
    texts = [t for a in normalized for t in extractor.texts(a)]
    words = sum(len(t.split()) for t in texts)
    spent = {"spacy": 0.0, "facts": 0.0}
    for _ in range(rounds):
        started = time.perf_counter()
        for _doc in bare.pipe(texts):
            pass
        spent["spacy"] += time.perf_counter() - started
        started = time.perf_counter()
        extractor.extract_many(normalized)
        spent["facts"] += time.perf_counter() - started
    return words * rounds / spent["spacy"], words * rounds / spent["facts"]


# The topics an article crosses, in order, each named by the stage that writes it.
_HOPS = (("normalize", NORMALIZED), ("dedupe", DEDUPED), ("facts", FACTS), ("stories", ENRICHED))


def record_times(
    settings: Settings, topics: list[str], ids: set[str], idle_s: float = 3.0, limit_s: float = 60.0
) -> dict[str, dict[str, float]]:
    """Return, per topic, each listed article's first record's CreateTime (epoch seconds).

    Records are matched by their key (every topic here is keyed by article_id). Reads each topic from the
    start until every id was seen, nothing came for ``idle_s`` after the first records, or ``limit_s``.
    """
    config = client_config(settings.kafka)
    found: dict[str, dict[str, float]] = {}
    for topic in topics:
        consumer = KafkaConsumer(topic, **config, group_id=None, auto_offset_reset="earliest")
        seen: dict[str, float] = {}
        started = last = time.monotonic()
        try:
            while len(seen) < len(ids):
                now = time.monotonic()
                if now - started > limit_s or (seen and now - last > idle_s):
                    break
                for records in consumer.poll(timeout_ms=500).values():
                    last = time.monotonic()
                    for message in records:
                        key = message.key.decode("utf-8", "replace") if message.key else ""
                        if key in ids and key not in seen:
                            seen[key] = message.timestamp / 1000.0
        finally:
            consumer.close()
        found[topic] = seen
    return found


def hop_medians(
    published: dict[str, float], times: dict[str, dict[str, float]], written: dict[str, float]
) -> dict[str, float]:
    """Return the median seconds each hop took: publish -> normalized -> ... -> enriched -> sink write."""
    marks = [("publish", published)] + [(stage, times.get(topic, {})) for stage, topic in _HOPS]
    marks.append(("sink", written))
    medians = {}
    for (_, before), (stage, after) in itertools.pairwise(marks):
        gaps = [after[a] - before[a] for a in before.keys() & after.keys()]
        if gaps:
            medians[stage] = statistics.median(gaps)
    return medians


def _restamp(articles: list[RawArticle], suffix: str) -> list[RawArticle]:
    """Give the articles fresh ids (a second pass through one pipeline must not be deduplicated as copies)."""
    return [a.model_copy(update={"article_id": f"{a.article_id}-{suffix}"}) for a in articles]


def run_bench(
    settings: Settings,
    articles: list[RawArticle],
    out_dir: Path,
    say: Callable[[str], None] = print,
    offered: float | None = None,
) -> BenchResult:
    """Measure transport, cores, pipeline and latency on the same articles; see the module docstring.
    ``offered``: the latency phase's load in articles/s (default: half the pipeline's measured rate)."""
    result = BenchResult(articles=len(articles))
    with LocalStack(settings, out_dir, feed=articles[0].feed) as stack:
        say("transport: produce -> consume through the broker")
        result.transport_per_s = transport_rate(stack.settings, [encode(a) for a in articles])
        say(f"  {result.transport_per_s:,.0f} records/s")

        say("core: normalize, dedupe, facts, stories in a plain loop")
        result.core_per_s, result.core_stage_per_s = core_rate(stack.settings, articles)
        say(f"  {result.core_per_s:,.1f} articles/s")
        result.facts_max_chars = stack.settings.facts.text_bound
        result.facts_cut = facts_cut(stack.settings, articles)
        result.facts_inline_chars = stack.settings.facts.inline_bound
        result.facts_split = facts_split(stack.settings, articles)
        say("words: the bare spaCy model and the facts stage on the same texts, alternated")
        result.spacy_words_per_s, result.facts_words_per_s = words_rates(stack.settings, articles)
        say(
            f"  spaCy {result.spacy_words_per_s:,.0f} words/s, facts {result.facts_words_per_s:,.0f} words/s"
            f" ({result.facts_words_per_s / result.spacy_words_per_s:.2f}x)"
        )

        say("pipeline: everything published at once, until all reached the sink")
        stack.start("worker")
        stack.start("sink")
        warmup = _restamp(articles[:5], "warmup")  # join the group and load models before the clock runs
        stack.publish(warmup)
        stack.wait_for_sink({a.article_id for a in warmup}, 300)
        batch = _restamp(articles, "peak")
        started = time.perf_counter()
        stack.publish(batch)
        stack.wait_for_sink({a.article_id for a in batch}, 3600, poll=0.1)
        result.pipeline_per_s = len(batch) / (time.perf_counter() - started)
        say(f"  {result.pipeline_per_s:,.1f} articles/s")

        result.offered_per_s = offered or result.pipeline_per_s / 2
        share = "set" if offered else "half the peak"
        say(f"latency: {result.offered_per_s:,.1f} articles/s offered ({share})")
        paced = _restamp(articles, "half")
        stack.publish(_stamped(paced), rate=result.offered_per_s)
        stack.wait_for_sink({a.article_id for a in paced}, 3600, poll=0.1)
        latencies = stack.store.latencies()
        measured = [latencies[a.article_id] for a in paced]
        result.p50_latency_s = statistics.median(measured)
        result.p99_latency_s = _percentile(measured, 0.99)
        say(f"  p50 {result.p50_latency_s * 1000:,.0f} ms, p99 {result.p99_latency_s * 1000:,.0f} ms")
        ids = {a.article_id for a in paced}
        times = record_times(stack.settings, [topic for _, topic in _HOPS], ids)
        stamps = {a: t for a, t in stack.store.write_times().items() if a in ids}
        published = {a: received for a, (received, _) in stamps.items()}
        written = {a: written for a, (_, written) in stamps.items()}
        result.hop_p50_s = hop_medians(published, times, written)
        say("  median per hop: " + ", ".join(f"{k} {v * 1000:,.0f} ms" for k, v in result.hop_p50_s.items()))

        result.peak_rss_mb = {name: _peak_rss_mb(process.pid) for name, process in stack.processes.items()}
        for name, process in stack.processes.items():  # the worker's parse processes, summed
            children = _children(process.pid)
            if children:
                result.peak_rss_mb[f"{name}_children"] = sum(_peak_rss_mb(child) for child in children)
        result.peak_rss_mb["broker"] = _peak_rss_mb(stack.broker.pid if stack.broker else None)
    return result


def _stamped(articles: list[RawArticle]):
    """Yield each article stamped with the moment it is published (latency starts then)."""
    for article in articles:
        yield article.model_copy(update={"received_at": datetime.now(UTC)})


def state_growth(
    settings: Settings, articles: list[RawArticle], total: int, every: int, say: Callable[[str], None] = print
) -> list[dict[str, float]]:
    """Stream ``total`` articles through the stateful stages' cores and their tables; return a row per ``every``.

    What the worker keeps grows with the stream only if a window fails to evict, so this measures the state
    and nothing else: dedupe (index and its table), stories (index, its state table with snapshots, the
    recent-decisions rings) and the facts stage's alias memory, as the agents keep them with the memory
    store. The facts stage itself does not run (stories get no entities, quantities or quotes): the alias
    memory is given, for each article, the names the facts stage taught it on the corpus's first pass (one
    parse of the corpus), made new each cycle, as a stream of new incidents brings new people. The corpus is
    cycled with fresh ids and moved on five years a cycle, so each cycle's stories close as the real ones
    do. Each row: articles, RSS MiB, dedupe window, open stories, names taught so far, alias entries, table entries.
    """
    import gc

    from pipeline.facts import remember_alias
    from pipeline.normalize import InvalidArticle, normalize
    from schemas import Facts

    base = []
    for raw in articles:
        try:
            base.append(normalize(raw, settings.normalize.min_body_words))
        except InvalidArticle:
            continue
    if not base:
        raise ValueError("no article of the corpus passes normalize")
    taught = taught_names(settings, base)
    alias_table: dict[str, object] = {}
    aliases = _OnePartitionAliases(alias_table, settings.facts.alias_window or None)
    names_taught = 0
    index = dedupe_index(settings)
    stories = stories_index(settings)
    dedupe_table: dict[str, object] = {}
    story_table: dict[str, object] = {}
    recent, closed = decision_rings(settings, story_table)
    no_facts = Facts()
    rows = []
    for number in range(1, total + 1):
        cycle, template = divmod(number - 1, len(base))
        article = base[template]
        shift = timedelta(days=5 * 366 * cycle)
        article = article.model_copy(
            update={
                "article_id": f"{article.article_id}-{cycle}",
                "received_at": article.received_at + shift,
                "published_at": article.published_at + shift if article.published_at else None,
            }
        )
        decision, evicted = index.match(article)
        dedupe_table[article.article_id] = index.export(article.article_id)
        for gone in evicted:
            dedupe_table.pop(gone, None)
        record = FactsArticle(
            **dict(article), dedup=decision, seq=index.seq_of(article.article_id), facts=no_facts
        )
        keep_story_state(stories, story_table, recent, closed, article.article_id, stories.tag(record))
        aliases.begin(record.seq)
        for key, name in taught[template]:
            remember_alias(aliases, f"{key} {cycle}", name)
        names_taught += len(taught[template])
        if number % every == 0 or number == total:
            gc.collect()
            row = {"articles": number, "rss_mb": round(_status_mb("self", "VmRSS"), 1), "dedupe_window": len(index),
                   "open_stories": stories.open_stories, "aliases_taught": names_taught, "alias_entries": len(alias_table),
                   "table_entries": len(dedupe_table) + len(story_table) + len(alias_table)}  # fmt: skip
            rows.append(row)
            say("  " + ", ".join(f"{k} {v:,}" for k, v in row.items()))
    return rows


class _OnePartitionAliases(PartitionAliases):
    """The alias memory outside a faust event: everything in partition 0."""

    def _prefix(self) -> str:
        return "0:"


class _Recorder(dict):
    """An alias memory that notes the names written, in order (``taught_names``)."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[tuple[str, str]] = []

    def __setitem__(self, key: str, value: str) -> None:
        self.written.append((key, value))
        super().__setitem__(key, value)


def taught_names(settings: Settings, articles: list[Any]) -> list[list[tuple[str, str]]]:
    """Return the (alias key, name) pairs the facts stage writes to its alias memory for each article, the
    articles extracted in order with one memory (what a stream of them teaches one partition)."""
    from pipeline.facts import FactExtractor
    from schemas import Dedup

    memory = _Recorder()
    extractor = FactExtractor(settings.facts.spacy_model, aliases=memory, max_chars=settings.facts.text_bound)
    unique = Dedup(relation="unique", similarity=0.0)
    out = []
    for article in articles:
        before = len(memory.written)
        extractor.extract(DedupedArticle(**dict(article), dedup=unique))
        out.append(memory.written[before:])
    return out
