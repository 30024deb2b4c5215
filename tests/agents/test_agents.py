"""Agent tests: each faust agent run by ``agent.test_context()``, its outbound topics mocked and asserted on.

The records are the seeds (tests/conftest.py) taken through the real cores stage by stage, so each agent
gets what the stage before it would send.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import REGISTRY

from pipeline.app import (
    ALIAS_TABLE,
    DEADLETTER,
    DEDUPE_TABLE,
    DEDUPED,
    ENRICHED,
    FACTS,
    FACTS_REST,
    NORMALIZED,
    REORDER_TICK,
    STORIES,
    STORY_TABLE,
)
from pipeline.facts import FactExtractor, entity_id
from pipeline.runtime.codec import encode
from pipeline.runtime.cores import dedupe_index
from pipeline.runtime.reorder import is_reorder_key
from pipeline.settings import Settings, StoriesSettings
from pipeline.stories import StoryIndex
from schemas import (
    ArticleRest,
    DeadLetter,
    DedupedArticle,
    EnrichedArticle,
    FactsArticle,
    NormalizedArticle,
    StorySnapshot,
)
from tests.agents.conftest import Outbox, dead_letters_counted
from tests.conftest import RECEIVED, raw_seed

PREFIXES = ("000", "001", "002", "003", "004")
PROCESSED = datetime(2023, 12, 27, 18, 5, tzinfo=UTC)
LOPEZ_OBRADOR = "Andrés Manuel López Obrador"


def raw_json(prefix: str = "000", **changes: object) -> bytes:
    """Return a seed as the JSON bytes a feed publishes to wire.raw.<feed>."""
    return raw_seed(prefix, **changes).model_dump_json().encode("utf-8")


def without(record: Any, *fields: str) -> dict[str, Any]:
    return {name: value for name, value in dict(record).items() if name not in fields}


async def put_records(agent: Any, records: list[Any], key: str = "article_id") -> None:
    """Put each record on the agent's stream as JSON, keyed like its topic (by article, story, message)."""
    for record in records:
        await agent.put(encode(record), key=getattr(record, key).encode())


# --- the seeds, stage by stage (what each agent's upstream stage sends) --------------------------------


@pytest.fixture(scope="module")
def seed_deduped(seed_articles: dict[str, NormalizedArticle]) -> dict[str, DedupedArticle]:
    index = dedupe_index(Settings())
    deduped = {}
    for prefix, a in seed_articles.items():
        decision = index.match(a)[0]
        deduped[prefix] = DedupedArticle(**dict(a), dedup=decision, seq=index.seq_of(a.article_id))
    return deduped


@pytest.fixture(scope="module")
def seed_facts(
    seed_deduped: dict[str, DedupedArticle], spacy_extractor: FactExtractor
) -> dict[str, FactsArticle]:
    facts = spacy_extractor.extract_many(list(seed_deduped.values()))
    return {
        prefix: FactsArticle(**dict(article), facts=article_facts)
        for (prefix, article), article_facts in zip(seed_deduped.items(), facts, strict=True)
    }


@pytest.fixture(scope="module")
def seed_story(seed_facts: dict[str, FactsArticle]) -> tuple[list[EnrichedArticle], list[StorySnapshot]]:
    """The seeds as the stories stage tags them: the enriched articles, and the snapshot after each."""
    cfg = StoriesSettings()
    index = StoryIndex(
        join_threshold=cfg.join_threshold, quiet_hours=cfg.quiet_hours, max_open_stories=cfg.max_open_stories
    )
    enriched, snapshots = [], []
    for article in seed_facts.values():
        snapshot = index.tag(article)
        snapshots.append(snapshot)
        enriched.append(
            EnrichedArticle(**without(article, "part"), story_id=snapshot.story_id, processed_at=PROCESSED)
        )
    return enriched, snapshots


# --- normalize: wire.raw.<feed> -> copydesk.normalized -------------------------------------------------


async def test_normalize_sends_the_normalized_seed(watch, pipeline, outboxes, seed_articles):
    raw = raw_seed("000")
    async with watch.test_context(pipeline.agents["normalize"]) as agent:
        await agent.put(raw_json("000"), key=raw.article_id.encode())
        await outboxes[NORMALIZED].wait_for(1)

    (article,) = outboxes[NORMALIZED].records(NormalizedArticle)
    assert outboxes[NORMALIZED].keys() == [raw.article_id.encode()]
    assert (article.article_id, article.headline, article.byline, article.source) == (
        raw.article_id,
        "Antony Blinken leads officials to Mexico as US seeks to stem migration",
        "Matt Murphy",
        "BBC News",
    )
    assert article == seed_articles["000"]
    outboxes[DEADLETTER].send.assert_not_awaited()


REJECTED = [
    pytest.param(b"\xff\xfe{}", "not UTF-8: byte 0 is invalid (invalid start byte)", id="not-utf8"),
    pytest.param(
        b'{"article_id": "x", "feed": ',
        "malformed JSON: Expecting value at line 1 column 29",
        id="malformed-json",
    ),
    pytest.param(
        raw_json(schema_version=2),
        "unknown schema_version 2: this worker reads version 1",
        id="unknown-schema-version",
    ),
    pytest.param(raw_json(text=""), "article text is empty", id="empty-text"),
    pytest.param(
        raw_json(text="Blinken"), "body has 1 words after cleaning, fewer than 5", id="one-word-body"
    ),
    pytest.param(
        raw_json(text="Blinken heads\x00 to Mexico as the migrant caravan moves north"),
        "text contains NUL bytes: binary data, not an article",
        id="nul-bytes",
    ),
]


