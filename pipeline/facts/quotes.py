"""Quotes: who said the quotes an article holds (``pipeline.facts.quote_spans`` finds them).

`attribute_quotes` finds each quote's speaker, trying in order:

- a cue verb after the quote, then before it, in the same sentence ("said", "told", "according to":
  ``lexicons/quote_cue_lemmas.txt`` and ``quote_cue_forms.txt``) and that verb's subject, climbing the parse
  from a verb in a subordinate clause; a cue without a subject of its own takes the latest person subject
  before it ("..., asking “...”");
- the clause a colon ends, right before the quote ("Limbaugh continued: “...”");
- a dash credit after it ("“...” ― Jane Doe").

A quote with no cue continues the previous quote's speaker when it follows it directly (in the same
paragraph, or opening the next one). A speaker that is a pronoun ("he", "she") resolves to the latest person
subject before it. The speaker's entity id is the entity of the speaker's mention (or of the person in
apposition to it: "Mexico's Foreign Minister, Alicia Barcena, told"). Quotes of fewer than six words with no
speaker are scare quotes or titles ("crisis", "Remain in Mexico"), not quotes.

Those rules decide where the quotes are and which of them are kept; who said each is then chosen by the
speaker ranker (``pipeline.facts.speakers``) among the quote's candidates: the names of people, organisations
and places, the noun and pronoun subjects and the speakers of cues outside quotes, in the quote's paragraphs
and the one before, plus the rules' pick, each with what the rules know of it (`speaker_candidates`). The
rules run as they would alone, so the candidates of a quote do not depend on what the ranker picked before.
"""

from __future__ import annotations

from dataclasses import dataclass

from spacy.tokens import Doc, Token

from pipeline import lexicons
from pipeline.facts.aliases import Cluster
from pipeline.facts.components import SUBJECT_DEPS
from pipeline.facts.dates import WEEKDAYS
from pipeline.facts.mentions import Mention
from pipeline.facts.quote_spans import QuoteSpan, find_quote_spans
from pipeline.facts.speakers import Candidate, SpeakerRanker, load_ranker
from schemas.models import Quote

__all__ = ["LocatedQuote", "attribute_quotes", "speaker_candidates"]

_CUE_LEMMAS = frozenset(lexicons.words("quote_cue_lemmas"))
_CUE_FORMS = frozenset(lexicons.words("quote_cue_forms"))
_PRONOUNS = frozenset(lexicons.words("speaker_pronouns"))
# Words of a time that the parser may make the subject of a cue ("said Thursday morning").
_TIME_WORDS = frozenset(lexicons.words("time_words"))
# Documents a source speaks through ("a statement released by ...").
_SOURCE_DOCUMENTS = frozenset(lexicons.words("source_documents"))
_NP_DEPS = {"compound", "flat", "det", "amod", "poss", "case", "nmod", "nummod", "quantmod", "npadvmod"}

_MIN_UNATTRIBUTED_WORDS = 6  # scare quotes and titles ("crisis", "Remain in Mexico") are not quotes
# The entity labels of the names that may speak a quote.
_CANDIDATE_LABELS = frozenset({"PERSON", "ORG", "GPE", "NORP"})


class _Default:
    """`attribute_quotes`'s default ranker: the shipped one."""


_DEFAULT = _Default()


@dataclass(frozen=True)
class LocatedQuote:
    """A quote as the stage reports it, with where it is: `segments` as in `QuoteSpan` (paragraph
    index, content start, content end) and `speaker_span` (paragraph index, start, end) of the
    speaker mention the quote is attributed to (the earlier quote's for a continued quote)."""

    quote: Quote
    segments: tuple[tuple[int, int, int], ...]
    speaker_span: tuple[int, int, int] | None
    content: tuple[tuple[int, int, int], ...] = ()
    attribution: int = 0


def attribute_quotes(
    docs: list[Doc],
    mentions: list[Mention],
    clusters: list[Cluster],
    ranker: SpeakerRanker | _Default | None = _DEFAULT,
) -> list[LocatedQuote]:
    """Return the quotes of an article's paragraphs (``docs[1:]``; ``docs[0]`` is its headline) in order, with
    where they are and who said them: `mentions` are the article's entity mentions, merged into `clusters`.
    `ranker` picks each quote's speaker among its candidates (the shipped one by default); None keeps the
    rules' pick."""
    model = load_ranker() if isinstance(ranker, _Default) else ranker
    return [located for located, _ in _Attribution(docs, mentions, clusters).located_quotes(model)]


