"""Entities: an article's mentions merged into entities, and the alias memory that carries names across
articles.

`cluster_mentions` merges people first: a full name, then the shorter mentions that are its tail or part of
it ("Mr López Obrador", "López"); other labels whose text is a known person's name are mislabelled people
("Blinken" as GPE). Organisations come before their acronyms, defined ("(CBP)") or implied by an
organisation named in the article. Each entity takes its majority label; they are reported in first-mention
order.

The optional alias memory (``aliases``) is a mapping of ``"<kind>:<folded name>"`` to a canonical name (a
dict in tests, a faust table in production): "Mr Biden" in a later article resolves to "Joe Biden" seen
earlier, and every article spells a canonical name the way it was first seen. `remember_alias` writes a key
only when it is absent (first writer wins), which keeps ids deterministic for a given input order and keeps
changelog traffic to new names. `AliasReads` records what one article read from the memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from functools import lru_cache

from pipeline.facts.mentions import Mention, acronym_letters
from pipeline.facts.names import canonical_name, entity_id, entity_kind
from pipeline.text import name_key

__all__ = ["AliasReads", "Cluster", "cluster_mentions", "remember_alias"]


@dataclass
class Cluster:
    """One entity of an article: its label, canonical name, longest text and mentions."""

    label: str
    canonical: str
    text: str
    mentions: list[Mention] = field(default_factory=list)

    @property
    def id(self) -> str:
        return entity_id(self.canonical, self.label)


class AliasReads(MutableMapping[str, str]):
    """An alias memory that passes every read and write through to ``memory`` and keeps what the article
    read from it before writing: ``seen``, enough for a later assembly of the same article (over more of its
    text) to read the memory as this one did, with the memory gone on since (`FactExtractor.splits`)."""

    def __init__(self, memory: MutableMapping[str, str]) -> None:
        self.memory = memory
        self.seen: dict[str, str] = {}
        self._written: set[str] = set()

    def __getitem__(self, key: str) -> str:
        value = self.memory[key]
        if key not in self._written:
            self.seen[key] = value
        return value

    def __setitem__(self, key: str, value: str) -> None:
        self._written.add(key)
        self.memory[key] = value

    def __delitem__(self, key: str) -> None:
        self._written.add(key)
        del self.memory[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.memory)

    def __len__(self) -> int:
        return len(self.memory)


def _name_words(m: Mention) -> list[str]:
    return list(_person_words(m.text))


@lru_cache(maxsize=65536)
def _person_words(text: str) -> tuple[str, ...]:
    return tuple(name_key(canonical_name(text, "PERSON")).split())


def cluster_mentions(mentions: list[Mention], aliases: MutableMapping[str, str] | None) -> list[Cluster]:
    """Merge mentions into entities; sets each mention's `cluster`."""
    # People first: full names, then shorter mentions that are a tail or part of one.
    people = [m for m in mentions if m.label == "PERSON"]
    # Name words -> the longest text of a person mention with those words (the first of equals).
    fullest: dict[tuple[str, ...], str] = {}
    for m in people:
        key = _person_words(m.text)
        if len(m.text) > len(fullest.get(key, "")):
            fullest[key] = m.text
    full: dict[str, list[str]] = {}  # folded full name -> words
    for m in sorted(people, key=lambda m: -len(_name_words(m))):
        words = _name_words(m)
        if len(words) >= 2 and not any(_is_part_of(words, f) for f in full.values()):
            full[" ".join(words)] = words
    # Other labels whose text is a known person's name are mislabelled people ("Blinken" as GPE).
    for m in mentions:
        if m.label not in ("PERSON", "NORP") and len(m.text.split()) <= 4:
            words = _name_words(m)
            if any(words == f or _is_part_of(words, f) for f in full.values()) or (
                aliases is not None
                and m.label == "ORG"
                and len(words) >= 2
                and f"person:{' '.join(words)}" in aliases
            ):
                m.label = "PERSON"

    clusters: list[Cluster] = []
    index: dict[tuple[str, str], int] = {}
    acronyms: dict[str, int] = {}

    def add(m: Mention, key: tuple[str, str], canonical: str) -> None:
        if key not in index:
            index[key] = len(clusters)
            clusters.append(Cluster(m.label, canonical, m.text))
        c = clusters[index[key]]
        m.cluster = index[key]
        c.mentions.append(m)
        if len(m.text) > len(c.text):
            c.text = m.text

    # An acronym of an organisation named in the article is that organisation, whatever its label.
    org_acronyms = {_acronym_of(canonical_name(m.text, "ORG")) for m in mentions if m.label == "ORG"}
    for m in mentions:
        acronym = canonical_name(m.text, "ORG")
        if m.label != "ORG" and re.fullmatch(r"[A-Z]{2,8}", acronym) and acronym in org_acronyms:
            m.label = "ORG"
    ordered = sorted(
        mentions, key=lambda m: (m.label != "ORG", -len(m.text))
    )  # long ORG forms before acronyms
    for m in ordered:
        kind = entity_kind(m.label)
        if m.label == "PERSON":
            words = _name_words(m)
            target = next((f for f in full.values() if words == f), None) or next(
                (f for f in full.values() if _is_part_of(words, f)), None
            )
            if target is not None:
                canonical = remember_alias(
                    aliases,
                    f"person:{' '.join(target)}",
                    canonical_name(fullest.get(tuple(target), " ".join(target)), "PERSON"),
                )
                _remember_person_parts(aliases, target, canonical)
                add(m, ("person", " ".join(target)), canonical)
                continue
            canonical = canonical_name(m.text, "PERSON")
            remembered = aliases.get(f"person:{' '.join(words)}") if aliases is not None else None
            add(m, ("person", name_key(remembered or canonical)), remembered or canonical)
            continue
        canonical = canonical_name(m.text, m.label)
        key_text = name_key(canonical)
        if m.label == "ORG" and re.fullmatch(r"[A-Z]{2,8}", canonical):
            cid = acronyms.get(canonical)
            if cid is None:
                cid = next(
                    (
                        i
                        for i, c in enumerate(clusters)
                        if c.label == "ORG" and _acronym_of(c.canonical) == canonical
                    ),
                    None,
                )
            if cid is not None:
                add(m, ("org", name_key(clusters[cid].canonical)), clusters[cid].canonical)
                continue
            if aliases is not None and f"org:{name_key(canonical)}" in aliases:
                long = aliases[f"org:{name_key(canonical)}"]
                add(m, ("org", name_key(long)), long)
                continue
        canonical = remember_alias(aliases, f"{kind}:{key_text}", canonical)
        add(m, (kind, name_key(canonical)), canonical)
        if m.label == "ORG" and len(canonical.split()) >= 2:
            acro = _acronym_of(canonical)
            if len(acro) >= 2:
                acronyms.setdefault(acro, index[(kind, name_key(canonical))])
                remember_alias(aliases, f"org:{acro.lower()}", canonical)

    # Label by majority; report in first-mention order.
    for c in clusters:
        labels = [m.label for m in c.mentions]
        c.label = max(sorted(set(labels)), key=labels.count)
    order = sorted(range(len(clusters)), key=lambda i: min((m.part, m.start) for m in clusters[i].mentions))
    remap = {old: new for new, old in enumerate(order)}
    for m in mentions:
        m.cluster = remap[m.cluster]
    return [clusters[i] for i in order]


def _is_part_of(words: list[str], full: list[str]) -> bool:
    """True when `words` name the person `full` names: its tail ("lopez obrador"), or a run of it
    that doesn't start at the given name ("lopez")."""
    n = len(words)
    if n == 0 or n >= len(full):
        return False
    return any(full[i : i + n] == words for i in range(1, len(full) - n + 1))


def _acronym_of(canonical: str) -> str:
    words = canonical.split()
    if words and words[0] in ("US", "UK", "EU", "UN"):  # "US Customs and Border Protection" is CBP
        words = words[1:]
    return acronym_letters(words)


def remember_alias(aliases: MutableMapping[str, str] | None, key: str, canonical: str) -> str:
    """Return the canonical name remembered for `key`, remembering `canonical` when there is none."""
    if aliases is None:
        return canonical
    known = aliases.get(key)
    if known is None:
        aliases[key] = canonical
        return canonical
    return known


def _remember_person_parts(
    aliases: MutableMapping[str, str] | None, words: list[str], canonical: str
) -> None:
    if aliases is None:
        return
    for i in range(1, len(words)):
        remember_alias(aliases, f"person:{' '.join(words[i:])}", canonical)
