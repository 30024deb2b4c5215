"""The story index: file every article under a story across all feeds (``StoryIndex``).

This module holds one API, ``StoryIndex``, and is longer than the others for it: its tagging, merging and
closing share the index's postings and document frequencies.

Tagging is online news-stream clustering after Miranda et al. (2018), "Multilingual Clustering of Streaming
News": one pass in arrival order, each article compared with the centroid of every candidate story in three
TF-IDF spaces (body lemmas, headline lemmas, canonical entity ids; ``pipeline.stories.terms``). A learned
decision joins or starts (``pipeline.stories.model``): a logistic regression over the pair's features gives
the probability that the article belongs to each candidate, and the article joins the likeliest one when
that probability reaches ``join_threshold``. After a join the story is compared with the other open stories
the same way (after each of its first articles, then about eight times per doubling of its size:
``merge_check_due``), and a second logistic regression over the same features, trained on the story pairs
an online run compares, merges two fragments of one story (started apart by short or early articles) when
its probability reaches ``merge_threshold``. Stories close after ``quiet_hours`` without news, which is
what keeps two incidents of the same kind weeks apart in two stories. Document frequencies are counted over
the articles of the open stories, so they follow the stream and can be rebuilt exactly from the stories'
exported states after a restart (``pipeline.stories.state``); a centroid's norm is taken under the current
IDF (from three running sums), so an old story's cosines are not inflated as the stream grows.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections.abc import Iterable
from datetime import datetime, timedelta
from itertools import filterfalse, repeat
from operator import add, truediv
from typing import Any

from pipeline.stories.claims import add_claims, mention
from pipeline.stories.embeddings import article_embedding, text_embedder
from pipeline.stories.model import (
    BOUND_MARGIN,
    features,
    join_probability,
    kind_features,
    kind_tops,
    load_models,
    logit,
    merge_probability,
    raise_kind_tops,
    story_gap_days,
    story_tops,
    upper_logit,
)
from pipeline.stories.reports import is_cut_lede, story_title
from pipeline.stories.snapshot import story_snapshot
from pipeline.stories.state import Story, emb_cosine, emb_norm, story_from_state, story_state
from pipeline.stories.terms import WEIGHT, article_vectors, cosine_cover, unit_tfidf
from schemas.models import FactsArticle, StorySnapshot

__all__ = ["FIELD_WEIGHTS", "StoryIndex", "article_time", "merge_check_due"]

# Weights of the three spaces in the rough score that picks the candidate stories (the join decision itself
# is the learned model's). Entities weigh a lot; the headline is short and noisy.
FIELD_WEIGHTS: dict[str, float] = {"body": 0.45, "head": 0.15, "ent": 0.40}

# How many of an article's highest-weighted terms per field look up candidate stories, and how many candidates
# are scored exactly. Rare terms are the ones that find the right story; common terms only add work.
_PROBE_TERMS = {"body": 12, "head": 6, "ent": 12}
_MAX_CANDIDATES = 16
# A grown story is compared with the others for a merge after each of its first _MERGE_CHECKS articles,
# then about _MERGE_CHECKS times per doubling of its size (``merge_check_due``).
_MERGE_CHECKS = 8
_MAX_POSTINGS = 2000  # a term in more open stories than this says nothing about which one


def merge_check_due(size: int) -> bool:
    """Return True when a story that just reached ``size`` articles is compared with the others for a merge.

    A fragment finds its sibling early (after each of its first articles), and a large story has little left
    to find: checking it after every article costs a comparison of its whole vector (thousands of terms) per
    article, while checking when its size is a multiple of ``size // _MERGE_CHECKS`` costs about
    ``_MERGE_CHECKS`` comparisons per doubling. A small fragment still checks against the large story after
    each of its own articles.
    """
    return size > 1 and (size <= _MERGE_CHECKS or size % (size // _MERGE_CHECKS) == 0)


def article_time(article: FactsArticle) -> datetime:
    """Return when the article happened: published_at, unless missing or later than its receipt."""
    if article.published_at is not None and article.published_at <= article.received_at:
        return article.published_at
    return article.received_at


def _story_id(article_id: str) -> str:
    return "story-" + hashlib.sha1(article_id.encode("utf-8")).hexdigest()[:12]


class StoryIndex:
    """The open stories and the index to find the one an article belongs to.

    ``tag`` is the only mutating call in the stream; ``export_state``/``restore`` let a caller persist the
    stories (one JSON-able dict each) and rebuild an index that makes the same decisions, and ``drain_closed``
    says which persisted stories to forget. A caller that keeps a table keyed by story id does, per article::

        snapshot = index.tag(article)
        for story_id in index.drain_closed():
            table.pop(story_id, None)
        table[snapshot.story_id] = index.export_state(snapshot.story_id)
    """

    def __init__(
        self,
        join_threshold: float = 0.2,
        quiet_hours: float = 72.0,
        max_open_stories: int = 20_000,
        merge_threshold: float = 0.7,
    ) -> None:
        if not 0.0 < join_threshold < 1.0:
            raise ValueError(
                f"join_threshold must be in (0, 1), got {join_threshold!r}; it is a join probability, 0.2 is tuned"
            )
        if not 0.0 < merge_threshold <= 1.0:
            raise ValueError(f"merge_threshold must be in (0, 1] (1 never merges), got {merge_threshold!r}")
        if quiet_hours <= 0:
            raise ValueError(f"quiet_hours must be > 0, got {quiet_hours!r}")
        if max_open_stories < 1:
            raise ValueError(f"max_open_stories must be >= 1, got {max_open_stories!r}")
        self.join_threshold = join_threshold
        self.merge_threshold = merge_threshold
        self.quiet = timedelta(hours=quiet_hours)
        self.max_open_stories = max_open_stories
        # The model and the text embedder (about 0.3 s to load) are read now, at start, not in the first tag.
        load_models()
        text_embedder()
        self._reset()

    def _reset(self) -> None:
        self._stories: dict[str, Story] = {}
        self._story_of: dict[str, str] = {}
        self._df: dict[str, dict[str, int]] = {f: {} for f in FIELD_WEIGHTS}
        self._postings: dict[str, dict[str, dict[str, None]]] = {f: {} for f in FIELD_WEIGHTS}
        self._n = 0  # articles in open stories
        self._seq = 0
        self._clock: datetime | None = None
        self._by_age: list[tuple[float, int, str]] = []  # (last_ts, seq, story_id), stale entries skipped
        self._closed: dict[str, None] = {}  # closed since the last drain_closed, in closing order
        self._merged: list[StorySnapshot] = []  # last snapshots of the stories merged since drain_merged

    # --- public API ---------------------------------------------------------------------------------

    @property
    def open_stories(self) -> int:
        """The number of open stories."""
        return len(self._stories)

    def story_of(self, article_id: str) -> str | None:
        """Return the story of an article seen while its story is open, else None."""
        return self._story_of.get(article_id)

    def tag(self, article: FactsArticle) -> StorySnapshot:
        """Assign the article to a story (the best open one, or a new one) and return that story's snapshot.

        An article already tagged in an open story (a redelivery) changes nothing and returns the snapshot
        again; one whose story has closed since is tagged anew.
        """
        known = self._story_of.get(article.article_id)
        if known is not None:
            return story_snapshot(self._stories[known])
        ts = article_time(article)
        self._advance(ts)
        vectors = article_vectors(article)
        emb = article_embedding(article.headline, article.body)
        story = self._best_story(vectors, ts, emb)
        if story is None:
            story = self._new_story(article, ts)
        self._add(story, article, vectors, ts, emb)
        if self.merge_threshold < 1.0 and merge_check_due(len(story.articles)):
            story = self._merge_similar(story, ts)
        return story_snapshot(story)

    def _merge_similar(self, story: Story, ts: datetime) -> Story:
        """Merge the story with the open story its centroid now matches best, when the match is likely enough.

        Early articles can start a story's fragments apart (short headlines share few words); once a fragment
        grows, its centroid finds the other. The older story survives; the younger one is closed (reported by
        ``drain_closed``) and its articles, terms, entities and claims move over.
        """
        best, best_p = None, -1.0
        for s, x in self._merge_candidates(story, ts):
            p = merge_probability(x)
            if p > best_p:
                best, best_p = s, p
        if best is None or best_p < self.merge_threshold:
            return story
        old, young = (best, story) if best.seq < story.seq else (story, best)
        self._absorb(old, young)
        return old

    def _merge_candidates(self, story: Story, ts: datetime) -> list[tuple[Story, list[float]]]:
        """Return the other open stories that may merge with ``story``, each with the features of the pair."""
        n = len(story.articles)
        vectors = {
            f: dict(zip(terms, map(truediv, map(WEIGHT, terms.values()), repeat(n)), strict=True))
            for f, terms in story.fields.items()
        }
        body_terms = sum(1 for _t, (c, _w) in story.fields["body"].items() if c * 2 >= n) or len(
            vectors["body"]
        )
        # A threshold of 1 never merges (``tag`` does not ask): all candidates come back, unbounded (training).
        floor = ("merge", self.merge_threshold) if self.merge_threshold < 1.0 else None
        norm = emb_norm(story)
        emb = tuple(x / norm for x in story.emb) if norm > 0.0 else None
        return self._candidates(vectors, emb, ts, body_terms, floor=floor, exclude=story)

    def _absorb(self, old: Story, young: Story) -> None:
        """Move every article of ``young`` into ``old`` and close ``young`` (its last snapshot, which points
        at ``old``, waits for ``drain_merged``)."""
        self._merged.append(
            StorySnapshot(
                story_id=young.story_id,
                title=story_title(young.articles),
                first_seen=young.first_ts,
                last_updated=max(old.last_ts, young.last_ts),
                article_ids=[],
                sources=[],
                top_entities=[],
                facts=[],
                conflicts=[],
                corroborated=[],
                merged_into=old.story_id,
            )
        )
        del self._stories[young.story_id]
        self._closed[young.story_id] = None
        old.articles.extend(young.articles)
        for a in young.articles:
            self._story_of[a["id"]] = old.story_id
        for f, terms in young.fields.items():
            centroid, postings = old.fields[f], self._postings[f]
            for t, (c, w) in terms.items():
                entry = centroid.get(t)
                if entry is None:
                    centroid[t] = [c, w]
                    postings[t][old.story_id] = None
                else:
                    entry[0] += c
                    entry[1] += w
                sids = postings[t]
                sids.pop(young.story_id, None)
            self._renorm(old, f)
        for eid, (canonical, label, count) in young.entities.items():
            if eid in old.entities:
                old.entities[eid][2] += count
            else:
                old.entities[eid] = [canonical, label, count]
        for claim in young.claims:
            for v in claim["values"]:
                m = {k: claim[k] for k in ("cls", "unit", "counted", "pred", "ctx", "words")}
                m.update(value=v["value"], high=v["high"], qualifier=v["qualifier"], text=v["text"])
                for aid in v["article_ids"]:
                    add_claims(old.claims, aid, [m])
        old.emb = list(map(add, old.emb, young.emb))
        old.emb_norm = None
        old.tops = old.reports = old.top = None
        old.first_ts = min(old.first_ts, young.first_ts)
        old.last_ts = max(old.last_ts, young.last_ts)
        heapq.heappush(self._by_age, (old.last_ts.timestamp(), old.seq, old.story_id))

    def _renorm(self, s: Story, f: str) -> None:
        """Recompute a field's norm sums exactly, from the current document frequencies."""
        df, log = self._df[f], math.log
        a = b = c = 0.0
        for t, (_n, w) in s.fields[f].items():
            w2, lt = w * w, log(df[t] + 1)
            a += w2
            b += w2 * lt
            c += w2 * lt * lt
        s.sums[f] = [a, b, c]

    def _new_story(self, article: FactsArticle, ts: datetime) -> Story:
        """Open a story for the article (evicting the least recently updated one when full) and return it."""
        while len(self._stories) >= self.max_open_stories:
            self._close(self._oldest())
        story = Story(
            story_id=_story_id(article.article_id),
            seq=self._seq,
            first_ts=ts,
            last_ts=ts,
            articles=[],
            fields={f: {} for f in FIELD_WEIGHTS},
            sums={f: [0.0, 0.0, 0.0] for f in FIELD_WEIGHTS},
            entities={},
            claims=[],
        )
        self._seq += 1
        self._stories[story.story_id] = story
        return story

    def drain_merged(self) -> list[StorySnapshot]:
        """Return the last snapshots of the stories merged into others since the last call, oldest merge first.

        Each lists no articles and names the surviving story in ``merged_into``; publish it beside the
        survivor's snapshot, so that subscribers drop the merged story (its articles are the survivor's now).
        Merged stories are reported by ``drain_closed`` too.
        """
        merged, self._merged = self._merged, []
        return merged

    def drain_closed(self) -> list[str]:
        """Return the ids of the stories closed since the last call: quiet, evicted or dropped by ``restore``.

        Call it after every ``tag`` (and after ``restore``) and delete those ids from wherever the states are
        kept: they will never be exported again. An id whose story is open again (a redelivered first article
        starts a story with the same id) is left out, so deleting every returned id is always safe.
        """
        closed = [sid for sid in self._closed if sid not in self._stories]
        self._closed.clear()
        return closed

    def export_state(self, story_id: str) -> dict[str, Any]:
        """Return the JSON-able state of one open story; raise KeyError for an unknown or closed story."""
        return story_state(self._stories[story_id])

    def restore(self, states: Iterable[dict[str, Any]]) -> None:
        """Replace the index with the stories in ``states`` (from ``export_state``), closing the stale ones.

        Give it every state the caller kept: the stream clock is the latest article time among them, and the
        stories that were closed (quiet or evicted) when they were exported are closed again here and
        reported by the next ``drain_closed``.
        """
        self._reset()
        stories = [story_from_state(st) for st in states]
        if not stories:
            return
        self._seq = max(s.seq for s in stories) + 1
        self._clock = max(s.last_ts for s in stories)
        live = [s for s in stories if self._clock - s.last_ts <= self.quiet]
        # Stories were evicted least recently updated first, so the survivors are the most recent ones.
        live.sort(key=lambda s: (s.last_ts, s.seq))
        live = live[-self.max_open_stories :]
        kept = {s.story_id for s in live}
        self._closed.update((s.story_id, None) for s in stories if s.story_id not in kept)
        for s in sorted(live, key=lambda s: s.seq):
            self._stories[s.story_id] = s
            self._n += len(s.articles)
            for a in s.articles:
                self._story_of[a["id"]] = s.story_id
            for f, terms in s.fields.items():
                df, postings = self._df[f], self._postings[f]
                for t, (n, _w) in terms.items():
                    df[t] = df.get(t, 0) + int(n)
                    postings.setdefault(t, {})[s.story_id] = None
            heapq.heappush(self._by_age, (s.last_ts.timestamp(), s.seq, s.story_id))
        for s in live:
            for f in FIELD_WEIGHTS:
                if f not in s.sums:  # a version-1 state
                    self._renorm(s, f)

    # --- matching -----------------------------------------------------------------------------------

    def _candidates(
        self,
        vectors: dict[str, dict[str, float]],
        emb: tuple[float, ...] | None,
        ts: datetime,
        body_terms: int | None = None,
        floor: tuple[str, float] | None = None,
        exclude: Story | None = None,
    ) -> list[tuple[Story, list[float]]]:
        """Return the open stories worth scoring for an article, each with its join features (``FEATURES``).

        Candidates come from the inverted index: the stories that share the article's highest-weighted
        terms, the best ``_MAX_CANDIDATES`` of them by a rough score (``exclude`` is then left out). Returned
        in story creation order.

        With a ``floor`` (model name, probability), a candidate whose probability under that model provably
        stays below the floor is left out before its body cosine is computed in full: the body cosine is
        bounded by its part over the vector's heavy terms plus a Cauchy-Schwarz bound on the rest
        (``upper_logit``). The caller's decision (the likeliest candidate, if it reaches the floor) is the
        same as without the floor; a merge check of a large story costs a fraction of the full comparison.

        ``emb`` is the article's unit embedding (``article_embedding``), compared with each story's.
        """
        # Per field the article's unit-length TF-IDF weights x, x * idf and x^2, under the current IDF.
        log_n = math.log(self._n + 1) + 1.0
        weighted, by_term, squares = unit_tfidf(vectors, self._df, log_n)
        # Each centroid's norm under the current IDF, from its three sums (``Story.sums``):
        # sqrt(L^2 A - 2 L B + C).
        l_sq, l_twice = log_n * log_n, 2.0 * log_n
        if not weighted or not self._stories:
            return []

        rough: dict[str, float] = {}
        for f, x in weighted.items():
            postings, weight, terms = self._postings[f], FIELD_WEIGHTS[f], list(vectors[f])
            # The highest-weighted terms, ties in term order: what heapq.nlargest gives, by a sort in C.
            for i in sorted(range(len(x)), key=x.__getitem__, reverse=True)[: _PROBE_TERMS[f]]:
                sids = postings.get(terms[i])
                if not sids or len(sids) > _MAX_POSTINGS:
                    continue
                for sid in sids:
                    rough[sid] = rough.get(sid, 0.0) + weight * x[i]
        if not rough:
            return []
        seq = {sid: self._stories[sid].seq for sid in rough}
        candidates = sorted(rough, key=lambda sid: (-rough[sid], seq[sid]))[:_MAX_CANDIDATES]

        if body_terms is None:
            body_terms = len(vectors["body"])
        ents = vectors["ent"]
        top_entity = min(ents, key=lambda e: (-ents[e], e)) if ents else None
        mine_tops = kind_tops(ents.items())
        heavy = None
        if floor is not None and "body" in weighted:
            # The body terms above the mean unit weight, and the norm of the rest (at most 1).
            x, cut = weighted["body"], 1.0 / math.sqrt(len(weighted["body"]))
            pairs = zip(vectors["body"], by_term["body"].values(), x, strict=True)
            heavy = {t: v for t, v, xt in pairs if xt >= cut}
            light_norm = math.sqrt(math.fsum(map(pow, filterfalse(cut.__le__, x), repeat(2))))
            # A centroid term's IDF is at most L - log 2 (its story has it, so its df is at least 1).
            idf_max = log_n - math.log(2.0)
            floor_z = logit(floor[1]) - BOUND_MARGIN
        out = []
        for sid in sorted(candidates, key=seq.__getitem__):
            s = self._stories[sid]
            if s is exclude:
                continue
            cos, cover, norms = {}, {}, {}
            for f in FIELD_WEIGHTS:
                if f in weighted:
                    a, b, c = s.sums[f]
                    norm = norms[f] = math.sqrt(max(l_sq * a - l_twice * b + c, 0.0))
                else:
                    norm = norms[f] = 0.0
                if norm <= 0.0:
                    cos[f] = cover[f] = 0.0
                elif f == "body" and heavy is not None:
                    cos[f] = cover[f] = None  # bounded first, below
                else:
                    cos[f], cover[f] = cosine_cover(by_term[f], squares[f], s.fields[f], norm)
            has_ent = "ent" in weighted and s.sums["ent"][0] > 0.0
            top_in = 1.0 if top_entity is not None and top_entity in s.entities else 0.0
            gap = story_gap_days(s, ts)
            kinds = kind_features(mine_tops, ents, story_tops(s), s.fields["ent"])
            rest = (has_ent, top_in, body_terms, gap, len(s.articles), kinds, emb_cosine(emb, s))
            if cos["body"] is None:
                norm = norms["body"]
                part_cos, part_cover = cosine_cover(heavy, squares["body"], s.fields["body"], norm)
                # Cauchy-Schwarz: the light terms add at most |light| * |centroid under current IDF| / norm.
                light = light_norm * idf_max * math.sqrt(s.sums["body"][0]) / norm * (1.0 + BOUND_MARGIN)
                low = features({**cos, "body": part_cos}, {**cover, "body": part_cover}, *rest)
                high = features(
                    {**cos, "body": part_cos + light}, {**cover, "body": part_cover + light_norm**2}, *rest
                )
                if upper_logit(floor[0], low, high) < floor_z:
                    continue
                cos["body"], cover["body"] = cosine_cover(
                    by_term["body"], squares["body"], s.fields["body"], norm
                )
            out.append((s, features(cos, cover, *rest)))
        return out

    def _best_story(
        self, vectors: dict[str, dict[str, float]], ts: datetime, emb: tuple[float, ...] | None
    ) -> Story | None:
        """Return the candidate story most likely to be the article's, when that likelihood is high enough."""
        best, best_p = None, -1.0
        for s, x in self._candidates(vectors, emb, ts):
            p = join_probability(x)
            if p > best_p:
                best, best_p = s, p
        return best if best_p >= self.join_threshold else None

    # --- updating -----------------------------------------------------------------------------------

    def _add(
        self,
        s: Story,
        article: FactsArticle,
        vectors: dict[str, dict[str, float]],
        ts: datetime,
        emb: tuple[float, ...] | None,
    ) -> None:
        s.articles.append(
            {
                "id": article.article_id,
                "source": article.source,
                "feed": article.feed,
                "headline": article.headline,
                "cut_lede": is_cut_lede(article.headline, article.body),
                "ts": ts.isoformat(),
                "relation": article.dedup.relation,
                "of": article.dedup.of,
            }
        )
        if s.reports is not None:
            s.reports.add(s.articles[-1])
        self._story_of[article.article_id] = s.story_id
        self._n += 1
        log = math.log
        # The norm sums move by this article's terms only (their old contribution out, the new one in, each
        # with the document frequency of the moment), and are recomputed in full when the story reaches a
        # power-of-two size (amortized O(1) per term), which resets the drift of the other terms' frequencies.
        full = len(s.articles) & (len(s.articles) - 1) == 0
        for f, tf in vectors.items():
            centroid, df, postings = s.fields[f], self._df[f], self._postings[f]
            sums = s.sums[f]
            for t, w in tf.items():
                before = df.get(t, 0)
                df[t] = before + 1
                l_new = log(before + 2)
                entry = centroid.get(t)
                if entry is None:
                    centroid[t] = [1, w]
                    postings.setdefault(t, {})[s.story_id] = None
                    w2 = w * w
                else:
                    old2, l_old = entry[1] * entry[1], log(before + 1)
                    entry[0] += 1
                    entry[1] += w
                    w2 = entry[1] * entry[1]
                    sums[0] -= old2
                    sums[1] -= old2 * l_old
                    sums[2] -= old2 * l_old * l_old
                sums[0] += w2
                sums[1] += w2 * l_new
                sums[2] += w2 * l_new * l_new
            if full:
                self._renorm(s, f)
        if s.tops is not None:
            raise_kind_tops(s.tops, s.fields["ent"], vectors["ent"])
        if emb is not None:
            s.emb = list(map(add, s.emb, emb))
            s.emb_norm = None
        seen: dict[str, None] = {}
        for e in article.facts.entities:
            if e.entity_id in seen:
                continue
            seen[e.entity_id] = None
            if e.entity_id in s.entities:
                s.entities[e.entity_id][2] += 1
            else:
                s.entities[e.entity_id] = [e.canonical, e.label, 1]
        if s.top is not None:
            s.top.raise_(s.entities, seen)
        # A claim compares the figures sources report; "hundreds of migrants" is no figure, only a magnitude.
        mentions = [mention(q, article.body) for q in article.facts.quantities if q.bound != "magnitude"]
        add_claims(s.claims, article.article_id, mentions)
        s.first_ts = min(s.first_ts, ts)
        s.last_ts = max(s.last_ts, ts)
        heapq.heappush(self._by_age, (s.last_ts.timestamp(), s.seq, s.story_id))
        if len(self._by_age) > 2 * len(self._stories) + 1024:
            # Each update leaves a stale entry behind; rebuild before they outnumber the stories.
            self._by_age = [(x.last_ts.timestamp(), x.seq, x.story_id) for x in self._stories.values()]
            heapq.heapify(self._by_age)

    def _advance(self, ts: datetime) -> None:
        """Move the stream clock to ``ts`` and close the stories quiet for longer than ``quiet_hours``."""
        if self._clock is None or ts > self._clock:
            self._clock = ts
        while self._by_age:
            sid = self._oldest(pop=False)
            if sid is None or self._clock - self._stories[sid].last_ts <= self.quiet:
                return
            self._close(sid)

    def _oldest(self, pop: bool = True) -> str | None:
        """Return the least recently updated open story, dropping stale heap entries on the way."""
        while self._by_age:
            t, seq, sid = self._by_age[0]
            s = self._stories.get(sid)
            if s is None or s.seq != seq or s.last_ts.timestamp() != t:
                heapq.heappop(self._by_age)
                continue
            if pop:
                heapq.heappop(self._by_age)
            return sid
        return None

    def _close(self, sid: str | None) -> None:
        if sid is None:
            return
        s = self._stories.pop(sid)
        self._closed[sid] = None
        self._n -= len(s.articles)
        for a in s.articles:
            if self._story_of.get(a["id"]) == sid:
                del self._story_of[a["id"]]
        for f, centroid in s.fields.items():
            df, postings = self._df[f], self._postings[f]
            for t, (n, _w) in centroid.items():
                left = df[t] - int(n)
                if left:
                    df[t] = left
                else:
                    del df[t]
                sids = postings[t]
                sids.pop(sid, None)
                if not sids:
                    del postings[t]
