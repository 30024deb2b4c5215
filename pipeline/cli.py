"""The copydesk command line: run it all on one machine, or operate each process against any broker.

Every command reads its settings from ``COPYDESK_*`` environment variables or ``.env`` (see
pipeline/settings.py); ``--bootstrap-servers`` overrides the broker for one call.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pipeline.runtime.broker import client_config, create_topics
from pipeline.settings import Settings

console = Console()
# The seed articles: seeds/ of the checkout (an editable install), else seeds/ in the current folder.
REPO_SEEDS = Path(__file__).resolve().parents[1] / "seeds"


def faust_worker(app: Any, loglevel: str) -> Any:
    """Return a faust ``Worker`` for ``app`` logging at ``loglevel``, without faust's terminal spinner.

    faust's worker turns its spinner at every log record, and to see them all it sets the root logger to
    DEBUG: then every debug call in aiokafka, faust and mode (several for each record sent or fetched) builds
    a ``LogRecord`` and walks the stack for its caller before the handlers drop it, a few percent of the
    worker's CPU. Without the spinner the root logger stays at ``loglevel`` and those calls return at once.
    """
    import faust

    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.spinner = None
    return worker


def _settings(bootstrap_servers: str | None = None, **kafka: Any) -> Settings:
    settings = Settings()
    updates = {k: v for k, v in {"bootstrap_servers": bootstrap_servers, **kafka}.items() if v is not None}
    if updates:
        settings = settings.model_copy(update={"kafka": settings.kafka.model_copy(update=updates)})
    return settings


loglevel_option = click.option(
    "--loglevel",
    default="warning",
    show_default=True,
    envvar="COPYDESK_LOGLEVEL",
    help="faust log level (env COPYDESK_LOGLEVEL: copydesk run, chaos and bench pass it to their processes).",
)
bootstrap_option = click.option(
    "--bootstrap-servers",
    "-b",
    default=None,
    help="Kafka bootstrap servers (default: settings, else localhost:9092).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--log-level", default="warning", show_default=True, help="Python log level.")
def main(log_level: str) -> None:
    """copydesk: normalize, deduplicate, extract facts from and tag stories in news wire copy on Kafka."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


# --- operators' commands -------------------------------------------------------------------------


@main.command()
@bootstrap_option
@loglevel_option
def worker(bootstrap_servers: str | None, loglevel: str) -> None:
    """Run the faust worker with every stage (normalize, dedupe, facts, stories)."""
    from pipeline.app import build_app
    from pipeline.metrics import serve_metrics

    settings = _settings(bootstrap_servers)
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # faust creates only the last level
    serve_metrics(settings.metrics.worker_port, settings.metrics.host)
    pipeline = build_app(settings, store=settings.table_store)
    faust_worker(pipeline.app, loglevel).execute_from_commandline()


@main.command()
@bootstrap_option
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None, help="Output folder.")
@loglevel_option
def sink(bootstrap_servers: str | None, out_dir: Path | None, loglevel: str) -> None:
    """Consume wire.enriched, wire.stories and wire.deadletter into SQLite and JSONL."""
    from pipeline.metrics import serve_metrics
    from pipeline.sink import build_sink_app, open_store

    settings = _settings(bootstrap_servers)
    if out_dir is not None:
        settings = settings.model_copy(update={"sink": settings.sink.model_copy(update={"out_dir": out_dir})})
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    serve_metrics(settings.metrics.sink_port, settings.metrics.host)
    store = open_store(settings)
    try:
        faust_worker(build_sink_app(settings, store), loglevel).execute_from_commandline()
    finally:
        store.export_jsonl(settings.sink.out_dir)
        store.close()


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--feed", default=None, help="Feed name: publishes to wire.raw.<feed> (default: first configured)."
)
@click.option("--rate", type=float, default=None, help="At most this many articles per second.")
@bootstrap_option
def seed(
    paths: tuple[Path, ...], feed: str | None, rate: float | None, bootstrap_servers: str | None
) -> None:
    """Publish .txt files (one article each) or JSONL corpora to a feed topic."""
    from pipeline.app import raw_topic

    settings = _settings(bootstrap_servers)
    feed = feed or settings.kafka.feeds[0]
    if feed not in settings.kafka.feeds:
        console.print(
            f"[yellow]feed {feed!r} is not in COPYDESK_KAFKA__FEEDS {settings.kafka.feeds}: "
            "the worker will not read it until it is[/]"
        )
    sent = _seed(settings, list(paths), feed, rate)
    console.print(f"published {len(sent)} articles to {raw_topic(feed)}")


