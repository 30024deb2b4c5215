"""spaCy's attribute ruler with its matches looked up per kind of token instead of tried at every token.

en_core_web_sm's ``attribute_ruler`` maps the tagger's fine tags (and some words) to coarse POS and
morphology, which the lemmatizer then reads. It finds where its 179 rules apply with one spaCy
``Matcher``, which tries every rule at every token: 13-14% of the facts stage's whole parse, as much as
the shared tok2vec (GVA articles, CPU time per component). Almost all of those rules are one token long,
and whether a rule's first token matches depends only on that token's values of the attributes the
rules read (here TAG, LOWER, DEP and IS_SPACE). ``IndexedAttributeRuler`` asks a ``Matcher`` of the
rules' first tokens once per distinct combination of those values (on a one-token span of the first
token that has it) and remembers the answer; a longer rule (8 of 179) is then tried, through a
``Matcher`` of its own, only where its first token matched. The matches, their order, and so every
token's attributes are the same as the stock ruler's (a test compares the two on real copy), and
matching costs a tenth as much (3.07 s -> 0.38 s over 150 GVA articles).

Values are narrowed to what the rules can tell apart: a value no rule names (plainly, or in an IN or
NOT_IN list) stands for all such values, keeping only which of the rules' regexes it matches, so the
memory is bounded by the rules, not by the vocabulary. A rule the index cannot reason about (a
quantifier, an attribute outside ``_TOKEN_VALUES``) sends the ruler back to spaCy's own matching.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from spacy.language import Language
from spacy.matcher import Matcher
from spacy.pipeline import AttributeRuler
from spacy.tokens import Doc, Token
from spacy.vocab import Vocab

__all__ = ["IndexedAttributeRuler", "index_attribute_ruler"]

# Token attributes a rule may read, with the value the index keys on.
_TOKEN_VALUES: dict[str, Callable[[Token], Any]] = {
    "ORTH": lambda t: t.orth_,
    "LOWER": lambda t: t.lower_,
    "NORM": lambda t: t.norm_,
    "TAG": lambda t: t.tag_,
    "POS": lambda t: t.pos_,
    "DEP": lambda t: t.dep_,
    "IS_SPACE": lambda t: t.is_space,
    "IS_PUNCT": lambda t: t.is_punct,
}


@dataclass
class _Narrowing:
    """What the one-token rules ask of one attribute: the values they name (plain, IN or NOT_IN), the
    regexes they match, or ``exact`` when some rule asks another way and every value counts."""

    named: set[Any] = field(default_factory=set)
    regexes: list[re.Pattern[str]] = field(default_factory=list)
    exact: bool = False

    def narrow(self, value: Any) -> Any:
        """Return ``value`` if a rule names it, else what the rules can tell of it: its regex matches."""
        if self.exact or value in self.named:
            return value
        return (_OTHER, *(bool(rx.search(value)) for rx in self.regexes))


# Token value combinations remembered by their ids before the memory starts again (the narrowed kinds
# they stand for are few; these grow with the vocabulary).
_MAX_REMEMBERED = 200_000
_OTHER = "\0other"  # stands for every value no rule names


class IndexedAttributeRuler(AttributeRuler):
    """An ``AttributeRuler`` whose ``match`` returns the stock one's matches; see the module docstring."""

    def __init__(self, vocab: Vocab, name: str = "attribute_ruler", *, validate: bool = False) -> None:
        super().__init__(vocab, name, validate=validate)
        self._reset_index()

    def _reset_index(self) -> None:
        # Every rule pattern, numbered: its rule's ordinal and key, its length, and a Matcher of its own if
        # longer than one token; ``_firsts`` holds each pattern's first token under its number.
        self._patterns: list[tuple[int, int, int, Matcher | None]] = []
        self._firsts = Matcher(self.vocab, validate=self.validate)
        self._indexable = True
        self._narrowing: dict[str, _Narrowing] = {}
        self._memory: dict[tuple[Any, ...], list[int]] = {}  # narrowed values -> pattern numbers
        self._by_values: dict[tuple[int, ...], list[int]] = {}  # the attributes' ids -> pattern numbers

    def clear(self) -> None:
        super().clear()
        self._reset_index()

    def add(self, patterns: Iterable[list[dict[str, Any]]], attrs: dict, index: int = 0) -> None:
        patterns = list(patterns)
        ordinal = len(self.attrs)
        key = self.vocab.strings.add(str(ordinal))
        super().add(patterns, attrs, index)
        self._memory.clear()
        self._by_values.clear()
        for pattern in patterns:
            if any("OP" in token for token in pattern):  # a quantifier: the length varies
                self._indexable = False
            own = None
            if len(pattern) > 1:
                own = Matcher(self.vocab, validate=self.validate)
                own.add(key, [pattern])
            self._patterns.append((ordinal, key, len(pattern), own))
            self._firsts.add(len(self._patterns), [pattern[:1]])  # numbered from 1: a key of 0 is no key
            for attr, value in pattern[0].items():
                self._learn(attr.upper(), value)

    def _learn(self, attr: str, value: Any) -> None:
        """Note what a rule's first token asks of ``attr``, for narrowing its values (module docstring)."""
        if attr not in _TOKEN_VALUES:  # an attribute the index does not read
            self._indexable = False
            return
        narrowing = self._narrowing.setdefault(attr, _Narrowing())
        if isinstance(value, str | bool | int):
            narrowing.named.add(value)
        elif isinstance(value, dict) and set(value) <= {"IN", "NOT_IN", "REGEX"}:
            narrowing.named.update(value.get("IN", ()), value.get("NOT_IN", ()))
            if "REGEX" in value:
                narrowing.regexes.append(re.compile(value["REGEX"]))
        else:
            narrowing.exact = True

    def _starting(self, doc: Doc, i: int, readers: list[tuple[Callable, Callable]]) -> list[int]:
        """Return the numbers of the patterns whose first token ``doc[i]`` matches, remembered by kind."""
        token = doc[i]
        kind = tuple(narrow(read(token)) for read, narrow in readers)
        numbers = self._memory.get(kind)
        if numbers is None:
            found = self._firsts(doc[i : i + 1], allow_missing=True, as_spans=False)
            numbers = self._memory[kind] = sorted({number - 1 for number, _start, _end in found})
        return numbers

    def match(self, doc: Doc) -> list[tuple[int, int, int, int]]:
        """Return ``AttributeRuler.match(doc)``: (rule ordinal, rule key, start, end), sorted."""
        if not self._indexable:
            return super().match(doc)
        attrs = list(self._narrowing)
        readers = [(_TOKEN_VALUES[attr], self._narrowing[attr].narrow) for attr in attrs]
        by_values, patterns, size = self._by_values, self._patterns, len(doc)
        if not size or not patterns:
            return []
        if len(by_values) > _MAX_REMEMBERED:
            by_values.clear()
        matches: set[tuple[int, int, int, int]] = set()  # the Matcher returns each (key, start, end) once
        rows = doc.to_array(attrs).reshape(size, len(attrs)).tolist() if attrs else [[]] * size
        for i, values in enumerate(rows):
            values = tuple(values)
            numbers = by_values.get(values)
            if numbers is None:
                numbers = by_values[values] = self._starting(doc, i, readers)
            for number in numbers:
                ordinal, key, length, own = patterns[number]
                if own is None:
                    matches.add((ordinal, key, i, i + 1))
                elif i + length <= size and own(doc[i : i + length], allow_missing=True):
                    matches.add((ordinal, key, i, i + length))
        return sorted(matches)


@Language.factory("copydesk_attribute_ruler", default_config={"validate": False})
def make_indexed_attribute_ruler(nlp: Language, name: str, validate: bool) -> IndexedAttributeRuler:
    return IndexedAttributeRuler(nlp.vocab, name, validate=validate)


def index_attribute_ruler(nlp: Language, name: str = "attribute_ruler") -> None:
    """Replace ``nlp``'s attribute ruler ``name`` by an ``IndexedAttributeRuler`` with the same rules."""
    if name not in nlp.pipe_names:
        return
    rules = nlp.get_pipe(name).patterns
    nlp.replace_pipe(name, "copydesk_attribute_ruler")
    nlp.get_pipe(name).add_patterns(rules)
