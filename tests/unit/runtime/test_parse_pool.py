"""The facts stage's parse in child processes: the same facts as in process, and no article lost to a child."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from pipeline.facts import FactExtractor
from pipeline.runtime.parse_pool import (
    BACKGROUND_NICE,
    HeadDocs,
    ParsePool,
    _pack_docs,
    _unpack_docs,
    split_runs,
)
from tests.conftest import seed_snippets as article

SEEDS = ["000", "001", "002", "003", "004"]


@given(st.lists(st.text(max_size=30), min_size=1, max_size=40), st.integers(min_value=1, max_value=6))
def test_runs_are_contiguous_non_empty_and_at_most_asked(texts: list[str], runs: int) -> None:
    split = split_runs(texts, runs)
    assert [text for run in split for text in run] == texts
    assert all(split) and len(split) <= runs


def test_runs_share_the_characters_about_equally() -> None:
    texts = ["x" * 100] * 10
    assert [len(run) for run in split_runs(texts, 2)] == [5, 5]
    assert [len(run) for run in split_runs(["x" * 900, "x" * 50, "x" * 50], 2)] == [1, 2]


class _Parser:
    """A stand-in parse: each text's "doc" is a new object naming it; remembers what it was asked."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def __call__(self, texts: list[str]) -> list[object]:
        self.asked.append(list(texts))
        return [("doc", text, object()) for text in texts]


def test_a_whole_parse_takes_the_kept_head_docs_and_parses_the_other_texts() -> None:
    heads, parser = HeadDocs(), _Parser()
    head = heads.parse(["H", "p1", "p2 cut"], parser, keep=True)
    assert len(heads) == 3

    whole = heads.parse(["H", "p1", "p2 whole", "p3"], parser, keep=False)

    assert parser.asked == [["H", "p1", "p2 cut"], ["p2 whole", "p3"]]
    assert whole[:2] == head[:2] and [doc[1] for doc in whole] == ["H", "p1", "p2 whole", "p3"]
    assert len(heads) == 1  # taken once; the cut text, never asked for again, ages out
    heads.parse(["H", "p1"], parser, keep=False)
    assert parser.asked[-1] == ["H", "p1"]


def test_kept_docs_are_bounded_by_their_characters_the_oldest_going_first() -> None:
    heads, parser = HeadDocs(max_chars=10), _Parser()
    heads.parse(["aaaa", "bbbb"], parser, keep=True)
    heads.parse(["cccc", "bbbb"], parser, keep=True)  # "bbbb" again: kept once, now the youngest
    assert len(heads) == 2 and heads._chars == 8
    heads.parse(["dddd", "aaaa"], parser, keep=False)
    assert parser.asked[-1] == ["dddd", "aaaa"]  # "aaaa" went first, when "cccc" came


@pytest.fixture(scope="module")
def extractor() -> FactExtractor:
    return FactExtractor()


@pytest.fixture(scope="module")
def pool(extractor: FactExtractor) -> Iterator[ParsePool]:
    with ParsePool(extractor, 2, split_chars=200) as made:  # split even the seeds' paragraphs
        yield made


def test_the_pool_gives_the_facts_of_a_parse_in_process(extractor, pool) -> None:
    for seed in SEEDS:
        a = article(seed)
        docs = pool.parse_article(a)
        assert [d.text for d in docs] == extractor.texts(a)
        assert [d.to_json() for d in docs] == [d.to_json() for d in extractor.parse(a)]
        assert extractor.assemble(a, docs) == extractor.extract(a)


def test_a_background_parse_runs_in_children_of_its_own_at_low_priority(extractor, pool) -> None:
    a = article("001")
    docs = pool.parse_article(a, background=True)
    assert [d.to_json() for d in docs] == [d.to_json() for d in extractor.parse(a)]
    background = pool._children[pool._background :]
    assert len(background) == 2  # split across two, as the stream's parses are
    for child in background:
        assert child is not None and child.poll() is None
        nice = int(Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[16])
        assert nice == BACKGROUND_NICE
    head = pool.parse_article(a, head=True)  # the stream's parses stay with the other children
    assert [d.text for d in head] == extractor.texts(a, head=True)


def _shared(head_texts: list[str], texts: list[str]) -> int:
    """How many texts a head has in common with its whole article: all but the one it cut."""
    return next(i for i, (h, w) in enumerate(zip(head_texts, texts, strict=False)) if h != w)


def test_a_whole_parse_in_the_background_parses_only_what_its_head_did_not(
    extractor, pool, monkeypatch
) -> None:
    monkeypatch.setattr(extractor, "inline_chars", 1500)
    monkeypatch.setattr(pool, "_heads", HeadDocs())  # none kept by the tests before
    a = article("001")
    head_texts, texts = extractor.texts(a, head=True), extractor.texts(a)
    shared = _shared(head_texts, texts)
    assert 0 < shared < len(texts)  # the seed splits: whole texts, then one cut
    head = pool.parse_article(a, head=True)
    sent: list[list[str]] = []
    background = pool.parse_background
    monkeypatch.setattr(pool, "parse_background", lambda todo: sent.append(list(todo)) or background(todo))

    docs = pool.parse_article(a, background=True)

    assert sent == [texts[shared:]]
    assert all(d is h for d, h in zip(docs[:shared], head, strict=False))
    assert [d.to_json() for d in docs] == [d.to_json() for d in extractor.parse(a)]
    assert extractor.assemble(a, docs) == extractor.extract(a)


