"""Unit tests of the stories core (pipeline.stories) on hand-built FactsArticle fixtures from the seeds.

The fixtures are what the facts stage should produce for seeds/000..004: the real bodies and headlines, the
real sentences and quantities, and the entities a good NER would find. Dedup relations are those of the seed
set: 001 paraphrases 000, 003 updates 000, 004 paraphrases 002.

fixtures/seeds_facts.jsonl holds what the facts stage did produce for the same seeds in a real pipeline run
(``copydesk run``: its enriched.jsonl without ``story_id`` and ``processed_at``), quantities as extracted.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import stories as stories_module
from pipeline.stories import StoryIndex, _interval
from pipeline.stories.embeddings import DIMENSIONS
from schemas.models import Dedup, Entity, Facts, FactsArticle, Quantity, StorySnapshot
from tests.conftest import SHARED_DATA

SEEDS = Path(__file__).resolve().parents[3] / "seeds"
SEEDS_FACTS = Path(__file__).resolve().parents[1] / "fixtures" / "seeds_facts.jsonl"
ECBPLUS = SHARED_DATA / "ecbplus_dev.jsonl"
T0 = datetime(2023, 12, 27, 9, 0, tzinfo=UTC)

# canonical -> (label, the surface forms a NER + coreference step would resolve to it)
ENTITIES = {
    "Antony Blinken": ("PERSON", ["Blinken"]),
    "Andrés Manuel López Obrador": ("PERSON", ["López Obrador", "Lopez Obrador"]),
    "Joe Biden": ("PERSON", ["Biden"]),
    "Alejandro Mayorkas": ("PERSON", ["Mayorkas"]),
    "Troy Miller": ("PERSON", ["Troy Miller"]),
    "Mexico": ("GPE", ["Mexico"]),
    "Mexico City": ("GPE", ["Mexico City"]),
    "United States": ("GPE", ["US ", "U.S.", "United States"]),
    "US Customs and Border Protection": ("ORG", ["Customs and Border Protection"]),
    "Tapachula": ("GPE", ["Tapachula"]),
    "Chiapas": ("GPE", ["Chiapas"]),
    "Honduras": ("GPE", ["Honduras"]),
    "Ukraine": ("GPE", ["Ukraine"]),
    "Manchester United": ("ORG", ["Manchester United", "United's"]),
    "Liverpool": ("ORG", ["Liverpool"]),
    "Old Trafford": ("FAC", ["Old Trafford"]),
    "Mohamed Salah": ("PERSON", ["Salah"]),
}

_SENTENCES = re.compile(r"(?<![A-Z]\.)(?<!Mr\.)(?<!Gov\.)(?<=[.!?\"”])\s+(?=[A-Z“\"(])|\n+")


def _sentence_of(body: str, text: str) -> str:
    for sentence in _SENTENCES.split(body):
        if text in sentence:
            return sentence
    raise AssertionError(f"{text!r} is not in the body")


def _entity_id(canonical: str) -> str:
    return "ent-" + canonical.lower().replace(" ", "-")


def make_article(
    article_id: str,
    headline: str,
    body: str,
    *,
    source: str | None = None,
    relation: str = "unique",
    of: str | None = None,
    hours: float = 0.0,
    quantities: tuple[tuple, ...] = (),
    entities: list[Entity] | None = None,
    feed: str = "seeds",
) -> FactsArticle:
    """Build a FactsArticle; quantities are (text, value, qualifier, unit, counted[, high])."""
    if entities is None:
        entities = []
        for canonical, (label, forms) in ENTITIES.items():
            count = sum(body.count(form) for form in forms)
            if count:
                entities.append(
                    Entity(
                        text=forms[0].strip(),
                        label=label,
                        canonical=canonical,
                        entity_id=_entity_id(canonical),
                        count=count,
                    )
                )
    qs = [
        Quantity(
            text=q[0],
            value=q[1],
            qualifier=q[2],
            unit=q[3],
            counted=q[4],
            high=q[5] if len(q) > 5 else None,
            sentence=_sentence_of(body, q[0]),
        )
        for q in quantities
    ]
    return FactsArticle(
        article_id=article_id,
        feed=feed,
        source=source,
        received_at=T0 + timedelta(hours=hours),
        headline=headline,
        paragraphs=[p for p in body.split("\n") if p.strip()],
        body=body,
        word_count=len(body.split()),
        dedup=Dedup(relation=relation, of=of, similarity=0.0 if of is None else 0.7),
        facts=Facts(entities=entities, quantities=qs),
    )


def seed_article(n: int, article_id: str, *, headline_line: bool = True, **kwargs) -> FactsArticle:
    text = next(SEEDS.glob(f"{n:03d}_*.txt")).read_text(encoding="utf-8").strip()
    if headline_line:
        headline, body = (part.strip() for part in text.split("\n", 1))
    else:  # 002 starts with its lede; the headline is its first sentence
        headline, body = text.split(" and other top")[0], text
    return make_article(article_id, headline, body, **kwargs)


def seed_articles() -> list[FactsArticle]:
    """The five versions of the Blinken-in-Mexico story, in seed order, a few hours apart."""
    return [
        seed_article(
            0,
            "a000",
            source="BBC News",
            quantities=(
                ("up to 10,000 people", 10000, "up to", None, "people"),
                ("two million", 2e6, None, None, None),
                ("more than 190,000 apprehensions", 190000, "more than", None, "apprehensions"),
                ("about 7,000 people", 7000, "about", None, "people"),
                ("about 1,000 miles", 1000, "about", "miles", None),
            ),
        ),
        # A spun rewrite of 000 on an unnamed site.
        seed_article(
            1,
            "a001",
            relation="paraphrase",
            of="a000",
            hours=2,
            quantities=(
                ("Up to 10,000 individuals", 10000, "up to", None, "individuals"),
                ("more than two million persons", 2e6, "more than", None, "persons"),
                ("over 190,000 people", 190000, "over", None, "people"),
                ("roughly 7,000 migrants", 7000, "roughly", None, "migrants"),
                ("around 1,000 miles", 1000, "around", "miles", None),
            ),
        ),
        # An independent report, syndicated.
        seed_article(
            2,
            "a002",
            headline_line=False,
            source="24World Media",
            hours=3,
            quantities=(
                ("more than 10,000 people", 10000, "more than", None, "people"),
                ("roughly 1,000 miles", 1000, "roughly", "miles", None),
                ("around 3,000 people", 3000, "around", None, "people"),
                ("approximately 5,000 people", 5000, "approximately", None, "people"),
                ("more than 190,000 apprehensions", 190000, "more than", None, "apprehensions"),
                ("more than 400,000 people", 400000, "more than", None, "people"),
            ),
        ),
        # BBC's later update of 000.
        seed_article(
            3,
            "a003",
            source="BBC News",
            relation="update",
            of="a000",
            hours=8,
            quantities=(
                ("up to 10,000 people", 10000, "up to", None, "people"),
                ("32 hours", 32, None, "hours", None),
                ("14 buses", 14, None, None, "buses"),
                ("two million", 2e6, None, None, None),
                ("more than 190,000 apprehensions", 190000, "more than", None, "apprehensions"),
                ("about 7,000 people", 7000, "about", None, "people"),
                ("At least 7,000 migrants", 7000, "at least", None, "migrants"),
                ("about 1,000 miles", 1000, "about", "miles", None),
            ),
        ),
        # A garbled rewrite of 002.
        seed_article(
            4,
            "a004",
            relation="paraphrase",
            of="a002",
            hours=9,
            quantities=(
                ("more than 10,000 people", 10000, "more than", None, "people"),
                ("between 6,000 and 10,000 people", 6000, "between", None, "people", 10000),
                ("about 1,600 miles", 1600, "about", "miles", None),
                ("more than 190,000 apprehensions", 190000, "more than", None, "apprehensions"),
                ("more than 400,000 people", 400000, "more than", None, "people"),
            ),
        ),
    ]


FOOTBALL = (
    "Liverpool beat Manchester United 3-1 at Old Trafford on Sunday to go top of the Premier League.\n"
    "Mohamed Salah scored twice in the second half before about 74,000 fans, and the visitors' manager "
    "praised a pressing game that left United's midfield chasing shadows.\n"
    "The home side pulled a goal back from a corner, but a late penalty sealed the win.\n"
    "Liverpool have now won six of their last seven league matches and sit two points clear."
)


def football(article_id: str = "f001", hours: float = 10.0) -> FactsArticle:
    return make_article(
        article_id,
        "Salah double sinks Manchester United at Old Trafford",
        FOOTBALL,
        source="Sport Wire",
        hours=hours,
        quantities=(("about 74,000 fans", 74000, "about", None, "fans"),),
    )


def real_seed_articles() -> list[FactsArticle]:
    """The facts stage's real output for seeds/000..004, in seed order (000, 001, 002, 003, 004)."""
    lines = SEEDS_FACTS.read_text(encoding="utf-8").splitlines()
    return [FactsArticle.model_validate_json(line) for line in lines]


