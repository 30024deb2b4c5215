"""The tune/check cut of a development file: look at errors and adjust on ``tune``; only score ``check``.

Each record goes to one part by a hash of its key (a document, article, sentence, pair or story id), so the
cut is the same on every machine and in every run, and a record never changes part when the file grows or
is reordered. Records that must not be split across parts share a key: the sentences of one CoNLL document,
the articles of one story.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import TypeVar

import click

__all__ = ["PARTS", "part_of", "select", "split_option"]

PARTS = ("tune", "check")
T = TypeVar("T")


def part_of(key: str) -> str:
    """Return the part (``"tune"`` or ``"check"``) of the record with this key: half the keys each."""
    return PARTS[hashlib.sha1(key.encode("utf-8")).digest()[0] & 1]


def select(records: Iterable[T], key: Callable[[T], str], split: str | None) -> list[T]:
    """Return the records of part ``split`` in their order (all of them when ``split`` is None); raise
    ValueError on a part that is not one of ``PARTS``."""
    if split is None:
        return list(records)
    if split not in PARTS:
        raise ValueError(f"split {split!r} is not one of {PARTS}")
    return [record for record in records if part_of(key(record)) == split]


split_option = click.option(
    "--split",
    type=click.Choice(PARTS),
    default=None,
    help="Score only this part of the file, cut by a hash of each record's id (tune: look at errors and "
    "adjust; check: only score). Default: the whole file.",
)
