"""Small text helpers shared by the cores: sentence splitting, accent folding, name keys, content words."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from spacy.lang.en.stop_words import STOP_WORDS

from pipeline import lexicons

__all__ = ["content_words", "fold", "name_key", "split_sentences", "words"]

# A sentence ends at . ! ? (maybe closed by a quote or bracket) followed by space and a capital, digit or
# opening quote, unless the dot closes an initial ("J."), a title ("Mr.", "Gov.") or a dotted acronym ("U.S.").
_ABBREVIATIONS = frozenset(lexicons.words("abbreviations"))
_CANDIDATE_END = re.compile(r"[.!?][\"”’')\]]*\s+(?=[\"“‘(\[A-Z0-9])")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)


def split_sentences(text: str) -> list[str]:
    """Return the sentences of a paragraph, in order, stripped; abbreviations and initials do not split."""
    sentences: list[str] = []
    start = 0
    for match in _CANDIDATE_END.finditer(text):
        end = match.start() + 1
        if text[match.start()] == ".":
            token = text[start:end].rsplit(None, 1)[-1].rstrip(".").lstrip('"“‘([').lower()
            if len(token) == 1 or token in _ABBREVIATIONS or "." in token:
                continue
        sentence = text[start : match.end()].strip()
        if sentence:
            sentences.append(sentence)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


@lru_cache(maxsize=65536)
def fold(word: str) -> str:
    """Return the word lowercased, with accents removed ("López" -> "lopez") and curly apostrophes straight."""
    decomposed = unicodedata.normalize("NFKD", word.lower().replace("’", "'"))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


@lru_cache(maxsize=65536)
def name_key(text: str) -> str:
    """Return a name or phrase as a lookup key: lowercased, accents stripped, every run of other characters than
    ASCII letters and digits one space, trimmed ("López's" -> "lopez s", "U.S." -> "u s").

    Unlike ``fold``, which keeps a word's characters (its apostrophe, its non-ASCII letters) and is read one word
    at a time, ``name_key`` is read on whole names: the facts stage keys titles, aliases, entity ids and the alias
    memory by it, so "U.S.", "U S" and "u.s" are one key.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_text = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^0-9a-z]+", " ", ascii_text.lower()).split())


def words(text: str) -> list[str]:
    """Return the folded word tokens of a text."""
    return [fold(token) for token in _WORD.findall(text)]


def content_words(text: str) -> list[str]:
    """Return the folded tokens that are not stop words, with a light plural strip ("migrants" -> "migrant")."""
    out = []
    for token in words(text):
        if token in STOP_WORDS or len(token) < 2:
            continue
        if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
            token = token[:-1]
        out.append(token)
    return out