def run(index: StoryIndex, articles: list[FactsArticle]) -> list[StorySnapshot]:
    return [index.tag(a) for a in articles]


def claim_with(snapshot_claims, *values: float):
    """Return the one claim that has all these values (low ends)."""
    found = [c for c in snapshot_claims if set(values) <= {v.value for v in c.values}]
    assert len(found) == 1, [c.claim for c in found]
    return found[0]


@pytest.fixture(scope="module")
def story() -> StorySnapshot:
    return run(StoryIndex(), seed_articles())[-1]


# --- tagging --------------------------------------------------------------------------------------------


def test_five_versions_of_one_story_join_one_story(story: StorySnapshot) -> None:
    assert story.article_ids == ["a000", "a001", "a002", "a003", "a004"]
    assert story.story_id == "story-" + hashlib.sha1(b"a000").hexdigest()[:12]
    assert story.title == "Antony Blinken leads officials to Mexico as US seeks to stem migration"
    assert story.first_seen == T0
    assert story.last_updated == T0 + timedelta(hours=9)
    assert story.sources == ["BBC News", "24World Media"]  # 001 and 004 name no outlet; "seeds" is a feed
    top = {e.canonical: e.articles for e in story.top_entities}
    assert top["Antony Blinken"] == 5
    assert top["Andrés Manuel López Obrador"] == 5


def test_tagging_is_deterministic() -> None:
    first = [s.model_dump() for s in run(StoryIndex(), [*seed_articles(), football()])]
    second = [s.model_dump() for s in run(StoryIndex(), [*seed_articles(), football()])]
    assert first == second


@pytest.mark.shared_data("ecbplus_dev.jsonl")
def test_story_ids_do_not_depend_on_the_hash_seed() -> None:
    """Set order changes with PYTHONHASHSEED; the decisions must not."""
    script = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('t', {str(Path(__file__))!r})\n"
        "t = importlib.util.module_from_spec(spec); spec.loader.exec_module(t)\n"
        "from pipeline.stories import StoryIndex\n"
        "arts = t.seed_articles() + [t.football()] + t.ecbplus_articles(limit=300)[0]\n"
        "print(t.run(StoryIndex(), arts)[-1].model_dump_json())\n"
        "idx = StoryIndex(); print([idx.tag(a).story_id for a in arts])\n"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={"PYTHONHASHSEED": seed, "PATH": ""},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1


