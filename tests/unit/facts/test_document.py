"""Names an article repeats, made to agree across its parts (pipeline/facts/document.py)."""

from __future__ import annotations


def _spans(extractor, *sentences: str) -> list[list[tuple[str, str]]]:
    from spacy.tokens import Doc

    docs = list(extractor.nlp.pipe([Doc(extractor.nlp.vocab, words=s.split()) for s in sentences]))
    return [
        [(doc[s:e].text, label) for s, e, label in spans]
        for doc, spans in zip(docs, extractor.entity_spans(docs), strict=True)
    ]


def test_a_surname_alone_is_the_person_named_in_full(extractor) -> None:
    spans = _spans(
        extractor,
        "Secretary of State Antony Blinken arrived in Cairo on Monday .",
        "Blinken met the foreign minister for two hours .",
    )
    assert ("Antony Blinken", "PERSON") in spans[0]
    assert spans[1][:1] == [("Blinken", "PERSON")]


def test_a_name_in_a_headline_in_capitals_is_the_name_of_the_body(extractor) -> None:
    spans = _spans(
        extractor,
        "SOCCER - MANCHESTER UNITED BEAT LEEDS",
        "Manchester United beat Leeds United 2-1 at Old Trafford on Saturday .",
    )
    labels = dict(spans[1])
    assert ("MANCHESTER UNITED", labels["Manchester United"]) in spans[0]


def test_a_name_inside_a_longer_name_is_not_taken_for_it(extractor) -> None:
    from spacy.tokens import Doc

    from pipeline.facts.document import agree
    from pipeline.facts.mentions import Mention

    words = ["Donations", "to", "the", "Clinton", "Foundation", "rose", "."]
    (doc,) = extractor.nlp.pipe([Doc(extractor.nlp.vocab, words=words)])
    doc.set_ents([])  # only the mention below: the tagger's own reading of the sentence does not matter
    name = Mention(part=1, start=0, end=2, label="PERSON", text="Bill Clinton")
    (other,) = extractor.nlp.pipe([Doc(extractor.nlp.vocab, words=["Bill", "Clinton", "spoke", "."])])
    other.set_ents([])
    found = agree([doc, other], [name])
    assert [(m.part, m.text) for m in found] == [(1, "Bill Clinton")]


def test_one_type_per_name_the_most_common(extractor) -> None:
    from spacy.tokens import Doc

    from pipeline.facts.document import agree
    from pipeline.facts.mentions import Mention

    docs = [Doc(extractor.nlp.vocab, words=["Jordan", "said", "."]) for _ in range(3)]
    mentions = [
        Mention(part=0, start=0, end=1, label="GPE", text="Jordan"),
        Mention(part=1, start=0, end=1, label="GPE", text="Jordan"),
        Mention(part=2, start=0, end=1, label="PERSON", text="Jordan"),
    ]
    assert [m.label for m in agree(docs, mentions)] == ["GPE", "GPE", "GPE"]