def speaker_candidates(
    docs: list[Doc], mentions: list[Mention], clusters: list[Cluster]
) -> list[tuple[LocatedQuote, list[Candidate]]]:
    """Return the quotes `attribute_quotes` finds with the rules' speakers, each with its speaker candidates
    (what a ranker chooses among, for training one)."""
    return _Attribution(docs, mentions, clusters).located_quotes(None)


class _Attribution:
    """One article's quotes and the parse, mentions and entities their speakers are read from."""

    def __init__(self, docs: list[Doc], mentions: list[Mention], clusters: list[Cluster]):
        self.docs = docs
        self.quote_spans = find_quote_spans([d.text for d in docs[1:]])
        self.in_quote: list[list[bool]] = [[False] * len(d) for d in docs]
        for q in self.quote_spans:
            for p, s, e in q.segments:
                for tok in docs[p + 1]:
                    if s - 1 <= tok.idx <= e:
                        self.in_quote[p + 1][tok.i] = True
        self.mentions = mentions
        self.clusters = clusters
        self.by_token: dict[tuple[int, int], Mention] = {
            (m.part, i): m for m in self.mentions for i in range(m.start, m.end)
        }
        self._cues: dict[int, dict[int, Token]] = {}  # part -> {speaker token: its cue verb}
        self._head_cache: dict[int, list[Token]] = {}
        self._sentence_cache: dict[int, list[tuple[int, int]]] = {}
        self._parts = {id(d): i for i, d in enumerate(docs)}

    def located_quotes(self, ranker: SpeakerRanker | None) -> list[tuple[LocatedQuote, list[Candidate]]]:
        """The quotes with where they are (content segments and the speaker mention's characters), each
        with its speaker candidates; `ranker` picks the speaker among them, the rules' pick without one."""
        subjects = self._person_subjects()
        out: list[tuple[LocatedQuote, list[Candidate]]] = []
        # The rules' last quote, the paragraph it ended in and its speaker token: the rules run as they
        # would alone, so what a ranker learns of them holds whichever speakers it picks.
        previous: tuple[LocatedQuote, int, Token | None] | None = None
        for q in self.quote_spans:
            first_p, first_s, _ = q.segments[0]
            last_p, _, last_e = q.segments[-1]
            after = self._cue_after(last_p + 1, last_e)
            before = self._cue_before(first_p + 1, first_s)
            rule, cue = "cue_after", after
            if cue is None:
                rule, cue = "cue_before", before
            if cue is None:
                rule, cue = "colon", self._colon_intro(first_p + 1, first_s)
            if cue is None:
                rule, cue = "dash", self._dash_credit(last_p + 1, last_e)
            speaker = verb = sid = None
            speaker_span: tuple[int, int, int] | None = None
            subj: Token | None = None
            content = q.segments
            attribution = out[-1][0].attribution + 1 if out else 0
            if cue is not None:
                verb_tok, subj = cue
                content = self._content_of(q, verb_tok)
                if out and out[-1][0].content == content:
                    attribution = out[-1][0].attribution
                verb = _verb_text(verb_tok)
                if subj is None:
                    rule, subj = "person_before", self._person_before(verb_tok, subjects)
                if subj is not None:
                    speaker, speaker_span, sid = self._speaker_fields(subj, subjects)
            elif previous is not None and self._continues(previous[1], first_p, first_s):
                rule, before_q, subj = "continues", previous[0], previous[2]
                speaker, sid, verb = (
                    before_q.quote.speaker,
                    before_q.quote.speaker_entity_id,
                    before_q.quote.verb,
                )
                speaker_span = before_q.speaker_span
                if first_p == previous[1]:
                    attribution = before_q.attribution
            if speaker is None and len(q.text.split()) < _MIN_UNATTRIBUTED_WORDS:
                continue
            rules_quote = Quote(text=q.text, speaker=speaker, speaker_entity_id=sid, verb=verb)
            rules_located = LocatedQuote(rules_quote, q.segments, speaker_span, content, attribution)
            adjacent = {
                (part, c[0].i)
                for part, c in ((last_p + 1, after), (first_p + 1, before))
                if c is not None and c[1] is not None
            }
            candidates = self._candidates(
                q,
                subj,
                rule,
                sid,
                previous[2] if previous else None,
                previous[0].quote.speaker_entity_id if previous else None,
                subjects,
                adjacent,
            )
            located = rules_located
            if ranker is not None:
                pick = ranker.best(candidates)
                if pick is not None and (
                    subj is None or (pick.part, pick.token) != (self._part_of(subj), subj.i)
                ):
                    tok = self.docs[pick.part][pick.token]
                    speaker, speaker_span, sid = self._speaker_fields(tok, subjects)
                    cue_verb = self._cue_table(pick.part).get(tok.i)
                    if cue_verb is not None:
                        verb = _verb_text(cue_verb)
                    quote = Quote(text=q.text, speaker=speaker, speaker_entity_id=sid, verb=verb)
                    located = LocatedQuote(quote, q.segments, speaker_span, content, attribution)
            out.append((located, candidates))
            previous = (rules_located, last_p, subj)
        return out

    def _speaker_fields(
        self, subj: Token, subjects: list[tuple[int, int, str]]
    ) -> tuple[str, tuple[int, int, int], str | None]:
        """The speaker text, (paragraph, start, end) characters and entity id of the mention headed by `subj`."""
        part = self._part_of(subj)
        lo, hi = _np_bounds(subj, self.in_quote[part])
        span = subj.doc[lo:hi]
        return (
            span.text.strip(" ,"),
            (part - 1, span.start_char, span.end_char),
            self._resolve_speaker(subj, subjects),
        )

    def _heads(self, part: int) -> list[Token]:
        """The candidate speakers of doc `part` outside quotes, whatever the quote: the roots of the names of
        people, organisations and places, the noun and pronoun subjects, and the speakers of cues."""
        heads = self._head_cache.get(part)
        if heads is None:
            doc, inq, cues = self.docs[part], self.in_quote[part], self._cue_table(part)
            heads = []
            for tok in doc:
                if inq[tok.i]:
                    continue
                mention = self.by_token.get((part, tok.i))
                if mention is not None and mention.label in _CANDIDATE_LABELS:
                    if doc[mention.start : mention.end].root.i == tok.i:
                        heads.append(tok)
                elif (tok.dep_ in SUBJECT_DEPS and tok.pos_ in ("NOUN", "PROPN", "PRON")) or tok.i in cues:
                    heads.append(tok)
            self._head_cache[part] = heads
        return heads

    def _gap(self, a: tuple[int, int], b: tuple[int, int]) -> int:
        """The number of tokens from (part, token) `a` to a later `b`, across paragraphs."""
        if a[0] == b[0]:
            return max(b[1] - a[1], 0)
        return len(self.docs[a[0]]) - a[1] + sum(len(self.docs[p]) for p in range(a[0] + 1, b[0])) + b[1]

    def _cue_table(self, part: int) -> dict[int, Token]:
        """{speaker token index: cue verb} of the cues outside quotes in doc `part`."""
        table = self._cues.get(part)
        if table is None:
            doc, inq = self.docs[part], self.in_quote[part]
            table = {}
            for tok in doc:
                if not inq[tok.i] and _is_cue(tok):
                    speaker = _speaker_of(tok, inq)
                    if speaker is not None and speaker.doc is doc:
                        table.setdefault(speaker.i, tok)
            self._cues[part] = table
        return table

    def _candidates(
        self,
        q: QuoteSpan,
        rule_pick: Token | None,
        rule: str,
        rule_id: str | None,
        previous_pick: Token | None,
        previous_id: str | None,
        subjects: list[tuple[int, int, str]],
        adjacent: set[tuple[int, int]],
    ) -> list[Candidate]:
        """The mentions that may have said `q`: outside quotes, in its paragraphs and the one before, the
        clause subjects that are nouns or pronouns and the names of people, organisations and places; and
        the rules' pick (`rule_pick`, by `rule`, resolving to `rule_id`)."""
        first_p, first_s, _ = q.segments[0]
        last_p, _, last_e = q.segments[-1]
        start_part, end_part = first_p + 1, last_p + 1
        start_tok = _token_at(self.docs[start_part], first_s)
        end_tok = _token_at(self.docs[end_part], last_e)
        latest = [s for s in subjects if (s[0], s[1]) < (start_part, start_tok)]
        recent_id = latest[-1][2] if latest else None
        pick = (self._part_of(rule_pick), rule_pick.i) if rule_pick is not None else None
        previous = (self._part_of(previous_pick), previous_pick.i) if previous_pick is not None else None
        quote_parts = {p + 1 for p, _, _ in q.segments}
        opens = self.docs[start_part].text[: max(first_s - 1, 0)].strip() == ""
        seen: set[tuple[int, int]] = set()
        out: list[Candidate] = []
        window = list(range(max(start_part - 1, 1), end_part + 1))
        if pick is not None and pick[0] not in window:  # a continued quote's speaker, further back
            window.insert(0, pick[0])
        for part in window:
            doc, inq = self.docs[part], self.in_quote[part]
            cues = self._cue_table(part)
            heads = list(self._heads(part)) if part >= start_part - 1 else []
            if pick is not None and pick[0] == part and not any(t.i == pick[1] for t in heads):
                heads.append(doc[pick[1]])
            for tok in heads:
                key = (part, tok.i)
                if key in seen or _is_time_word(tok):
                    continue
                seen.add(key)
                mention = self.by_token.get(key)
                sid = self._resolve_speaker(tok, subjects)
                before = key < (start_part, start_tok)
                distance = (
                    self._gap(key, (start_part, start_tok)) if before else self._gap((end_part, end_tok), key)
                )
                sent_start, sent_end = self._sentences(part)[tok.i]
                is_pick = key == pick
                lo, hi = _np_bounds(tok, inq)
                out.append(
                    Candidate(
                        part=part,
                        token=tok.i,
                        kind=_kind(tok, mention),
                        chars=(doc[lo].idx, doc[hi - 1].idx + len(doc[hi - 1])),
                        rule=rule if is_pick else "",
                        rule_entity=not is_pick and sid is not None and sid == rule_id,
                        cue_subject=tok.i in cues,
                        cue_adjacent=tok.i in cues and (part, cues[tok.i].i) in adjacent,
                        cue_object=tok.dep_ in ("dobj", "dative") and _is_cue(tok.head),
                        subject=tok.dep_ in SUBJECT_DEPS,
                        governs_quote=tok.dep_ in SUBJECT_DEPS and _spans(tok.head, q, part),
                        distance=distance,
                        before=before,
                        same_paragraph=part in quote_parts,
                        same_sentence=part in quote_parts
                        and any(
                            p + 1 == part and sent_start <= e and s <= sent_end for p, s, e in q.segments
                        ),
                        before_opening=opens and part == start_part - 1,
                        previous_speaker=key == previous or (sid is not None and sid == previous_id),
                        recent_subject=sid is not None and sid == recent_id,
                        mentions=len(self.clusters[mention.cluster].mentions) if mention is not None else 0,
                        entity_id=sid,
                    )
                )
        return out

    def _content_of(self, q: QuoteSpan, verb: Token) -> tuple[tuple[int, int, int], ...]:
        """The segments of the clause `verb` attributes that holds the one-paragraph quote `q`:
        the subtree of the verb's complement or object covering it, widened to the quote."""
        if len(q.segments) != 1 or verb.lower_ == "according":
            return q.segments
        p, s, e = q.segments[0]
        inside = [t.i for t in self.docs[p + 1] if s <= t.idx < e]
        best = None
        for c in verb.children:
            if c.dep_ not in ("ccomp", "xcomp", "dobj", "advcl", "oprd", "attr", "dative", "prep"):
                continue
            if c.dep_ == "prep" and c.lower_ != "as":
                continue
            lo, hi = c.left_edge, c.right_edge
            if c.dep_ == "prep":  # "described X as “...”": the object and the "as" phrase
                objs = [d for d in verb.children if d.dep_ == "dobj" and d.i < c.i]
                lo = objs[0].left_edge if objs else lo
            if (
                inside
                and lo.i <= inside[0]
                and inside[-1] <= hi.i
                and (best is None or hi.i - lo.i > best[1] - best[0])
            ):
                best = (lo.i, hi.i)
        if best is None:
            return q.segments
        doc = self.docs[p + 1]
        start = min(doc[best[0]].idx, s)
        end = max(doc[best[1]].idx + len(doc[best[1]]), e)
        return ((p, start, end),)

    def _continues(self, prev_para: int, para: int, start: int) -> bool:
        """True when a quote with no cue follows the previous quote directly: next in the same
        paragraph with only closing words between, or opening the next paragraph."""
        if para == prev_para:
            return True
        return para == prev_para + 1 and self.docs[para + 1].text[: max(start - 1, 0)].strip() == ""

    def _cue_after(self, part: int, end: int) -> tuple[Token, Token | None] | None:
        doc, inq = self.docs[part], self.in_quote[part]
        for tok in doc:
            if tok.idx <= end or inq[tok.i]:
                continue
            if tok.text in (".", "!", "?", ";"):
                return None
            if _is_cue(tok):
                return tok, _speaker_of(tok, inq)
        return None

    def _person_before(self, cue: Token, subjects: list[tuple[int, int, str]]) -> Token | None:
        """The latest person subject before a cue that has none of its own ("..., asking “...”")
        in the same paragraph."""
        part = self._part_of(cue)
        before = [s for s in subjects if s[0] == part and s[1] < cue.i]
        if not before:
            return None
        mention = self.by_token[(part, before[-1][1])]
        return self.docs[part][mention.start : mention.end].root

    def _colon_intro(self, part: int, start: int) -> tuple[Token, Token | None] | None:
        """The clause a colon introduces the quote with ("Limbaugh continued: “...”"), in the
        same paragraph or closing the previous one: its verb and that verb's subject."""
        doc, inq = self.docs[part], self.in_quote[part]
        before = [t for t in doc if t.idx < start - 1 and not inq[t.i]]
        if not before and part > 1:
            doc, inq = self.docs[part - 1], self.in_quote[part - 1]
            before = [t for t in doc if not inq[t.i]]
        if not before or before[-1].text != ":":
            return None
        verb = before[-1].head
        while verb.pos_ not in ("VERB", "AUX") and verb.head.i != verb.i:
            verb = verb.head
        if verb.pos_ not in ("VERB", "AUX"):
            return None
        subject = _speaker_of(verb, inq)
        return (verb, subject) if subject is not None else None

    def _dash_credit(self, part: int, end: int) -> tuple[Token, Token | None] | None:
        """A quote credited after a dash, as in reader-comment roundups ("“...” ― Jane Doe")."""
        doc = self.docs[part]
        after = [t for t in doc if t.idx > end and not t.is_space]
        if len(after) < 2 or after[0].text not in ("\u2015", "\u2014", "\u2013", "-", "--"):
            return None
        mention = self.by_token.get((part, after[1].i))
        if mention is not None and mention.label == "PERSON":
            return after[0], doc[mention.end - 1]
        if after[1].pos_ == "PROPN" and after[1].text[:1].isupper():
            last = after[1]
            while last.i + 1 < len(doc) and doc[last.i + 1].pos_ == "PROPN":
                last = doc[last.i + 1]
            return after[0], last
        return None

    def _cue_before(self, part: int, start: int) -> tuple[Token, Token | None] | None:
        doc, inq = self.docs[part], self.in_quote[part]
        for tok in reversed(doc):
            if tok.idx >= start - 1 or inq[tok.i]:
                continue
            if tok.text in (".", "!", "?", ";"):
                return None
            if _is_cue(tok):
                return tok, _speaker_of(tok, inq)
        return None

    def _person_subjects(self) -> list[tuple[int, int, str]]:
        """(part, token, entity_id) of every PERSON mention that is a clause subject outside quotes."""
        out = []
        for m in self.mentions:
            if m.label != "PERSON" or self.in_quote[m.part][m.start]:
                continue
            doc = self.docs[m.part]
            root = doc[m.start : m.end].root
            if root.dep_ in SUBJECT_DEPS or (
                root.dep_ in ("appos", "conj") and root.head.dep_ in SUBJECT_DEPS
            ):
                out.append((m.part, m.start, self.clusters[m.cluster].id))
        return out

    def _resolve_speaker(self, subj: Token, subjects: list[tuple[int, int, str]]) -> str | None:
        part = self._part_of(subj)
        mention = self.by_token.get((part, subj.i))
        if mention is not None and mention.label in ("PERSON", "ORG"):
            return self.clusters[mention.cluster].id
        for c in subj.children:  # "Mexico's Foreign Minister, Alicia Barcena, told"
            appos = self.by_token.get((part, c.i)) if c.dep_ == "appos" else None
            if appos is not None and appos.label == "PERSON":
                return self.clusters[appos.cluster].id
        if subj.lower_ in _PRONOUNS:
            before = [s for s in subjects if (s[0], s[1]) < (part, subj.i)]
            return before[-1][2] if before else None
        return None

    def _part_of(self, tok: Token) -> int:
        return self._parts[id(tok.doc)]

    def _sentences(self, part: int) -> list[tuple[int, int]]:
        """The (start, end) characters of the sentence of each token of doc `part`."""
        table = self._sentence_cache.get(part)
        if table is None:
            table = [(0, 0)] * len(self.docs[part])
            for sent in self.docs[part].sents:
                table[sent.start : sent.end] = [(sent.start_char, sent.end_char)] * len(sent)
            self._sentence_cache[part] = table
        return table