def test_unrelated_article_starts_a_new_story() -> None:
    index = StoryIndex()
    blinken = run(index, seed_articles())[-1]
    match = index.tag(football())
    assert match.story_id != blinken.story_id
    assert match.article_ids == ["f001"]
    assert index.open_stories == 2


@pytest.mark.shared_data("ecbplus_dev.jsonl")
def test_unrelated_ecbplus_articles_start_new_stories() -> None:
    index = StoryIndex()
    blinken = run(index, seed_articles())[-1].story_id
    for article in ecbplus_articles(limit=3)[0]:  # a murder trial sentencing, a football game, ...
        assert index.tag(article).story_id != blinken


def test_redelivery_returns_the_same_story_and_does_not_double() -> None:
    index = StoryIndex()
    articles = seed_articles()
    first = index.tag(articles[0])
    assert index.tag(articles[0]) == first
    last = run(index, articles[1:])[-1]
    again = index.tag(articles[2])
    assert again == last
    assert again.article_ids.count("a002") == 1
    assert index.story_of("a002") == last.story_id
    assert index.story_of("never-seen") is None


def test_title_skips_a_headline_cut_from_the_lead_sentence() -> None:
    """002 has no headline of its own: normalize cut one from its lede ("... on Wednesday…")."""
    _, _, r002, _, r004 = real_seed_articles()
    assert r002.headline.endswith("…") and r004.dedup.relation == "paraphrase"
    assert StoryIndex().tag(r002).title == r002.headline  # the only headline there is
    index = StoryIndex()
    index.tag(r002)
    assert index.tag(r004).title == "Blinken heads to Mexico as migrant caravan moves toward US border"


@pytest.mark.parametrize(
    ("headline", "title"),
    [
        ("Secretary of State Antony J. Blinken and other top American officials were…", "Blinken in Mexico"),
        ("Secretary of State Antony J. Blinken and other top American...", "Blinken in Mexico"),
        ("Wait for it…", "Wait for it…"),  # ends with an ellipsis but is not the lede: a real headline
    ],
)
def test_title_prefers_a_real_headline(headline: str, title: str) -> None:
    first = seed_article(2, "a002", headline_line=False, source="24World Media")
    first = first.model_copy(update={"headline": headline})
    later = seed_article(4, "a004", relation="paraphrase", of="a002", hours=1)
    later = later.model_copy(update={"headline": "Blinken in Mexico"})
    assert run(StoryIndex(), [first, later])[-1].title == title


# --- state ----------------------------------------------------------------------------------------------


def test_export_restore_round_trips_to_identical_decisions() -> None:
    articles = seed_articles()
    rest = [*articles[2:], football(), football("f002", hours=11)]
    live = StoryIndex()
    run(live, [*articles[:2], football("f000", hours=1)])
    sids = [live.story_of("a000"), live.story_of("f000")]
    states = [json.loads(json.dumps(live.export_state(sid))) for sid in sids]

    restored = StoryIndex()
    restored.restore(states)
    assert restored.open_stories == live.open_stories == 2
    assert restored.story_of("a001") == live.story_of("a001")
    assert [s.model_dump() for s in run(restored, rest)] == [s.model_dump() for s in run(live, rest)]


@pytest.mark.shared_data("ecbplus_dev.jsonl")
def test_export_restore_round_trips_on_a_long_stream() -> None:
    articles, _ = ecbplus_articles(limit=400)
    live = StoryIndex()
    states = {}
    for article in articles[:200]:  # what the agent's table holds: each open story's latest state
        snapshot = live.tag(article)
        for closed in live.drain_closed():  # merged into an older story, or quiet
            states.pop(closed, None)
        states[snapshot.story_id] = json.loads(json.dumps(live.export_state(snapshot.story_id)))
    restored = StoryIndex()
    restored.restore(states.values())
    assert restored.open_stories == live.open_stories
    later = articles[200:]
    assert [restored.tag(a).story_id for a in later] == [live.tag(a).story_id for a in later]


@pytest.mark.shared_data("ecbplus_dev.jsonl")
def test_cosines_use_the_current_idf_as_the_stream_grows() -> None:
    # A story's centroid norm must follow the IDF of the moment, not the one of its last update: with the
    # stale norm an old one-article story's cosines rose past 1 as more articles arrived.
    articles, _ = ecbplus_articles(limit=300)
    index = StoryIndex()
    highest = 0.0
    for article in articles:
        vectors = index._vectors(article)
        emb = stories_module._embedding(article)
        for _story, x in index._candidates(vectors, emb, article.received_at):
            highest = max(highest, *x[:3])  # the body, headline and entity cosines
        index.tag(article)
        index.drain_closed()
    assert 0.5 < highest <= 1.0 + 1e-9


