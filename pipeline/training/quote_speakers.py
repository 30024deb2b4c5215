"""Train the facts stage's quote speaker ranker: ``python -m pipeline.training.quote_speakers``.

    python -m pipeline.training.quote_speakers [--data ../shared/data] [--cache-dir DIR] [--out FILE]

For every quote the stage finds in PolNeAR's train split (``polnear_train.jsonl``) that matches a gold quote
with a source, as ``copydesk eval quotes`` matches them, the candidates ``pipeline.facts.quotes`` proposes are
labelled (1 when the candidate's mention names the gold source, the eval's test) and logistic regressions
over their features (``pipeline.facts.speakers.FEATURES``) are fitted with scipy's L-BFGS, L2 on the weights:
pointwise, over candidates one by one, and listwise, a conditional logit over each quote's candidates. Each
objective, L2 strength and threshold (for quotes the rules found no speaker for) is scored on the ``tune``
half of ``polnear_dev.jsonl`` (``pipeline.evals.split``), and the best is written to
``pipeline/models/quote_speakers.json``; ``check`` is never read. Beside each tune figure it prints the
same setting fitted on one half of train's articles and scored on the other (both ways, the mean), a
check on a choice made on tune's ~300 quotes.

Parsing is most of the time; ``--cache-dir`` keeps the parsed docs (one DocBin per set of texts, parse
pipeline and model files) so a second run only refits. Training is deterministic: articles are read in
file order and L-BFGS starts from zeros.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import spacy
from scipy.optimize import minimize
from spacy.tokens import Doc, DocBin

from pipeline.evals.facts import (
    _chars,
    _extractor,
    gold_source,
    match_greedy,
    polnear_article,
    polnear_gold,
    quote_overlaps,
    speaker_matches,
)
from pipeline.evals.split import part_of, select
from pipeline.facts.aliases import cluster_mentions
from pipeline.facts.mentions import find_mentions
from pipeline.facts.quotes import LocatedQuote, attribute_quotes, speaker_candidates
from pipeline.facts.speakers import FEATURES, MODEL_FILE, SpeakerRanker, features

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
# The settings tried, each scored on dev tune: objective (see `fit`), L2 strength, and the probability a
# candidate needs to speak a quote the rules found no speaker for.
OBJECTIVES = ("pointwise", "listwise")
L2S = (0.1, 1.0, 10.0, 100.0)
THRESHOLDS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0)


def parse_rows(rows: list[dict], cache: Path | None) -> list[list[Doc]]:
    """Return each row's parsed headline and paragraphs as the stage parses them, from ``cache`` when it
    holds this parse of these texts."""
    extractor = _extractor()
    texts = [extractor.texts(polnear_article(row)[0]) for row in rows]
    key = hashlib.sha1(
        json.dumps([extractor.model, spacy.__version__, extractor.nlp.pipe_names, texts]).encode()
    )
    if extractor.names_model is not None:
        for file in sorted(Path(extractor.names_model).rglob("*")):
            if file.is_file():
                key.update(file.read_bytes())
    path = None if cache is None else cache / f"polnear-docs-{key.hexdigest()[:16]}.spacy"
    if path is not None and path.exists():
        flat = list(DocBin().from_disk(path).get_docs(extractor.nlp.vocab))
    else:
        flat = list(extractor.nlp.pipe((t for ts in texts for t in ts), batch_size=128))
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            DocBin(store_user_data=True, docs=flat).to_disk(path)
    out, i = [], 0
    for ts in texts:
        out.append(flat[i : i + len(ts)])
        i += len(ts)
    return out


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _analyse(docs: list[Doc]) -> tuple[list, list]:
    """The article's mentions and entities, as the stage reads them (no alias memory, as the eval runs)."""
    mentions = [m for part, doc in enumerate(docs) for m in find_mentions(doc, part)]
    return mentions, cluster_mentions(mentions, None)


def _matched_sources(
    row: dict, offsets: list[int], located: list[LocatedQuote]
) -> tuple[dict[int, dict], int]:
    """{attribution: gold source} of the article's predicted attributions that match a gold quote with a
    source, matched as ``copydesk eval quotes`` matches them, and the number of matches (with a source or
    not)."""
    gold = polnear_gold(row)
    gold_chars = [_chars(row["text"], map(tuple, a["content"]["spans"])) for a in gold]
    firsts, _, scores = quote_overlaps(row["text"], offsets, located, gold_chars)
    out = {}
    matches = match_greedy(scores, 0.5)
    for pi, gi in matches.items():
        source = gold_source(gold[gi])
        if source is not None:
            out[firsts[pi].attribution] = source
    return out, len(matches)