@pytest.mark.parametrize(("payload", "error"), REJECTED)
async def test_normalize_dead_letters_a_bad_message_and_goes_on(watch, pipeline, outboxes, payload, error):
    good = raw_seed("000")
    counted = dead_letters_counted("normalize")
    async with watch.test_context(pipeline.agents["normalize"]) as agent:
        await agent.put(payload, key=b"bad-1")
        await agent.put(raw_json("000"), key=good.article_id.encode())
        await outboxes[NORMALIZED].wait_for(1)

    (letter,) = outboxes[DEADLETTER].records(DeadLetter)
    assert (letter.stage, letter.error) == ("normalize", error)
    assert (letter.topic, letter.partition, letter.offset, letter.key) == ("wire.raw.seeds", 0, 0, "bad-1")
    assert (letter.payload, letter.payload_bytes, letter.payload_truncated) == (
        payload.decode("utf-8", "replace"),
        len(payload),
        False,
    )
    assert outboxes[DEADLETTER].keys() == [b"bad-1"]
    # Only the good message after it became an article.
    assert [a.article_id for a in outboxes[NORMALIZED].records(NormalizedArticle)] == [good.article_id]
    assert dead_letters_counted("normalize") == counted + 1


async def test_normalize_worker_keeps_going_through_bad_messages(watch, pipeline, outboxes):
    messages = [
        (b"bad-1", b"\xff\xfe{}"),
        (b"000", raw_json("000")),
        (b"bad-2", b"[1, 2"),
        (b"bad-3", raw_json("001", text="")),
        (b"002", raw_json("002")),
    ]
    counted = dead_letters_counted("normalize")
    async with watch.test_context(pipeline.agents["normalize"]) as agent:
        for key, payload in messages:
            await agent.put(payload, key=key)
        await outboxes[NORMALIZED].wait_for(2)

    letters = outboxes[DEADLETTER].records(DeadLetter)
    assert [(letter.key, letter.offset) for letter in letters] == [("bad-1", 0), ("bad-2", 2), ("bad-3", 3)]
    assert [letter.payload for letter in letters[1:]] == [
        b"[1, 2".decode(),
        raw_json("001", text="").decode(),
    ]
    assert [a.article_id for a in outboxes[NORMALIZED].records(NormalizedArticle)] == [
        raw_seed("000").article_id,
        raw_seed("002").article_id,
    ]
    assert dead_letters_counted("normalize") == counted + 3


# --- dedupe: copydesk.normalized -> copydesk.deduped ----------------------------------------------------


async def test_dedupe_relates_the_seeds(watch, pipeline, outboxes, seed_articles):
    articles = [seed_articles[prefix] for prefix in PREFIXES]
    async with watch.test_context(pipeline.agents["dedupe"]) as agent:
        await put_records(agent, articles)
        await outboxes[DEDUPED].wait_for(5)

    deduped = outboxes[DEDUPED].records(DedupedArticle)
    ids = [a.article_id for a in articles]
    assert [(d.dedup.relation, d.dedup.of) for d in deduped] == [
        ("unique", None),
        ("paraphrase", ids[0]),  # spun rewrite of the BBC copy
        ("unique", None),  # another outlet's report of the same event
        ("update", ids[0]),  # BBC's later version
        ("paraphrase", ids[2]),  # garbled rewrite of 002
    ]
    assert outboxes[DEDUPED].keys() == [article_id.encode() for article_id in ids]
    assert [without(d, "dedup", "seq") for d in deduped] == [dict(a) for a in articles]
    # The arrival order, gap-free: the order the stories stage restores after facts ran in parallel.
    assert [d.seq for d in deduped] == [1, 2, 3, 4, 5]
    outboxes[DEADLETTER].send.assert_not_awaited()


async def test_dedupe_redelivery_gets_the_first_decision(watch, pipeline, outboxes, seed_articles):
    first, paraphrase = seed_articles["000"], seed_articles["001"]
    async with watch.test_context(pipeline.agents["dedupe"]) as agent:
        # At-least-once delivery: both are delivered again after a restart, in the same order.
        await put_records(agent, [first, paraphrase, first, paraphrase])
        await outboxes[DEDUPED].wait_for(4)

    decisions = [d.dedup for d in outboxes[DEDUPED].records(DedupedArticle)]
    assert decisions[2:] == decisions[:2]
    # ... and its first sequence number, which tells the stories stage it is a redelivery.
    assert [d.seq for d in outboxes[DEDUPED].records(DedupedArticle)] == [1, 2, 1, 2]
    # The redelivered original is not an exact duplicate of itself.
    assert [(d.relation, d.of) for d in decisions] == [("unique", None), ("paraphrase", first.article_id)] * 2
    assert sorted(pipeline.app.tables[DEDUPE_TABLE].keys()) == sorted(
        [first.article_id, paraphrase.article_id]
    )