def _is_cue(tok: Token) -> bool:
    if tok.lower_ == "according":
        return tok.i + 1 < len(tok.doc) and tok.doc[tok.i + 1].lower_ == "to"
    return tok.lower_ in _CUE_FORMS or (tok.pos_ == "VERB" and tok.lemma_.lower() in _CUE_LEMMAS)


def _speaker_of(verb: Token, in_quote: list[bool]) -> Token | None:
    """Return the head token of whoever `verb` attributes words to, or None."""
    if verb.lower_ == "according":
        to = verb.doc[verb.i + 1]
        objs = [c for c in to.children if c.dep_ == "pobj"]
        return _source_of(objs[0]) if objs else None
    tok = verb
    for _ in range(5):
        for c in tok.children:
            if c.dep_ in SUBJECT_DEPS and not in_quote[c.i] and not _is_time_word(c):
                if c.lower_ in ("who", "that") and tok.dep_ == "relcl":
                    return tok.head  # "Biden, who ... promised to “...”"
                return c
        if (
            tok.dep_
            not in (
                "advcl",
                "xcomp",
                "conj",
                "pcomp",
                "acl",
                "relcl",
                "dep",
                "parataxis",
                "npadvmod",
                "pobj",
                "prep",
            )
            or tok.head.i == tok.i
        ):
            break
        tok = tok.head
    nxt = verb.doc[verb.i + 1] if verb.i + 1 < len(verb.doc) else None
    if nxt is not None and nxt.pos_ == "PROPN" and not in_quote[nxt.i]:  # "Said Ellis: “...”"
        while nxt.head.i > nxt.i and nxt.head.pos_ == "PROPN" and nxt.dep_ in ("compound", "flat"):
            nxt = nxt.head
        return nxt
    return None


