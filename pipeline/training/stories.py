"""Train the stories stage's join and merge decisions: ``python -m pipeline.training.stories [DATA_DIR] [--l2 X]``.

Join: replays each dev corpus as a teacher-forced stream (every article goes into its gold story),
collects the join features of every candidate story the index proposes (label: is it the gold story),
and fits two logistic regressions over the three corpora, each corpus weighted equally (scipy L-BFGS):
one on the pairs of articles with a long body, one on those with a short body (headlines, briefs). Merge:
runs each corpus online with that join model and collects the story pairs the index compares after each
join (label: same majority gold story); a first round without merging, a second merging by the first
round's model, both rounds' pairs fitted together. Writes both as JSON to
pipeline/models/stories_join.json, and prints a train-on-two, test-on-the-third check of the join models
(the AUC of the held-out corpus's pairs).

``--topic-split`` trains nothing that ships: it splits every corpus's topics into two halves by a hash,
trains on one half of all three, scores the online tagger on the other half (ECB+ BCubed F1 and UCI
pairwise F1 each the mean of 8 shuffled orders, GVA pairwise F1 in date order), both ways round, and
prints each corpus's mean. The test sets hold new topics of the same corpora, so this is the check for a
new feature or setting: a gain in sample (trained and scored on the same dev set) can be fitting.
Entities come from the facts stage through the eval's on-disk cache, as in ``copydesk eval stories``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from scipy.stats import rankdata

from pipeline import stories as st
from pipeline.evals.stories import Corpus, load_corpus, read_rows, score_run
from pipeline.settings import Settings

MODEL = Path(st.__file__).resolve().parents[1] / "models" / "stories_join.json"
# (corpus file, shuffle seed, hide dates): UCI's crawl times give its labels away, so it is shuffled, dateless.
CORPORA = {"ecbplus": ("ecbplus_dev.jsonl", None, False), "gva": ("gva_dev.jsonl", None, False),
           "uci": ("uci_dev.jsonl", 1, True)}  # fmt: skip


def replay(articles: list, rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Return the features and labels of every (article, candidate story) pair of a teacher-forced stream."""
    index = st.StoryIndex()
    gold_of = {str(row["id"]): str(row["story"]) for row in rows}
    story_of_gold: dict[str, str] = {}
    features, labels = [], []
    for article in articles:
        ts = st.article_time(article)
        index._advance(ts)
        vectors = st.article_vectors(article)
        emb = st.article_embedding(article.headline, article.body)
        gold = gold_of[article.article_id]
        for story, x in index._candidates(vectors, emb, ts):
            features.append(x)
            labels.append(1.0 if story_of_gold.get(gold) == story.story_id else 0.0)
        story = index._stories.get(story_of_gold.get(gold, ""))
        if story is None:
            story = index._new_story(article, ts)
            story_of_gold[gold] = story.story_id
        index._add(story, article, vectors, ts, emb)
    return np.array(features), np.array(labels)