async def test_dedupe_table_holds_the_fingerprints(watch, pipeline, outboxes, seed_articles, settings):
    articles = [seed_articles[prefix] for prefix in PREFIXES]
    async with watch.test_context(pipeline.agents["dedupe"]) as agent:
        await put_records(agent, articles)
        await outboxes[DEDUPED].wait_for(5)
    sent = {d.article_id: d.dedup for d in outboxes[DEDUPED].records(DedupedArticle)}

    table = pipeline.app.tables[DEDUPE_TABLE]
    assert set(table.keys()) == set(sent)
    assert all(table[article_id] == pipeline.dedupe.export(article_id) for article_id in sent)

    # A worker that takes over restores its window from the table's values alone.
    fresh = dedupe_index(settings)
    fresh.restore(list(table.values()))
    assert {a.article_id: fresh.match(a)[0] for a in articles} == sent
    again = NormalizedArticle(**{**dict(seed_articles["002"]), "article_id": "002-again"})
    decision = fresh.match(again)[0]
    assert (decision.relation, decision.of) == ("exact_duplicate", articles[2].article_id)
    assert pipeline.dedupe.match(again)[0] == decision


async def test_dedupe_agent_restores_its_window_from_the_table(watch, pipeline_factory, seed_articles):
    articles = [seed_articles[prefix] for prefix in PREFIXES]
    before = pipeline_factory()
    deduped = Outbox(before.topics[DEDUPED], watch)
    async with watch.test_context(before.agents["dedupe"]) as agent:
        await put_records(agent, articles[:3])
        await deduped.wait_for(3)

    # The next worker starts with the table as recovery from its changelog leaves it.
    after = pipeline_factory()
    restored = after.app.tables[DEDUPE_TABLE]
    for article_id, state in before.app.tables[DEDUPE_TABLE].items():
        restored.data[article_id] = state
    deduped = Outbox(after.topics[DEDUPED], watch)
    async with watch.test_context(after.agents["dedupe"]) as agent:
        await put_records(agent, articles[3:])
        await deduped.wait_for(2)

    assert [(d.dedup.relation, d.dedup.of) for d in deduped.records(DedupedArticle)] == [
        ("update", articles[0].article_id),
        ("paraphrase", articles[2].article_id),
    ]
    assert len(after.dedupe) == 5


# --- the stages that forward a decoded record: dedupe, facts, stories ------------------------------------


@pytest.fixture
def seed_000_by_stage(seed_articles, seed_deduped, seed_facts) -> dict[str, Any]:
    """Seed 000 as each forwarding stage reads it."""
    return {"dedupe": seed_articles["000"], "facts": seed_deduped["000"], "stories": seed_facts["000"]}


@pytest.mark.parametrize(
    ("stage", "inbound", "outbound", "model"),
    [
        ("dedupe", NORMALIZED, DEDUPED, "NormalizedArticle"),
        ("facts", DEDUPED, FACTS, "DedupedArticle"),
        ("stories", FACTS, ENRICHED, "FactsArticle"),
    ],
)
@pytest.mark.parametrize(
    "payload", [raw_json("000"), b'{"article_id": '], ids=["raw-article", "malformed-json"]
)
async def test_stage_dead_letters_a_record_of_another_model_and_goes_on(
    watch, pipeline, outboxes, seed_000_by_stage, stage, inbound, outbound, model, payload
):
    good = seed_000_by_stage[stage]
    counted = dead_letters_counted(stage)
    async with watch.test_context(pipeline.agents[stage]) as agent:
        await agent.put(payload, key=b"wrong")
        await agent.put(encode(good), key=good.article_id.encode())
        await outboxes[outbound].wait_for(1)

    (letter,) = outboxes[DEADLETTER].records(DeadLetter)
    assert letter.stage == stage
    assert letter.error.startswith(f"not a {model}: ")
    assert (letter.topic, letter.offset, letter.key, letter.payload) == (
        inbound,
        0,
        "wrong",
        payload.decode(),
    )
    assert outboxes[outbound].keys() == [good.article_id.encode()]
    assert dead_letters_counted(stage) == counted + 1


# --- facts: copydesk.deduped -> copydesk.facts ------------------------------------------------------------


async def test_facts_extracts_people_and_quantities(watch, pipeline, outboxes, seed_deduped):
    deduped = seed_deduped["000"]
    async with watch.test_context(pipeline.agents["facts"]) as agent:
        await agent.put(encode(deduped), key=deduped.article_id.encode())
        await outboxes[FACTS].wait_for(1)

    (article,) = outboxes[FACTS].records(FactsArticle)
    assert outboxes[FACTS].keys() == [deduped.article_id.encode()]
    assert without(article, "facts", "part") == dict(deduped) and article.part == "whole"
    people = {e.canonical: e for e in article.facts.entities if e.label == "PERSON"}
    # "President Andrés Manuel López Obrador", then "Mr López Obrador" three times.
    assert (people[LOPEZ_OBRADOR].entity_id, people[LOPEZ_OBRADOR].count) == (
        entity_id(LOPEZ_OBRADOR, "PERSON"),
        4,
    )
    apprehensions = [q for q in article.facts.quantities if q.value == 190_000]
    assert [(q.text, q.qualifier, q.counted) for q in apprehensions] == [
        ("more than 190,000 apprehensions", "more than", "apprehensions")
    ]
    # The extractor remembers names in the worker's alias table, written from inside the agent, in the
    # alias memory of the event's partition of copydesk.deduped.
    # Each entry names the article (by dedupe's number) that taught it.
    assert pipeline.app.tables[ALIAS_TABLE]["0:person:lopez obrador"] == [LOPEZ_OBRADOR, deduped.seq]


