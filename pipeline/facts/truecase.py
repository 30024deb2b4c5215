"""Headlines in title case or capitals, recased before the parse so the name tagger does not read every
capitalised word as part of a name.

`truecase_headline` lowers a headline's ordinary words, keeping the capitals the body writes; a word absent
from the body is lowered when it is a common English word (`vocabulary`: ``lexicons/common_words.txt``, the
50,000 most frequent alphabetic words of GloVe 6B) other than a day or month
(``lexicons/capitalised_words.txt``).
"""

from __future__ import annotations

import functools
import re

from pipeline import lexicons

__all__ = ["truecase_headline", "vocabulary"]

_HEADLINE_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")
# Common words that English always capitalises.
_CAPITALISED = frozenset(lexicons.words("capitalised_words"))


@functools.lru_cache(maxsize=1)
def vocabulary() -> frozenset[str]:
    """Return the common English words (lower case, the 50,000 most frequent alphabetic words of GloVe 6B)."""
    return frozenset(lexicons.words("common_words"))


def truecase_headline(headline: str, body: str) -> str:
    """Return a headline written in title case or capitals with its ordinary words in lower case.

    The name tagger learned that capitals start names: in "Obama Reverses Bush on Species Protection
    Measure" or "SUSPENDED WORKER KILLS 2" it finds one long name, a person "Obama Reverses Bush".
    A headline is recased when most of its words of four letters or more (after the first) start with a
    capital, or all of its letters are capitals. Then a word keeps its capital when the body writes it so
    (which keeps "Bush" and "NBA"), and is lowered when the body writes it in lower case or, absent from the
    body, when it is a common English word (`vocabulary`) other than a day or month; a
    capitals-only word the body writes capitalised takes that form ("CHARGERS" -> "Chargers"). The first
    word keeps its capital.
    Same length, so character offsets into the headline stay valid; any other headline is returned as is.
    """
    words = list(_HEADLINE_WORD.finditer(headline))
    shouting = len(words) >= 3 and all(c.isupper() for c in headline if c.isalpha())
    long_words = [m.group() for m in words[1:] if len(m.group()) >= 4]
    titled = len(long_words) >= 2 and sum(w[0].isupper() for w in long_words) >= 0.7 * len(long_words)
    if not (shouting or titled):
        return headline
    in_body = {m.group() for m in _HEADLINE_WORD.finditer(body)}
    common = vocabulary()
    out = list(headline)
    for i, m in enumerate(words):
        word = m.group()
        if not word[0].isupper():
            continue
        lower, title = word.lower(), word[:1] + word[1:].lower()
        if word in in_body:
            new = word
        elif (word.isupper() and len(word) > 1 and title in in_body) or lower in _CAPITALISED:
            new = title
        elif lower in in_body or lower in common:
            new = lower
        else:
            new = word if not word.isupper() or len(word) == 1 else title
        if i == 0:
            new = new[:1].upper() + new[1:]
        out[m.start() : m.end()] = new
    return "".join(out)
