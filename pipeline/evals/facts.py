"""``copydesk eval entities|quotes|quantities``: the facts core on labeled news.

entities (CoNLL-2003 column format)
    The CoNLL tokens become a spaCy Doc as given (so spans align), run through the facts stage's
    pipeline and its mention repairs (`FactExtractor.entity_spans`). Our labels map to CoNLL's:
    PERSON->PER, ORG->ORG, GPE/LOC/FAC->LOC, NORP/EVENT/PRODUCT/WORK_OF_ART/LAW/LANGUAGE->MISC;
    other labels are not names and are dropped. Gold chunks are read from IOB1 as conlleval does
    (a chunk starts at B-X, or at I-X after O or another type). Scores are conlleval's:
    entity-level exact match (same start, end and type), micro P/R/F1 overall and per type.

quotes (PolNeAR layout)
    Gold: the attributions of the alphabetically first annotator whose content has quote marks
    (`has_quote_marks`; `content` not null). Predicted: the stage's quotes
    (`FactExtractor.locate_quotes`), each the characters of its content segments. overlap(p, g) =
    |chars(p) & chars(g)| / |chars(g)|, whitespace not counted; a pair matches when overlap >=
    0.5. Pairs are matched greedily one to one, highest overlap first. The quotes of one attribution
    (`LocatedQuote.attribution`) are one prediction, the union of their content segments.
    `f1_jaccard` scores the same with |p & g| / |p | g| >= 0.5, the stricter measure of the
    textacy reference in ../shared/data/README.md. The speaker of a matched
    quote is right when the predicted speaker mention's characters overlap the gold source's, or
    when the entity it resolves to is named in the gold source (same folded surname). A gold source
    that is only a cue word ("said") whose cue span holds a name was annotated the wrong way round
    (5 of the dev set's matched quotes); its cue span is taken as the source.

quantities (NewsQuant layout)
    Per sentence, predicted quantities are matched greedily one to one with gold ones of equal
    value (a range "252.0-287.0" equals value 252 with high 287; equal means within 1e-6
    relative). value+unit also needs equal units: our `unit`, else our `counted` noun, against
    the gold `unit` or `normalized_unit`, both normalized by `normalize_unit` (lowercase,
    singular, "$"/"dollars"/"USD" -> dollar, "%"/"percent" -> percentage, ...); a gold "-" wants
    neither unit nor counted noun. Our counted noun is the head noun only ("transplants"), where
    NewsQuant's counted unit keeps its modifiers ("heart transplants"), so a counted noun also
    matches the last word of the gold unit; `f1_value_unit_strict` reports whole-unit matches only.

Every command prints a readable report and, last, one JSON line (see `report.emit_json`).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pipeline.evals.report import Counts, emit_json
from pipeline.evals.split import select, split_option
from pipeline.facts.units import resolve
from pipeline.settings import Settings

if TYPE_CHECKING:
    from pipeline.facts import FactExtractor
    from pipeline.facts.quotes import LocatedQuote
    from schemas.models import NormalizedArticle

__all__ = [
    "entities",
    "iob_chunks",
    "match_greedy",
    "normalize_unit",
    "polnear_article",
    "polnear_gold",
    "quantities",
    "quotes",
    "read_conll",
    "read_conll_documents",
    "to_conll_label",
]

_RECEIVED = datetime(2000, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=1)
def _extractor() -> FactExtractor:
    """The facts core as the stage builds it (no alias memory), loaded once per process."""
    from pipeline.facts import FactExtractor

    return FactExtractor(max_chars=Settings().facts.text_bound)


# --- CoNLL-2003 ------------------------------------------------------------------------------------

_TO_CONLL = {
    "PERSON": "PER",
    "ORG": "ORG",
    "GPE": "LOC",
    "LOC": "LOC",
    "FAC": "LOC",
    "NORP": "MISC",
    "EVENT": "MISC",
    "PRODUCT": "MISC",
    "WORK_OF_ART": "MISC",
    "LAW": "MISC",
    "LANGUAGE": "MISC",
}


def to_conll_label(label: str) -> str | None:
    """Return the CoNLL-2003 type of an OntoNotes label, or None when it is not a name."""
    return _TO_CONLL.get(label)


def read_conll(path: Path) -> list[tuple[list[str], list[tuple[int, int, str]]]]:
    """Return the sentences of a CoNLL-2003 file as (words, entity spans) with conlleval's IOB1
    chunking: an entity starts at ``B-X``, or at ``I-X`` after ``O`` or after another type."""
    return [sentence for _, sentence in read_conll_documents(path)]


def read_conll_documents(path: Path) -> list[tuple[str, tuple[list[str], list[tuple[int, int, str]]]]]:
    """Return ``read_conll``'s sentences, each with a key of its document (the words of the document's
    first sentence): the sentences of one ``-DOCSTART-`` document share it."""
    sentences: list[tuple[str, tuple[list[str], list[tuple[int, int, str]]]]] = []
    words: list[str] = []
    tags: list[str] = []
    document: list[str] = []  # the key of the document being read, set by its first sentence

    def flush() -> None:
        if words:
            if not document:
                document.append(" ".join(words))
            sentences.append((document[0], (list(words), iob_chunks(tags))))
        words.clear()
        tags.clear()

    for line in Path(path).read_text(encoding="utf-8").splitlines():
        cols = line.split()
        if not cols or cols[0] == "-DOCSTART-":
            flush()
            if cols:
                document.clear()
            continue
        words.append(cols[0])
        tags.append(cols[-1])
    flush()
    return sentences


def iob_chunks(tags: list[str]) -> list[tuple[int, int, str]]:
    """Return the (start, end, type) chunks of IOB1 or IOB2 tags, as conlleval reads them."""
    chunks: list[tuple[int, int, str]] = []
    start, kind = 0, None
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, label = tag.partition("-")
        begins = prefix == "B" or (prefix == "I" and label != kind)
        if kind is not None and (prefix == "O" or begins):
            chunks.append((start, i, kind))
            kind = None
        if begins:
            start, kind = i, label
    return chunks


def score_spans(
    gold: Iterable[set[tuple[int, int, str]]], predicted: Iterable[set[tuple[int, int, str]]]
) -> dict[str, Counts]:
    """Return exact-match counts per type and overall ("all") over paired sentences."""
    counts: dict[str, Counts] = {"all": Counts()}
    for g, p in zip(gold, predicted, strict=True):
        for span in p | g:
            c = counts.setdefault(span[2], Counts())
            hit = Counts(tp=int(span in g and span in p), fp=int(span not in g), fn=int(span not in p))
            c.add(hit)
            counts["all"].add(hit)
    return counts


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--limit", type=int, default=None, help="Score only the first N sentences.")
@click.option(
    "--raw", is_flag=True, help="Score the NER's entities as they are, without the stage's repairs."
)
@click.option("--show-errors", type=int, default=0, help="Print up to N sentences with errors.")
@split_option
def entities(file: Path, limit: int | None, raw: bool, show_errors: int, split: str | None) -> None:
    """Entity-level P/R/F1 on a CoNLL-2003 file (conlleval semantics; label mapping in the module doc)."""
    from spacy.tokens import Doc

    keyed = select(read_conll_documents(file), itemgetter(0), split)[:limit]
    sentences = [s for _, s in keyed]
    extractor = _extractor()
    docs = [Doc(extractor.nlp.vocab, words=words) for words, _ in sentences]
    started = time.perf_counter()
    parsed = list(extractor.nlp.pipe(docs, batch_size=256))
    predicted: list[set[tuple[int, int, str]]] = []
    # A CoNLL document is one article: its sentences are read together, as the stage reads an article's parts.
    for _, group in groupby(zip(keyed, parsed, strict=True), key=lambda pair: pair[0][0]):
        article = [doc for _, doc in group]
        if raw:
            per_doc = [[(e.start, e.end, e.label_) for e in doc.ents] for doc in article]
        else:
            per_doc = extractor.entity_spans(article)
        for spans in per_doc:
            predicted.append({(s, e, to_conll_label(lab)) for s, e, lab in spans if to_conll_label(lab)})
    elapsed = time.perf_counter() - started
    gold = [set(spans) for _, spans in sentences]
    counts = score_spans(gold, predicted)
    words = sum(len(w) for w, _ in sentences)

    shown = 0
    for (ws, _), g, p in zip(sentences, gold, predicted, strict=True):
        if shown >= show_errors:
            break
        if g != p:
            shown += 1
            click.echo(" ".join(ws))
            for s, e, lab in sorted(g - p):
                click.echo(f"    missed {lab:<4} {' '.join(ws[s:e])}")
            for s, e, lab in sorted(p - g):
                click.echo(f"    wrong  {lab:<4} {' '.join(ws[s:e])}")
    click.echo(f"{file.name}: {len(sentences)} sentences, {words} words, {sum(map(len, gold))} gold entities")
    click.echo(counts["all"].line("overall"))
    for label in ("PER", "ORG", "LOC", "MISC"):
        click.echo(counts.get(label, Counts()).line(label))
    click.echo(f"{words / elapsed:,.0f} words/s ({'NER only' if raw else 'NER and mention repairs'})")
    all_ = counts["all"]
    emit_json(
        {
            "eval": "entities",
            "sentences": len(sentences),
            "precision": all_.precision,
            "recall": all_.recall,
            "f1": all_.f1,
            "per_type_f1": {label: counts.get(label, Counts()).f1 for label in ("PER", "ORG", "LOC", "MISC")},
            "words_per_second": words / elapsed,
        }
    )


# --- greedy one-to-one matching --------------------------------------------------------------------


def match_greedy(scores: dict[tuple[int, int], float], threshold: float) -> dict[int, int]:
    """Return {predicted index: gold index} matched one to one, highest score first, among pairs
    scoring at least `threshold` (ties by index, so the result is deterministic)."""
    matched: dict[int, int] = {}
    used: set[int] = set()
    for (p, g), score in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0])):
        if score >= threshold and p not in matched and g not in used:
            matched[p] = g
            used.add(g)
    return matched


# --- PolNeAR ---------------------------------------------------------------------------------------

_QUOTE_MARKS = '"“”„«»'
_CUE_WORDS = {"said", "says", "say", "told", "tells", "added", "adds", "wrote", "writes"}


def _chars(text: str, spans: Iterable[tuple[int, int]]) -> set[int]:
    """Character positions of the spans, without whitespace and quote marks."""
    return {i for s, e in spans for i in range(s, e) if not text[i].isspace() and text[i] not in _QUOTE_MARKS}


def paragraphs_with_offsets(text: str) -> list[tuple[int, str]]:
    """Return the non-blank lines of `text` as (offset, line stripped of surrounding blanks)."""
    out = []
    for m in re.finditer(r"[^\n]+", text):
        line = m.group()
        stripped = line.strip()
        if stripped:
            out.append((m.start() + len(line) - len(line.lstrip()), stripped))
    return out


def polnear_article(row: dict) -> tuple[NormalizedArticle, list[int]]:
    """Return a PolNeAR row as the article the stage reads (its non-blank lines are the paragraphs) and the
    character offset of each paragraph in the row's ``text``."""
    from schemas.models import NormalizedArticle

    paras = paragraphs_with_offsets(row["text"])
    article = NormalizedArticle(
        article_id=row["article_id"],
        feed="polnear",
        received_at=_RECEIVED,
        headline=row.get("title") or "",
        paragraphs=[p for _, p in paras],
        body="\n\n".join(p for _, p in paras),
        word_count=len(row["text"].split()),
    )
    return article, [o for o, _ in paras]