async def test_facts_reads_a_long_article_up_to_the_bound_and_counts_it(
    watch, pipeline_factory, settings, seed_deduped
):
    settings.facts.max_chars = 1_000  # the seed's "up to 10,000 people a day" fits, its 190,000 does not
    pipeline = pipeline_factory()
    outboxes = {FACTS: Outbox(pipeline.topics[FACTS], watch)}
    deduped = seed_deduped["000"]
    before = REGISTRY.get_sample_value("copydesk_facts_truncated_total") or 0.0
    async with watch.test_context(pipeline.agents["facts"]) as agent:
        await agent.put(encode(deduped), key=deduped.article_id.encode())
        await outboxes[FACTS].wait_for(1)

    (article,) = outboxes[FACTS].records(FactsArticle)
    assert article.body == deduped.body  # the record keeps the whole text
    values = {q.value for q in article.facts.quantities}
    assert 10_000 in values and 190_000 not in values
    assert REGISTRY.get_sample_value("copydesk_facts_truncated_total") == before + 1


async def test_facts_sends_a_long_articles_head_on_and_reads_it_whole_off_the_path(
    watch, pipeline_factory, settings, seed_deduped, seed_facts
):
    settings.facts.inline_chars = 1_000  # the head holds "up to 10,000 people a day", not the 190,000
    pipeline = pipeline_factory()
    outboxes = {name: Outbox(pipeline.topics[name], watch) for name in (FACTS_REST, FACTS)}
    deduped = seed_deduped["000"]
    # Taught before (written to the store itself: a table write needs an event).
    pipeline.app.tables[ALIAS_TABLE].data["0:person:antony blinken"] = ["Antony J. Blinken", 0]
    before = REGISTRY.get_sample_value("copydesk_facts_split_total") or 0.0
    async with watch.test_context(pipeline.agents["facts"]) as agent:
        await agent.put(encode(deduped), key=deduped.article_id.encode(), partition=0)
        await outboxes[FACTS_REST].wait_for(1)
    (head,) = outboxes[FACTS].records(FactsArticle)
    (rest,) = outboxes[FACTS_REST].records(ArticleRest)
    assert head.part == "head" and without(head, "facts", "part") == dict(deduped)
    values = {q.value for q in head.facts.quantities}
    assert 10_000 in values and 190_000 not in values
    assert without(rest, "aliases") == dict(deduped)
    assert rest.aliases["person:antony blinken"] == "Antony J. Blinken"  # what the head read from the memory
    assert REGISTRY.get_sample_value("copydesk_facts_split_total") == before + 1

    async with watch.test_context(pipeline.agents["facts-rest"]) as agent:
        await agent.put(encode(rest), key=rest.article_id.encode(), partition=0)
        await outboxes[FACTS].wait_for(2)
    whole = outboxes[FACTS].records(FactsArticle)[1]
    assert whole.part == "rest" and without(whole, "facts", "part") == dict(deduped)
    assert 190_000 in {q.value for q in whole.facts.quantities}
    blinken = [e.canonical for e in whole.facts.entities if "Blinken" in e.canonical]
    assert blinken == ["Antony J. Blinken"]  # read through the memory its head saw
    expected = [e for e in seed_facts["000"].facts.entities if "Blinken" not in e.canonical]
    assert [e for e in whole.facts.entities if "Blinken" not in e.canonical] == expected
    assert whole.facts.quantities == seed_facts["000"].facts.quantities  # the one pass's, all of them


async def test_facts_alias_memory_is_per_partition(watch, pipeline, outboxes, seed_deduped):
    # Each partition's memory depends on its own articles only, so entity ids do not depend on which worker
    # holds which partition, or on how the partitions interleave.
    article = seed_deduped["000"]
    async with watch.test_context(pipeline.agents["facts"]) as agent:
        await agent.put(encode(article), key=article.article_id.encode(), partition=2)
        await outboxes[FACTS].wait_for(1)

    keys = list(pipeline.app.tables[ALIAS_TABLE].keys())
    assert keys and all(key.startswith("2:") for key in keys)


