"""``copydesk eval story-baselines FILE.jsonl``: what batch clustering reaches on a story corpus.

The story tagger is online: one pass in arrival order, each article filed before the next is read. The
published anchors it is held against are batch: they see every document first, and each is told something
the tagger never is. This command runs them on the same file, so the tagger's figures can be read against
what those methods reach on the same data:

- **K-means with K = the gold number of stories**, over TF-IDF of headline and text (the document
  clustering of Barhom et al. 2019, whose BCubed F1 on ECB+ test is the issue's ECB+ anchor). K comes from
  the labels. The mean and range over ``--seeds`` seeds (scikit-learn's ``KMeans``, 10 starts each).
- **Average-link agglomerative clustering** over the TF-IDF cosine, and over the cosine of the embedding the
  tagger uses (``pipeline.stories.article_embedding``: headline plus the text's first 3,000 characters), cut
  at every distance from 0.05 to 0.95 by 0.05; reported at the cut that scores best on the file's own labels
  (an oracle threshold: no held-out choice does better).

Rows are scored as given (title and text), without the pipeline's normalization; dates are not used. The
last line is one JSON object: per method, pairwise and BCubed {p, r, f1} (K-means: the means, with ``runs``,
or null where the gold K is over ``--max-k``; average-link: at the best pairwise and at the best BCubed cut,
each with its ``distance``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click
import numpy as np

from pipeline.evals.report import emit_json
from pipeline.evals.stories import Scores, read_rows, score_clusters

__all__ = ["average_link", "k_means", "story_baselines"]

# The cuts tried for average-link (cosine distance).
CUTS = tuple(round(0.05 + 0.05 * i, 2) for i in range(19))


def _texts(rows: list[dict[str, Any]]) -> list[str]:
    return [f"{row.get('title') or ''}\n{row.get('text') or ''}" for row in rows]


def _tfidf(rows: list[dict[str, Any]]) -> Any:
    """Return the rows' TF-IDF vectors (sublinear tf, English stop words, unit length), sparse."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(sublinear_tf=True, stop_words="english").fit_transform(_texts(rows))


def _embeddings(rows: list[dict[str, Any]]) -> np.ndarray:
    """Return each row's embedding as the tagger embeds an article (zeros where it has no known word)."""
    from pipeline.stories import article_embedding
    from pipeline.stories.embeddings import DIMENSIONS

    out = np.zeros((len(rows), DIMENSIONS))
    for i, row in enumerate(rows):
        unit = article_embedding(row.get("title") or "", row.get("text") or "")
        if unit is not None:
            out[i] = unit
    return out


def k_means(vectors: Any, gold: list[str], seeds: int) -> list[Scores]:
    """Return the scores of K-means with K = the number of gold stories, one run per seed."""
    from sklearn.cluster import KMeans

    k = len(set(gold))
    runs = []
    for seed in range(seeds):
        labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(vectors)
        runs.append(score_clusters([str(x) for x in labels], gold))
    return runs


