"""Fingerprints: what the dedupe window keeps of an article, and how it is stored.

An article's fingerprint holds the hash of its normalized words (exact copies), two MinHash signatures
(datasketch): of its word 3-shingles, which find copies, and of its content-word set, which finds rewrites,
and each sentence's content-word hashes, for the sentence-by-sentence comparison (``compare``). It is kept
for every article of the window, so it is packed, and ``to_state``/``from_state`` move it to and from a
JSON-able dict for a changelog-backed table.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from datasketch import MinHash

from pipeline.text import content_words, split_sentences, words
from schemas import Dedup, NormalizedArticle

__all__ = ["Fingerprint", "fingerprint"]

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
    family: str | None = None  # the original of the article's copies (itself when unique)
    lines: tuple[str, ...] = ()  # keys of its lines that may be furniture (``pipeline.dedupe.recurring``)
    stripped: tuple[int, ...] = ()  # the paragraphs dedupe stripped as learned furniture, replayed too
    exact_before: str | None = None  # ``exact`` of the body before they were stripped

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
            "family": self.family,
            "lines": list(self.lines),
            "stripped": list(self.stripped),
            "exact_before": self.exact_before,
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
            "family": state.get("family"),
            "lines": tuple(state.get("lines", ())),
            "stripped": tuple(state.get("stripped", ())),
            "exact_before": state.get("exact_before"),
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


def exact_key(body: str) -> str:
    """The key two bodies share when they hold the same words."""
    return hashlib.sha256(" ".join(words(body)).encode("utf-8")).hexdigest()


def fingerprint(article: NormalizedArticle, num_perm: int = 128, shingle_words: int = 3) -> Fingerprint:
    """Return the fingerprint of an article's headline-free body."""
    tokens = words(article.body)
    exact = exact_key(article.body)
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