async def test_a_redelivered_article_reads_the_alias_memory_it_read_first(
    watch, pipeline, outboxes, seed_deduped
):
    # After a crash faust redelivers what follows the last commit, while the alias table already holds what
    # later articles taught: a bare "Blinken" must not become the full name a later article gave.
    full = seed_deduped["000"]  # "Secretary of State Antony Blinken"
    bare = full.model_copy(
        update={
            "article_id": "bare-1",
            "headline": "Blinken in Mexico",
            "body": "Blinken said on Tuesday that the talks in Mexico City went well.",
            "paragraphs": ["Blinken said on Tuesday that the talks in Mexico City went well."],
            "seq": full.seq - 1 if full.seq > 1 else 1,
        }
    )
    full = full.model_copy(update={"seq": bare.seq + 1})
    async with watch.test_context(pipeline.agents["facts"]) as agent:
        for article in (bare, full, bare):  # the last one: a redelivery
            await agent.put(encode(article), key=article.article_id.encode(), partition=0)
        await outboxes[FACTS].wait_for(3)

    first, _full, again = outboxes[FACTS].records(FactsArticle)
    people = [e.entity_id for e in first.facts.entities if e.label == "PERSON"]
    assert people == [entity_id("Blinken", "PERSON")]  # nothing taught the full name before it
    assert again.facts == first.facts


# --- stories: copydesk.facts -> wire.enriched + wire.stories ------------------------------------------------


async def test_stories_tags_the_seeds_as_one_story(watch, pipeline, outboxes, seed_facts):
    articles = [seed_facts[prefix] for prefix in PREFIXES]
    ids = [a.article_id for a in articles]
    async with watch.test_context(pipeline.agents["stories"]) as agent:
        await put_records(agent, articles)
        await outboxes[STORIES].wait_for(5)

    enriched = outboxes[ENRICHED].records(EnrichedArticle)
    assert outboxes[ENRICHED].keys() == [article_id.encode() for article_id in ids]
    assert [without(e, "story_id", "processed_at") for e in enriched] == [
        without(a, "part") for a in articles
    ]
    (story_id,) = {e.story_id for e in enriched}

    snapshots = outboxes[STORIES].records(StorySnapshot)
    assert outboxes[STORIES].keys() == [story_id.encode()] * 5
    assert {s.story_id for s in snapshots} == {story_id}
    # Each snapshot is the story after one more article.
    assert [s.article_ids for s in snapshots] == [ids[: n + 1] for n in range(5)]
    table = pipeline.app.tables[STORY_TABLE]
    assert [key for key in table if key.startswith("story-")] == [story_id]
    assert StorySnapshot.model_validate(table[f"snap:{story_id}"]) == snapshots[-1]  # sent again on a replay
    # Each article's story is remembered beyond the story's life, for redeliveries after a crash.
    assert (
        sorted(value[0] for key, value in table.items() if key.startswith("recent:") and key != "recent:next")
        == ids
    )
    assert pipeline.reorder.next_seq == 6
    outboxes[DEADLETTER].send.assert_not_awaited()


async def test_stories_publishes_a_merged_storys_last_snapshot_first(
    watch, pipeline, outboxes, seed_facts, monkeypatch
):
    # The core reports a merge through drain_merged (tests/unit/stories/test_index.py makes real ones); the shell
    # sends that last snapshot before the survivor's and keeps it as the merged story's, for replays.
    first, second = seed_facts[PREFIXES[0]], seed_facts[PREFIXES[1]]
    drain, tagged_ids = pipeline.stories.drain_merged, []

    def drain_merged() -> list[StorySnapshot]:
        found = drain()
        tagged_ids.append(None)
        if len(tagged_ids) == 2:
            survivor = pipeline.stories.story_of(second.article_id)
            found.append(StorySnapshot(
                story_id="story-young", title="A fragment", first_seen=RECEIVED, last_updated=RECEIVED,
                article_ids=[], sources=[], top_entities=[], facts=[], conflicts=[], corroborated=[],
                merged_into=survivor,
            ))  # fmt: skip
        return found

    monkeypatch.setattr(pipeline.stories, "drain_merged", drain_merged)
    async with watch.test_context(pipeline.agents["stories"]) as agent:
        await put_records(agent, [first, second])
        await outboxes[STORIES].wait_for(3)

    snapshots = outboxes[STORIES].records(StorySnapshot)
    survivor = snapshots[-1].story_id
    assert [(s.story_id, s.merged_into) for s in snapshots] == [
        (survivor, None),
        ("story-young", survivor),
        (survivor, None),
    ]
    assert outboxes[STORIES].keys()[1] == b"story-young"
    table = pipeline.app.tables[STORY_TABLE]
    assert StorySnapshot.model_validate(table["snap:story-young"]) == snapshots[1]


# --- stories: the reorder buffer (facts runs in parallel, so its records come in any order) ------------------


def skipped_counted() -> float:
    return REGISTRY.get_sample_value("copydesk_reorder_skipped_total") or 0.0


def tagged(outbox: Outbox) -> list[tuple[str, str]]:
    """Return (article_id, story_id) of each article the stories stage sent, in order."""
    return [(e.article_id, e.story_id) for e in outbox.records(EnrichedArticle)]


def story_outboxes(pipeline: Any, watch: Any) -> dict[str, Outbox]:
    return {name: Outbox(pipeline.topics[name], watch) for name in (ENRICHED, STORIES, DEADLETTER)}


