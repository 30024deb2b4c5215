"""Train the stories stage's join and merge decisions: ``python -m pipeline.train_stories [DATA_DIR] [--l2 X]``.

Join: replays each dev corpus as a teacher-forced stream (every article goes into its gold story),
collects the join features of every candidate story the index proposes (label: is it the gold story),
and fits two logistic regressions over the three corpora, each corpus weighted equally (scipy L-BFGS):
one on the pairs of articles with a long body, one on those with a short body (headlines, briefs). Merge:
runs each corpus online with that join model and collects the story pairs the index compares after each
join (label: same majority gold story); a first round without merging, a second merging by the first
round's model, both rounds' pairs fitted together. Writes both as JSON to
pipeline/data/stories_join.json, and prints a train-on-two, test-on-the-third check of the join model.
Entities come from the facts stage through the eval's on-disk cache, as in ``copydesk eval stories``.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from pipeline import stories as st
from pipeline.evals.stories import load_articles, read_rows
from pipeline.settings import DEFAULT_SHARED_DATA, Settings

MODEL = Path(st.__file__).parent / "data" / "stories_join.json"
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
        ts = st._timestamp(article)
        index._advance(ts)
        vectors = index._vectors(article)
        emb = st._embedding(vectors)
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

    def majority(story: st._Story) -> str:
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
        for other, x in index._merge_candidates(story, st._timestamp(article)):
            features.append(x)
            labels.append(1.0 if majority(other) == mine else 0.0)
    return np.array(features).reshape(-1, len(st._FEATURES)), np.array(labels)


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
    short = st._FEATURES.index("short")
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


def _write(path: Path, join: JoinModels, merge: tuple[np.ndarray, float], l2: float) -> None:
    about = ("Logistic regressions over the pair features of pipeline.stories._features. Top level, the join "
             "model: probability that an article belongs to a candidate story, trained on teacher-forced "
             "streams; 'short': the same for articles with a short body (headlines, briefs), trained on "
             "their pairs alone. 'merge': probability that two open stories are one, trained on the story "
             "pairs an online run compares (two rounds: without merging, then merging by the first round's model). "
             "By python -m pipeline.train_stories on ECB+ dev (file order), GVA dev (file order, dates) and "
             f"UCI dev (shuffled seed 1, dates hidden), each corpus weighted equally, L2 {l2:g}; entities "
             "from the facts stage.")  # fmt: skip

    def part(w: np.ndarray, b: float) -> dict:
        return {"weights": [round(float(v), 4) for v in w], "bias": round(float(b), 4)}

    model = {
        "about": about,
        "features": list(st._FEATURES),
        **part(*join[0]),
        "short": part(*join[1]),
        "merge": part(*merge),
    }
    path.write_text(json.dumps(model, indent=2) + "\n", encoding="utf-8")
    st._models.cache_clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_SHARED_DATA)
    parser.add_argument("--l2", type=float, default=1e-6)
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/copydesk-eval-cache"))
    parser.add_argument("--out", type=Path, default=MODEL)
    args = parser.parse_args()
    corpora, sets = {}, {}
    for name, (file, seed, no_dates) in CORPORA.items():
        rows = read_rows(args.data / file)
        if seed is not None:
            random.Random(seed).shuffle(rows)
        articles, _ = load_articles(
            rows,
            no_dates=no_dates,
            entities="facts",
            cache_dir=args.cache_dir,
            max_chars=Settings().facts.text_bound,
        )
        corpora[name] = (articles, rows)
        sets[name] = replay(articles, rows)
        print(f"{name}: {len(sets[name][1])} candidate pairs, {int(sets[name][1].sum())} joins")
    join = fit_join(sets, args.l2)
    # The merge model is trained on what the index does online, so the join model must be in place first.
    _write(args.out, join, join[0], args.l2)
    merges: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {name: [] for name in corpora}
    merge = join[0]
    for round_, threshold in enumerate((1.0, st.StoryIndex().merge_threshold), 1):
        for name, (articles, rows) in corpora.items():
            merges[name].append(merge_replay(articles, rows, threshold))
            _x, y = merges[name][-1]
            print(f"merge round {round_}, {name}: {len(y)} story pairs, {int(y.sum())} of one story")
        stacked = [
            (np.vstack([x for x, _ in parts]), np.concatenate([y for _, y in parts]))
            for parts in merges.values()
        ]
        merge = fit(stacked, args.l2)
        _write(args.out, join, merge, args.l2)
    print(f"wrote {args.out}")
    for held in sets:
        (w_held, _), (w_short, _) = fit_join({n: sets[n] for n in sets if n != held}, args.l2)
        print(f"join model without {held}: weights {np.round(w_held, 2).tolist()}")
        print(f"  short: {np.round(w_short, 2).tolist()}")


if __name__ == "__main__":
    main()