@pytest.mark.shared_data("ecbplus_dev.jsonl")
def test_restore_migrates_a_version_1_state() -> None:
    # Version 1 kept one norm per field; restoring it recomputes the norm sums from the terms. (Its
    # embedding sum is kept here, to compare decisions; version 2's test below drops it.)
    articles, _ = ecbplus_articles(limit=40)
    live = StoryIndex()
    for article in articles[:30]:
        live.tag(article)
        live.drain_closed()
    states = []
    for story_id in list(live._stories):
        state = live.export_state(story_id)
        assert state["version"] == 4
        del state["sums"]
        states.append({**state, "version": 1, "norms": {"body": 1.0, "head": 1.0, "ent": 1.0}})
    restored = StoryIndex()
    restored.restore(states)
    for story_id, story in live._stories.items():
        again = restored._stories[story_id]
        for field in ("body", "head", "ent"):
            live._renorm(story, field)
            assert again.sums[field] == pytest.approx(story.sums[field])
    assert [restored.tag(a).story_id for a in articles[30:]] == [live.tag(a).story_id for a in articles[30:]]
    with pytest.raises(ValueError, match="version 5"):
        StoryIndex().restore([{**states[0], "version": 5}])


@pytest.mark.shared_data("ecbplus_dev.jsonl")
@pytest.mark.parametrize("version", [2, 3])
def test_restore_estimates_an_older_states_embedding(version: int) -> None:
    # Version 2 had no embedding sum and version 3's was GloVe's, in 100 dimensions: restoring either
    # estimates the sum from the articles' headlines (the state keeps no body), pointing about where the
    # articles' sum points, at most one unit per article.
    articles, _ = ecbplus_articles(limit=40)
    live = StoryIndex()
    for article in articles:
        live.tag(article)
        live.drain_closed()
    states = []
    for story_id in live._stories:
        state = live.export_state(story_id)
        if version == 2:
            del state["emb"]
        else:
            state["emb"] = [0.1] * 100
        states.append({**state, "version": version})
    restored = StoryIndex()
    restored.restore(states)
    for story_id, story in live._stories.items():
        estimate = restored._stories[story_id].emb
        size = len(story.articles)
        assert len(estimate) == DIMENSIONS
        assert 0.5 * size <= math.hypot(*estimate) <= size + 1e-9
        unit = tuple(x / math.hypot(*estimate) for x in estimate)
        cosines = {other: stories_module._emb_cosine(unit, s) for other, s in live._stories.items()}
        # Headlines alone point near the headlines-and-bodies sum: nearer it than any other story's.
        assert cosines[story_id] > 0.7
        assert max(cosines, key=cosines.get) == story_id


def test_stories_close_after_quiet_hours() -> None:
    index = StoryIndex(quiet_hours=72.0)
    a000, a001, *_ = seed_articles()
    first = index.tag(a000).story_id
    late = a001.model_copy(update={"received_at": T0 + timedelta(hours=80)})
    second = index.tag(late).story_id
    assert second != first  # the first story was quiet for 80 hours: closed, so this one starts anew
    assert index.story_of("a000") is None
    assert index.open_stories == 1


def test_time_decay_keeps_a_story_open_within_quiet_hours() -> None:
    index = StoryIndex(quiet_hours=72.0)
    a000, a001, *_ = seed_articles()
    first = index.tag(a000).story_id
    assert index.tag(a001.model_copy(update={"received_at": T0 + timedelta(hours=20)})).story_id == first


def test_restore_closes_stories_that_went_quiet() -> None:
    index = StoryIndex(quiet_hours=72.0)
    old = index.tag(seed_articles()[0]).story_id
    old_state = index.export_state(old)
    new = index.tag(football(hours=100)).story_id
    with pytest.raises(KeyError):
        index.export_state(old)  # closed when the football report moved the clock
    restored = StoryIndex(quiet_hours=72.0)
    restored.restore([old_state, index.export_state(new)])  # the table still holds the closed story
    assert restored.open_stories == 1
    assert restored.story_of("a000") is None
    assert restored.story_of("f001") == new


def test_oldest_stories_are_evicted_beyond_max_open_stories() -> None:
    index = StoryIndex(max_open_stories=1)
    blinken = index.tag(seed_articles()[0]).story_id
    index.tag(football())
    assert index.open_stories == 1
    assert index.story_of("a000") is None
    assert index.story_of("f001") not in {None, blinken}


def test_restore_accepts_states_exported_before_cut_ledes_and_predicates_were_kept() -> None:
    """Changelogs written by the previous release lack ``cut_lede`` (articles) and ``pred`` (claims)."""
    articles = seed_articles()
    live = StoryIndex()
    run(live, articles[:3])
    state = json.loads(json.dumps(live.export_state(live.story_of("a000"))))
    for article in state["articles"]:
        del article["cut_lede"]
    for claim in state["claims"]:
        del claim["pred"]
    restored = StoryIndex()
    restored.restore([state])

    def decisions(snapshots: list[StorySnapshot]) -> list[dict]:
        # Claims from an old state lack their participle in the label ("persons year along"); all else holds.
        ignore = {name: {"__all__": {"claim"}} for name in ("facts", "conflicts", "corroborated")}
        return [s.model_dump(exclude=ignore) for s in snapshots]

    assert decisions(run(restored, articles[3:])) == decisions(run(live, articles[3:]))


def test_drain_closed_reports_stories_that_went_quiet_once() -> None:
    index = StoryIndex(quiet_hours=72.0)
    blinken = index.tag(seed_articles()[0]).story_id
    assert index.drain_closed() == []
    index.tag(football(hours=100))
    assert index.drain_closed() == [blinken]
    assert index.drain_closed() == []


def test_drain_closed_reports_evicted_stories() -> None:
    index = StoryIndex(max_open_stories=1)
    blinken = index.tag(seed_articles()[0]).story_id
    index.tag(football())
    assert index.drain_closed() == [blinken]