def average_link(vectors: Any, gold: list[str]) -> dict[float, Scores]:
    """Return the scores of average-link clustering over cosine distance, cut at each of ``CUTS``."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    # Cosines from the Gram matrix, sparse (TF-IDF) or dense; only the n x n product is dense.
    gram = vectors @ vectors.T
    gram = gram.toarray() if hasattr(gram, "toarray") else np.asarray(gram, dtype=np.float64)
    norms = np.sqrt(np.diag(gram))
    outer = np.outer(norms, norms)
    cosines = np.divide(gram, outer, out=np.zeros_like(gram), where=outer > 0)
    distances = np.clip(1.0 - cosines, 0.0, 2.0)
    np.fill_diagonal(distances, 0.0)
    tree = linkage(squareform(distances, checks=False), method="average")
    return {
        cut: score_clusters([str(x) for x in fcluster(tree, cut, criterion="distance")], gold) for cut in CUTS
    }


def _mean(runs: list[Scores]) -> dict[str, Any]:
    """Return the mean pairwise and BCubed figures of several runs."""
    means = {m: np.mean([getattr(run, m) for run in runs], axis=0).tolist() for m in ("pairwise", "bcubed")}
    return Scores(pairwise=tuple(means["pairwise"]), bcubed=tuple(means["bcubed"])).as_json()


def _line(name: str, scores: dict[str, dict[str, float]]) -> str:
    pw, b3 = scores["pairwise"], scores["bcubed"]
    return f"  {name:<38} pairwise F1 {pw['f1'] * 100:5.1f}   BCubed F1 {b3['f1'] * 100:5.1f}"


@click.command("story-baselines")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--seeds", type=click.IntRange(min=1), default=3, show_default=True, help="K-means runs.")
@click.option(
    "--max-k",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Skip K-means over more gold stories than this (GVA's 3,323 take tens of minutes and gigabytes).",
)
@click.option(
    "--max-docs",
    type=click.IntRange(min=2),
    default=6000,
    show_default=True,
    help="Refuse a larger file: average-link holds dense n x n matrices (5,565 documents: 1 GiB at peak).",
)
def story_baselines(file: Path, seeds: int, max_k: int, max_docs: int) -> None:
    """Cluster FILE.jsonl in batch (K-means given the gold K; average-link at the best cut) and score it.

    What the story tagger's online figures can be read against; the last line is one JSON object.
    """
    try:
        import sklearn  # noqa: F401  (the eval extra)
    except ModuleNotFoundError:
        raise click.UsageError("story-baselines needs scikit-learn: pip install -e '.[eval]'") from None
    rows = read_rows(file)
    if len(rows) > max_docs:
        raise click.UsageError(f"{file.name} has {len(rows):,} documents, over --max-docs {max_docs:,}")
    gold = [str(row["story"]) for row in rows]
    k = len(set(gold))
    started = time.perf_counter()
    tfidf = _tfidf(rows)
    out: dict[str, Any] = {"docs": len(rows), "stories": k}
    click.echo(f"{file.name}: {len(rows)} docs, {k} gold stories; batch, dates unused")

    if k <= max_k:
        runs = k_means(tfidf, gold, seeds)
        out["kmeans_tfidf"] = {**_mean(runs), "runs": [run.as_json() for run in runs]}
        f1s = [run.bcubed[2] for run in runs]
        click.echo(_line(f"K-means, K = {k} (gold), TF-IDF", out["kmeans_tfidf"]))
        click.echo(f"  {'':<38} BCubed F1 over {seeds} seeds: {min(f1s) * 100:.1f}-{max(f1s) * 100:.1f}")
    else:
        out["kmeans_tfidf"] = None
        click.echo(f"  K-means skipped: {k:,} gold stories, over --max-k {max_k:,}")

    for name, vectors, label in (
        ("avglink_tfidf", tfidf, "TF-IDF"),
        ("avglink_embedding", _embeddings(rows), "embedding"),
    ):
        cuts = average_link(vectors, gold)
        best_pw = max(cuts, key=lambda c: (cuts[c].pairwise[2], -c))
        best_b3 = max(cuts, key=lambda c: (cuts[c].bcubed[2], -c))
        out[name] = {
            "best_pairwise": {"distance": best_pw, **cuts[best_pw].as_json()},
            "best_bcubed": {"distance": best_b3, **cuts[best_b3].as_json()},
        }
        click.echo(_line(f"average-link, {label}, best cut {best_pw:.2f}", cuts[best_pw].as_json()))
        if best_b3 != best_pw:
            click.echo(_line(f"average-link, {label}, best cut {best_b3:.2f}", cuts[best_b3].as_json()))
    click.echo(f"({time.perf_counter() - started:.1f} s)")
    sys.stdout.flush()
    emit_json(out)
