"""Names an article repeats: one type per name, and every occurrence of it a mention.

A tagger reads one paragraph at a time, so a name it tags in the lead can go untagged, or get another type,
in a headline in capitals, a table row or a later paragraph where its context is thin. Within one article a
name almost always means one thing, which is the document-level consistency that named-entity taggers have
long used (Krishnan and Manning 2006, "An effective two-stage model for exploiting non-local dependencies in
named entity recognition"). `agree` applies it to the mentions of one article's docs:

- **one type per name**: the mentions of one name (by ``name_key``) take the type most of them carry;
- **every occurrence**: an untagged run of tokens that spells a name tagged elsewhere in the article (the
  same words, or the same words in capitals) becomes a mention of that name, unless it is part of a longer
  capitalised run, which would make it a piece of another name;
- **a person's surname**: a lone name that is the last word of a person named in full elsewhere in the
  article is that person.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from spacy.tokens import Doc

from pipeline.facts.mentions import Mention
from pipeline.text import name_key

__all__ = ["agree"]

# A lone word shorter than this is too often an initial, a unit or a ticker to be tagged from elsewhere.
_MIN_LONE_CHARS = 3


def agree(docs: Sequence[Doc], mentions: list[Mention]) -> list[Mention]:
    """Return `mentions` of the article whose parsed parts are `docs` (``Mention.part`` indexes them), with
    one type per name and the untagged occurrences of its names added, ordered by part and position."""
    if not mentions:
        return mentions
    surnames = _surnames(mentions)
    for m in mentions:
        if name_key(m.text) in surnames:
            m.label = "PERSON"
    labels = _votes(mentions)
    for m in mentions:
        m.label = labels[name_key(m.text)]
    found = _repeats(docs, mentions, labels, surnames)
    return sorted([*mentions, *found], key=lambda m: (m.part, m.start))


def _surnames(mentions: list[Mention]) -> set[str]:
    """The last words of the people named in two words or more: a person named in full outweighs a lone
    mention of the surname tagged as something else. A word the article names in full as something else
    is left out (a person "Paris Hilton" does not make the place "Paris" a person)."""
    last = {name_key(m.text.split()[-1]) for m in mentions if m.label == "PERSON" and len(m.text.split()) > 1}
    other = {
        name_key(m.text.split()[-1]) for m in mentions if m.label != "PERSON" and len(m.text.split()) > 1
    }
    return last - other


def _votes(mentions: list[Mention]) -> dict[str, str]:
    """Each name's type: the one most of its mentions carry; on a tie, the first the body gives, since a
    headline's few words in title case give the tagger the least to go on ("Blinken in Mexico")."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for m in sorted(mentions, key=lambda m: m.part == 0):  # stable: the body first, each part in order
        counts[name_key(m.text)][m.label] += 1
    return {key: count.most_common(1)[0][0] for key, count in counts.items()}


def _repeats(
    docs: Sequence[Doc], mentions: list[Mention], labels: dict[str, str], surnames: set[str]
) -> list[Mention]:
    """The untagged occurrences of the article's names, longest name first at each position."""
    names: dict[tuple[str, ...], str] = {}
    lone_surnames: list[tuple[str, ...]] = []
    for m in mentions:
        words = tuple(t.text for t in docs[m.part][m.start : m.end])
        if len(words) > 1 or len(words[0]) >= _MIN_LONE_CHARS:
            names[words] = labels[name_key(m.text)]
        if len(words) > 1 and name_key(words[-1]) in surnames and len(words[-1]) >= _MIN_LONE_CHARS:
            lone_surnames.append((words[-1],))
    for words in lone_surnames:  # after every mention: a surname tagged alone keeps its own vote
        names.setdefault(words, "PERSON")
    if not names:
        return []
    by_first: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for words in sorted(names, key=len, reverse=True):
        for first in dict.fromkeys((words[0], words[0].upper())):  # once when already in capitals
            by_first[first].append(words)
    taken = {(m.part, i) for m in mentions for i in range(m.start, m.end)}
    found: list[Mention] = []
    for part, doc in enumerate(docs):
        for tok in doc:
            if tok.ent_type_ or (part, tok.i) in taken:
                continue
            for words in by_first.get(tok.text, ()):
                end = tok.i + len(words)
                if end > len(doc) or any((part, i) in taken or doc[i].ent_type_ for i in range(tok.i, end)):
                    continue
                span = doc[tok.i : end]
                spelled = tuple(t.text for t in span)
                if spelled != words and spelled != tuple(w.upper() for w in words):
                    continue
                if _inside_longer_name(doc, tok.i, end, capitals=spelled != words or tok.text.isupper()):
                    continue
                found.append(Mention(part, tok.i, end, names[words], " ".join(words)))
                taken.update((part, i) for i in range(tok.i, end))
                break
    return found


def _inside_longer_name(doc: Doc, start: int, end: int, capitals: bool) -> bool:
    """Whether tokens ``start:end`` continue into a neighbouring capitalised word, so that they are a piece of
    a longer name ("Clinton" in "Clinton Foundation"). In a line in capitals every word is capitalised, so
    there only the tagger's own names count as neighbours."""
    for i in (start - 1, end):
        if 0 <= i < len(doc):
            tok = doc[i]
            if tok.ent_type_ or (
                not capitals and tok.text[:1].isupper() and tok.is_alpha and not tok.is_sent_start
            ):
                return True
    return False