def _seed(settings: Settings, paths: list[Path], feed: str, rate: float | None) -> list[str]:
    from pipeline.app import raw_topic
    from pipeline.runtime.seeder import Seeder, collect_files, read_articles

    files = collect_files(paths)
    total = sum(_count_articles(path) for path in files)
    create_topics(settings.kafka, {raw_topic(feed): settings.kafka.raw_partitions})
    seeder = Seeder(client_config(settings.kafka), settings.kafka.max_message_bytes)
    columns = (TextColumn("seeding"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("seed", total=total)
            return seeder.publish(
                read_articles(files, feed), raw_topic, rate, on_sent=lambda _: progress.advance(task)
            )
    finally:
        seeder.close()


def _count_articles(path: Path) -> int:
    if path.suffix != ".jsonl":
        return 1
    with path.open(encoding="utf-8") as lines:
        return sum(1 for line in lines if line.strip())


@main.group()
def topics() -> None:
    """Create or list copydesk's topics."""


@topics.command("create")
@bootstrap_option
def topics_create(bootstrap_servers: str | None) -> None:
    """Create every topic copydesk uses, with its partition count (idempotent)."""
    from pipeline.app import topic_partitions

    settings = _settings(bootstrap_servers)
    created = create_topics(settings.kafka, topic_partitions(settings))
    for name, count in sorted(topic_partitions(settings).items()):
        console.print(f"{'created' if name in created else 'exists '}  {name}  ({count} partitions)")


@topics.command("list")
@bootstrap_option
def topics_list(bootstrap_servers: str | None) -> None:
    """List the broker's topics with their partition counts."""
    from kafka.admin import KafkaAdminClient

    settings = _settings(bootstrap_servers)
    admin = KafkaAdminClient(**client_config(settings.kafka))
    try:
        for description in sorted(admin.describe_topics(), key=lambda d: d.get("name") or d.get("topic")):
            name = description.get("name") or description.get("topic")
            console.print(f"{name}  ({len(description['partitions'])} partitions)")
    finally:
        admin.close()


@main.command()
@click.argument("topic")
@bootstrap_option
@click.option("--from-beginning/--from-end", default=True, show_default=True)
@click.option("--max", "max_records", type=int, default=None, help="Stop after this many records.")
@click.option("--timeout", type=float, default=None, help="Stop after this many seconds without a record.")
def tail(
    topic: str,
    bootstrap_servers: str | None,
    from_beginning: bool,
    max_records: int | None,
    timeout: float | None,
) -> None:
    """Subscribe to a topic and pretty-print its records."""
    from kafka import KafkaConsumer

    settings = _settings(bootstrap_servers)
    consumer = KafkaConsumer(
        topic,
        **client_config(settings.kafka),
        group_id=None,
        auto_offset_reset="earliest" if from_beginning else "latest",
        consumer_timeout_ms=int(timeout * 1000) if timeout else float("inf"),
    )
    seen = 0
    try:
        for message in consumer:
            key = message.key.decode("utf-8", "replace") if message.key else None
            console.rule(f"{message.topic}[{message.partition}]@{message.offset}  key={key}")
            try:
                console.print_json(message.value.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                console.print(repr(message.value[:2000]))
            seen += 1
            if max_records is not None and seen >= max_records:
                break
    finally:
        consumer.close()


# --- copydesk run --------------------------------------------------------------------------------


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("out"), show_default=True)
@click.option("--feed", default="seeds", show_default=True, help="Feed name the files are published as.")
@click.option(
    "--timeout", type=float, default=300.0, show_default=True, help="Give up after this many seconds."
)
@bootstrap_option
def run(
    paths: tuple[Path, ...], out_dir: Path, feed: str, timeout: float, bootstrap_servers: str | None
) -> None:
    """Run the whole pipeline on PATHS (default: the seed articles) and print what came out.

    Starts an embedded Kafka-compatible broker unless bootstrap servers are configured, creates the
    topics, starts a worker and a sink, publishes the files, waits until every article reached the sink,
    then writes OUT/enriched.jsonl, OUT/stories.jsonl and OUT/copydesk.db and prints a summary.
    """
    from pipeline.runtime.seeder import collect_files, read_articles
    from pipeline.runtime.stack import LocalStack, StackError

    started = time.monotonic()
    files = collect_files(list(paths) or [REPO_SEEDS if REPO_SEEDS.is_dir() else Path("seeds")])
    with LocalStack(_settings(bootstrap_servers), out_dir, feed) as stack:
        if stack.broker is not None:
            console.print(f"embedded broker (tansu) on {stack.broker.bootstrap_servers}")
        stack.start("worker")
        stack.start("sink")
        total = sum(_count_articles(path) for path in files)
        columns = (TextColumn("seeding"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("seed", total=total)
            sent = stack.publish(read_articles(files, feed), on_sent=lambda _: progress.advance(task))
        console.print(f"published {len(sent)} articles to wire.raw.{feed}; waiting for the sink")
        try:
            stack.wait_for_sink(set(sent), timeout)
        except StackError as error:
            raise click.ClickException(str(error)) from None
        stack.store.export_jsonl(out_dir)
        _print_summary(stack.store, out_dir, time.monotonic() - started)


def _corpus(paths: tuple[Path, ...], limit: int, feed: str) -> list[Any]:
    """Return up to ``limit`` raw articles from the paths (default: gva_dev.jsonl in COPYDESK_SHARED_DATA)."""
    from itertools import islice

    from pipeline.runtime.seeder import collect_files, read_articles

    if not paths:
        try:
            paths = (Settings().corpus("gva_dev.jsonl"),)
        except FileNotFoundError as error:
            raise click.UsageError(str(error)) from None
    return list(islice(read_articles(collect_files(list(paths)), feed), limit))


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--trials", type=int, default=20, show_default=True, help="kill -9s of the worker.")
@click.option("--articles", "limit", type=int, default=2000, show_default=True, help="Articles to stream.")
@click.option(
    "--stall", type=float, default=0.0, show_default=True, help="Also SIGSTOP the broker this long."
)
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed for the kill points.")
@click.option(
    "--timeout", type=float, default=7200.0, show_default=True,
    help="Seconds each run (undisturbed, then under faults) may take to settle every article.",
)  # fmt: skip
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), default=Path("out/chaos"), show_default=True
)
@bootstrap_option
def chaos(paths: tuple[Path, ...], trials: int, limit: int, stall: float, seed: int, timeout: float,
          out_dir: Path, bootstrap_servers: str | None) -> None:  # fmt: skip
    """kill -9 the worker at random points while a corpus streams through; compare with an undisturbed run.

    PATHS default to gva_dev.jsonl in COPYDESK_SHARED_DATA. The last line printed is one JSON object:
    {"trials", "records", "lost", "doubled", "mismatched", ...}. Exits 1 when anything was lost,
    doubled or changed against the undisturbed run.
    """
    from pipeline.evals.report import emit_json
    from pipeline.tools.chaos import run_chaos

    articles = _corpus(paths, limit, "chaos")
    result = run_chaos(_settings(bootstrap_servers), articles, out_dir, trials, stall_s=stall, seed=seed,
                       timeout=timeout, say=console.print)  # fmt: skip
    console.rule("chaos")
    console.print(
        f"{result.records} articles, {result.trials} kill -9s, {result.restarts} supervisor restarts, "
        f"{result.seconds:.0f}s: lost {len(result.lost)}, doubled {len(result.doubled)}, "
        f"mismatched {len(result.mismatched)}",
        highlight=False,
    )
    for name in ("lost", "doubled", "mismatched"):
        if getattr(result, name):
            console.print(f"  {name}: {getattr(result, name)[:20]}", highlight=False)
    if result.doubled_undisturbed:
        console.print(
            f"  in two stories in the undisturbed run too (a merged story's last snapshot), not counted: "
            f"{result.doubled_undisturbed[:20]}",
            highlight=False,
        )
    emit_json(result.figures())
    if result.lost or result.doubled or result.mismatched:
        sys.exit(1)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--articles", "limit", type=int, default=300, show_default=True, help="Articles per phase.")
@click.option(
    "--growth", type=int, default=None,
    help="Instead: stream this many articles through the stateful cores and their tables (no broker, no "
    "facts) and report RSS and state sizes every --every articles.",
)  # fmt: skip
@click.option("--every", type=int, default=10_000, show_default=True, help="Report interval for --growth.")
@click.option(
    "--offered", type=click.FloatRange(min=0.1), default=None,
    help="The latency phase's load in articles/s (default: half the pipeline's rate in this run); set it to "
    "compare runs at one load.",
)  # fmt: skip
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), default=Path("out/bench"), show_default=True
)
@bootstrap_option
def bench(paths: tuple[Path, ...], limit: int, growth: int | None, every: int, offered: float | None,
          out_dir: Path, bootstrap_servers: str | None) -> None:  # fmt: skip
    """Measure transport, pure cores, pipeline, latency at half load and RSS, side by side in one run.

    PATHS default to gva_dev.jsonl in COPYDESK_SHARED_DATA. The last line printed is one JSON object:
    {"transport_per_s", "core_per_s", "pipeline_per_s", "pipeline_over_core", "pipeline_over_transport",
    "p50_latency_s", "p99_latency_s", "peak_rss_mb", ...}. With --growth N, it is {"rows": [...]}, one row
    per --every articles: {"articles", "rss_mb", "dedupe_window", "open_stories", "aliases_taught",
    "alias_entries", "table_entries"}.
    """
    from pipeline.evals.report import emit_json
    from pipeline.tools.bench import run_bench, state_growth

    articles = _corpus(paths, limit, "bench")
    if growth is not None:
        console.rule(
            f"state growth: {growth:,} articles through dedupe and stories, cycling {len(articles):,}"
        )
        rows = state_growth(
            Settings(), articles, growth, every, say=lambda line: console.print(line, highlight=False)
        )
        first, last = rows[0], rows[-1]
        console.print(
            f"RSS {first['rss_mb']:,.0f} MiB at {first['articles']:,} articles, {last['rss_mb']:,.0f} MiB at "
            f"{last['articles']:,}",
            highlight=False,
        )
        emit_json({"rows": rows})
        return
    phases = ("transport", "core", "pipeline", "latency")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("bench", total=len(phases))

        def say(line: str) -> None:
            progress.console.print(line, highlight=False)
            if line.split(":", 1)[0] in phases:
                progress.update(task, description=line.split(":", 1)[0])
                progress.advance(task)

        result = run_bench(_settings(bootstrap_servers), articles, out_dir, say=say, offered=offered)
    figures = result.figures()
    console.rule(f"bench: {result.articles} articles, {os.cpu_count()} cores")
    console.print(
        f"transport {result.transport_per_s:,.0f}/s · core {result.core_per_s:,.1f}/s · pipeline "
        f"{result.pipeline_per_s:,.1f}/s ({figures['pipeline_over_core']:.0%} of core) · latency at "
        f"{result.offered_per_s:,.1f}/s: p50 {result.p50_latency_s * 1000:,.0f} ms, p99 "
        f"{result.p99_latency_s * 1000:,.0f} ms",
        highlight=False,
    )
    stages = ", ".join(f"{stage} {rate:,.0f}/s" for stage, rate in result.core_stage_per_s.items())
    console.print(f"core by stage: {stages}", highlight=False)
    console.print(
        "peak RSS: " + ", ".join(f"{k} {v:,.0f} MiB" for k, v in result.peak_rss_mb.items()), highlight=False
    )
    bound = "no bound" if result.facts_max_chars is None else f"{result.facts_max_chars:,} characters"
    console.print(
        f"facts read up to FACTS__MAX_CHARS ({bound}): {result.facts_cut} of {result.articles} articles cut",
        highlight=False,
    )
    inline = "off" if result.facts_inline_chars is None else f"{result.facts_inline_chars:,} characters"
    console.print(
        f"read in two passes from FACTS__INLINE_CHARS ({inline}): {result.facts_split} of {result.articles} "
        "articles (tagged by their head's facts, published with all of them)",
        highlight=False,
    )
    emit_json(figures)


