"""copydesk's Prometheus metrics: defined here, used only by agents and processes.

Each process serves its registry over HTTP (``serve_metrics``). faust's own sensor metrics are not
exported; these cover what an operator of this pipeline watches.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

# Per-stage work runs from ~1 ms (normalize, dedupe) to ~1 s (facts on a long article).
STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# Publish-to-sink latency spans consumer-group joins and batching: 10 ms to a minute.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

RECORDS_IN = Counter("copydesk_records_in_total", "Records a stage consumed.", ["stage"])
RECORDS_OUT = Counter(
    "copydesk_records_out_total",
    "Records a stage finished, by outcome (ok, deadletter).",
    ["stage", "outcome"],
)
STAGE_SECONDS = Histogram(
    "copydesk_stage_processing_seconds",
    "Time a stage's core spent on one record.",
    ["stage"],
    buckets=STAGE_BUCKETS,
)
END_TO_END_SECONDS = Histogram(
    "copydesk_end_to_end_latency_seconds",
    "From the seeder's publish (received_at) to the sink's write.",
    buckets=LATENCY_BUCKETS,
)
DUPLICATES = Counter("copydesk_dedup_relations_total", "Dedupe decisions by relation.", ["relation"])
DEAD_LETTERS = Counter(
    "copydesk_dead_letters_total", "Messages sent to wire.deadletter, by stage.", ["stage"]
)
ACKS_WITHHELD = Counter(
    "copydesk_acks_withheld_total",
    "Messages whose offset was not committed because no finished handler stood behind it (read again).",
    ["reason"],
)
FETCH_REWINDS = Counter(
    "copydesk_fetch_rewinds_total",
    "Times a stream partition delivered a record ahead of its next offset and was sought back to it.",
)
PARSE_FAILURES = Counter(
    "copydesk_parse_process_failures_total",
    "Times a facts parse process failed or died mid-article (started again; the article parsed in the worker).",
)
FACTS_TRUNCATED = Counter(
    "copydesk_facts_truncated_total",
    "Articles whose facts were read from their first FACTS__MAX_CHARS characters only (the rest unread).",
)
FACTS_SPLIT = Counter(
    "copydesk_facts_split_total",
    "Long articles (over FACTS__INLINE_CHARS) tagged by their head's facts and read whole in the background.",
)
DEDUPE_INDEX_SIZE = Gauge("copydesk_dedupe_index_articles", "Articles held in the dedupe window.")
DEDUPE_FURNITURE_LINES = Gauge(
    "copydesk_dedupe_furniture_lines", "Suspect lines the dedupe window counts, to learn which are furniture."
)
DEDUPE_FURNITURE_STRIPPED = Counter(
    "copydesk_dedupe_furniture_stripped_total",
    "Lines dedupe stripped as furniture it learned from recurrence.",
)
OPEN_STORIES = Gauge("copydesk_open_stories", "Stories open to new articles.")
ALIAS_ENTRIES = Gauge(
    "copydesk_alias_entries",
    "Names in the facts stage's alias memory, in the partitions this worker holds.",
)
REORDER_PENDING = Gauge(
    "copydesk_reorder_pending_records",
    "Records the stories stage holds until the sequence numbers before them arrive.",
)
REORDER_SKIPPED = Counter(
    "copydesk_reorder_skipped_total",
    "Sequence numbers the stories stage stopped waiting for (a gap: a record lost or stalled upstream).",
)
SINK_WRITES = Counter("copydesk_sink_writes_total", "Rows the sink upserted, by table.", ["table"])
SINK_RETRIES = Counter("copydesk_sink_retries_total", "Sink writes retried because the store was down.")
SEEDED = Counter("copydesk_seeded_total", "Articles the seeder published, by feed.", ["feed"])
CONSUMER_LAG = Gauge(
    "copydesk_consumer_lag_records", "Records behind the partition's high watermark.", ["topic", "partition"]
)

ALL_METRIC_NAMES = (
    "copydesk_records_in_total",
    "copydesk_records_out_total",
    "copydesk_stage_processing_seconds",
    "copydesk_end_to_end_latency_seconds",
    "copydesk_dedup_relations_total",
    "copydesk_dead_letters_total",
    "copydesk_dedupe_index_articles",
    "copydesk_dedupe_furniture_lines",
    "copydesk_dedupe_furniture_stripped_total",
    "copydesk_open_stories",
    "copydesk_alias_entries",
    "copydesk_reorder_pending_records",
    "copydesk_reorder_skipped_total",
    "copydesk_sink_writes_total",
    "copydesk_seeded_total",
    "copydesk_sink_retries_total",
    "copydesk_consumer_lag_records",
    "copydesk_fetch_rewinds_total",
    "copydesk_acks_withheld_total",
    "copydesk_parse_process_failures_total",
    "copydesk_facts_truncated_total",
)


def serve_metrics(port: int, host: str = "0.0.0.0") -> None:
    """Serve the default registry on http://host:port/metrics (port 0 disables it)."""
    if port:
        start_http_server(port, addr=host)