def test_drain_closed_reports_the_stories_restore_dropped() -> None:
    index = StoryIndex(quiet_hours=72.0)
    old = index.tag(seed_articles()[0]).story_id
    old_state = index.export_state(old)
    new = index.tag(football(hours=100)).story_id
    restored = StoryIndex(quiet_hours=72.0)
    restored.restore([old_state, index.export_state(new)])
    assert restored.drain_closed() == [old]


def test_drain_closed_leaves_out_a_story_open_again_under_the_same_id() -> None:
    index = StoryIndex(quiet_hours=72.0)
    a000 = seed_articles()[0]
    blinken = index.tag(a000).story_id
    index.tag(football(hours=100))  # closes the Blinken story
    assert index.tag(a000).story_id == blinken  # redelivered after its story closed: a new story, same id
    assert index.drain_closed() == []  # deleting it now would lose the story just written


def keep_table(index: StoryIndex, articles: list[FactsArticle]) -> dict[str, dict]:
    """Do what the stories agent does with its table, and check it holds exactly the open stories."""
    table: dict[str, dict] = {}
    for article in articles:
        snapshot = index.tag(article)
        for story_id in index.drain_closed():
            table.pop(story_id, None)
        table[snapshot.story_id] = index.export_state(snapshot.story_id)
        assert len(table) == index.open_stories
    return table


def test_a_table_kept_with_drain_closed_holds_only_open_stories() -> None:
    articles = [*seed_articles(), football("f001", hours=100), football("f002", hours=101)]
    table = keep_table(StoryIndex(quiet_hours=72.0), articles)
    assert [state["articles"][0]["id"] for state in table.values()] == ["f001"]


@pytest.mark.shared_data("ecbplus_dev.jsonl")
def test_a_table_kept_with_drain_closed_stays_bounded_on_a_long_stream() -> None:
    articles, _ = ecbplus_articles(limit=300)
    index = StoryIndex(max_open_stories=8)
    table = keep_table(index, articles[:200])
    assert len(table) == 8
    restored = StoryIndex(max_open_stories=8)
    restored.restore(table.values())
    assert restored.drain_closed() == []
    later = articles[200:]
    assert [restored.tag(a).story_id for a in later] == [index.tag(a).story_id for a in later]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"join_threshold": 0.0}, "join_threshold"),
        ({"join_threshold": 1.5}, "join_threshold"),
        ({"quiet_hours": 0}, "quiet_hours"),
        ({"max_open_stories": 0}, "max_open_stories"),
    ],
)
def test_constructor_rejects_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StoryIndex(**kwargs)


# --- facts, conflicts, corroboration --------------------------------------------------------------------


def test_caravan_size_conflict_is_reported(story: StorySnapshot) -> None:
    caravan = claim_with(story.facts, 7000, 3000, 6000)
    assert "caravan" in caravan.claim
    assert caravan.counted == "people"
    # "removed or returned more than 400,000 people" is another claim.
    assert 400000 not in {v.value for v in caravan.values}
    assert caravan in story.conflicts
    about, at_least = (v for v in caravan.values if v.value == 7000)  # "about" and "at least" 7,000 differ
    assert (about.article_ids, at_least.article_ids) == (["a000", "a001", "a003"], ["a003"])
    assert next(v for v in caravan.values if v.value == 6000).high == 10000


def test_distance_conflict_is_reported(story: StorySnapshot) -> None:
    miles = claim_with(story.facts, 1000, 1600)
    assert miles.unit == "miles"
    assert miles in story.conflicts
    reports = {v.value: v.article_ids for v in miles.values}
    assert reports == {1000: ["a000", "a001", "a002", "a003"], 1600: ["a004"]}


def test_daily_crossings_are_a_claim_apart_and_agree(story: StorySnapshot) -> None:
    daily = claim_with(story.facts, 10000)
    assert "day" in daily.claim
    assert daily not in story.conflicts  # "up to 10,000" and "more than 10,000" meet at 10,000
    assert {a for v in daily.values for a in v.article_ids} == {"a000", "a001", "a002", "a003", "a004"}


def test_apprehensions_are_corroborated_by_two_independent_outlets(story: StorySnapshot) -> None:
    claim = claim_with(story.corroborated, 190000)
    (value,) = claim.values
    # "190,000 apprehensions" and "190,000 people were apprehended" (001) are one claim.
    assert value.article_ids == ["a000", "a001", "a002", "a003", "a004"]
    # BBC (000, its spin 001, its update 003) and 002 (with its spin 004).
    assert value.independent_reports == 2
    assert {"BBC News", "24World Media"} <= set(value.sources)
    assert claim not in story.conflicts


def test_spun_copies_do_not_corroborate() -> None:
    """BBC's report, a spin of it and BBC's own update are one report."""
    a000, a001, _, a003, _ = seed_articles()
    snapshot = run(StoryIndex(), [a000, a001, a003])[-1]
    assert snapshot.corroborated == []
    apprehensions = claim_with(snapshot.facts, 190000)
    assert apprehensions.values[0].independent_reports == 1


def test_same_outlet_counts_once() -> None:
    a000, *_ = seed_articles()
    unique = Dedup(relation="unique", similarity=0.0)
    other = a000.model_copy(update={"article_id": "a000-bis", "dedup": unique})
    snapshot = run(StoryIndex(), [a000, other])[-1]
    assert snapshot.corroborated == []


def test_articles_without_an_outlet_add_no_source_but_count_as_reports() -> None:
    a000, _, a002, *_ = seed_articles()
    anonymous = a002.model_copy(update={"source": None})  # unique, names no outlet: a report of its own
    snapshot = run(StoryIndex(), [a000, anonymous])[-1]
    assert snapshot.sources == ["BBC News"]
    (value,) = claim_with(snapshot.corroborated, 190000).values
    assert value.independent_reports == 2
    assert value.sources == ["BBC News"]
    alone = StoryIndex().tag(anonymous)
    assert alone.sources == []
    assert all(v.sources == [] for claim in alone.facts for v in claim.values)


