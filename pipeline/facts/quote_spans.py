"""Where an article's quotes are: the passages between quote marks, across paragraphs.

`find_quote_spans` scans quote marks across paragraphs: a quote left open at the end of a paragraph
continues into the next one when that one opens with a mark (the news convention for quotes of several
paragraphs). Who said them is ``pipeline.facts.quotes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["QuoteSpan", "find_quote_spans"]

_OPEN_MARKS = "“„«"
_CLOSE_MARKS = "”»"
_STRAIGHT = '"'


@dataclass(frozen=True)
class QuoteSpan:
    """A quote located in paragraphs: one (paragraph, start, end) per paragraph it covers, content
    offsets without the marks; `closed` is False when the last mark was never closed."""

    segments: tuple[tuple[int, int, int], ...]
    text: str
    closed: bool = True


def find_quote_spans(paragraphs: Sequence[str]) -> list[QuoteSpan]:
    """Return the double-quoted passages of `paragraphs` in order. A quote left open at the end of a
    paragraph continues into the next one when that one starts with an opening mark."""
    spans: list[QuoteSpan] = []
    pending: list[tuple[int, int, int]] = []  # segments of a quote open at a paragraph's end
    for pi, para in enumerate(paragraphs):
        start: int | None = None
        i = 0
        stripped = len(para) - len(para.lstrip())
        if pending:
            if stripped < len(para) and para[stripped] in _OPEN_MARKS + _STRAIGHT:
                start = stripped + 1
                i = start
            else:
                spans.append(_quote_from(pending, paragraphs, closed=False))
                pending = []
        while i < len(para):
            ch = para[i]
            if start is None:
                if ch in _OPEN_MARKS or ch == _STRAIGHT:
                    start = i + 1
            elif ch in _CLOSE_MARKS or ch == _STRAIGHT:
                spans.append(_quote_from([*pending, (pi, start, i)], paragraphs, closed=True))
                pending = []
                start = None
            i += 1
        if start is not None:
            pending.append((pi, start, len(para)))
    if pending:
        spans.append(_quote_from(pending, paragraphs, closed=False))
    return [s for s in spans if s.text]


def _quote_from(segments: list[tuple[int, int, int]], paragraphs: Sequence[str], closed: bool) -> QuoteSpan:
    text = " ".join(paragraphs[p][s:e].strip() for p, s, e in segments).strip()
    return QuoteSpan(tuple(segments), text, closed)
