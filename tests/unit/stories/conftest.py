"""Shared fixtures of the stories core's tests: hand-built FactsArticles from the seeds, and ECB+ dev.

The fixtures are what the facts stage should produce for seeds/000..004: the real bodies and headlines, the
real sentences and quantities, and the entities a good NER would find. Dedup relations are those of the seed
set: 001 paraphrases 000, 003 updates 000, 004 paraphrases 002.

fixtures/seeds_facts.jsonl holds what the facts stage did produce for the same seeds in a real pipeline run
(``copydesk run``: its enriched.jsonl without ``story_id`` and ``processed_at``), quantities as extracted.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.stories import StoryIndex
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


@pytest.fixture(scope="module")
def real_story() -> StorySnapshot:
    snapshots = run(StoryIndex(), real_seed_articles())
    assert len({s.story_id for s in snapshots}) == 1
    return snapshots[-1]


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
