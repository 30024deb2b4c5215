"""Dedupe: tell each article's relation to the closest earlier article in a bounded window.

Relations (see schemas.Dedup): ``exact_duplicate`` (same words after normalization), ``near_duplicate``
(a syndicated copy: light edits, truncation, another wrapper), ``update`` (a later version by the same
outlet or byline that keeps much of the old body), ``paraphrase`` (a spun rewrite: most sentences have a
reworded counterpart, in the same order) or ``unique``.

Candidates come from two MinHash LSH indexes (datasketch): word 3-shingles find copies, content-word sets
find rewrites. Each candidate is then compared sentence by sentence, which is what separates a spun
rewrite (nearly every sentence aligned, in order) from another outlet's report of the same event (shared
names, numbers and quotes, but most sentences without a counterpart, fewer in order, unequal sentence counts
and weaker counterparts). ``copydesk eval dedup`` measures it on a generated suite of real ECB+/GVA articles.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from datasketch import MinHash, MinHashLSH

from pipeline.text import content_words, split_sentences, words
from schemas import Dedup, NormalizedArticle

__all__ = ["DuplicateIndex", "Fingerprint", "PairScores", "classify", "compare", "fingerprint"]

# Decision thresholds, set on the seeds and on generated variants of real articles (see tests/unit).
NEAR_DUPLICATE_JACCARD = 0.8
NEAR_DUPLICATE_CONTAINMENT = 0.9
NEAR_DUPLICATE_TERMS = 0.8  # with every sentence aligned: a copy with scattered word edits
UPDATE_SHARED = 0.3
# A spin rewrites nearly every sentence in place: most sentences of both articles have a counterpart, in
# order, about as many sentences on each side, and the counterparts are close (strength). Set on the seeds
# and on `copydesk eval dedup` (spun rewrites against other outlets' reports of the same ECB+/GVA event).
PARAPHRASE_COVERAGE = 0.7  # of the new article's sentences, and (PARAPHRASE_COVERED) of the earlier one's
PARAPHRASE_COVERED = 0.55
PARAPHRASE_ORDER = 0.85
PARAPHRASE_TERMS = 0.4
PARAPHRASE_STRENGTH = 0.35
PARAPHRASE_BALANCE = 0.85
PARAPHRASE_MIN_SENTENCES = 4  # a three-sentence brief aligns with any report of the same event
SENTENCE_MATCH = 0.8  # sentence content-word Jaccard at which two sentences are "the same sentence"
SENTENCE_ALIGN = 0.25  # ... at which one is a reworded counterpart of the other
MAX_CANDIDATES = 20
_SCHEME = "affine32"  # datasketch 2 hashing scheme; fixed so stored signatures stay comparable
# Version of Fingerprint.to_state: 2 packs the arrays as base64 (1 wrote lists of ints; still restored).
STATE_VERSION = 2


def _hash64(token: str) -> int:
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little")


def _pack(values: np.ndarray) -> str:
    """Return uint64 values as base64 of their little-endian bytes (a compact JSON string)."""
    return base64.b64encode(values.astype("<u8").tobytes()).decode("ascii")


def _unpack(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<u8").astype(np.uint64)


@dataclass(frozen=True)
class Fingerprint:
    """What the index keeps of an article: enough to classify later articles against it.

    It is kept for every article of the window, so it is packed: the sentences' content-word hashes are one
    array (each sentence's hashes sorted, sentence after sentence) with the end offset of each sentence;
    ``sentence_sets()`` unpacks them for a comparison.
    """

    article_id: str
    exact: str
    shingles: np.ndarray  # MinHash hashvalues of word 3-shingles
    terms: np.ndarray  # MinHash hashvalues of content words
    sentence_words: np.ndarray  # uint64 content-word hashes, sentence after sentence
    sentence_ends: np.ndarray  # uint32 end offset of each sentence in sentence_words
    source: str | None
    byline: str | None
    dedup: Dedup | None = None  # the decision made for this article, replayed on redelivery
    seq: int = 0  # arrival number in the window, to restore the window in order
    received: float | None = None  # received_at, POSIX seconds (None: restored from a state without it)

    @classmethod
    def packing(cls, sentences: Iterable[Iterable[int]], **fields: Any) -> Fingerprint:
        """Return a fingerprint of the given sentences (each an iterable of content-word hashes)."""
        sorted_sentences = [sorted(sentence) for sentence in sentences]
        flat = [value for sentence in sorted_sentences for value in sentence]
        return cls(
            sentence_words=np.array(flat, dtype=np.uint64),
            sentence_ends=np.cumsum([len(sentence) for sentence in sorted_sentences], dtype=np.uint32),
            **fields,
        )

    def sentence_sets(self) -> tuple[frozenset[int], ...]:
        """Return each sentence's content-word hashes."""
        flat = self.sentence_words.tolist()
        starts = [0, *self.sentence_ends.tolist()]
        return tuple(frozenset(flat[a:b]) for a, b in itertools.pairwise(starts))

    def to_state(self) -> dict[str, Any]:
        """Return a JSON-able dict (for a changelog-backed table); arrays are base64 strings."""
        return {
            "version": STATE_VERSION,
            "article_id": self.article_id,
            "exact": self.exact,
            "shingles": _pack(self.shingles),
            "terms": _pack(self.terms),
            "sentence_words": _pack(self.sentence_words),
            "sentence_ends": self.sentence_ends.tolist(),
            "source": self.source,
            "byline": self.byline,
            "dedup": self.dedup.model_dump() if self.dedup else None,
            "seq": self.seq,
            "received": self.received,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Fingerprint:
        """Return the fingerprint of a ``to_state`` dict, of this version or version 1 (lists of ints)."""
        fields = {
            "article_id": state["article_id"],
            "exact": state["exact"],
            "source": state["source"],
            "byline": state["byline"],
            "dedup": Dedup.model_validate(state["dedup"]) if state["dedup"] else None,
            "seq": state["seq"],
            "received": state.get("received"),
        }
        if state.get("version", 1) == 1:
            return cls.packing(
                state["sentences"],
                shingles=np.array(state["shingles"], dtype=np.uint64),
                terms=np.array(state["terms"], dtype=np.uint64),
                **fields,
            )
        return cls(
            shingles=_unpack(state["shingles"]),
            terms=_unpack(state["terms"]),
            sentence_words=_unpack(state["sentence_words"]),
            sentence_ends=np.array(state["sentence_ends"], dtype=np.uint32),
            **fields,
        )


def _minhash(tokens: set[str], num_perm: int) -> MinHash:
    minhash = MinHash(num_perm=num_perm, seed=1, scheme=_SCHEME)
    minhash.update_batch([token.encode("utf-8") for token in tokens])
    return minhash


def fingerprint(article: NormalizedArticle, num_perm: int = 128, shingle_words: int = 3) -> Fingerprint:
    """Return the fingerprint of an article's headline-free body."""
    tokens = words(article.body)
    exact = hashlib.sha256(" ".join(tokens).encode("utf-8")).hexdigest()
    shingles = {
        " ".join(tokens[i : i + shingle_words]) for i in range(max(1, len(tokens) - shingle_words + 1))
    }
    sentences = tuple(
        frozenset(_hash64(word) for word in content_words(sentence))
        for paragraph in article.paragraphs
        for sentence in split_sentences(paragraph)
    )
    terms = set(content_words(article.body))
    return Fingerprint.packing(
        (sentence for sentence in sentences if sentence),
        article_id=article.article_id,
        exact=exact,
        shingles=_minhash(shingles, num_perm).hashvalues,
        terms=_minhash(terms or {""}, num_perm).hashvalues,
        source=_key(article.source),
        byline=_key(article.byline),
        received=article.received_at.timestamp(),
    )


def _key(value: str | None) -> str | None:
    return " ".join(words(value)) or None if value else None


@dataclass(frozen=True)
class PairScores:
    """How a new article compares with one earlier article."""

    jaccard: float  # estimated word-3-shingle Jaccard
    terms: float  # estimated content-word-set Jaccard
    shared: float  # share of the shorter article's sentences found (nearly) verbatim in the other
    coverage: float  # share of the new article's sentences with a reworded counterpart in the earlier one
    covered: float  # share of the earlier article's sentences that are someone's counterpart
    order: float  # how much the aligned counterparts keep the earlier article's order (0..1)
    sentences: int  # sentences in the shorter article
    same_outlet: bool
    strength: float = 0.0  # mean best sentence Jaccard of the new article's sentences (0 for no counterpart)
    balance: float = 1.0  # sentence counts, shorter over longer


def best_counterparts(
    new_sentences: Sequence[frozenset[int]], old_sentences: Sequence[frozenset[int]]
) -> list[tuple[float, int]]:
    """Return, for each new sentence, the highest (content-word Jaccard, index) pair over the old sentences:
    its best Jaccard with one and that sentence's index (the later one on a tie; the last index when no
    old sentence shares a word with it, -1 when there is none).

    Only the old sentences that share a word are scored, found through an index of the old sentences'
    words: comparing every sentence with every other cost 0.3 s for a 5,800-word article against its five
    candidates, all of it on the path of every article behind it.
    """
    postings: dict[int, list[int]] = {}
    for index, sentence in enumerate(old_sentences):
        for word in sentence:
            postings.setdefault(word, []).append(index)
    sizes = [len(sentence) for sentence in old_sentences]
    unmatched = (0.0, len(old_sentences) - 1)
    best = []
    for sentence in new_sentences:
        shared: dict[int, int] = {}
        for word in sentence:
            for index in postings.get(word, ()):
                shared[index] = shared.get(index, 0) + 1
        size = len(sentence)
        best.append(
            max(((count / (size + sizes[i] - count), i) for i, count in shared.items()), default=unmatched)
        )
    return best


def _order_agreement(positions: list[int]) -> float:
    """Share of pairs of aligned sentences whose counterparts keep their order (Kendall-style)."""
    pairs = agree = 0
    for i in range(len(positions)):
        for j in range(i + 1, len(positions)):
            if positions[i] != positions[j]:
                pairs += 1
                agree += positions[i] < positions[j]
    return agree / pairs if pairs else 1.0


def compare(
    new: Fingerprint, old: Fingerprint, new_sentences: tuple[frozenset[int], ...] | None = None
) -> PairScores:
    """Return the pair scores of a new article against an earlier one (``new_sentences``: the new
    article's ``sentence_sets()``, when the caller compares it with many)."""
    new_sentences = new.sentence_sets() if new_sentences is None else new_sentences
    old_sentences = old.sentence_sets()
    jaccard = float(np.count_nonzero(new.shingles == old.shingles)) / len(new.shingles)
    best = best_counterparts(new_sentences, old_sentences)
    verbatim_new = sum(score >= SENTENCE_MATCH for score, _ in best)
    verbatim_old = len({index for score, index in best if score >= SENTENCE_MATCH})
    shorter = min(len(new_sentences), len(old_sentences)) or 1
    aligned = [index for score, index in best if score >= SENTENCE_ALIGN]
    same_outlet = bool((new.source and new.source == old.source) or (new.byline and new.byline == old.byline))
    return PairScores(
        jaccard=jaccard,
        terms=float(np.count_nonzero(new.terms == old.terms)) / len(new.terms),
        shared=min(1.0, max(verbatim_new, verbatim_old) / shorter),
        coverage=len(aligned) / (len(new_sentences) or 1),
        covered=len(set(aligned)) / (len(old_sentences) or 1),
        order=_order_agreement(aligned),
        sentences=min(len(new_sentences), len(old_sentences)),
        same_outlet=same_outlet,
        strength=sum(score for score, _ in best) / (len(best) or 1),
        balance=min(len(new_sentences), len(old_sentences))
        / (max(len(new_sentences), len(old_sentences)) or 1),
    )


def classify(scores: PairScores) -> str:
    """Return the relation the pair scores show (one of schemas.Relation, never exact_duplicate)."""
    # The same outlet sending much of the same body again is a new version of its story, however close.
    if scores.same_outlet and max(scores.shared, scores.jaccard) >= UPDATE_SHARED:
        return "update"
    if scores.jaccard >= NEAR_DUPLICATE_JACCARD:
        return "near_duplicate"
    if scores.shared >= NEAR_DUPLICATE_CONTAINMENT:
        return "near_duplicate"
    if scores.terms >= NEAR_DUPLICATE_TERMS and scores.coverage >= NEAR_DUPLICATE_CONTAINMENT:
        return "near_duplicate"
    if (
        scores.sentences >= PARAPHRASE_MIN_SENTENCES
        and scores.coverage >= PARAPHRASE_COVERAGE
        and scores.covered >= PARAPHRASE_COVERED
        and scores.order >= PARAPHRASE_ORDER
        and scores.terms >= PARAPHRASE_TERMS
        and scores.strength >= PARAPHRASE_STRENGTH
        and scores.balance >= PARAPHRASE_BALANCE
    ):
        return "paraphrase"
    return "unique"


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
        """Return the article's relation to the window, remember it, and list the article_ids evicted.

        An article_id seen before (a redelivery) gets its first decision again and changes nothing.
        """
        known = self._docs.get(article.article_id)
        if known is not None and known.dedup is not None:
            return known.dedup, []
        new = fingerprint(article, self.num_perm, self.shingle_words)
        decision = self._decide(new)
        self._seq += 1
        self._insert(Fingerprint(**{**new.__dict__, "dedup": decision, "seq": self._seq}))
        return decision, self._evict()

    def _decide(self, new: Fingerprint) -> Dedup:
        original = self._exact.get(new.exact)
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
            if self._exact.get(old.exact) == article_id:
                del self._exact[old.exact]
            self._shingle_lsh.remove(article_id)
            self._term_lsh.remove(article_id)
            evicted.append(article_id)
        return evicted

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