def _span_groups(doc) -> dict[str, list[tuple[int, int, str]]]:
    return {name: [(s.start, s.end, s.label_) for s in group] for name, group in doc.spans.items()}


def test_docs_cross_with_their_span_groups(extractor) -> None:
    texts = extractor.texts(article("001"))
    docs = list(extractor.nlp.pipe(texts))
    docs[0].spans["extra"] = [docs[0][0:2]]
    docs[0].spans["extra"][0].label_ = "X"
    want = [(d.to_json(), _span_groups(d)) for d in docs]
    assert any(d.spans.get("ontonotes") for d in docs)  # the facts stage's stash is among them

    got = _unpack_docs(_pack_docs(docs), extractor.nlp.vocab)

    assert [(d.to_json(), _span_groups(d)) for d in got] == want
    payload = _pack_docs(got)
    docbin_end = 4 + int.from_bytes(payload[:4], "big")
    with pytest.raises(ValueError, match="span groups for 0 of"):
        _unpack_docs(payload[:docbin_end] + b"[]", extractor.nlp.vocab)


def test_a_short_article_is_parsed_in_process(extractor) -> None:
    pool = ParsePool(extractor, 1, split_chars=10**9)
    pool.close()  # no child: a short article never needs one
    a = article("000")
    assert extractor.assemble(a, pool.parse_article(a)) == extractor.extract(a)


def test_a_dead_child_is_started_again_before_its_next_run(extractor, pool) -> None:
    a = article("001")
    pool.parse_article(a)  # both children up
    for child in pool._children[: pool._background]:
        assert child is not None
        child.kill()
        child.wait()
    assert extractor.assemble(a, pool.parse_article(a)) == extractor.extract(a)
    assert all(child is not None and child.poll() is None for child in pool._children[: pool._background])


def test_a_child_that_fails_mid_parse_costs_one_article_in_process(extractor, pool, caplog) -> None:
    a = article("002")
    pool.parse_article(a)
    # A child that says it is ready and exits: the next run finds its output closed.
    quitter = "import struct, sys; sys.stdout.buffer.write(struct.pack('>I', 5) + b'ready')"
    pool._command, command = [sys.executable, "-c", quitter], pool._command
    pool._restart(0)
    pool._command = command
    failures = REGISTRY.get_sample_value("copydesk_parse_process_failures_total") or 0.0
    assert extractor.assemble(a, pool.parse_article(a)) == extractor.extract(a)
    assert "parse process failed" in caplog.text
    assert REGISTRY.get_sample_value("copydesk_parse_process_failures_total") == failures + 1
    assert extractor.assemble(a, pool.parse_article(a)) == extractor.extract(a)  # a real child again
    assert all(child is not None and child.poll() is None for child in pool._children[: pool._background])


def test_closing_the_pool_ends_its_children(extractor) -> None:
    pool = ParsePool(extractor, 2, split_chars=200)
    pool.parse_article(article("002"))
    children = list(pool._children)
    pool.close()
    assert all(child is not None and child.returncode is not None for child in children)


def test_a_child_whose_worker_died_while_it_loaded_exits_quietly(extractor) -> None:
    # kill -9 of a worker closes the pipes of children still loading their models: their "ready" finds no
    # reader, and they exit without a traceback in the worker's log.
    pool = ParsePool(extractor, 1)
    pool.close()
    child = subprocess.Popen(
        [*pool._command, "0"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()
    _, err = child.communicate(timeout=120)
    assert child.returncode == 0
    assert b"Traceback" not in err


def test_in_process_the_whole_parse_also_takes_the_heads_docs(extractor, monkeypatch) -> None:
    # FACTS__PARSE_PROCESSES=0: the worker parses in process (``in_turn``) and keeps a head's docs the same way.
    from pipeline.runtime.parse_pool import in_turn

    monkeypatch.setattr(extractor, "inline_chars", 1500)
    a = article("001")
    head_texts, texts = extractor.texts(a, head=True), extractor.texts(a)
    want = extractor.extract(a)
    parsed: list[str] = []
    pipe = extractor.nlp.pipe
    monkeypatch.setattr(extractor.nlp, "pipe", lambda todo: parsed.extend(todo) or pipe(todo))
    parse = in_turn(extractor)

    head = parse(a, True)
    whole = parse(a, False, True)

    shared = _shared(head_texts, texts)
    assert parsed == head_texts + texts[shared:]
    assert all(d is h for d, h in zip(whole[:shared], head, strict=False))
    assert extractor.assemble(a, whole) == want
