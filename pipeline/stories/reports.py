"""What a story's snapshot is built from, kept up to date as articles arrive: its independent reports,
outlets and title (``Reports``, ``story_title``) and its most mentioned entities (``TopEntities``).

Both are derived state: ``pipeline.stories.snapshot`` builds them again from a story's articles and
entities after a merge or a restore.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable
from typing import Any

from schemas.models import StoryEntity

__all__ = ["TOP_ENTITIES", "Reports", "TopEntities", "is_cut_lede", "story_title"]

TOP_ENTITIES = 10
_COPY_RELATIONS = frozenset({"exact_duplicate", "near_duplicate", "paraphrase", "update"})
_SPIN_RELATIONS = frozenset({"exact_duplicate", "near_duplicate", "paraphrase"})


class TopEntities:
    """A story's ``TOP_ENTITIES`` most mentioned entities, kept up to date as articles arrive (``raise_``).

    Ranked by articles naming them, ties by first mention (their order in the story's ``entities``), as a
    ranking of all the story's entities would rank them. Counts only grow, so an entity whose count did not
    change cannot overtake: the new top is the best of the old top and the entities just counted. Each
    entry's StoryEntity is kept while its count stays. Derived state: built again from the entities after a
    merge or a restore.
    """

    def __init__(self, entities: dict[str, list[Any]]) -> None:
        self.position = {eid: i for i, eid in enumerate(entities)}
        self.ids = self._best(entities, entities)
        self.cache: dict[str, tuple[int, StoryEntity]] = {}

    def _best(self, entities: dict[str, list[Any]], among: Iterable[str]) -> list[str]:
        position = self.position
        return heapq.nsmallest(TOP_ENTITIES, among, key=lambda eid: (-entities[eid][2], position[eid]))

    def raise_(self, entities: dict[str, list[Any]], counted: Collection[str]) -> None:
        """Take in the entities whose counts just grew (new ones at the end of ``entities``)."""
        position = self.position
        for eid in counted:
            position.setdefault(eid, len(position))
        self.ids = self._best(entities, dict.fromkeys((*self.ids, *counted)))

    def built(self, entities: dict[str, list[Any]]) -> list[StoryEntity]:
        """Return the top entities as StoryEntity records (reused while an entity's count is unchanged)."""
        out, cache = [], {}
        for eid in self.ids:
            canonical, label, n = entities[eid]
            kept = self.cache.get(eid)
            if kept is None or kept[0] != n:
                entity = StoryEntity.model_construct(
                    entity_id=eid, canonical=canonical, label=label, articles=n
                )
                kept = (n, entity)
            cache[eid] = kept
            out.append(kept[1])
        self.cache = cache
        return out


def story_title(articles: list[dict[str, Any]]) -> str:
    """Return the story's headline: the first of an original article, else of any, real headlines first.

    A headline that normalize cut from the lead sentence ("Secretary of State ... on Wednesday…") is only
    used when no article has a real one.
    """
    ranked = sorted(range(len(articles)), key=lambda i: _title_rank(articles[i], i))
    return articles[ranked[0]]["headline"]


def _title_rank(article: dict[str, Any], i: int) -> tuple[bool, bool, int]:
    """Return the key ``story_title`` ranks the ``i``-th article's headline by (lowest first)."""
    return (article.get("cut_lede", False), article["relation"] in _SPIN_RELATIONS, i)


def is_cut_lede(headline: str, body: str) -> bool:
    """Return True when the headline is the body's first words cut off with an ellipsis (no real headline)."""
    head = headline.rstrip()
    if not head.endswith(("…", "...")):
        return False
    stem = " ".join(head.rstrip(".…").split())
    return bool(stem) and stem in " ".join(body[: len(head) + 400].split())


class Reports:
    """A story's reports, outlets and title, kept up to date as its articles arrive (``add``).

    A report is what an article repeats: copies, spins and updates join their original, and an outlet's
    articles are one report. ``self[article_id]`` is the smallest article id of the article's report (union
    by smallest id: the same for any arrival order). A copy that arrives before its original waits for it.
    The title is the headline ``story_title`` picks. Derived state: built again from the articles after a merge
    or a restore, so a snapshot costs little per article already in the story.
    """

    def __init__(self, articles: Iterable[dict[str, Any]] = ()) -> None:
        self.parent: dict[str, str] = {}
        self.by_source: dict[str, str] = {}  # outlet (lowercased) -> its first article
        self.waiting: dict[str, list[str]] = {}  # an original not in the story yet -> its copies
        self.outlet: dict[str, str] = {}  # article id -> outlet, for the articles that name one
        self.title_key: tuple[bool, bool, int] | None = (
            None  # story_title's ranking key of the title's article
        )
        self.title = ""
        self.size = 0
        for a in articles:
            self.add(a)

    def add(self, a: dict[str, Any]) -> None:
        """Take in the story's next article (its entry in ``Story.articles``)."""
        aid = a["id"]
        key = _title_rank(a, self.size)
        self.size += 1
        if self.title_key is None or key < self.title_key:
            self.title_key, self.title = key, a["headline"]
        self.parent[aid] = aid
        if a["relation"] in _COPY_RELATIONS and a["of"] is not None:
            if a["of"] in self.parent:
                self._union(aid, a["of"])
            else:
                self.waiting.setdefault(a["of"], []).append(aid)
        for copy in self.waiting.pop(aid, ()):
            self._union(copy, aid)
        if a["source"]:
            self.outlet[aid] = a["source"]
            src = a["source"].strip().lower()
            if src in self.by_source:
                self._union(aid, self.by_source[src])
            else:
                self.by_source[src] = aid

    def __getitem__(self, x: str) -> str:
        """Return the report of article ``x``: the smallest article id among those it repeats or shares an
        outlet with (raise KeyError for an article not taken in)."""
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def _union(self, x: str, y: str) -> None:
        rx, ry = self[x], self[y]
        if rx != ry:
            self.parent[max(rx, ry)] = min(rx, ry)