def loop_back(pipeline: Any, agent: Any) -> list[bytes]:
    """Deliver what the stories stage sends back to copydesk.facts (released held records) to the agent
    again, as the broker would; return those payloads."""
    sent: list[bytes] = []
    deliveries: list[asyncio.Task[Any]] = []

    async def send(key: bytes, value: bytes, **kwargs: Any) -> None:
        sent.append(value)
        deliveries.append(asyncio.ensure_future(agent.put(value, key=key)))  # not awaited: mid-event

    pipeline.topics[FACTS].send = send
    return sent


async def test_stories_tags_out_of_order_arrivals_in_sequence_order(
    watch, pipeline, outboxes, seed_facts, seed_story
):
    articles = [seed_facts[prefix] for prefix in PREFIXES]  # seq 1..5
    expected_enriched, expected_snapshots = seed_story
    async with watch.test_context(pipeline.agents["stories"]) as agent:
        resent = loop_back(pipeline, agent)
        await put_records(agent, [articles[2], articles[4], articles[1]])
        assert len(pipeline.reorder) == 3  # all wait for seq 1
        outboxes[ENRICHED].send.assert_not_awaited()
        await put_records(agent, [articles[0]])  # 1 comes: 1, 2, 3 go; 5 waits for 4
        await outboxes[ENRICHED].wait_for(3)
        assert len(pipeline.reorder) == 1
        await put_records(agent, [articles[3]])
        await outboxes[STORIES].wait_for(5)

    # Each held record went back through copydesk.facts, to be tagged as its own event.
    assert [FactsArticle.model_validate_json(v).seq for v in resent] == [2, 3, 5]
    assert tagged(outboxes[ENRICHED]) == [(e.article_id, e.story_id) for e in expected_enriched]
    assert outboxes[STORIES].records(StorySnapshot) == expected_snapshots
    table = pipeline.app.tables[STORY_TABLE]
    assert [key for key in table if is_reorder_key(key)] == ["reorder:next"]
    assert (pipeline.reorder.next_seq, len(pipeline.reorder)) == (6, 0)


async def test_stories_replays_a_redelivered_record_at_once(
    watch, pipeline, outboxes, seed_facts, seed_story
):
    articles = [seed_facts[prefix] for prefix in PREFIXES]
    expected = [(e.article_id, e.story_id) for e in seed_story[0]]
    async with watch.test_context(pipeline.agents["stories"]) as agent:
        loop_back(pipeline, agent)
        await put_records(agent, articles[:3])
        await outboxes[ENRICHED].wait_for(3)
        states = dict(pipeline.app.tables[STORY_TABLE].items())
        # Seq 2 again (the facts worker crashed before committing): below the next number, a redelivery.
        await put_records(agent, [articles[1]])
        await outboxes[ENRICHED].wait_for(4)
        assert dict(pipeline.app.tables[STORY_TABLE].items()) == states  # the story index changed nothing
        await put_records(agent, [articles[4], articles[3]])
        await outboxes[ENRICHED].wait_for(6)

    assert tagged(outboxes[ENRICHED]) == [*expected[:3], expected[1], *expected[3:]]
    assert pipeline.reorder.next_seq == 6


def split(article: FactsArticle) -> tuple[FactsArticle, FactsArticle]:
    """Return a long article's two records: its head (here, its facts without quantities) and its rest."""
    head = article.model_copy(
        update={"part": "head", "facts": article.facts.model_copy(update={"quantities": []})}
    )
    return head, article.model_copy(update={"part": "rest"})


@pytest.mark.parametrize("rest_first", [False, True], ids=["head-first", "rest-first"])
async def test_stories_publishes_a_long_article_once_with_its_whole_facts(
    watch, pipeline, outboxes, seed_facts, seed_story, rest_first
):
    articles = [seed_facts[prefix] for prefix in PREFIXES]
    head, rest = split(articles[1])
    async with watch.test_context(pipeline.agents["stories"]) as agent:
        loop_back(pipeline, agent)
        await put_records(agent, [articles[0], rest, head] if rest_first else [articles[0], head])
        await outboxes[STORIES].wait_for(2)
        if not rest_first:
            assert outboxes[ENRICHED].send.await_count == 1  # the head's record waits for its rest
            await put_records(agent, [rest])
        await put_records(agent, articles[2:])
        await outboxes[STORIES].wait_for(5)
        await outboxes[ENRICHED].wait_for(5)

    enriched = outboxes[ENRICHED].records(EnrichedArticle)
    assert tagged(outboxes[ENRICHED]) == [(e.article_id, e.story_id) for e in seed_story[0]]
    (long,) = [e for e in enriched if e.article_id == head.article_id]
    assert long.facts == articles[1].facts  # the whole article's, quantities included
    # The story was tagged from the head's facts: its fact table lacks what only the rest read.
    snapshot = outboxes[STORIES].records(StorySnapshot)[1]
    assert snapshot.article_ids == [articles[0].article_id, head.article_id]
    table = pipeline.app.tables[STORY_TABLE]
    assert not [key for key in table if key.startswith("rest:")]


async def test_stories_publishes_a_long_article_again_when_its_rest_is_redelivered(
    watch, pipeline, outboxes, seed_facts
):
    head, rest = split(seed_facts["000"])
    async with watch.test_context(pipeline.agents["stories"]) as agent:
        await put_records(agent, [head, rest, rest])
        await outboxes[ENRICHED].wait_for(2)
    first, again = outboxes[ENRICHED].records(EnrichedArticle)
    assert (first.story_id, first.facts) == (again.story_id, again.facts) == (first.story_id, rest.facts)


