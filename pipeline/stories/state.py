"""An open story's state (``Story``) and its JSON-able form, which ``StoryIndex`` exports and restores.

``story_state`` gives the dict a caller persists (one per open story, e.g. in a faust table);
``story_from_state`` reads one back, of this ``STATE_VERSION`` or an older one. The derived parts of a
``Story`` (norms, top entities, reports, built claims) are not persisted: they are built again on use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from pipeline.stories.embeddings import DIMENSIONS, dot, text_embedder
from pipeline.stories.reports import Reports, TopEntities

__all__ = ["STATE_VERSION", "Story", "emb_cosine", "emb_norm", "story_from_state", "story_state"]

# The state format's version. 1 kept one norm per field; 2 keeps the centroid's norm sums instead
# (``Story.sums``, recomputed from the terms for a version-1 state); 3 adds the sum of the articles'
# embeddings, in GloVe's 100 dimensions; 4 has that sum in WordLlama's 256 (``Story.emb``, estimated from
# the headlines for a version 2 or 3 state).
STATE_VERSION = 4


@dataclass
class Story:
    """An open story: its articles, per-field centroids, entities, claims and embedding sum, and what is
    derived from them (``None``: build again on use)."""

    story_id: str
    seq: int
    first_ts: datetime
    last_ts: datetime
    articles: list[dict[str, Any]]
    fields: dict[str, dict[str, list[float]]]  # field -> term -> [articles with it, sum of 1 + log tf]
    # Per field (sum W^2, sum W^2 l, sum W^2 l^2) over the centroid's terms, W the term's summed weight and
    # l = log(df + 1) as of the term's last update: the centroid's norm under the stream's current IDF
    # (L - l, L = log(n + 1) + 1) is sqrt(L^2 A - 2 L B + C), exact up to document-frequency drift.
    sums: dict[str, list[float]]
    entities: dict[str, list[Any]]  # entity_id -> [canonical, label, articles]
    claims: list[dict[str, Any]]
    # The sum of the articles' unit embeddings (``article_embedding``; zeros while none has a known word).
    emb: list[float] = field(default_factory=lambda: [0.0] * DIMENSIONS)
    emb_norm: float | None = None  # derived: the norm of ``emb`` (None: recompute)
    tops: dict[str, str] | None = None  # derived: the most mentioned place, person, year (None: recompute)
    # Derived, for snapshots: per claim (claims and their values only ever grow), what was built from it
    # last time and from what (``snapshot_claim``).
    built: list[dict[str, Any]] = field(default_factory=list)
    reports: Reports | None = None  # derived: reports, outlets and title (None: build from the articles)
    # Derived, for snapshots: the most mentioned entities (``TopEntities``; None: build from ``entities``).
    top: TopEntities | None = None


def story_state(s: Story) -> dict[str, Any]:
    """Return the JSON-able state of a story (what ``StoryIndex.export_state`` gives)."""
    return {
        "version": STATE_VERSION,
        "story_id": s.story_id,
        "seq": s.seq,
        "first_ts": s.first_ts.isoformat(),
        "last_ts": s.last_ts.isoformat(),
        "articles": [dict(a) for a in s.articles],
        "fields": {f: {t: list(v) for t, v in terms.items()} for f, terms in s.fields.items()},
        "sums": {f: list(v) for f, v in s.sums.items()},
        "entities": {k: list(v) for k, v in s.entities.items()},
        "claims": _copy_claims(s.claims),
        "emb": list(s.emb),
    }


def story_from_state(st: dict[str, Any]) -> Story:
    """Return the story of a state from ``story_state`` (this version or an older one); raise ValueError for
    an unknown version. A version-1 state has no norm sums: ``Story.sums`` is empty until recomputed."""
    if st.get("version") not in (1, 2, 3, STATE_VERSION):
        raise ValueError(f"story state version {st.get('version')!r}, expected {STATE_VERSION}")
    return Story(
        story_id=st["story_id"],
        seq=st["seq"],
        first_ts=datetime.fromisoformat(st["first_ts"]),
        last_ts=datetime.fromisoformat(st["last_ts"]),
        articles=[dict(a) for a in st["articles"]],
        fields={f: {t: list(v) for t, v in terms.items()} for f, terms in st["fields"].items()},
        sums={f: list(v) for f, v in st.get("sums", {}).items()},
        entities={k: list(v) for k, v in st["entities"].items()},
        claims=_copy_claims(st["claims"]),
        emb=[float(x) for x in st["emb"]] if len(st.get("emb", ())) == DIMENSIONS else _estimated_emb(st),
    )


def _estimated_emb(state: dict[str, Any]) -> list[float]:
    """Return an estimate of an older story state's embedding sum (version 3's has other dimensions, 2's
    none): the sum of its articles' headlines' unit embeddings (the state keeps no body)."""
    embed = text_embedder().unit
    units = [e for e in (embed(a.get("headline") or "") for a in state["articles"]) if e is not None]
    return sum(units, np.zeros(DIMENSIONS)).tolist()


def _copy_claims(claims: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return a copy of a story's claims that shares no list or dict with them (derived labels left out)."""
    return [
        {
            "cls": c["cls"],
            "unit": c["unit"],
            "counted": c["counted"],
            "pred": c.get("pred"),
            "ctx": dict(c["ctx"]),
            "words": dict(c["words"]),
            "values": [{**v, "article_ids": list(v["article_ids"])} for v in c["values"]],
        }
        for c in claims
    ]


def emb_norm(s: Story) -> float:
    """Return the norm of a story's sum of embeddings (kept until the sum changes)."""
    if s.emb_norm is None:
        s.emb_norm = math.sqrt(dot(s.emb, s.emb))
    return s.emb_norm


def emb_cosine(unit: tuple[float, ...] | None, s: Story) -> float:
    """Return the cosine of a unit embedding with a story's sum of embeddings (0 when either is empty)."""
    if unit is None:
        return 0.0
    norm = emb_norm(s)
    return dot(unit, s.emb) / norm if norm > 0.0 else 0.0
