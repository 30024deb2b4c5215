"""``copydesk eval paraphrase``: score one of the dedupe stage's sentence-pair models on MSRP-layout pairs:
the lexical logistic regression (pipeline.dedupe.paraphrase) or the cross-encoder
(pipeline.dedupe.cross_encoder), the same pairs, the same figures."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from pipeline.evals.report import Counts, emit_json
from pipeline.evals.split import select, split_option

__all__ = ["paraphrase"]


MODELS = ("lexical", "cross-encoder")


def _lexical(pairs: list[tuple[str, str]]) -> tuple[list[bool], float, dict[str, float]]:
    from pipeline.dedupe.paraphrase import ParaphraseModel

    model = ParaphraseModel.load()
    started = time.perf_counter()
    predicted = [model.is_paraphrase(a, b) for a, b in pairs]
    seconds = time.perf_counter() - started
    return predicted, model.threshold, {"1": len(pairs) / seconds if seconds else 0.0}


def _cross_encoder(
    pairs: list[tuple[str, str]], directory: Path | None, threads: tuple[int, ...]
) -> tuple[list[bool], float, dict[str, float]]:
    from pipeline.dedupe.cross_encoder import MODEL_DIR, CrossEncoder

    predicted: list[bool] = []
    threshold, speed = 0.0, {}
    for count in threads:
        model = CrossEncoder(directory or MODEL_DIR, threads=count)
        started = time.perf_counter()
        p = model.probabilities(pairs)
        seconds = time.perf_counter() - started
        speed[str(count)] = len(pairs) / seconds if seconds else 0.0
        if not predicted:
            predicted, threshold = [bool(x >= model.threshold) for x in p], model.threshold
    return predicted, threshold, speed


@click.command("paraphrase")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--limit", default=0, help="Score only the first N pairs (0: all).")
@click.option(
    "--model",
    "model_name",
    type=click.Choice(MODELS),
    default="lexical",
    help="lexical: the logistic regression over overlap features; cross-encoder: the fine-tuned MiniLM.",
)
@click.option(
    "--model-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="cross-encoder: a directory with model.onnx, tokenizer.json and meta.json (default: the shipped one).",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    multiple=True,
    default=(1,),
    show_default=True,
    help="cross-encoder: onnxruntime intra-op threads; repeat to time each (predictions from the first). "
    "The lexical model is pure Python on one thread.",
)
@split_option
def paraphrase(
    file: Path,
    limit: int,
    model_name: str,
    model_dir: Path | None,
    threads: tuple[int, ...],
    split: str | None,
) -> None:
    """Score a sentence-pair paraphrase model on an MSRP-layout JSONL file (label 1 = paraphrase)."""
    rows = [json.loads(line) for line in file.read_text("utf-8").splitlines() if line.strip()]
    rows = select(rows, lambda row: str(row["pair_index"]), split)
    rows = rows[:limit] if limit else rows
    pairs = [(row["text1"], row["text2"]) for row in rows]
    if model_name == "lexical":
        predicted, threshold, speed = _lexical(pairs)
    else:
        predicted, threshold, speed = _cross_encoder(pairs, model_dir, threads)
    positive, negative = Counts(), Counts()
    for row, guess in zip(rows, predicted, strict=True):
        gold = bool(row["label"])
        if gold and guess:
            positive.tp += 1
        elif gold:
            positive.fn += 1
            negative.fp += 1
        elif guess:
            positive.fp += 1
            negative.fn += 1
        else:
            negative.tp += 1
    accuracy = (positive.tp + negative.tp) / len(rows) if rows else 0.0
    rates = ", ".join(
        f"{rate:,.0f} pairs/s on {count} thread{'s' * (count != '1')}" for count, rate in speed.items()
    )
    click.echo(f"{len(rows)} pairs from {file.name}; {model_name} model, threshold {threshold:.3f}")
    click.echo(positive.line("paraphrase (1)"))
    click.echo(negative.line("not paraphrase (0)"))
    click.echo(f"accuracy {accuracy:.1%}  F1 {positive.f1:.1%}  ({rates})")
    emit_json(
        {
            "model": model_name,
            "threshold": threshold,
            "accuracy": accuracy,
            "f1": positive.f1,
            "precision": {"1": positive.precision, "0": negative.precision},
            "recall": {"1": positive.recall, "0": negative.recall},
            "pairs": len(rows),
            "pairs_per_second": next(iter(speed.values())),
            "pairs_per_second_by_threads": speed,
        }
    )