@dataclass
class Examples:
    """The candidates of the quotes that match a gold quote: features `x`, labels `y` (1 when the candidate
    names the gold source, the eval's test), `quote` (the index of the candidate's quote), `picked` (the
    rules picked it); per quote, `scored` (the eval reads its speaker: its attribution's first quote) and
    `ruled` (the rules picked a speaker) and `article` (its article's index); `matched` counts each
    article's scored matched quotes, with a gold source or without."""

    x: np.ndarray
    y: np.ndarray
    quote: np.ndarray
    picked: np.ndarray
    scored: np.ndarray
    ruled: np.ndarray
    article: np.ndarray
    matched: np.ndarray

    def subset(self, articles: np.ndarray) -> Examples:
        """The examples of the articles whose index is in `articles`, quotes renumbered from 0."""
        keep_q = np.isin(self.article, articles)
        new_index = np.cumsum(keep_q) - 1
        keep_c = keep_q[self.quote]
        return Examples(
            self.x[keep_c], self.y[keep_c], new_index[self.quote[keep_c]], self.picked[keep_c],
            self.scored[keep_q], self.ruled[keep_q], self.article[keep_q],
            np.where(np.isin(np.arange(len(self.matched)), articles), self.matched, 0),
        )  # fmt: skip


def examples(rows: list[dict], parsed: list[list[Doc]]) -> Examples:
    """Return the candidates of every quote of `rows` that matches a gold quote with a source."""
    xs, ys, quote, picked, scored, ruled, article = [], [], [], [], [], [], []
    matched = []
    for ai, (row, docs) in enumerate(zip(rows, parsed, strict=True)):
        _, offsets = polnear_article(row)
        mentions, clusters = _analyse(docs)
        pairs = speaker_candidates(docs, mentions, clusters)
        sources, n = _matched_sources(row, offsets, [q for q, _ in pairs])
        matched.append(n)
        firsts: set[int] = set()
        for q, candidates in pairs:
            source = sources.get(q.attribution)
            first = q.attribution not in firsts
            firsts.add(q.attribution)
            if source is None:
                continue
            for c in candidates:
                start = offsets[c.part - 1]
                span = (start + c.chars[0], start + c.chars[1])
                xs.append(features(c))
                ys.append(float(speaker_matches(row["text"], span, c.entity_id, source)))
                quote.append(len(scored))
                picked.append(bool(c.rule))
            scored.append(first)
            ruled.append(q.speaker_span is not None)
            article.append(ai)
    return Examples(
        np.array(xs).reshape(-1, len(FEATURES)), np.array(ys), np.array(quote, dtype=int), np.array(picked),
        np.array(scored, dtype=bool), np.array(ruled, dtype=bool), np.array(article, dtype=int), np.array(matched),
    )  # fmt: skip


def accuracy(ex: Examples, weights: np.ndarray | None, bias: float = 0.0, threshold: float = 0.5) -> float:
    """The share of scored matched quotes whose picked candidate is right: the rules' pick for None
    `weights`, else the most probable candidate (none when the rules picked none and it is below
    `threshold`). Equal to what ``copydesk eval quotes`` reports for the same speakers."""
    n_quotes = len(ex.scored)
    right = np.zeros(n_quotes, dtype=bool)
    if weights is None:
        hits = ex.quote[(ex.y > 0) & ex.picked]
        right[hits] = True
    else:
        p = 1.0 / (1.0 + np.exp(-(ex.x @ weights + bias)))
        best = np.full(n_quotes, -1.0)
        label = np.zeros(n_quotes)
        # The first of equals wins, as ``SpeakerRanker.best``: visit candidates in reverse, keep >=.
        for i in range(len(p) - 1, -1, -1):
            q = ex.quote[i]
            if p[i] >= best[q]:
                best[q], label[q] = p[i], ex.y[i]
        right = (label > 0) & (ex.ruled | (best >= threshold))
    matched = int(ex.matched.sum())
    return float(right[ex.scored].sum()) / matched if matched else 0.0