CHIAPAS = "Officials in Chiapas said they expected the group to split up before it reached the border."


@pytest.mark.parametrize(
    ("sentence", "quantity", "same_claim"),
    [
        # A shared setting ("southern Mexico", "US border") does not make two million a caravan's size.
        (
            "More than two million people live in southern Mexico near the US border.",
            ("More than two million people", 2e6, "more than", None, "people"),
            False,
        ),
        # A similar value in a similar context is the same figure, reported differently: a conflict.
        (
            "Local officials said the caravan crossing southern Mexico has around 3,000 people.",
            ("around 3,000 people", 3000, "around", None, "people"),
            True,
        ),
        # Ten times off, but in the very same words: a disagreement (or a typo) about the same figure.
        (
            "A caravan of about 80,000 people is crossing southern Mexico toward the US border, a report says.",
            ("about 80,000 people", 80000, "about", None, "people"),
            True,
        ),
    ],
)
def test_values_far_outside_a_claim_join_it_only_on_strong_context(
    sentence: str, quantity: tuple, same_claim: bool
) -> None:
    first = make_article(
        "c001",
        "Caravan crosses Mexico",
        "A caravan of about 7,000 people is crossing southern Mexico toward the US border.\n" + CHIAPAS,
        source="Wire",
        quantities=(("about 7,000 people", 7000, "about", None, "people"),),
    )
    second = make_article(
        "c002",
        "Caravan crosses Mexico",
        sentence + "\n" + CHIAPAS,
        source="Other Wire",
        hours=1,
        quantities=(quantity,),
    )
    snapshot = run(StoryIndex(), [first, second])[-1]
    assert snapshot.article_ids == ["c001", "c002"]
    caravan = claim_with(snapshot.facts, 7000)
    assert (quantity[1] in {v.value for v in caravan.values}) is same_claim
    assert (caravan in snapshot.conflicts) is same_claim


@pytest.mark.parametrize(
    ("a", "b", "disagree"),
    [
        ((7000, None, "about"), (3000, None, "around"), True),
        ((7000, None, "about"), (6000, 10000, "between"), False),
        ((3000, None, "around"), (6000, 10000, "between"), True),
        ((7000, None, "roughly"), (7000, None, "at least"), False),
        ((1000, None, "about"), (1600, None, "about"), True),
        ((1000, None, "about"), (1100, None, None), False),
        ((10000, None, "up to"), (10000, None, "more than"), False),
        ((10000, None, "up to"), (12000, None, "more than"), True),
        ((190000, None, "more than"), (250000, None, None), False),
    ],
)
def test_qualifiers_set_the_range_of_a_value(a: tuple, b: tuple, disagree: bool) -> None:
    (lo_a, hi_a), (lo_b, hi_b) = _interval(*a), _interval(*b)
    assert (hi_a < lo_b or hi_b < lo_a) is disagree


# --- the facts stage's real output for the seeds --------------------------------------------------------


@pytest.fixture(scope="module")
def real_story() -> StorySnapshot:
    snapshots = run(StoryIndex(), real_seed_articles())
    assert len({s.story_id for s in snapshots}) == 1
    return snapshots[-1]


def test_real_seeds_make_one_story_with_known_outlets_only(real_story: StorySnapshot) -> None:
    assert len(real_story.article_ids) == 5
    assert real_story.title == "Antony Blinken leads officials to Mexico as US seeks to stem migration"
    assert real_story.sources == ["BBC News", "24World Media"]


def test_real_seeds_conflict_on_caravan_size_and_distance(real_story: StorySnapshot) -> None:
    values = [sorted((v.value, v.high or v.value) for v in claim.values) for claim in real_story.conflicts]
    assert sorted(values) == [
        [(1000, 1000), (1600, 1600)],  # about 1,000 miles (000, 001, 002, 003) vs about 1,600 (004)
        [(3000, 3000), (5000, 5000), (6000, 10000), (7000, 7000)],  # caravan: 7,000 vs 3,000, 5,000, 6-10,000
    ]
    caravan = claim_with(real_story.conflicts, 7000, 3000, 5000, 6000)
    assert "caravan" in caravan.claim


def test_real_seeds_corroborate_the_apprehensions(real_story: StorySnapshot) -> None:
    claim = claim_with(real_story.corroborated, 190000)
    (value,) = claim.values
    assert len(value.article_ids) == 5  # "190,000 apprehensions" and "190,000 people were apprehended"
    assert value.independent_reports == 2
    assert value.sources == ["BBC News", "24World Media"]
    assert claim not in real_story.conflicts


def test_real_seeds_keep_two_million_apprehended_apart(real_story: StorySnapshot) -> None:
    """ "The number of people apprehended ... exceeded two million" is a yearly total, not the caravan."""
    two_million = [c for c in real_story.facts if 2e6 in {v.value for v in c.values}]
    assert two_million
    for claim in two_million:
        assert {v.value for v in claim.values} == {2e6}
        assert claim not in real_story.conflicts
    assert any("apprehended" in c.claim for c in two_million)


# --- ECB+ smoke eval ------------------------------------------------------------------------------------

_CAPITALIZED = re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*")