def polnear_gold(row: dict) -> list[dict]:
    """Return the gold quotes of a PolNeAR row: the attributions of its alphabetically first annotator whose
    content has quote marks."""
    annotations = row["annotations"]
    if not annotations:
        return []
    return [
        a for a in annotations[sorted(annotations)[0]] if a["content"] is not None and a["has_quote_marks"]
    ]


def quote_overlaps(
    text: str, offsets: list[int], located: list[LocatedQuote], gold_chars: list[set[int]]
) -> tuple[list[LocatedQuote], list[set[int]], dict[tuple[int, int], float]]:
    """Return one article's predictions as PolNeAR counts them, the first quote of each attribution (the
    quotes of one attribution are one span), their characters in ``text``, and the overlap of every
    (prediction, gold) pair that shares a character."""
    groups: dict[int, list[LocatedQuote]] = {}
    for q in located:
        groups.setdefault(q.attribution, []).append(q)
    pred_chars = [
        _chars(text, [(offsets[p] + s, offsets[p] + e) for q in g for p, s, e in q.content])
        for g in groups.values()
    ]
    scores = {
        (pi, gi): len(pc & gc) / len(gc)
        for pi, pc in enumerate(pred_chars)
        for gi, gc in enumerate(gold_chars)
        if gc and pc & gc
    }
    return [g[0] for g in groups.values()], pred_chars, scores


