"""Entity mentions: the names the NER tags in one doc, with its usual errors repaired.

`find_mentions` takes the tagged names of `ENTITY_LABELS` and extends a person's name over neighbouring name
tokens ("Secretary of State Antony J. Blinken" is tagged "State" + "J. Blinken"; "Andrés Manuel López" +
"Obrador" untagged), joins an organisation split at "and"/"of" ("US Customs" + "and Border Protection"),
relabels a person span ending in an organisation's word (``lexicons/org_heads.txt``) and a name after a title
("Mr López Obrador" tagged ORG), adds the untagged names after a title and the long forms a bracketed acronym
defines ("... Border Protection (CBP)"), and drops title fragments and spans without letters. The mentions
are merged into entities by ``pipeline.facts.aliases``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from spacy.tokens import Doc, Token

from pipeline import lexicons
from pipeline.facts.names import (
    ENTITY_LABELS,
    MAX_TITLE_WORDS,
    TITLE_MODIFIERS,
    TITLE_WORDS,
    TITLES,
    clean_mention,
    undot,
)
from pipeline.text import name_key

__all__ = ["Mention", "acronym_letters", "find_mentions"]

# Last words that make a "PERSON" span an organisation ("Border Patrol"), folded by name_key.
_ORG_HEADS = frozenset(lexicons.words("org_heads"))


@dataclass
class Mention:
    """One entity mention: tokens ``start:end`` of doc ``part`` of the article, its label, its cleaned text
    and the index of the entity (``pipeline.facts.aliases.Cluster``) it is merged into, once it is."""

    part: int  # 0 is the headline, 1.. the paragraphs
    start: int
    end: int
    label: str
    text: str
    cluster: int = -1


def _is_name_token(tok: Token) -> bool:
    text = tok.text
    if re.fullmatch(r"[A-Z]\.", text):  # middle initial
        return True
    return (
        tok.pos_ == "PROPN"
        and text[:1].isupper()
        and any(c.isalpha() for c in text)
        and name_key(text) not in TITLES
        and tok.lower_ not in ("'s", "\u2019s")
    )


def find_mentions(doc: Doc, part: int) -> list[Mention]:
    """Return the named-entity mentions of `doc`, with the small model's usual errors repaired."""
    ents = [e for e in doc.ents if e.label_ in ENTITY_LABELS]
    taken = {i for e in doc.ents for i in range(e.start, e.end)}
    spans: list[list] = []  # [start, end, label]
    for e in ents:
        start, end, label = e.start, e.end, e.label_
        if doc[start].text == "the":  # CoNLL keeps a capitalised "The" ("The Hague"); ids drop it anyway
            start += 1
        if label == "PERSON":
            # "Secretary of State Antony J. Blinken" is tagged "State" + "J. Blinken".
            tagged_start = start
            while (
                start > 0
                and doc[start - 1].i not in taken
                and _is_name_token(doc[start - 1])
                # "Coach Berti Vogts", "CEO Stephen Frater": a capitalised role opening the sentence
                and not doc[start - 1].is_sent_start
                and not doc[start - 1].text.isupper()
                and "-" not in doc[start - 1].text
            ):
                start -= 1
            if (
                start < tagged_start
                and start > 0
                and doc[start - 1].lower_ in ("of", "for", "and", "'s", "\u2019s")
            ):
                start = tagged_start  # "Secretary of Foreign Affairs Alicia Barcena"
            # "Andrés Manuel López" + "Obrador" untagged.
            while end < len(doc) and end not in taken and _is_name_token(doc[end]):
                end += 1
            if name_key(doc[end - 1].text) in _ORG_HEADS:
                label = "ORG"
        elif start > 0 and _preceded_by_title(doc, start) and all(_is_name_token(t) for t in doc[start:end]):
            label = "PERSON"  # "Mr López Obrador" tagged ORG
        if label == "ORG":
            # "US Customs" + "and Border Protection" untagged (or tagged PERSON, "Border Patrol").
            j = end
            if j + 1 < len(doc) and doc[j].lower_ in ("and", "of", "for", "&"):
                k = j + 1
                while (
                    k < len(doc)
                    and doc[k].text[:1].isupper()
                    and doc[k].is_alpha
                    and (k not in taken or doc[k].ent_type_ == "PERSON")
                ):
                    k += 1
                if k > j + 1 and (
                    name_key(doc[k - 1].text) in _ORG_HEADS or all(t not in taken for t in range(j, k))
                ):
                    end = k
        if start >= end or not any(c.isalpha() for c in doc[start:end].text):
            continue
        spans.append([start, end, label])
    spans.extend(_titled_names(doc, spans))
    spans.extend(_defined_acronyms(doc, spans))
    spans = _non_overlapping(spans)
    out = []
    for start, end, label in spans:
        text = clean_mention(doc[start:end].text)
        if (
            not text[:1].isalnum()
            or not re.search(r"[^\W\d_]{2}", text.replace(".", ""))
            or name_key(text) in TITLES
            or _is_title_fragment(doc, start, end)
        ):
            continue
        out.append(Mention(part, start, end, label, text))
    return out


