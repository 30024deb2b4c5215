"""The dedupe window: tell each article's relation to the closest earlier article in a bounded window.

Relations (see schemas.Dedup): ``exact_duplicate`` (same words after normalization), ``near_duplicate``
(a syndicated copy: light edits, truncation, another wrapper), ``update`` (a later version by the same
outlet or byline that keeps much of the old body), ``paraphrase`` (a spun rewrite: most sentences have a
reworded counterpart, in the same order) or ``unique``.

Candidates come from two MinHash LSH indexes (datasketch) over the window's fingerprints: word 3-shingles
find copies, content-word sets find rewrites. Each candidate is then compared sentence by sentence
(``compare``), and the strongest relation found wins. Before it is fingerprinted, an article loses the lines
the window taught to be furniture (``recurring``): a syndicator's notice is then no difference between a
copy and its original.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from datasketch import MinHash, MinHashLSH

from pipeline.dedupe.compare import classify, compare
from pipeline.dedupe.fingerprints import _SCHEME, Fingerprint, exact_key, fingerprint
from pipeline.dedupe.recurring import RecurringLines
from schemas import Dedup, NormalizedArticle

__all__ = ["DuplicateIndex"]

# Candidates compared with a new article at most, the most similar first.
MAX_CANDIDATES = 20

# Strength of a relation, to choose among several earlier articles. An update outranks a near duplicate: a
# new version from the outlet that wrote the story says more than a syndicator's copy of the old one.
_RANK = {"exact_duplicate": 4, "update": 3, "near_duplicate": 2, "paraphrase": 1, "unique": 0}


@dataclass
class DuplicateIndex:
    """The dedupe window: ``match`` decides an article's relation and remembers it.

    Holds the articles received in the last ``window_hours`` (before the latest ``received_at`` seen), and at
    most ``window_size`` of them; the oldest are evicted first. Syndicated copies, spins and updates come
    within hours or days of their original, so the time bound is what keeps the window, and the memory, the
    size of a few days' traffic; the count bound caps a burst or a backfill (all received at once).
    ``export``/``restore`` move an article's fingerprint to and from a JSON-able dict, so a worker can keep
    them in a changelog-backed table.
    """

    num_perm: int = 128
    shingle_words: int = 3
    lsh_threshold: float = 0.3
    window_size: int = 50_000
    window_hours: float | None = 72.0
    _docs: OrderedDict[str, Fingerprint] = field(default_factory=OrderedDict, init=False)
    _exact: dict[str, str] = field(default_factory=dict, init=False)
    _seq: int = field(default=0, init=False)
    _clock: float | None = field(default=None, init=False)  # the latest received_at seen, POSIX seconds
    _lines: RecurringLines = field(default_factory=RecurringLines, init=False)

    def __post_init__(self) -> None:
        if self.window_size < 1:
            raise ValueError(f"window_size must be >= 1, got {self.window_size}")
        if self.window_hours is not None and self.window_hours <= 0:
            raise ValueError(f"window_hours must be > 0 (or None for no time bound), got {self.window_hours}")
        if not 0.0 < self.lsh_threshold < 1.0:
            raise ValueError(f"lsh_threshold must be in (0, 1), got {self.lsh_threshold}; try 0.3")
        self._shingle_lsh = MinHashLSH(threshold=self.lsh_threshold, num_perm=self.num_perm)
        self._term_lsh = MinHashLSH(threshold=self.lsh_threshold, num_perm=self.num_perm)

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._docs

    def match(self, article: NormalizedArticle) -> tuple[Dedup, list[str]]:
        """Return the article's relation to the window, remember it, and list the article_ids evicted."""
        _, decision, evicted = self.match_clean(article)
        return decision, evicted

    def match_clean(self, article: NormalizedArticle) -> tuple[NormalizedArticle, Dedup, list[str]]:
        """Return the article without the furniture the window taught (``pipeline.dedupe.recurring``), its
        relation to the window, and the article_ids evicted; remember it.

        An article_id seen before (a redelivery) gets its first decision and its first cleaning again, and
        changes nothing.
        """
        known = self._docs.get(article.article_id)
        if known is not None and known.dedup is not None:
            return _without(article, known.stripped), known.dedup, []
        lines, stripped = self._lines.read(article.paragraphs)
        cleaned = _without(article, stripped)
        new = fingerprint(cleaned, self.num_perm, self.shingle_words)
        # The window learns as it goes, so an original may have kept a line its later copy loses: the body
        # as normalize left it is matched exactly as well.
        exact_before = exact_key(article.body) if stripped else None
        decision = self._decide(new, exact_before)
        original = self._docs.get(decision.of) if decision.of is not None else None
        family = (original.family or original.article_id) if original is not None else article.article_id
        self._seq += 1
        self._insert(
            Fingerprint(
                **{
                    **new.__dict__,
                    "dedup": decision,
                    "seq": self._seq,
                    "family": family,
                    "lines": lines,
                    "stripped": stripped,
                    "exact_before": exact_before,
                }
            )
        )
        return cleaned, decision, self._evict()

    def _decide(self, new: Fingerprint, exact_before: str | None = None) -> Dedup:
        original = self._exact.get(new.exact) or (self._exact.get(exact_before) if exact_before else None)
        if original is not None:
            return Dedup(relation="exact_duplicate", of=original, similarity=1.0)
        candidates = set(self._shingle_lsh.query(self._as_minhash(new.shingles)))
        candidates |= set(self._term_lsh.query(self._as_minhash(new.terms)))
        best: tuple[int, float, int, str] | None = None
        # Check the most similar candidates first; the arrival number (the window's order) breaks ties, so
        # decisions are deterministic.
        docs = self._docs
        ranked = sorted(
            candidates, key=lambda c: (-np.count_nonzero(docs[c].terms == new.terms), docs[c].seq)
        )[:MAX_CANDIDATES]
        new_sentences = new.sentence_sets()
        for candidate in ranked:
            old = self._docs[candidate]
            scores = compare(new, old, new_sentences)
            relation = classify(scores)
            similarity = max(
                scores.jaccard, scores.shared, scores.coverage if relation == "paraphrase" else 0.0
            )
            key = (_RANK[relation], similarity, -old.seq, candidate)
            if relation != "unique" and (best is None or key[:3] > best[:3]):
                best = key
        if best is None:
            return Dedup(relation="unique", of=None, similarity=0.0)
        rank, similarity, _, of = best
        relation = next(name for name, value in _RANK.items() if value == rank)
        return Dedup(relation=relation, of=of, similarity=round(min(1.0, similarity), 4))

    def _as_minhash(self, hashvalues: np.ndarray) -> MinHash:
        return MinHash(num_perm=self.num_perm, seed=1, hashvalues=hashvalues, scheme=_SCHEME)

    def _insert(self, print_: Fingerprint) -> None:
        self._docs[print_.article_id] = print_
        if print_.received is not None and (self._clock is None or print_.received > self._clock):
            self._clock = print_.received
        self._exact.setdefault(print_.exact, print_.article_id)
        if print_.exact_before is not None:
            self._exact.setdefault(print_.exact_before, print_.article_id)
        self._lines.add(print_.family or print_.article_id, print_.lines)
        if print_.article_id not in self._shingle_lsh:
            self._shingle_lsh.insert(print_.article_id, self._as_minhash(print_.shingles))
            self._term_lsh.insert(print_.article_id, self._as_minhash(print_.terms))

    def _expired(self, print_: Fingerprint) -> bool:
        if self.window_hours is None or print_.received is None or self._clock is None:
            return False
        return self._clock - print_.received > self.window_hours * 3600.0

    def _evict(self) -> list[str]:
        """Evict from the oldest arrival on: past the count bound, or received before the time window.

        The time bound looks at the oldest arrival only, so an old received_at that arrived after newer ones
        waits for the arrivals before it to go (deterministic, and a stream is nearly in received order).
        """
        evicted = []
        while self._docs and (
            len(self._docs) > self.window_size or self._expired(next(iter(self._docs.values())))
        ):
            article_id, old = self._docs.popitem(last=False)
            for key in (old.exact, old.exact_before):
                if key is not None and self._exact.get(key) == article_id:
                    del self._exact[key]
            self._lines.remove(old.family or old.article_id, old.lines)
            self._shingle_lsh.remove(article_id)
            self._term_lsh.remove(article_id)
            evicted.append(article_id)
        return evicted

    @property
    def furniture_lines(self) -> int:
        """The suspect lines the window counts, to learn which are furniture."""
        return len(self._lines)

    def seq_of(self, article_id: str) -> int:
        """Return the arrival number ``match`` gave an article (the same on redelivery); KeyError if not held."""
        return self._docs[article_id].seq

    def export(self, article_id: str) -> dict[str, Any]:
        """Return the JSON-able state of one remembered article."""
        return self._docs[article_id].to_state()

    def restore(self, states: Iterable[dict[str, Any]]) -> None:
        """Rebuild the window from exported states, oldest first (after a restart)."""
        for state in sorted(states, key=lambda state: state["seq"]):
            print_ = Fingerprint.from_state(state)
            self._insert(print_)
            self._seq = max(self._seq, print_.seq)
        self._evict()


def _without(article: NormalizedArticle, stripped: tuple[int, ...]) -> NormalizedArticle:
    """The article without paragraphs `stripped`, which join its boilerplate."""
    if not stripped:
        return article
    gone = set(stripped)
    paragraphs = [p for i, p in enumerate(article.paragraphs) if i not in gone]
    body = "\n\n".join(paragraphs)
    return article.model_copy(
        update={
            "paragraphs": paragraphs,
            "body": body,
            "word_count": len(body.split()),
            "boilerplate": [*article.boilerplate, *(article.paragraphs[i] for i in stripped)],
        }
    )