def _crude_entities(text: str) -> list[Entity]:
    """Capitalized word runs, minus sentence-initial single words: a stand-in for the facts stage."""
    counts: Counter[str] = Counter()
    for line in text.split("\n"):
        for m in _CAPITALIZED.finditer(line):
            if m.start() == 0 and " " not in m.group(0):
                continue
            counts[m.group(0)] += 1
    return [
        Entity(text=n, label="MISC", canonical=n, entity_id=_entity_id(n), count=c) for n, c in counts.items()
    ]


def ecbplus_articles(limit: int | None = None) -> tuple[list[FactsArticle], list[str]]:
    rows = [json.loads(line) for line in ECBPLUS.read_text(encoding="utf-8").splitlines()][:limit]
    articles = [
        make_article(
            r["id"],
            r["title"],
            r["text"],
            source=r["source"],
            feed="ecbplus",
            hours=i / 3600,
            entities=_crude_entities(r["title"] + "\n" + r["text"]),
        )
        for i, r in enumerate(rows)
    ]
    return articles, [r["story"] for r in rows]


def bcubed_and_pairwise_f1(predicted: list[str], gold: list[str]) -> tuple[float, float]:
    by_pred: dict[str, set[int]] = {}
    by_gold: dict[str, set[int]] = {}
    for i, (p, g) in enumerate(zip(predicted, gold, strict=True)):
        by_pred.setdefault(p, set()).add(i)
        by_gold.setdefault(g, set()).add(i)
    n = len(predicted)
    overlap = [len(by_pred[p] & by_gold[g]) for p, g in zip(predicted, gold, strict=True)]
    precision = sum(o / len(by_pred[p]) for o, p in zip(overlap, predicted, strict=True)) / n
    recall = sum(o / len(by_gold[g]) for o, g in zip(overlap, gold, strict=True)) / n
    bcubed = 2 * precision * recall / (precision + recall)

    def pairs(k: int) -> int:
        return k * (k - 1) // 2

    same = sum(pairs(k) for k in Counter(zip(predicted, gold, strict=True)).values())
    p_pairs = sum(pairs(len(s)) for s in by_pred.values())
    g_pairs = sum(pairs(len(s)) for s in by_gold.values())
    pairwise = 2 * same / (p_pairs + g_pairs) if p_pairs + g_pairs else 0.0
    return bcubed, pairwise


@pytest.mark.shared_data("ecbplus_dev.jsonl")
def test_ecbplus_smoke_eval() -> None:
    """Stream ECB+ dev (33 topics, two similar stories each, no dates) through the index in its fixed order.

    Measured with these crude entities and the learned join and merge models at their default thresholds:
    BCubed F1 0.844, pairwise F1 0.779 (``copydesk eval stories`` with the facts stage's entities: 0.868 /
    0.806); the README's offline TF-IDF + average-link baseline reaches 0.874 / 0.829 with its threshold tuned
    per metric. The speed printed is for reading; ``copydesk eval stories`` and the bench measure it.
    """
    articles, gold = ecbplus_articles()
    index = StoryIndex()
    start = time.perf_counter()
    story_of: dict[str, str] = {}
    for a in articles:
        snapshot = index.tag(a)
        for article_id in snapshot.article_ids:  # a tag can merge stories: follow the snapshot
            story_of[article_id] = snapshot.story_id
    seconds = time.perf_counter() - start
    predicted = [story_of[a.article_id] for a in articles]
    bcubed, pairwise = bcubed_and_pairwise_f1(predicted, gold)
    print(
        f"\nECB+ dev: {len(articles)} docs, {len(set(predicted))} stories (gold {len(set(gold))}), "
        f"BCubed F1 {bcubed:.3f}, pairwise F1 {pairwise:.3f}, {len(articles) / seconds:.0f} docs/s"
    )
    assert bcubed >= 0.82
    assert pairwise >= 0.74


@pytest.mark.shared_data("ecbplus_dev.jsonl")
def test_a_merged_story_ends_with_a_snapshot_that_points_at_its_survivor() -> None:
    # What a subscriber of wire.stories keeps is each story's last snapshot; with the merged stories' last
    # snapshots (no articles, merged_into) every article is listed by exactly one story that did not merge.
    articles, _ = ecbplus_articles(limit=400)
    index = StoryIndex()
    latest: dict[str, StorySnapshot] = {}
    merges = 0
    for article in articles:
        snapshot = index.tag(article)
        merged = index.drain_merged()
        closed = index.drain_closed()
        for last in merged:
            assert last.story_id in closed and last.merged_into == snapshot.story_id
            assert last.article_ids == last.sources == last.facts == []
            latest[last.story_id] = last
        merges += len(merged)
        latest[snapshot.story_id] = snapshot
    assert merges > 0
    assert index.drain_merged() == []
    listed = Counter(a for s in latest.values() if s.merged_into is None for a in s.article_ids)
    assert set(listed) == {a.article_id for a in articles}
    assert set(listed.values()) == {1}


