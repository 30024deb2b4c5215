"""Furniture learned from the stream: lines that recur verbatim across articles that are not copies.

A syndicator's notice or a site's widget line is the same line under every article it carries, while a
sentence of a story recurs only in that story's copies. So a line that the furniture model finds suspect
(``pipeline.furniture``, below its own stripping threshold) and that the window holds under at least
``MIN_FAMILIES`` families (an original with all its copies counts once) is furniture, and dedupe strips it
before it fingerprints the article. The window's articles carry their lines' keys, so what is learned
lives in the dedupe table, is restored with it and is forgotten with the articles that taught it: for a
given input order, the same lines are stripped.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence

from pipeline.furniture import furniture_model

__all__ = ["MIN_FAMILIES", "SUSPECT", "RecurringLines", "line_key"]

# A line the model gives at least this chance of being furniture is worth counting. Among the labelled lines
# of the `tune` sites that recur under three stories or more and that the model leaves (its threshold is
# far higher), one body line has a chance of 0.3 or more and none 0.5 or more; 0.6 keeps a step of margin
# (``pipeline/training/furniture_lines.jsonl``).
SUSPECT = 0.6
# Families (unrelated articles) that must hold a suspect line before it is stripped.
MIN_FAMILIES = 3

_DIGITS = re.compile(r"\d+")


def line_key(line: str) -> str:
    """A line's key: its words, lowercased, with numbers as one ("© 2016 KHOU" and "© 2017 KHOU" are one)."""
    text = _DIGITS.sub("0", " ".join(line.lower().split()))
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


class RecurringLines:
    """The suspect lines of the window's articles, counted by family."""

    def __init__(self) -> None:
        self._families: dict[str, Counter[str]] = {}

    def read(self, paragraphs: Sequence[str]) -> tuple[tuple[str, ...], tuple[int, ...]]:
        """(the keys of an article's suspect paragraphs, which it teaches; the paragraphs that are furniture
        the window taught). A paragraph is stripped when it is suspect and held under ``MIN_FAMILIES``
        families, unless that would leave no paragraph. What normalize already took off is not counted: it
        goes from every article alike."""
        model = furniture_model()
        suspect = [(i, line_key(p)) for i, p in enumerate(paragraphs) if model.probability(p) >= SUSPECT]
        keys = tuple(dict.fromkeys(key for _, key in suspect))
        stripped = tuple(i for i, key in suspect if len(self._families.get(key, ())) >= MIN_FAMILIES)
        return keys, stripped if len(stripped) < len(paragraphs) else ()

    def add(self, family: str, keys: Iterable[str]) -> None:
        for key in keys:
            self._families.setdefault(key, Counter())[family] += 1

    def remove(self, family: str, keys: Iterable[str]) -> None:
        for key in keys:
            counts = self._families.get(key)
            if counts is None:
                continue
            counts[family] -= 1
            if counts[family] <= 0:
                del counts[family]
            if not counts:
                del self._families[key]

    def __len__(self) -> int:
        return len(self._families)