def fit(x: np.ndarray, y: np.ndarray, l2: float, quote: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Return the weights and bias of an L2-regularized logistic regression (the bias not penalized): over
    candidates one by one, or, given each candidate's `quote`, a conditional logit (softmax over a quote's
    candidates, the likelihood of its right ones) with the bias fitted pointwise after it."""

    def pointwise(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:-1], theta[-1]
        z = x @ w + b
        p = 1.0 / (1.0 + np.exp(-z))
        nll = np.sum(np.logaddexp(0.0, z) - y * z)
        grad = np.append(x.T @ (p - y), np.sum(p - y))
        grad[:-1] += l2 * w
        return nll + 0.5 * l2 * float(w @ w), grad

    def listwise(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ w
        n = int(quote.max()) + 1
        zmax = np.full(n, -np.inf)
        np.maximum.at(zmax, quote, z)
        e = np.exp(z - zmax[quote])
        total = np.bincount(quote, weights=e, minlength=n)
        good = np.bincount(quote, weights=e * y, minlength=n)
        ok = good > 0
        nll = -np.sum(np.log(good[ok]) - np.log(total[ok]))
        p_all = e / total[quote]
        p_good = np.where(y > 0, e / np.where(good[quote] > 0, good[quote], 1.0), 0.0)
        mask = ok[quote]
        grad = x[mask].T @ (p_all[mask] - p_good[mask])
        return nll + 0.5 * l2 * float(w @ w), grad + l2 * w

    if quote is None:
        result = minimize(
            pointwise, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B", options={"maxiter": 2000}
        )
        return result.x[:-1], float(result.x[-1])
    w = minimize(listwise, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 2000}).x
    # The threshold for quotes the rules found no speaker for reads a probability: fit the bias for it.
    z = x @ w

    def bias_loss(b: np.ndarray) -> tuple[float, np.ndarray]:
        zb = z + b[0]
        return float(np.sum(np.logaddexp(0.0, zb) - y * zb)), np.array([np.sum(1 / (1 + np.exp(-zb)) - y)])

    b = minimize(bias_loss, np.zeros(1), jac=True, method="L-BFGS-B").x[0]
    return w, float(b)


def speaker_accuracy(
    rows: list[dict], parsed: list[list[Doc]], ranker: SpeakerRanker | None
) -> tuple[int, int]:
    """Return (right, matched) as ``copydesk eval quotes`` counts them, the speakers picked by `ranker`
    (the rules' for None)."""
    right = matched = 0
    for row, docs in zip(rows, parsed, strict=True):
        _, offsets = polnear_article(row)
        mentions, clusters = _analyse(docs)
        located = attribute_quotes(docs, mentions, clusters, ranker)
        gold = polnear_gold(row)
        gold_chars = [_chars(row["text"], map(tuple, a["content"]["spans"])) for a in gold]
        firsts, _, scores = quote_overlaps(row["text"], offsets, located, gold_chars)
        for pi, gi in match_greedy(scores, 0.5).items():
            matched += 1
            source, q = gold_source(gold[gi]), firsts[pi]
            if source is None or q.speaker_span is None:
                continue
            p, s, e = q.speaker_span
            span = (offsets[p] + s, offsets[p] + e)
            right += speaker_matches(row["text"], span, q.quote.speaker_entity_id, source)
    return right, matched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the folder of the PolNeAR files")
    parser.add_argument("--cache-dir", type=Path, default=None, help="keep the parsed docs here")
    parser.add_argument("--out", type=Path, default=MODEL_FILE)
    args = parser.parse_args()

    train_rows = _read(args.data / "polnear_train.jsonl")
    dev_rows = _read(args.data / "polnear_dev.jsonl")
    train_docs = parse_rows(train_rows, args.cache_dir)
    dev_docs = parse_rows(dev_rows, args.cache_dir)
    tune = select(range(len(dev_rows)), lambda i: str(dev_rows[i]["article_id"]), "tune")
    tune_rows, tune_docs = [dev_rows[i] for i in tune], [dev_docs[i] for i in tune]

    train, dev = examples(train_rows, train_docs), examples(tune_rows, tune_docs)
    # A cross-check of the choice on tune's ~300 quotes: two folds of train, by a hash of the article id.
    halves = [
        np.array([i for i, row in enumerate(train_rows) if part_of(str(row["article_id"])) == part])
        for part in ("tune", "check")
    ]
    folds = [(train.subset(halves[k]), train.subset(halves[1 - k])) for k in (0, 1)]
    print(f"train: {len(train.scored)} matched quotes with a source, {len(train.y)} candidates")
    print(f"rules: dev tune {accuracy(dev, None):.4f}, train {accuracy(train, None):.4f}")

    best = None
    for objective in OBJECTIVES:
        for l2 in L2S:
            w, b = _fit(train, l2, objective)
            fold_models = [_fit(fit_on, l2, objective) for fit_on, _ in folds]
            for threshold in THRESHOLDS:
                score = accuracy(dev, w, b, threshold)
                cv = np.mean(
                    [accuracy(on, *m, threshold) for (_, on), m in zip(folds, fold_models, strict=True)]
                )
                print(
                    f"{objective:<9} l2 {l2:<6g} threshold {threshold:<4g} dev tune {score:.4f}  train 2-fold {cv:.4f}"
                )
                # Ties on tune go to the two folds of train.
                if best is None or (score, cv) > best[:2]:
                    best = (score, cv, objective, l2, threshold, w, b)
    assert best is not None
    _, _, objective, l2, threshold, w, b = best
    ranker = SpeakerRanker(w, b, threshold)
    right, matched = speaker_accuracy(tune_rows, tune_docs, ranker)
    model = {
        "about": "Logistic regression over the quote speaker candidates of pipeline.facts.quotes (features: "
        "pipeline.facts.speakers.FEATURES), by python -m pipeline.training.quote_speakers on the PolNeAR train "
        f"split ({len(train.scored)} quotes, {len(train.y)} candidates), {objective}, L2 {l2:g}; objective, "
        "L2 and threshold chosen on polnear_dev tune.",
        "features": list(FEATURES),
        "weights": [round(float(v), 4) for v in w],
        "bias": round(b, 4),
        "threshold": threshold,
    }
    args.out.write_text(json.dumps(model, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {objective}, l2 {l2:g}, threshold {threshold:g}; dev tune {right}/{matched}")
    for name, v in zip(FEATURES, w, strict=True):
        print(f"  {name:<20} {v:+.3f}")


def _fit(ex: Examples, l2: float, objective: str) -> tuple[np.ndarray, float]:
    return fit(ex.x, ex.y, l2, ex.quote if objective == "listwise" else None)


if __name__ == "__main__":
    main()
