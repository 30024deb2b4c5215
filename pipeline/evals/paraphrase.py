"""``copydesk eval paraphrase``: score the dedupe stage's sentence-pair model (pipeline.dedupe.paraphrase) on
MSRP-layout pairs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from pipeline.evals.report import Counts, emit_json
from pipeline.evals.split import select, split_option

__all__ = ["paraphrase"]


@click.command("paraphrase")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--limit", default=0, help="Score only the first N pairs (0: all).")
@split_option
def paraphrase(file: Path, limit: int, split: str | None) -> None:
    """Score the sentence-pair paraphrase model on an MSRP-layout JSONL file (label 1 = paraphrase)."""
    from pipeline.dedupe.paraphrase import ParaphraseModel

    rows = [json.loads(line) for line in file.read_text("utf-8").splitlines() if line.strip()]
    rows = select(rows, lambda row: str(row["pair_index"]), split)
    rows = rows[:limit] if limit else rows
    model = ParaphraseModel.load()
    started = time.perf_counter()
    predicted = [model.is_paraphrase(row["text1"], row["text2"]) for row in rows]
    seconds = time.perf_counter() - started
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
    click.echo(f"{len(rows)} pairs from {file.name}; model threshold {model.threshold:.3f}")
    click.echo(positive.line("paraphrase (1)"))
    click.echo(negative.line("not paraphrase (0)"))
    click.echo(f"accuracy {accuracy:.1%}  F1 {positive.f1:.1%}  ({len(rows) / seconds:,.0f} pairs/s)")
    emit_json(
        {
            "accuracy": accuracy,
            "f1": positive.f1,
            "precision": {"1": positive.precision, "0": negative.precision},
            "recall": {"1": positive.recall, "0": negative.recall},
            "pairs": len(rows),
            "pairs_per_second": len(rows) / seconds if seconds else 0.0,
        }
    )
