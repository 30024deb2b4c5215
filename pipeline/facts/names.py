"""Names as the facts stage reports them: the canonical name of a mention and the entity id it gives.

`canonical_name` is article-independent: no leading "the" or possessive, undotted acronyms ("C.B.P." ->
"CBP"), people without their titles ("Secretary of State", "Mr.": ``lexicons/titles.txt``) and middle
initials, and places and well-known organisations written many ways under one name ("U.S." -> "United
States": ``lexicons/name_aliases.json``). `entity_id` is the entity's kind and its canonical name folded by
``pipeline.text.name_key``, so it is equal across articles. The title lists are read here and by
``pipeline.facts.mentions``, which finds names after titles.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pipeline import lexicons
from pipeline.text import name_key

__all__ = [
    "ENTITY_LABELS",
    "MAX_TITLE_WORDS",
    "TITLES",
    "TITLE_MODIFIERS",
    "TITLE_WORDS",
    "canonical_name",
    "clean_mention",
    "entity_id",
    "entity_kind",
    "undot",
]

ENTITY_LABELS = frozenset(
    {"PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE"}
)
# The id keeps people apart from places and organisations but not GPE from LOC, which the
# model swaps freely ("Latin America", "the Western Hemisphere").
_KIND = {"PERSON": "person", "ORG": "org", "GPE": "place", "LOC": "place", "FAC": "facility", "NORP": "group"}

# Titles and honorifics stripped from the front of names, longest first when matched (folded by name_key).
TITLES = frozenset(lexicons.words("titles"))
MAX_TITLE_WORDS = max(len(t.split()) for t in TITLES)
TITLE_MODIFIERS = frozenset(lexicons.words("title_modifiers"))
TITLE_WORDS = frozenset(w for t in TITLES for w in t.split())

# Folded alias -> canonical, by kind ("place", "org"), for places and well-known organisations written many ways.
_ALIASES: dict[str, dict[str, str]] = lexicons.table("name_aliases")["aliases"]


def entity_kind(label: str) -> str:
    """Return the kind of entity a label names, the first part of its id ("GPE" and "LOC" -> "place"; a label
    without a kind of its own -> the label in lower case)."""
    return _KIND.get(label, label.lower())


def clean_mention(text: str) -> str:
    """Return a mention's text with its spaces and apostrophes made plain, without a leading "the", a
    possessive or trailing punctuation ("the U.S.’s" -> "U.S.")."""
    text = " ".join(text.replace("\u2019", "'").replace("\u2018", "'").split())
    text = re.sub(r"^(?:the|The|THE)\s+", "", text)
    text = re.sub(r"(?:'s|')$", "", text).strip(" ,;:-\u2013\u2014")
    return text


def _strip_title(words: list[str]) -> list[str]:
    """Drop leading titles ("Secretary of State", "Mr.", "former President") from name words."""
    changed = True
    while changed and len(words) > 1:
        changed = False
        for n in range(min(MAX_TITLE_WORDS, len(words) - 1), 0, -1):
            if name_key(" ".join(words[:n])) in TITLES:
                words = words[n:]
                changed = True
                break
    return words


def undot(word: str) -> str:
    """ "C.B.P." -> "CBP", "U.S." -> "US"; anything else unchanged."""
    return word.replace(".", "") if re.fullmatch(r"(?:[A-Za-z]\.){2,}", word) else word


@lru_cache(maxsize=65536)
def canonical_name(text: str, label: str) -> str:
    """Return the article-independent name of a mention: no leading "the", no possessive, no
    titles or middle initials for people, undotted acronyms, and country/org aliases applied
    ("U.S." -> "United States", "Mr. Antony J. Blinken's" -> "Antony Blinken")."""
    words = [undot(w) for w in clean_mention(text).split()]
    if not words:
        return text.strip()
    kind = entity_kind(label)
    if label == "PERSON":
        words = _strip_title(words)
        if len(words) > 2:
            words = [words[0]] + [w for w in words[1:-1] if not re.fullmatch(r"[A-Z]\.?", w)] + [words[-1]]
    name = " ".join(words)
    alias = _ALIASES.get(kind, {}).get(name_key(name))
    return alias or name


def entity_id(canonical: str, label: str) -> str:
    """Return the stable id of an entity: its kind and the folded canonical name
    (``entity_id("Andrés Manuel López Obrador", "PERSON") == "person:andres-manuel-lopez-obrador"``)."""
    kind = entity_kind(label)
    return f"{kind}:{name_key(canonical).replace(' ', '-')}"
