"""The facts stage's pure core: entities, quantities, quotes and dates of one article.

`FactExtractor.extract(article) -> Facts` runs one spaCy pass over the headline and the
paragraphs (``nlp.pipe``, batched; up to ``max_chars`` characters of them, see `capped_texts`) and
reads everything off that single parse:

- entities: names from a CoNLL-2003 tagger trained for this stage (``pipeline/models/ner_conll``,
  ``python -m pipeline.training.ner``; 90.3 entity F1 on CoNLL dev against ~60 for the small
  model's own NER), given the small model's OntoNotes label where the two agree on the type
  (`merge_entities`); spans repaired (person names extended over neighbouring name
  tokens, "US Customs" + "and Border Protection" joined, obvious mislabels fixed), merged
  per article (surnames, middle initials, titles, defined and implied acronyms, country
  aliases) and given an ``entity_id`` that depends only on the canonical name, so it is
  equal across articles;
- quantities: number tokens outside dates/ordinals/names ("Big 12", "Apple Watch 5"), with
  qualifier and bound, range, unit (pint's units and the CLDR's currencies, `units`: "640bhp",
  "190 km/h", "A$50", "Australian dollars", ages), what a rate is per ("$2.11 per gallon"), counted
  noun (from the dependency parse) and sentence; lengths of time ("in 15 years") count;
- quotes: quote-mark scanning across paragraphs (news convention for multi-paragraph
  quotes), attributed through the nearest cue verb ("said", "told", "according to") and
  its subject, a colon's introducing clause ("Limbaugh continued: “...”") or a dash credit
  ("“...” ― Jane Doe"); "he"/"she" resolve to the latest PERSON subject before the quote. A
  logistic regression trained on PolNeAR (``pipeline/models/quote_speakers.json``,
  ``python -m pipeline.training.quote_speakers``) picks each speaker among those rules' candidates.
  `FactExtractor.locate_quotes` gives the same quotes with character spans, the clause a partial
  quote sits in, and which quotes form one attribution (for ``copydesk eval quotes``);
- dates: DATE mentions resolved against ``published_at``, as ISO 8601 at the precision the text
  gives (``YYYY-MM-DD``, ``YYYY-Www``, ``YYYY-MM``, ``YYYY``; ``None`` when it can't be pinned).

The optional ``aliases`` mapping is cross-article memory (a faust table in production):
keys are ``"<kind>:<folded name>"`` and values canonical names. It is written only when a
key is absent (first writer wins), which keeps ids deterministic for a given input order
and keeps changelog traffic to new names.

The modules, in the order an article goes through them (word lists and tables are in ``pipeline/lexicons``):

- ``extractor``: `FactExtractor`, the parse and the per-article assembly; `capped_texts`, `exceeds`, `splits`
- ``truecase``: `truecase_headline`, a title-case headline's ordinary words lowered before the parse
- ``attribute_ruler``, ``components``: the spaCy pipeline's faster attribute ruler, and the components
  around the CoNLL name tagger (`stash_ontonotes`, `merge_entities`)
- ``mentions``: entity mentions found in a doc, the tagger's errors repaired
- ``document``: the mentions of one article made to agree (one type per name, its untagged repeats)
- ``names``: `canonical_name`, `entity_id`, titles and aliases
- ``aliases``: mentions merged into entities, the cross-article alias memory (`remember_alias`, `AliasReads`)
- ``quote_spans``: where the quotes are (`find_quote_spans`)
- ``quotes``: their speaker candidates and the rules' picks
- ``speakers``: the ranker that picks a quote's speaker among its candidates (`SpeakerRanker`)
- ``numbers``, ``quantities``: `parse_number`, and the quantities of a doc
- ``dates``: `resolve_date`, and the date mentions of a doc
"""

from __future__ import annotations

from pipeline.facts.aliases import AliasReads, remember_alias
from pipeline.facts.components import CONLL_TO_ONTONOTES, ONTONOTES_TO_CONLL, merge_entities, stash_ontonotes
from pipeline.facts.dates import resolve_date
from pipeline.facts.extractor import NAMES_MODEL, FactExtractor, capped_texts, exceeds, splits
from pipeline.facts.names import ENTITY_LABELS, canonical_name, entity_id
from pipeline.facts.numbers import parse_number
from pipeline.facts.quote_spans import QuoteSpan, find_quote_spans
from pipeline.facts.quotes import LocatedQuote
from pipeline.facts.truecase import truecase_headline, vocabulary

__all__ = [
    "CONLL_TO_ONTONOTES",
    "ENTITY_LABELS",
    "NAMES_MODEL",
    "ONTONOTES_TO_CONLL",
    "AliasReads",
    "FactExtractor",
    "LocatedQuote",
    "QuoteSpan",
    "canonical_name",
    "capped_texts",
    "entity_id",
    "exceeds",
    "find_quote_spans",
    "merge_entities",
    "parse_number",
    "remember_alias",
    "resolve_date",
    "splits",
    "stash_ontonotes",
    "truecase_headline",
    "vocabulary",
]