async def test_stories_skips_a_gap_when_the_buffer_is_full(watch, pipeline_factory, settings, seed_facts):
    settings.stories.reorder_max_pending = 2
    pipeline = pipeline_factory()
    outboxes = story_outboxes(pipeline, watch)
    articles = [seed_facts[prefix] for prefix in PREFIXES]
    counted = skipped_counted()
    async with watch.test_context(pipeline.agents["stories"]) as agent:
        loop_back(pipeline, agent)
        await put_records(agent, [articles[0], articles[2]])  # seq 2 is missing
        await outboxes[ENRICHED].wait_for(1)
        assert len(pipeline.reorder) == 1
        await put_records(agent, [articles[3]])  # two held: give up on 2, tag 3 and 4
        await outboxes[ENRICHED].wait_for(3)
        assert skipped_counted() == counted + 1
        # Seq 2 after all (dead-lettered upstream and replayed, say): tagged at once, nothing lost.
        await put_records(agent, [articles[1], articles[4]])
        await outboxes[ENRICHED].wait_for(5)

    ids = [a.article_id for a in articles]
    assert [article_id for article_id, _ in tagged(outboxes[ENRICHED])] == [
        ids[0],
        ids[2],
        ids[3],
        ids[1],
        ids[4],
    ]
    assert (pipeline.reorder.next_seq, len(pipeline.reorder)) == (6, 0)


async def test_stories_skips_a_gap_after_the_timeout(watch, pipeline_factory, settings, seed_facts):
    settings.stories.reorder_gap_timeout_s = 0.05
    pipeline = pipeline_factory()
    outboxes = story_outboxes(pipeline, watch)
    articles = [seed_facts[prefix] for prefix in PREFIXES]
    counted = skipped_counted()
    async with watch.test_context(pipeline.agents["stories"]) as agent:
        loop_back(pipeline, agent)
        await put_records(agent, [articles[0], articles[3]])  # 2 and 3 missing, 4 held
        await outboxes[ENRICHED].wait_for(1)
        assert len(pipeline.reorder) == 1
        await asyncio.sleep(0.1)  # the gap timeout itself: nothing else would end the wait
        # The worker's timer sends this when held records waited that long and nothing else came.
        await agent.put(b"{}", key=REORDER_TICK)
        await outboxes[ENRICHED].wait_for(2)

    assert [a for a, _ in tagged(outboxes[ENRICHED])] == [articles[0].article_id, articles[3].article_id]
    assert skipped_counted() == counted + 2
    outboxes[DEADLETTER].send.assert_not_awaited()  # the tick is not a record


async def test_stories_restores_held_records_from_the_table(watch, pipeline_factory, seed_facts, seed_story):
    articles = [seed_facts[prefix] for prefix in PREFIXES]
    before = pipeline_factory()
    enriched = story_outboxes(before, watch)[ENRICHED]
    async with watch.test_context(before.agents["stories"]) as agent:
        loop_back(before, agent)
        await put_records(agent, [articles[0], articles[2], articles[4]])  # 3 and 5 held: their offsets are
        await enriched.wait_for(1)  # committed once the agent moves on, so only the table keeps them

    # The next worker starts with the table as recovery from its changelog leaves it.
    after = pipeline_factory()
    restored = after.app.tables[STORY_TABLE]
    for key, state in before.app.tables[STORY_TABLE].items():
        restored.data[key] = state
    outboxes = story_outboxes(after, watch)
    async with watch.test_context(after.agents["stories"]) as agent:
        loop_back(after, agent)
        await put_records(agent, [articles[1], articles[3]])
        await outboxes[STORIES].wait_for(4)

    expected_enriched, expected_snapshots = seed_story
    assert tagged(enriched) + tagged(outboxes[ENRICHED]) == [
        (e.article_id, e.story_id) for e in expected_enriched
    ]
    assert outboxes[STORIES].records(StorySnapshot) == expected_snapshots[1:]
    assert (after.reorder.next_seq, len(after.reorder)) == (6, 0)


async def test_the_timer_wakes_a_stories_stage_that_has_not_restored(pipeline_factory, monkeypatch):
    """A worker that dies after seq 2's turn came, before it went back to copydesk.facts, leaves a buffer
    that nothing restores.

    The new worker restores the buffer with the first record it gets, and none may come: with its input all
    consumed, the held records would stay held. The timer of the worker that owns copydesk.facts now wakes the
    stage (a tick record) until it has restored; what the stage does with the tick is the test above.
    """
    import pipeline.app as app_module

    pipeline = pipeline_factory()
    sent: list[bytes] = []

    async def send(key: bytes, value: bytes, **kwargs: Any) -> None:
        sent.append(key)

    pipeline.topics[FACTS].send = send
    owned: set[str] = {DEDUPED}  # facts partitions only: waking stories is not this worker's job
    monkeypatch.setattr(app_module, "owns_topic", lambda _app, topic: topic in owned)
    await pipeline.wake_stories()
    assert sent == []
    owned.add(FACTS)
    await pipeline.wake_stories()
    await pipeline.wake_stories()
    assert sent == [REORDER_TICK, REORDER_TICK]  # until a record (this tick) restores the stage


