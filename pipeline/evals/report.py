"""Shared pieces of the evals: precision/recall/F1 and the report's closing JSON line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import click

__all__ = ["Counts", "emit_json"]


@dataclass
class Counts:
    """True positives, false positives and false negatives, with the scores they give."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def add(self, other: Counts) -> None:
        self.tp, self.fp, self.fn = self.tp + other.tp, self.fp + other.fp, self.fn + other.fn

    def line(self, name: str) -> str:
        """Return one readable report row: name, P, R, F1 and the counts."""
        return (
            f"{name:<24} P {self.precision * 100:5.1f}  R {self.recall * 100:5.1f}  F1 {self.f1 * 100:5.1f}"
            f"   (tp {self.tp}, fp {self.fp}, fn {self.fn})"
        )


def emit_json(figures: dict[str, Any]) -> None:
    """Print the figures as the report's last line: one JSON object, floats rounded to 4 places."""

    def rounded(value: Any) -> Any:
        if isinstance(value, float):
            return round(value, 4)
        if isinstance(value, dict):
            return {key: rounded(item) for key, item in value.items()}
        if isinstance(value, list):
            return [rounded(item) for item in value]
        return value

    click.echo(json.dumps(rounded(figures), sort_keys=True))