def _preceded_by_title(doc: Doc, start: int) -> bool:
    """True when a title ends right before `start`: "Mr", "President", "Gov." (capitalised, since
    "miss", "major" and "general" are words too; "Former" and "Acting" only qualify a title)."""
    prev = doc[start - 1] if start > 0 else None
    if prev is None or name_key(prev.text) not in TITLE_WORDS or not prev.text[:1].isupper():
        return False
    if name_key(prev.text) in TITLE_MODIFIERS:
        return False
    for n in range(1, MAX_TITLE_WORDS + 1):
        if start - n >= 0 and name_key(doc[start - n : start].text) in TITLES:
            return True
    return False


def _is_title_fragment(doc: Doc, start: int, end: int) -> bool:
    """True for the "State" of "Secretary of State" and similar pieces of a title."""
    if end - start > MAX_TITLE_WORDS or any(name_key(t.text) not in TITLE_WORDS for t in doc[start:end]):
        return False
    for lo in range(max(0, start - MAX_TITLE_WORDS), start + 1):
        for hi in range(end, min(len(doc), end + MAX_TITLE_WORDS) + 1):
            if (lo, hi) != (start, end) and name_key(doc[lo:hi].text) in TITLES:
                return True
    return False


def _titled_names(doc: Doc, spans: list[list]) -> list[list]:
    """PERSON spans for untagged names after a title ("Mr. Lopez Obrador")."""
    covered = {i for s, e, _ in spans for i in range(s, e)}
    out = []
    i = 0
    while i < len(doc):
        if (
            i not in covered
            and _is_name_token(doc[i])
            and _preceded_by_title(doc, i)
            and not re.fullmatch(r"[A-Z]\.", doc[i].text)
        ):
            j = i
            while j < len(doc) and j not in covered and _is_name_token(doc[j]):
                j += 1
            out.append([i, j, "PERSON"])
            i = j
        else:
            i += 1
    return out


def acronym_letters(words: Iterable[str]) -> str:
    """Return the initials of the capitalised words, but "and", "of", "the" and "for" ("Customs and Border
    Protection" -> "CBP")."""
    return "".join(
        w[0].upper() for w in words if w[:1].isupper() and name_key(w) not in ("and", "of", "the", "for")
    )


def _defined_acronyms(doc: Doc, spans: list[list]) -> list[list]:
    """ORG spans for long forms defined by a bracketed acronym: "US Customs and Border Protection [CBP]"."""
    out = []
    for tok in doc:
        if tok.text not in ("(", "[") or tok.i + 2 >= len(doc) or doc[tok.i + 2].text not in (")", "]"):
            continue
        acro = undot(doc[tok.i + 1].text)
        if not re.fullmatch(r"[A-Z]{2,8}", acro):
            continue
        # Walk left until the capitalised words' initials spell the acronym.
        letters = ""
        start = tok.i
        while start > 0 and len(letters) < len(acro):
            prev = doc[start - 1]
            if prev.text[:1].isupper() and prev.is_alpha:
                letters = prev.text[0] + letters
            elif prev.lower_ not in ("and", "of", "the", "for", "&"):
                break
            start -= 1
        if letters != acro:
            continue
        for s, _e, label in spans:  # take in "US" from a tagged "US Customs"
            if s < start <= _e and label == "ORG":
                start = s
        out.append([start, tok.i, "ORG"])
    return out


def _non_overlapping(spans: list[list]) -> list[list]:
    """Keep the longest of overlapping spans, in text order."""
    chosen: list[list] = []
    for s in sorted(spans, key=lambda x: (-(x[1] - x[0]), x[0])):
        if all(s[1] <= c[0] or s[0] >= c[1] for c in chosen):
            chosen.append(s)
    return sorted(chosen)