def merge_replay(articles: list, rows: list[dict], merge_threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the features and labels of the story pairs an online run considers for merging.

    The stream is tagged as the stage tags it (join model, and merges by the current merge model when
    ``merge_threshold`` < 1); after each article, its story is compared with the other open stories as
    ``StoryIndex._merge_similar`` does. Label: the two stories' majority gold labels are the same.
    """
    index = st.StoryIndex(merge_threshold=merge_threshold)
    gold_of = {str(row["id"]): str(row["story"]) for row in rows}

    def majority(story: st.Story) -> str:
        counts: dict[str, int] = {}
        for a in story.articles:
            counts[gold_of[a["id"]]] = counts.get(gold_of[a["id"]], 0) + 1
        return min(counts, key=lambda g: (-counts[g], g))

    features, labels = [], []
    for article in articles:
        snapshot = index.tag(article)
        index.drain_closed()
        story = index._stories[snapshot.story_id]
        if len(story.articles) < 2:
            continue
        mine = majority(story)
        for other, x in index._merge_candidates(story, st.article_time(article)):
            features.append(x)
            labels.append(1.0 if majority(other) == mine else 0.0)
    return np.array(features).reshape(-1, len(st.FEATURES)), np.array(labels)


JoinModels = tuple[tuple[np.ndarray, float], tuple[np.ndarray, float]]


def fit(sets: list[tuple[np.ndarray, np.ndarray]], l2: float) -> tuple[np.ndarray, float]:
    """Return logistic-regression weights and bias, each set weighted equally, with an L2 penalty."""
    xs = np.vstack([x for x, _ in sets])
    ys = np.concatenate([y for _, y in sets])
    weight = np.concatenate([np.full(len(y), 1.0 / len(y)) for _, y in sets])
    weight /= weight.sum()
    dims = xs.shape[1]

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = params[:dims], params[dims]
        z = xs @ w + b
        p = 1 / (1 + np.exp(-z))
        value = np.sum(weight * (np.logaddexp(0, z) - ys * z)) + l2 * w @ w
        grad = np.concatenate([xs.T @ (weight * (p - ys)) + 2 * l2 * w, [np.sum(weight * (p - ys))]])
        return value, grad

    result = minimize(loss, np.zeros(dims + 1), jac=True, method="L-BFGS-B")
    return result.x[:dims], float(result.x[dims])


def fit_join(sets: dict[str, tuple[np.ndarray, np.ndarray]], l2: float) -> JoinModels:
    """Return the join models for long and for short articles, each fitted on its own pairs of every corpus
    (a corpus with fewer than 50 such pairs, or no join among them, is left out of that model)."""
    short = st.FEATURES.index("short")
    models = []
    for flag in (0.0, 1.0):
        parts = []
        for x, y in sets.values():
            mask = x[:, short] == flag
            if mask.sum() >= 50 and y[mask].sum() > 0:
                parts.append((x[mask], y[mask]))
        # Without short pairs to learn from (a held-out check), short articles get the long model.
        models.append(fit(parts, l2) if parts else models[0])
    return models[0], models[1]


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Return the area under the ROC curve: the chance that a random positive outscores a random negative."""
    ranks = rankdata(scores)
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    return float((ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def held_out_auc(models: JoinModels, pairs: tuple[np.ndarray, np.ndarray]) -> dict[str, float]:
    """Return the AUC of the join models on a corpus's pairs, for its long and its short articles' pairs."""
    x, y = pairs
    short = x[:, st.FEATURES.index("short")] == 1.0
    out = {}
    for kind, mask, (w, b) in (("long", ~short, models[0]), ("short", short, models[1])):
        if mask.any():
            out[kind] = auc(x[mask] @ w + b, y[mask])
    return out


def _write(path: Path, join: JoinModels, merge: tuple[np.ndarray, float], l2: float) -> None:
    about = ("Logistic regressions over the pair features of pipeline.stories.model.features. Top level, the join "
             "model: probability that an article belongs to a candidate story, trained on teacher-forced "
             "streams; 'short': the same for articles with a short body (headlines, briefs), trained on "
             "their pairs alone. 'merge': probability that two open stories are one, trained on the story "
             "pairs an online run compares (two rounds: without merging, then merging by the first round's model). "
             "By python -m pipeline.training.stories on ECB+ dev (file order), GVA dev (file order, dates) and "
             f"UCI dev (shuffled seed 1, dates hidden), each corpus weighted equally, L2 {l2:g}; entities "
             "from the facts stage.")  # fmt: skip

    def part(w: np.ndarray, b: float) -> dict:
        return {"weights": [round(float(v), 4) for v in w], "bias": round(float(b), 4)}

    model = {
        "about": about,
        "features": list(st.FEATURES),
        **part(*join[0]),
        "short": part(*join[1]),
        "merge": part(*merge),
    }
    path.write_text(json.dumps(model, indent=2) + "\n", encoding="utf-8")
    st.load_models.cache_clear()


Corpora = dict[str, tuple[list, list[dict]]]  # name -> (FactsArticles, rows) in the order streamed


def train(
    corpora: Corpora, l2: float, out: Path, report: bool = True
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Fit the join models, then the merge model in two rounds, and write them to ``out``; return each
    corpus's join pairs (features, labels).

    The stories stage reads ``out`` while the merge rounds run (``pipeline.stories.use_model_file``), so the
    merge pairs come from the join model just fitted, wherever it is written.
    """
    sets = {name: replay(articles, rows) for name, (articles, rows) in corpora.items()}
    if report:
        for name, (_x, y) in sets.items():
            print(f"{name}: {len(y)} candidate pairs, {int(y.sum())} joins")
    join = fit_join(sets, l2)
    # The merge model is trained on what the index does online, so the join model must be in place first.
    st.use_model_file(out)
    _write(out, join, join[0], l2)
    merges: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {name: [] for name in corpora}
    for round_, threshold in enumerate((1.0, st.StoryIndex().merge_threshold), 1):
        for name, (articles, rows) in corpora.items():
            merges[name].append(merge_replay(articles, rows, threshold))
            _x, y = merges[name][-1]
            if report:
                print(f"merge round {round_}, {name}: {len(y)} story pairs, {int(y.sum())} of one story")
        stacked = [
            (np.vstack([x for x, _ in parts]), np.concatenate([y for _, y in parts]))
            for parts in merges.values()
        ]
        _write(out, join, fit(stacked, l2), l2)
    return sets


def topic_half(corpus: str, story: str) -> int:
    """Return the half (0 or 1) a gold story's topic falls in: a stable hash of the topic. ECB+'s two events
    of a topic ("3_ecb", "3_ecbplus") share a half, so the held-out half holds both."""
    topic = story.split("_")[0] if corpus == "ecbplus" else story
    return int(hashlib.sha1(topic.encode()).hexdigest(), 16) % 2


def _load(data: Path, cache_dir: Path) -> dict[str, Corpus]:
    """Return every corpus of ``CORPORA`` loaded once (facts from the eval's cache), in file order."""
    return {
        name: load_corpus(
            read_rows(data / file),
            no_dates=no_dates,
            entities="facts",
            cache_dir=cache_dir,
            max_chars=Settings().facts.tagging_bound,
        )
        for name, (file, _seed, no_dates) in CORPORA.items()
    }


def _stream(
    name: str, corpus: Corpus, half: int | None = None, seed: int | None = None
) -> tuple[list, list[dict]]:
    """Return a corpus's FactsArticles and rows as streamed: in training order (``CORPORA``) or, with a
    ``seed``, shuffled by it; with a ``half``, only that half of its topics (``topic_half``)."""
    keep = None if half is None else (lambda row: topic_half(name, str(row["story"])) == half)
    rows, articles = corpus.ordered(seed if seed is not None else CORPORA[name][1], keep)
    return articles, rows


# How each corpus is scored in the topic-split check (its headline figure), over 8 orders where order is free.
_SPLIT_SCORES = {
    "ecbplus": ("bcubed", range(1, 9)),
    "gva": ("pairwise", [None]),
    "uci": ("pairwise", range(1, 9)),
}


@contextlib.contextmanager
def shipped_model_after() -> Iterator[None]:
    """Point the stories stage back at the shipped model when the block ends, however it ends (around
    training runs that write their model elsewhere)."""
    try:
        yield
    finally:
        st.use_model_file(MODEL)


def topic_split_check(data: Path, cache_dir: Path, l2: float) -> dict[str, float]:
    """Train on each half of every corpus's topics and score the other half; return each corpus's F1, the
    mean of the two halves. Story tagging meets new topics of these corpora in their test sets, so this is
    the check for a new feature or setting; the shipped model is not touched."""
    loaded = _load(data, cache_dir)
    halves: dict[str, list[float]] = {name: [] for name in CORPORA}
    with tempfile.TemporaryDirectory() as tmp, shipped_model_after():
        for held in (0, 1):
            corpora = {name: _stream(name, corpus, half=1 - held) for name, corpus in loaded.items()}
            train(corpora, l2, Path(tmp) / f"half{1 - held}.json", report=False)
            for name, (metric, seeds) in _SPLIT_SCORES.items():
                f1s = []
                for seed in seeds:
                    articles, rows = _stream(name, loaded[name], half=held, seed=seed)
                    f1s.append(getattr(score_run(rows, articles)[0], metric)[2])
                halves[name].append(sum(f1s) / len(f1s))
                print(f"trained on half {1 - held}, {name} half {held}: {metric} F1 {halves[name][-1]:.4f}")
    return {name: round(sum(v) / 2, 4) for name, v in halves.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "data", nargs="?", type=Path, help="Folder of the story corpora (default: COPYDESK_SHARED_DATA)."
    )
    parser.add_argument("--l2", type=float, default=1e-6)
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "copydesk-eval-cache")
    parser.add_argument("--out", type=Path, default=MODEL)
    parser.add_argument(
        "--topic-split",
        action="store_true",
        help="Do not train the shipped model: train on half of each corpus's topics, score the other half, "
        "both ways, and print the means (last line: JSON).",
    )
    args = parser.parse_args()
    args.data = args.data or Settings().shared_data
    if args.data is None:
        parser.error(
            "pass the folder of ecbplus_dev.jsonl, gva_dev.jsonl and uci_dev.jsonl, or set COPYDESK_SHARED_DATA"
        )
    if args.topic_split:
        means = topic_split_check(args.data, args.cache_dir, args.l2)
        print(json.dumps(means, sort_keys=True))
        return
    corpora = {name: _stream(name, corpus) for name, corpus in _load(args.data, args.cache_dir).items()}
    sets = train(corpora, args.l2, args.out)
    print(f"wrote {args.out}")
    for held in sets:
        models = fit_join({n: sets[n] for n in sets if n != held}, args.l2)
        aucs = ", ".join(f"{kind} {auc:.3f}" for kind, auc in held_out_auc(models, sets[held]).items())
        print(f"join model trained without {held}, its pairs' AUC: {aucs}")


if __name__ == "__main__":
    main()