@pytest.mark.shared_data("ecbplus_dev.jsonl")
def test_merge_check_bounds_skip_only_candidates_that_cannot_merge() -> None:
    # _candidates with a floor skips a candidate when a bound on its merge probability stays below the
    # threshold: every skipped one must score below it in full, and the rest keep their exact features.
    articles, _ = ecbplus_articles(limit=300)
    checks: Counter[tuple[float, str]] = Counter()

    class Checked(StoryIndex):
        def _candidates(  # type: ignore[no-untyped-def]
            self, vectors, emb, ts, body_terms=None, floor=None, exclude=None
        ):
            kept = super()._candidates(vectors, emb, ts, body_terms, floor, exclude)
            if floor is None:
                return kept
            full = [(s, x) for s, x in super()._candidates(vectors, emb, ts, body_terms) if s is not exclude]
            # Lower floors too, where many candidates sit near the floor: a bound too low would show there.
            for p in (floor[1], 0.3, 0.05, 0.005):
                bounded = super()._candidates(vectors, emb, ts, body_terms, ("merge", p), exclude)
                features = {s.story_id: x for s, x in bounded}
                for s, x in full:
                    if s.story_id in features:
                        assert features[s.story_id] == x
                        checks[p, "kept"] += 1
                    else:
                        assert stories_module._merge_probability(x) < p
                        checks[p, "skipped"] += 1
            return kept

    checked, plain = Checked(), StoryIndex()
    assert [checked.tag(a).model_dump() for a in articles] == [plain.tag(a).model_dump() for a in articles]
    # At the merge threshold most candidates are skipped; at a floor of 0.05 some still are.
    assert checks[0.7, "skipped"] > checks[0.7, "kept"] > 0
    assert checks[0.05, "skipped"] > 0


def test_snapshots_reuse_what_did_not_change() -> None:
    # A snapshot reuses the claims built for the story's previous snapshot; it must equal one built afresh.
    articles = [*seed_articles(), *ecbplus_articles(limit=150)[0]] if ECBPLUS.exists() else seed_articles()
    index = StoryIndex()
    for article in articles:
        snapshot = index.tag(article)
        story = index._stories[snapshot.story_id]
        # Claims, reports, title, the top entities and the main entities per kind, all kept up to date,
        # against built anew.
        kept = story.built, story.reports, story.tops, story.top
        tops = None if story.tops is None else dict(story.tops)
        story.built, story.reports, story.tops, story.top = [], None, None, None
        assert index._snapshot(story) == snapshot
        if tops is not None:
            assert stories_module._story_tops(story) == tops
        story.built, story.reports, story.tops, story.top = kept


def _reports_in_full(articles: list[dict[str, object]]) -> dict[str, str]:
    # What a snapshot computed over the whole story before _Reports kept it up to date.
    parent = {a["id"]: a["id"] for a in articles}

    def find(x: str) -> str:
        while parent[x] != x:
            x = parent[x]
        return x

    by_source: dict[str, str] = {}
    for a in articles:
        pairs = []
        if (
            a["relation"] in ("exact_duplicate", "near_duplicate", "paraphrase", "update")
            and a["of"] in parent
        ):
            pairs.append(a["of"])
        if a["source"]:
            key = str(a["source"]).strip().lower()
            pairs.append(by_source.setdefault(key, str(a["id"])))
        for other in pairs:
            rx, ry = find(str(a["id"])), find(str(other))
            if rx != ry:
                parent[max(rx, ry)] = min(rx, ry)
    return {str(a["id"]): find(str(a["id"])) for a in articles}


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["unique", "exact_duplicate", "near_duplicate", "paraphrase", "update"]),
            st.integers(0, 11),
            st.sampled_from([None, "", "AP", " ap", "Reuters", "BBC News"]),
            st.booleans(),
        ),
        max_size=12,
    ),
    st.permutations(range(12)),
)
def test_reports_kept_as_articles_arrive_equal_reports_built_from_the_whole_story(rows, names) -> None:
    # Copies may arrive before their originals, or point at articles never in the story; ids are not in
    # arrival order. After every article, the kept reports, outlets and title equal those of the whole list.
    articles = [
        {
            "id": f"a{names[i]:02d}",
            "relation": relation,
            "of": f"a{names[of]:02d}" if relation != "unique" else None,
            "source": source,
            "headline": f"headline {i}",
            "cut_lede": cut,
        }
        for i, (relation, of, source, cut) in enumerate(rows)
    ]
    kept = stories_module._Reports()
    for n, article in enumerate(articles, 1):
        kept.add(article)
        prefix = articles[:n]
        assert {a["id"]: kept[a["id"]] for a in prefix} == _reports_in_full(prefix)
        assert kept.outlet == {a["id"]: a["source"] for a in prefix if a["source"]}
        assert kept.title == stories_module._title(prefix)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.integers(0, 30), max_size=8), max_size=40))
def test_top_entities_kept_as_articles_arrive_equal_a_ranking_of_all_the_story_s_entities(articles) -> None:
    # Each article names some of 31 entities (repeats count once, as in _add); after every article the kept
    # top equals a ranking of every entity by articles naming it, ties by first mention, and each
    # StoryEntity says its entity's count.
    entities: dict[str, list[object]] = {}
    top = None
    for names in articles:
        counted = dict.fromkeys(f"person:p{n:02d}" for n in names)
        for eid in counted:
            if eid in entities:
                entities[eid][2] += 1
            else:
                entities[eid] = [eid.upper(), "PERSON", 1]
        if top is None:
            top = stories_module._TopEntities(entities)
        else:
            top.raise_(entities, counted)
        ranked = sorted(enumerate(entities), key=lambda x: (-entities[x[1]][2], x[0]))
        expected = [eid for _, eid in ranked[: stories_module._TOP_ENTITIES]]
        built = top.built(entities)
        assert [e.entity_id for e in built] == expected
        assert [e.articles for e in built] == [entities[eid][2] for eid in expected]


def test_a_story_checks_for_a_merge_after_its_first_articles_then_about_eight_times_per_doubling() -> None:
    due = [n for n in range(1, 200) if stories_module._merge_check_due(n)]
    assert due[:19] == [*range(2, 17), 18, 20, 22, 24]
    for low in (16, 32, 64):
        assert 7 <= sum(1 for n in due if low <= n < 2 * low) <= 9
