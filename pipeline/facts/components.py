"""The facts stage's two spaCy components around the CoNLL-2003 name tagger, and the labels they map.

The OntoNotes model's NER finds names poorly in news copy; a CoNLL-2003 tagger trained for this stage
(``pipeline/models/ner_conll``, ``python -m pipeline.training.ner``) finds them better but knows four types.
`FactExtractor` runs the OntoNotes NER, then `stash_ontonotes` (its entities set aside in
``doc.spans["ontonotes"]``), then the name tagger, then `merge_entities`, which gives each name the OntoNotes
label it agrees with and keeps the OntoNotes numbers and dates. `ontonotes_label` reads a token's stashed
label. The components register with spaCy on import, under `STASH_ONTONOTES` and `MERGE_ENTITIES`.
"""

from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc, Span, Token

__all__ = [
    "CONLL_TO_ONTONOTES",
    "MERGE_ENTITIES",
    "ONTONOTES_TO_CONLL",
    "STASH_ONTONOTES",
    "SUBJECT_DEPS",
    "merge_entities",
    "ontonotes_label",
    "stash_ontonotes",
]

STASH_ONTONOTES = "copydesk_stash_ontonotes"
MERGE_ENTITIES = "copydesk_merge_entities"
# The dependency labels of a clause's subject.
SUBJECT_DEPS = frozenset({"nsubj", "nsubjpass"})

# CoNLL-2003 type -> the OntoNotes labels it covers; the first is the default.
CONLL_TO_ONTONOTES = {
    "PER": ("PERSON",),
    "ORG": ("ORG",),
    "LOC": ("GPE", "LOC", "FAC"),
    "MISC": ("NORP", "EVENT", "PRODUCT", "WORK_OF_ART", "LAW", "LANGUAGE"),
}
ONTONOTES_TO_CONLL = {onto: conll for conll, ontos in CONLL_TO_ONTONOTES.items() for onto in ontos}
_ONTONOTES_KEY = "ontonotes"
_HYPHENS = frozenset({"-", "\u2010", "\u2011"})


@Language.component(STASH_ONTONOTES)
def stash_ontonotes(doc: Doc) -> Doc:
    """Move the OntoNotes NER's entities aside (``doc.spans["ontonotes"]``) so the name tagger
    starts from a blank slate rather than taking them as fixed."""
    doc.spans[_ONTONOTES_KEY] = list(doc.ents)
    doc.set_ents([], default="missing")
    return doc


@Language.component(MERGE_ENTITIES)
def merge_entities(doc: Doc) -> Doc:
    """Set ``doc.ents`` to the name tagger's names, each with the OntoNotes label of the same
    span (or else of an overlapping one) when that label falls in the same CoNLL type, else the
    type's default (PER -> PERSON, ORG -> ORG, LOC -> GPE, MISC -> NORP); plus the OntoNotes
    numbers, dates and times that overlap no name, and its organisations written in lower case
    ("the state department"), which a tagger trained on CoNLL's capitalised names never sees."""
    onto = list(doc.spans.get(_ONTONOTES_KEY, []))
    ents = []
    for name in doc.ents:
        fine = [
            o
            for o in onto
            if ONTONOTES_TO_CONLL.get(o.label_) == name.label_ and o.start < name.end and name.start < o.end
        ]
        exact = [o for o in fine if (o.start, o.end) == (name.start, name.end)]
        label = (exact or fine)[0].label_ if fine else CONLL_TO_ONTONOTES[name.label_][0]
        ents.append(Span(doc, name.start, name.end, label=label))
    ents = _join_hyphenated_people(doc, ents)
    taken = {i for e in ents for i in range(e.start, e.end)}
    for o in onto:
        keep = o.label_ not in ONTONOTES_TO_CONLL or (o.label_ == "ORG" and o[0].is_lower)
        if keep and not any(i in taken for i in range(o.start, o.end)):
            ents.append(o)
    doc.set_ents(sorted(ents, key=lambda e: e.start), default="outside")
    return doc


def _join_hyphenated_people(doc: Doc, names: list[Span]) -> list[Span]:
    """Make one person of names a glued hyphen splits: spaCy's tokenizer cuts "Sherwood-Randall" in three
    tokens where the tagger's CoNLL training text keeps it one, so the tagger may end a name at the hyphen
    ("Liz Sherwood", "Randall"). A word joined by hyphens without spaces is one word, so a person's name does
    not end inside it; names of other kinds stay apart ("Israel-Hamas", "U.S.-Mexico")."""
    out: list[Span] = []
    for name in names:
        prev = out[-1] if out else None
        if (
            prev is not None
            and name.start == prev.end + 1
            and doc[prev.end].text in _HYPHENS
            and not doc[prev.end - 1].whitespace_
            and not doc[prev.end].whitespace_
            and "PERSON" in (prev.label_, name.label_)
        ):
            out[-1] = Span(doc, prev.start, name.end, label="PERSON")
        else:
            out.append(name)
    return out


def ontonotes_label(tok: Token) -> str:
    """The OntoNotes NER's label of `tok` when the name tagger moved its entities aside, else ""."""
    for span in tok.doc.spans.get(_ONTONOTES_KEY, ()):
        if span.start <= tok.i < span.end:
            return span.label_
    return ""