def gold_source(attribution: dict) -> dict | None:
    """Return the source span of a gold attribution (its cue span when the two were annotated the wrong way
    round: a source that is only a cue word), or None when it has none."""
    from pipeline.text import name_key

    source, cue = attribution["source"], attribution["cue"]
    if source is not None and cue is not None and name_key(source["text"]) in _CUE_WORDS:
        return cue
    return source


def speaker_matches(text: str, span: tuple[int, int], entity_id: str | None, source: dict) -> bool:
    """True when a speaker mention (characters ``span`` of ``text``, resolved to ``entity_id``) is the gold
    ``source``: their characters overlap, or the entity's surname is a word of the source."""
    from pipeline.text import name_key

    if _chars(text, [span]) & _chars(text, map(tuple, source["spans"])):
        return True
    if not entity_id:
        return False
    surname = entity_id.split(":", 1)[1].split("-")[-1]
    return surname in name_key(source["text"]).split()


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--limit", type=int, default=None, help="Score only the first N articles.")
@click.option("--threshold", type=float, default=0.5, show_default=True, help="Minimum overlap of a match.")
@click.option("--show-errors", type=int, default=0, help="Print up to N missed and N spurious quotes.")
@split_option
def quotes(file: Path, limit: int | None, threshold: float, show_errors: int, split: str | None) -> None:
    """Direct-quote P/R/F1 and speaker accuracy on a PolNeAR file (matching in the module doc)."""
    rows = [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = select(rows, lambda row: str(row["article_id"]), split)[:limit]
    extractor = _extractor()
    articles, offsets = [], []
    for row in rows:
        article, offs = polnear_article(row)
        articles.append(article)
        offsets.append(offs)
    started = time.perf_counter()
    located = extractor.locate_quotes(articles)
    elapsed = time.perf_counter() - started

    counts, jaccard_counts, speaker_right, missed, spurious, misattributed = Counts(), Counts(), 0, [], [], []
    for row, offs, found in zip(rows, offsets, located, strict=True):
        text = row["text"]
        gold = polnear_gold(row)
        gold_chars = [_chars(text, map(tuple, a["content"]["spans"])) for a in gold]
        found, pred_chars, scores = quote_overlaps(text, offs, found, gold_chars)
        matched = match_greedy(scores, threshold)
        counts.add(Counts(tp=len(matched), fp=len(found) - len(matched), fn=len(gold) - len(matched)))
        jaccard = {
            (pi, gi): len(pred_chars[pi] & gold_chars[gi]) / len(pred_chars[pi] | gold_chars[gi])
            for pi, gi in scores
        }
        n = len(match_greedy(jaccard, threshold))
        jaccard_counts.add(Counts(tp=n, fp=len(found) - n, fn=len(gold) - n))
        for pi, gi in matched.items():
            source = gold_source(gold[gi])
            q = found[pi]
            if source is None or q.speaker_span is None:
                continue
            p, s, e = q.speaker_span
            right = speaker_matches(text, (offs[p] + s, offs[p] + e), q.quote.speaker_entity_id, source)
            speaker_right += right
            if not right:
                said_by = text[offs[p] + s : offs[p] + e]
                misattributed.append(
                    (row["article_id"], f"{said_by} (gold: {source['text']}): {q.quote.text}")
                )
        missed += [
            (row["article_id"], g["content"]["text"])
            for gi, g in enumerate(gold)
            if gi not in matched.values()
        ]
        spurious += [(row["article_id"], q.quote.text) for pi, q in enumerate(found) if pi not in matched]

    for title, items in (("missed", missed), ("spurious", spurious), ("speaker", misattributed)):
        for article_id, quote_text in items[:show_errors]:
            click.echo(f"{title:<8} {article_id[:40]:<40} {quote_text[:110]!r}")
    words = sum(len(r["text"].split()) for r in rows)
    accuracy = speaker_right / counts.tp if counts.tp else 0.0
    click.echo(f"{file.name}: {len(rows)} articles, {words} words, {counts.tp + counts.fn} gold quotes")
    click.echo(counts.line(f"quotes (overlap>={threshold:.0%})"))
    click.echo(jaccard_counts.line(f"  (Jaccard>={threshold:.0%})"))
    click.echo(f"speaker accuracy on matched quotes: {accuracy * 100:.1f}% ({speaker_right}/{counts.tp})")
    click.echo(f"{words / elapsed:,.0f} words/s (whole facts stage)")
    emit_json(
        {
            "eval": "quotes",
            "articles": len(rows),
            "precision": counts.precision,
            "recall": counts.recall,
            "f1": counts.f1,
            "speaker_accuracy": accuracy,
            "f1_jaccard": jaccard_counts.f1,
            "words_per_second": words / elapsed,
        }
    )


# --- NewsQuant -------------------------------------------------------------------------------------

_UNIT_WORDS = {
    "$": "dollar",
    "us$": "dollar",
    "usd": "dollar",
    "dollars": "dollar",
    "€": "euro",
    "eur": "euro",
    "euros": "euro",
    "£": "pound",
    "gbp": "pound",
    "¥": "yen",
    "jpy": "yen",
    "cny": "yuan",
    "inr": "rupee",
    "mxn": "peso",
    "%": "percentage",
    "percent": "percentage",
    "pct": "percentage",
    "metre": "meter",
    "metres": "meter",
    "kilometre": "kilometer",
    "kilometres": "kilometer",
    "km": "kilometer",
    "litre": "liter",
    "litres": "liter",
    "feet": "foot",
    "ft": "foot",
    "kg": "kilogram",
    "lb": "pound",
    "lbs": "pound",
    "horsepower": "hp",
    "p": "pence",
    "year-old": "year of age",
    "years of age": "year of age",
    "people": "people",
    "persons": "people",
    "person": "people",
}


def normalize_unit(unit: str | None) -> str:
    """Return a comparable form of a unit or counted noun ("" for none): lowercase, singular,
    currency and percent symbols spelled out ("US$" -> "dollar", "per cent" -> "percentage"). A unit
    ``pipeline.facts.units`` knows is read as the unit it names first, so spellings of one unit match."""
    if unit is None or unit.strip() in ("", "-"):
        return ""
    unit = resolve(unit) or unit  # "km" and "kilometres" name one unit, "Australian dollars" is AUD
    text = re.sub(r"(us\$|[$€£¥%])", r" \1 ", unit.lower().replace("per cent", "percent"))
    words = []
    for word in re.findall(r"us\$|[$€£¥%]|[\w'-]+", text):
        word = _UNIT_WORDS.get(word, word)
        if (
            word not in _UNIT_WORDS.values()
            and len(word) > 3
            and word.endswith("s")
            and not word.endswith(("ss", "us"))
        ):
            word = word[:-3] + "y" if word.endswith("ies") else word[:-1]
        words.append(_UNIT_WORDS.get(word, word))
    return " ".join(words)


def _gold_value(value: str) -> tuple[float, float | None] | None:
    m = re.fullmatch(r"\s*(-?[\d.]+)\s*(?:-\s*(-?[\d.]+))?\s*", value)
    if not m:
        return None
    return float(m.group(1)), float(m.group(2)) if m.group(2) else None


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--limit", type=int, default=None, help="Score only the first N sentences.")
@click.option("--show-errors", type=int, default=0, help="Print up to N sentences with errors.")
@split_option
def quantities(file: Path, limit: int | None, show_errors: int, split: str | None) -> None:
    """Quantity P/R/F1 on value and on value+unit on a NewsQuant file (matching in the module doc)."""
    from schemas.models import NormalizedArticle

    rows = [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = select(rows, lambda row: str(row["id"]), split)[:limit]
    extractor = _extractor()
    articles = [
        NormalizedArticle(
            article_id=str(row["id"]),
            feed="newsquant",
            received_at=_RECEIVED,
            headline="",
            paragraphs=[row["text"]],
            body=row["text"],
            word_count=len(row["text"].split()),
        )
        for row in rows
    ]
    started = time.perf_counter()
    facts = extractor.extract_many(articles)
    elapsed = time.perf_counter() - started

    value_counts, unit_counts, strict_counts, shown = Counts(), Counts(), Counts(), 0
    for row, f in zip(rows, facts, strict=True):
        gold = []
        for q in row["quantities"]:
            parsed = _gold_value(q["value"])
            if parsed is not None:
                units = {normalize_unit(q["unit"]), normalize_unit(q["normalized_unit"])}
                heads = {u.split()[-1] for u in units if u}
                gold.append((*parsed, units, heads))
        pred = [(q.value, q.high, normalize_unit(q.unit or q.counted), q.unit is None) for q in f.quantities]
        value_scores = {
            (pi, gi): 1.0
            for pi, p in enumerate(pred)
            for gi, g in enumerate(gold)
            if _same(p[0], g[0]) and (g[1] is None or _same(p[1], g[1]))
        }
        strict_scores = {pair: 1.0 for pair in value_scores if pred[pair[0]][2] in gold[pair[1]][2]}
        unit_scores = {
            (pi, gi): 1.0
            for pi, gi in value_scores
            if pred[pi][2] in gold[gi][2] or (pred[pi][3] and pred[pi][2] in gold[gi][3])
        }
        for counts, scores in (
            (value_counts, value_scores),
            (unit_counts, unit_scores),
            (strict_counts, strict_scores),
        ):
            n = len(match_greedy(scores, 1.0))
            counts.add(Counts(tp=n, fp=len(pred) - n, fn=len(gold) - n))
        if shown < show_errors and (len(match_greedy(unit_scores, 1.0)) < max(len(pred), len(gold))):
            shown += 1
            click.echo(row["text"])
            click.echo(f"    gold {[(q['value'], q['unit']) for q in row['quantities']]}")
            click.echo(f"    ours {[(q.value, q.high, q.unit or q.counted) for q in f.quantities]}")
    click.echo(
        f"{file.name}: {len(rows)} sentences, {sum(len(r['quantities']) for r in rows)} gold quantities"
    )
    click.echo(value_counts.line("value"))
    click.echo(unit_counts.line("value+unit"))
    click.echo(strict_counts.line("value+unit, whole unit"))
    click.echo(f"{len(rows) / elapsed:,.0f} sentences/s (whole facts stage)")
    emit_json(
        {
            "eval": "quantities",
            "sentences": len(rows),
            "precision": value_counts.precision,
            "recall": value_counts.recall,
            "f1": value_counts.f1,
            "f1_value": value_counts.f1,
            "precision_value_unit": unit_counts.precision,
            "recall_value_unit": unit_counts.recall,
            "f1_value_unit": unit_counts.f1,
            "f1_value_unit_strict": strict_counts.f1,
            "sentences_per_second": len(rows) / elapsed,
        }
    )