def _is_time_word(tok: Token) -> bool:
    """True for a date or time parsed as a subject ("Flynn said Thursday morning")."""
    return tok.ent_type_ in ("DATE", "TIME") or tok.lower_ in WEEKDAYS or tok.lower_ in _TIME_WORDS


def _source_of(tok: Token) -> Token:
    """'a statement released by the state department' -> department; anything else unchanged."""
    if tok.lemma_.lower() in _SOURCE_DOCUMENTS:
        for t in tok.subtree:
            if t.dep_ == "pobj" and t.head.dep_ == "agent":
                return t
    return tok


def _np_bounds(head: Token, in_quote: list[bool]) -> tuple[int, int]:
    """The token range of `head`'s noun phrase as written, without relative clauses, appositions
    or quotes."""
    keep = {head.i}
    stack = [head]
    while stack:
        t = stack.pop()
        for c in t.children:
            if c.dep_ in _NP_DEPS and not in_quote[c.i]:
                keep.add(c.i)
                stack.append(c)
    lo, hi = min(keep), max(keep)
    # Don't reach across a comma (appositions the parser hung on a compound).
    for i in range(head.i - 1, lo - 1, -1):
        if head.doc[i].text in (",", "(", "\u2014", "\u2013"):
            lo = i + 1
            break
    while hi > lo and head.doc[hi].text in (",", "(", "\u2014", "\u2013"):
        hi -= 1
    return lo, hi + 1


def _verb_text(verb: Token) -> str:
    return "according to" if verb.lower_ == "according" else verb.text


def _token_at(doc: Doc, char: int) -> int:
    """The index of the token of `doc` at or after character `char` (its last token past the end)."""
    for tok in doc:
        if tok.idx + len(tok.text) > char:
            return tok.i
    return len(doc) - 1


def _kind(tok: Token, mention: Mention | None) -> str:
    """The `speakers.KINDS` kind of a candidate headed by `tok`."""
    if mention is not None:
        return {"PERSON": "person", "ORG": "org"}.get(mention.label, "place")
    if tok.pos_ == "PRON" or tok.lower_ in _PRONOUNS:
        return "pronoun"
    return "propn" if tok.pos_ == "PROPN" else "noun"


def _spans(head: Token, q: QuoteSpan, part: int) -> bool:
    """True when the subtree of `head` (in doc `part`) reaches into a segment of `q`."""
    lo, hi = head.left_edge.idx, head.right_edge.idx
    return any(p + 1 == part and lo < e and s <= hi for p, s, e in q.segments)
