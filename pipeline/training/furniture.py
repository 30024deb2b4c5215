"""Train the line classifier that tells page furniture from article text (``pipeline/furniture.py``)::

    python -m pipeline.training.furniture [DATA_DIR] [--labels FILE] [--out FILE]

The labelled lines are ``pipeline/training/furniture_lines.jsonl``: real lines of the pages in the shared
corpora (``gva_dev.jsonl``, ``ecbplus_dev.jsonl`` in DATA_DIR), each named by corpus, article id and line
number with the SHA-1 of its text and a label (furniture, body or byline; bylines are normalize's own
business and are left out). The text is read back from the corpora, so none of it is copied here.

The lines are cut by site (the page's source, else its story), since furniture is a site's own: the
``check`` half holds sites the model never saw. On the ``tune`` half, the regularization and the threshold
are chosen by cross-validation over sites: the threshold is the lowest at which at most ``--max-body-loss``
of body lines would be stripped. The model is refitted on all of ``tune`` and scored once on ``check``:
the share of furniture lines stripped and of body lines wrongly stripped, beside what normalize's patterns
alone strip. Deterministic for a given file; needs scikit-learn (``pip install -e '.[eval]'``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.evals.report import emit_json
from pipeline.evals.split import part_of
from pipeline.furniture import WEIGHTS, FurnitureModel, line_features, line_words
from pipeline.normalize import is_boilerplate
from pipeline.settings import Settings

__all__ = ["LABELS", "LabelledLine", "fit", "main", "read_lines"]

LABELS = Path(__file__).resolve().parent / "furniture_lines.jsonl"
_CORPORA = ("gva_dev", "ecbplus_dev")
# A word must be on this many training lines to get a weight of its own.
_MIN_WORD_LINES = 3


@dataclass(frozen=True)
class LabelledLine:
    site: str
    line: str
    furniture: bool


def _site(row: dict) -> str:
    source = row.get("source")
    if source and source != "None":
        return str(source)
    url = row.get("url")
    if url and url != "None":
        return str(url).split("/")[2] if "//" in str(url) else str(url)
    return f"story:{row.get('story')}"


def read_lines(data: Path, labels: Path = LABELS) -> list[LabelledLine]:
    """The labelled furniture and body lines, read back from the corpora in `data` and checked by SHA-1."""
    wanted: dict[tuple[str, str], list[dict]] = {}
    for text in labels.read_text("utf-8").splitlines():
        if text.strip():
            row = json.loads(text)
            if row["label"] in ("furniture", "body"):
                wanted.setdefault((row["corpus"], row["article_id"]), []).append(row)
    out = []
    for corpus in _CORPORA:
        for text in (data / f"{corpus}.jsonl").read_text("utf-8").splitlines():
            article = json.loads(text)
            rows = wanted.pop((corpus, str(article["id"])), None)
            if rows is None:
                continue
            raw = (article.get("text") or "").split("\n")
            for row in rows:
                line = raw[row["line"]].strip()
                if hashlib.sha1(line.encode("utf-8")).hexdigest() != row["sha1"]:
                    raise ValueError(
                        f"{corpus} {row['article_id']} line {row['line']} is not the labelled text"
                    )
                # Whitespace collapsed, as normalize reads a line.
                out.append(LabelledLine(_site(article), " ".join(line.split()), row["label"] == "furniture"))
    if wanted:
        raise ValueError(f"{len(wanted)} labelled articles are not in the corpora of {data}")
    return out


def _vectors(samples: Sequence[LabelledLine], vocab: dict[str, int], names: list[str]) -> np.ndarray:
    x = np.zeros((len(samples), len(names) + len(vocab)))
    for r, s in enumerate(samples):
        feats = line_features(s.line)
        x[r, : len(names)] = [feats[n] for n in names]
        words = set(line_words(s.line))
        for w in words:
            if w in vocab:
                x[r, len(names) + vocab[w]] = 1.0 / math.sqrt(len(words))
    return x


def _fit(samples: Sequence[LabelledLine], c: float) -> FurnitureModel:
    from sklearn.linear_model import LogisticRegression

    names = sorted(line_features(samples[0].line))
    counts: dict[str, int] = {}
    for s in samples:
        for w in set(line_words(s.line)):
            counts[w] = counts.get(w, 0) + 1
    vocab = {w: i for i, w in enumerate(sorted(w for w, n in counts.items() if n >= _MIN_WORD_LINES))}
    x = _vectors(samples, vocab, names)
    y = np.array([s.furniture for s in samples])
    lr = LogisticRegression(C=c, max_iter=5000).fit(x, y)
    coef = lr.coef_[0]
    return FurnitureModel(
        weights={n: round(float(coef[i]), 6) for i, n in enumerate(names)},
        words={
            w: round(float(coef[len(names) + i]), 6)
            for w, i in vocab.items()
            if abs(coef[len(names) + i]) > 1e-6
        },
        bias=round(float(lr.intercept_[0]), 6),
        threshold=0.5,
    )


def _threshold(probabilities: np.ndarray, furniture: np.ndarray, max_body_loss: float) -> float:
    """The lowest threshold that strips at most `max_body_loss` of the body lines."""
    body = np.sort(probabilities[~furniture])[::-1]
    allowed = math.floor(max_body_loss * len(body))
    return float(min(body[allowed] + 1e-6, 1.0)) if allowed < len(body) else 0.5


def _folds(samples: Sequence[LabelledLine], k: int) -> list[int]:
    return [int(hashlib.sha1(s.site.encode()).hexdigest(), 16) % k for s in samples]


def fit(samples: Sequence[LabelledLine], max_body_loss: float, say=print) -> FurnitureModel:
    """Choose C and the threshold by cross-validation over sites, then refit on all of `samples`."""
    folds = _folds(samples, 5)
    furniture = np.array([s.furniture for s in samples])
    best = None
    for c in (3.0, 10.0, 30.0, 100.0, 300.0):
        probs = np.zeros(len(samples))
        for f in range(5):
            train = [s for s, g in zip(samples, folds, strict=True) if g != f]
            model = _fit(train, c)
            for i, (s, g) in enumerate(zip(samples, folds, strict=True)):
                if g == f:
                    probs[i] = model.probability(s.line)
        t = _threshold(probs, furniture, max_body_loss)
        recall = float(np.mean(probs[furniture] >= t))
        say(f"  C={c:<5} threshold {t:.3f}: furniture stripped {recall:.3f} (cross-validated over sites)")
        if best is None or recall > best[0]:
            best = (recall, c, t)
    _, c, t = best
    model = _fit(samples, c)
    return FurnitureModel(model.weights, model.words, model.bias, round(t, 4))


def _score(samples: Sequence[LabelledLine], strip) -> tuple[float, float]:
    furniture = [strip(s) for s in samples if s.furniture]
    body = [strip(s) for s in samples if not s.furniture]
    return sum(furniture) / max(len(furniture), 1), sum(body) / max(len(body), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "data", type=Path, nargs="?", help="Folder of the corpora (default: COPYDESK_SHARED_DATA)."
    )
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    parser.add_argument("--max-body-loss", type=float, default=0.0, help="Share of body lines it may strip.")
    args = parser.parse_args()
    data = args.data or Settings().shared_data
    if data is None:
        parser.error("give the folder of the corpora, or set COPYDESK_SHARED_DATA")
    samples = read_lines(Path(data), args.labels)
    tune = [s for s in samples if part_of(s.site) == "tune"]
    check = [s for s in samples if part_of(s.site) == "check"]
    print(f"{len(samples)} labelled lines: tune {len(tune)}, check {len(check)} (cut by site)")
    model = fit(tune, args.max_body_loss)
    args.out.write_text(json.dumps(model.to_json(), indent=1, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {args.out} (threshold {model.threshold}, {len(model.words)} words)")

    def patterns(s: LabelledLine) -> bool:
        return is_boilerplate(s.line)

    def both(s: LabelledLine) -> bool:
        return patterns(s) or model.is_furniture(s.line)

    figures = {}
    for name, strip in (("patterns", patterns), ("patterns_and_model", both)):
        stripped, lost = _score(check, strip)
        figures[name] = {"furniture_stripped": round(stripped, 4), "body_stripped": round(lost, 4)}
        print(
            f"check, {name.replace('_', ' ')}: furniture stripped {stripped:.3f}, body lines stripped {lost:.4f}"
        )
    emit_json({"train": "furniture", "tune_lines": len(tune), "check_lines": len(check), "check": figures})


if __name__ == "__main__":
    main()