def _print_summary(store: Any, out_dir: Path, seconds: float) -> None:
    articles = store.articles()
    stories = store.stories()
    console.rule("articles")
    for a in articles:
        relation = a.dedup.relation + (f" of {a.dedup.of} ({a.dedup.similarity:.2f})" if a.dedup.of else "")
        console.print(f"[bold]{a.article_id}[/]  {a.headline}")
        console.print(
            f"    source {a.source or '?'} · {relation} · {a.story_id} · {len(a.facts.entities)} entities, "
            f"{len(a.facts.quantities)} quantities, {len(a.facts.quotes)} quotes, {len(a.facts.dates)} dates",
            highlight=False,
        )
    for story in stories:
        console.rule(f"story {story.story_id}")
        console.print(f"[bold]{story.title}[/]")
        if story.merged_into is not None:
            console.print(f"    merged into {story.merged_into}", highlight=False)
            continue
        console.print(
            f"    {len(story.article_ids)} articles: {', '.join(story.article_ids)}", highlight=False
        )
        console.print(f"    sources: {', '.join(story.sources) or '?'}", highlight=False)
        entities = ", ".join(e.canonical for e in story.top_entities[:8])
        console.print(f"    top entities: {entities}", highlight=False)
        for claim in story.conflicts:
            values = "; ".join(f"{v.text} [{', '.join(v.article_ids)}]" for v in claim.values)
            console.print(f"    [red]conflict[/] {claim.claim}: {values}", highlight=False)
        for claim in story.corroborated:
            values = "; ".join(
                f"{v.text} [{', '.join(v.sources) or ', '.join(v.article_ids)}]" for v in claim.values
            )
            console.print(f"    [green]corroborated[/] {claim.claim}: {values}", highlight=False)
    dead = store.dead_letters()
    if dead:
        console.rule("dead letters")
        for letter in dead:
            console.print(f"    {letter.key}: {letter.stage}: {letter.error}", highlight=False)
    console.rule()
    console.print(
        f"done in {seconds:.1f}s: {len(articles)} articles, {len(stories)} stories, {len(dead)} dead letters -> "
        f"{out_dir / 'enriched.jsonl'}, {out_dir / 'stories.jsonl'}, {out_dir / 'copydesk.db'}",
        highlight=False,
    )


def _register_evals() -> None:
    from pipeline.evals import eval_group

    main.add_command(eval_group)


_register_evals()

if __name__ == "__main__":
    main()
