"""The bench's pure helpers: percentiles, the per-hop latency breakdown, the facts bound's count, pacing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.runtime.seeder import Seeder
from pipeline.settings import Settings
from pipeline.tools.bench import BenchResult, _percentile, facts_cut, facts_split, hop_medians, words_rates
from schemas import RawArticle
from tests.conftest import raw_seed


def test_hop_medians_split_publish_to_sink_into_stages() -> None:
    published = {"a": 100.0, "b": 200.0, "c": 300.0}
    times = {
        "copydesk.normalized": {"a": 100.1, "b": 200.1, "c": 300.3},
        "copydesk.deduped": {"a": 100.2, "b": 200.2, "c": 300.4},
        "copydesk.facts": {"a": 101.2, "b": 200.7, "c": 301.4},
        "wire.enriched": {"a": 101.3, "b": 200.8, "c": 301.5},
    }
    written = {"a": 101.8, "b": 201.0, "c": 301.6}
    hops = hop_medians(published, times, written)
    assert list(hops) == ["normalize", "dedupe", "facts", "stories", "sink"]
    assert hops["normalize"] == pytest.approx(0.1)
    assert hops["facts"] == pytest.approx(1.0)
    assert hops["sink"] == pytest.approx(0.2)


def test_hop_medians_skip_articles_a_topic_did_not_show() -> None:
    # An article missing from one topic (read timed out) leaves that hop's neighbours unmeasured for it only.
    published = {"a": 0.0, "b": 0.0}
    times = {"copydesk.normalized": {"a": 0.5}, "copydesk.deduped": {"a": 0.6, "b": 0.7}}
    hops = hop_medians(published, times, {})
    assert hops == {"normalize": pytest.approx(0.5), "dedupe": pytest.approx(0.1)}


def test_percentile_and_ratios() -> None:
    assert _percentile([], 0.99) == 0.0
    assert _percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert _percentile([float(i) for i in range(101)], 0.99) == 99.0
    figures = BenchResult(articles=10, core_per_s=10.0, transport_per_s=100.0, pipeline_per_s=9.0).figures()
    assert figures["pipeline_over_core"] == pytest.approx(0.9)
    assert figures["pipeline_over_transport"] == pytest.approx(0.09)
    assert BenchResult(articles=0).figures()["pipeline_over_core"] == 0.0


def test_the_bench_counts_the_articles_the_facts_bounds_cut_and_split() -> None:
    received = datetime(2024, 1, 1, tzinfo=UTC)
    articles = [
        RawArticle(article_id=f"a{n}", feed="f", received_at=received, title="A title", text=text)
        for n, text in enumerate(["Short body of the article here.", "A much longer body. " * 40])
    ]
    assert facts_cut(Settings(_env_file=None, facts={"max_chars": 200}), articles) == 1
    assert facts_cut(Settings(_env_file=None, facts={"max_chars": 0}), articles) == 0
    assert BenchResult(articles=2, facts_max_chars=200, facts_cut=1).figures()["facts_cut"] == 1
    assert facts_split(Settings(_env_file=None, facts={"inline_chars": 200}), articles) == 1
    assert facts_split(Settings(_env_file=None, facts={"inline_chars": 0}), articles) == 0
    # Nothing past FACTS__MAX_CHARS to read in a second pass.
    assert facts_split(Settings(_env_file=None, facts={"inline_chars": 200, "max_chars": 200}), articles) == 0
    assert BenchResult(articles=2, facts_inline_chars=200, facts_split=1).figures()["facts_split"] == 1


@pytest.mark.shared_data("gva_dev.jsonl")
def test_state_growth_is_bounded_by_the_windows() -> None:
    from pipeline.cli import _corpus
    from pipeline.settings import Settings
    from pipeline.tools.bench import state_growth
    from tests.conftest import SHARED_DATA

    settings = Settings(
        _env_file=None,
        dedupe={"window_size": 60, "window_hours": None},  # the count bound (cycles are years apart)
        stories={"remember_decisions": 50, "quiet_hours": 72.0},
        facts={"alias_window": 40},
    )
    articles = _corpus((SHARED_DATA / "gva_dev.jsonl",), 80, "bench")
    rows = state_growth(settings, articles, total=240, every=60, say=lambda _line: None)
    assert [row["articles"] for row in rows] == [60, 120, 180, 240]  # three cycles of the 80 articles
    assert all(row["dedupe_window"] <= 60 for row in rows)
    # dedupe table <= 60, recent ring <= 50, closed ring <= 5 (+ its snapshots), open stories' states.
    assert all(
        row["table_entries"] - row["alias_entries"] <= 60 + 50 + 2 * 5 + 2 * row["open_stories"] + 4
        for row in rows
    ), rows
    assert rows[-1]["table_entries"] - rows[-1]["alias_entries"] <= rows[1]["table_entries"] + 10
    # The alias memory holds what the last window + 3 sweep steps of articles taught at most (40 + 3 x 10 <= the
    # 120 articles since two rows before), and stays flat while every cycle teaches its incidents' names anew.
    taught = [row["aliases_taught"] for row in rows]
    assert all(row["alias_entries"] <= taught[i] - taught[i - 2] for i, row in enumerate(rows) if i >= 2), (
        rows
    )
    assert rows[-1]["alias_entries"] <= 1.2 * rows[1]["alias_entries"], rows
    assert rows[-1]["aliases_taught"] > 3 * rows[-1]["alias_entries"] > 0


class _FakeClock:
    """time.monotonic and time.sleep on a clock that moves only when slept on."""

    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class _RecordingProducer:
    def __init__(self, clock: _FakeClock) -> None:
        self.clock = clock
        self.sent_at: list[float] = []

    def send(self, topic: str, key: bytes, value: bytes) -> None:
        self.sent_at.append(self.clock.now)

    def flush(self) -> None:
        pass


def test_paced_publish_sends_each_article_as_soon_as_it_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    # The bench stamps each article's publish time as the seeder takes it from a generator: the pacing wait
    # must come before that, or every latency would include up to one interval of the seeder's own sleep.
    clock = _FakeClock()
    monkeypatch.setattr("pipeline.runtime.seeder.time", clock)
    seeder = Seeder.__new__(Seeder)
    seeder._producer = producer = _RecordingProducer(clock)
    taken_at: list[float] = []

    def lazily_stamped():
        for number in range(5):
            taken_at.append(clock.now)
            yield RawArticle(article_id=f"a{number}", feed="f", received_at=datetime.now(UTC), text="x")

    sent = seeder.publish(lazily_stamped(), lambda feed: f"wire.raw.{feed}", rate=20.0)
    assert sent == [f"a{number}" for number in range(5)]
    assert producer.sent_at == taken_at
    assert producer.sent_at == pytest.approx([100.0, 100.05, 100.1, 100.15, 100.2])


def test_words_rates_time_the_bare_model_and_the_facts_stage_on_the_same_texts() -> None:
    spacy_rate, facts_rate = words_rates(Settings(_env_file=None), [raw_seed("002")], rounds=1)
    assert spacy_rate > 0 and facts_rate > 0
    figures = BenchResult(articles=1, spacy_words_per_s=spacy_rate, facts_words_per_s=facts_rate).figures()
    assert figures["facts_over_spacy"] == pytest.approx(facts_rate / spacy_rate)