async def test_stories_releases_held_records_after_a_restart_with_no_input(
    watch, pipeline_factory, seed_facts, seed_story, monkeypatch
):
    """After the restart of the test above, the tick restores the buffer and the held run is tagged."""
    import pipeline.app as app_module
    from pipeline.runtime.reorder import ReorderBuffer

    articles = [seed_facts[prefix] for prefix in PREFIXES]
    before = pipeline_factory()
    first = story_outboxes(before, watch)[ENRICHED]
    async with watch.test_context(before.agents["stories"]) as agent:
        loop_back(before, agent)
        await put_records(agent, [articles[0], articles[2], articles[3], articles[4]])  # 3, 4, 5 held
        await first.wait_for(1)
    held_two: dict = {}  # seq 2 came and was held too; its turn came, the worker died before releasing it
    ReorderBuffer(held_two, 10, 60.0).offer(2, articles[1].model_dump(mode="json"), 0.0)

    after = pipeline_factory()
    table = after.app.tables[STORY_TABLE]
    for key, state in [*before.app.tables[STORY_TABLE].items(), *held_two.items()]:
        table.data[key] = state
    outboxes = story_outboxes(after, watch)
    monkeypatch.setattr(app_module, "owns_topic", lambda _app, topic: topic == FACTS)
    async with watch.test_context(after.agents["stories"]) as agent:
        sent = loop_back(after, agent)
        await after.wake_stories()  # nothing else comes
        await outboxes[ENRICHED].wait_for(4)
        await after.wake_stories()  # restored now: no more ticks
    assert sent.count(b"{}") == 1
    expected = [(e.article_id, e.story_id) for e in seed_story[0]]
    assert tagged(first) + tagged(outboxes[ENRICHED]) == expected
    assert (after.reorder.next_seq, len(after.reorder)) == (6, 0)


# --- sink: wire.enriched, wire.stories, wire.deadletter -> SQLite -------------------------------------------


async def test_sink_upserts_enriched_articles_idempotently(watch, sink_app, sink_store, seed_story, tmp_path):
    enriched, _ = seed_story
    async with watch.test_context(sink_app.agents["sink-enriched"]) as agent:
        await put_records(agent, enriched)
        await sink_store.wait_for("articles", 5)
        assert sink_store.articles() == enriched
        first = sink_store.export_jsonl(tmp_path / "first")["enriched"].read_bytes()

        # The same records again, as after a crash between the write and the offset commit.
        await put_records(agent, enriched)
        await sink_store.wait_for("articles", 10)

    assert sink_store.export_jsonl(tmp_path / "again")["enriched"].read_bytes() == first


async def test_sink_keeps_the_newest_story_snapshot(watch, sink_app, sink_store, seed_story):
    _, snapshots = seed_story  # snapshots[n] is the story after n + 1 articles
    async with watch.test_context(sink_app.agents["sink-stories"]) as agent:
        await put_records(agent, [snapshots[2]], "story_id")
        await sink_store.wait_for("stories", 1)
        assert sink_store.stories() == [snapshots[2]]

        # Newer and older snapshots out of order, as redeliveries and restarts may bring them.
        await put_records(agent, [snapshots[4], snapshots[0], snapshots[3]], "story_id")
        await sink_store.wait_for("stories", 4)
        assert sink_store.stories() == [snapshots[4]]

        await put_records(agent, [snapshots[1]], "story_id")
        await sink_store.wait_for("stories", 5)

    assert sink_store.stories() == [snapshots[4]]


async def test_sink_stores_each_dead_letter_once(watch, sink_app, sink_store):
    letter = DeadLetter(
        stage="normalize",
        error="malformed JSON: Expecting value at line 1 column 6",
        topic="wire.raw.seeds",
        partition=0,
        offset=7,
        key="bad-1",
        payload="[1, 2",
        payload_bytes=5,
        failed_at=PROCESSED,
    )
    redelivered = letter.model_copy(update={"failed_at": datetime(2023, 12, 27, 18, 9, tzinfo=UTC)})
    async with watch.test_context(sink_app.agents["sink-deadletter"]) as agent:
        await put_records(agent, [letter], "key")
        await sink_store.wait_for("dead_letters", 1)
        # The worker meets the same message again after a restart and dead-letters it a second time.
        await put_records(agent, [redelivered], "key")
        await sink_store.wait_for("dead_letters", 2)

    assert sink_store.dead_letters() == [letter]
    assert sink_store.settled_ids() == {"bad-1"}


async def test_sink_skips_and_counts_a_record_it_cannot_read(watch, sink_app, sink_store, seed_story):
    enriched, _ = seed_story
    counted = dead_letters_counted("sink")
    async with watch.test_context(sink_app.agents["sink-enriched"]) as agent:
        await agent.put(b'{"not": "an enriched article"}', key=b"odd")
        await put_records(agent, enriched[:1])
        await sink_store.wait_for("articles", 1)

    assert sink_store.articles() == enriched[:1]
    assert dead_letters_counted("sink") == counted + 1
