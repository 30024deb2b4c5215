"""Story snapshots (pipeline/stories/snapshot.py): titles, outlets and reports, top entities, and the
parts kept up to date as articles arrive against those built anew."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.stories import StoryIndex
from pipeline.stories.model import story_tops
from pipeline.stories.reports import TOP_ENTITIES, Reports, TopEntities, story_title
from pipeline.stories.snapshot import story_snapshot
from schemas.models import StorySnapshot
from tests.unit.stories.conftest import (
    ECBPLUS,
    ecbplus_articles,
    real_seed_articles,
    run,
    seed_article,
    seed_articles,
)


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


def test_real_seeds_make_one_story_with_known_outlets_only(real_story: StorySnapshot) -> None:
    assert len(real_story.article_ids) == 5
    assert real_story.title == "Antony Blinken leads officials to Mexico as US seeks to stem migration"
    assert real_story.sources == ["BBC News", "24World Media"]


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
        assert story_snapshot(story) == snapshot
        if tops is not None:
            assert story_tops(story) == tops
        story.built, story.reports, story.tops, story.top = kept


def _reports_in_full(articles: list[dict[str, object]]) -> dict[str, str]:
    # What a snapshot computed over the whole story before Reports kept it up to date.
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
    kept = Reports()
    for n, article in enumerate(articles, 1):
        kept.add(article)
        prefix = articles[:n]
        assert {a["id"]: kept[a["id"]] for a in prefix} == _reports_in_full(prefix)
        assert kept.outlet == {a["id"]: a["source"] for a in prefix if a["source"]}
        assert kept.title == story_title(prefix)


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
            top = TopEntities(entities)
        else:
            top.raise_(entities, counted)
        ranked = sorted(enumerate(entities), key=lambda x: (-entities[x[1]][2], x[0]))
        expected = [eid for _, eid in ranked[:TOP_ENTITIES]]
        built = top.built(entities)
        assert [e.entity_id for e in built] == expected
        assert [e.articles for e in built] == [entities[eid][2] for eid in expected]
