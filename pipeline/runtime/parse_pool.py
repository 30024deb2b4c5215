"""The facts stage's spaCy parse in child processes, one article's texts split across them.

spaCy's parse is most of the pipeline's time, and a long article's parse is most of its p99 latency: in
one process it holds the GIL, so neither a second thread nor the event loop gets far meanwhile. A
``ParsePool`` keeps N children (``python -m pipeline.runtime.parse_pool``), each with the facts stage's spaCy
pipeline loaded, and parses a long article's headline and paragraphs as up to N contiguous runs, one per
child, at once (a short one, under 800 characters, in process). The docs come back as spaCy ``DocBin``
bytes (tokens, tags, parse, entities and span groups; no pickle) and are read into the parent's vocab,
where ``FactExtractor.assemble`` takes them as if parsed in process.

Frames on the children's stdin and stdout: a 4-byte big-endian length, then a JSON list of texts in; out,
the docs (``_pack_docs``): a ``DocBin`` without span groups, then each doc's span groups as JSON. spaCy
would serialize span groups with srsly's msgpack, whose every call looks up its registered extensions,
package entry points included (about 1 ms a call, two calls a doc: 48 ms to read back a 20-paragraph
article on the worker's core, 7 ms this way). A child's own prints go to stderr (the worker's log). A
child exits when its stdin closes, so a worker killed with ``kill -9`` leaves none behind. A child that
fails or dies is started again and the call parses in process, so a pool failure slows one article and
loses nothing. Without children (``FACTS__PARSE_PROCESSES=0``), ``in_turn`` parses in process, one text at a
time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import struct
import subprocess
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import IO, TYPE_CHECKING, Any

from spacy.tokens import Doc, DocBin, Span
from spacy.vocab import Vocab

from pipeline import metrics

if TYPE_CHECKING:
    from pipeline.facts import FactExtractor
    from schemas import NormalizedArticle

__all__ = ["HeadDocs", "ParsePool", "in_turn", "split_runs"]

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">I")
_READY = b"ready"
# Characters per child an article must bring to be split: a shorter one is parsed in process, where it costs
# less than the trip (about 13 ms an article there and back, on GVA). 400 (an article of 800 characters or
# more goes to two children) against 2000, `copydesk bench gva_dev.jsonl --articles 200`, runs alternated on
# the 2-core machine: pipeline 3.95 and 4.25 articles/s against 3.50 and 3.80, p99 0.90 and 0.93 s against
# 1.03 and 1.07 s, facts hop median 185 ms against 204-210 ms.
SPLIT_CHARS = 400
# The background children's niceness: it runs on the CPU time the stream's parses leave idle.
BACKGROUND_NICE = 19
# The characters of long articles' heads whose docs are kept for their whole parse (``HeadDocs``): the heads
# of 13 articles at the default FACTS__INLINE_CHARS, about 8 MiB of docs (GVA paragraphs, tracemalloc).
HEAD_DOCS_CHARS = 200_000


def _write_frame(stream: IO[bytes], payload: bytes) -> None:
    stream.write(_HEADER.pack(len(payload)) + payload)
    stream.flush()


def _read_frame(stream: IO[bytes]) -> bytes:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError("the parse process closed its output")
    (size,) = _HEADER.unpack(header)
    payload = stream.read(size)
    if len(payload) < size:
        raise EOFError("the parse process closed its output mid-frame")
    return payload


def _pack_docs(docs: Iterable[Doc]) -> bytes:
    """Return the docs as one payload: a length-prefixed ``DocBin`` of them without their span groups, then
    a JSON list of each doc's span groups ({name: [[start token, end token, label], ...]})."""
    docbin, groups = DocBin(), []
    for doc in docs:
        groups.append(
            {name: [[s.start, s.end, s.label_] for s in group] for name, group in doc.spans.items()}
        )
        doc.spans.clear()
        docbin.add(doc)
    packed = docbin.to_bytes()
    return _HEADER.pack(len(packed)) + packed + json.dumps(groups).encode("utf-8")


def _unpack_docs(payload: bytes, vocab: Vocab) -> list[Doc]:
    """Return the docs of a ``_pack_docs`` payload, read into ``vocab``, span groups restored."""
    (size,) = _HEADER.unpack_from(payload)
    cut = _HEADER.size + size
    docs = list(DocBin().from_bytes(payload[_HEADER.size : cut]).get_docs(vocab))
    groups = json.loads(payload[cut:])
    if len(groups) != len(docs):
        raise ValueError(f"the parse process sent span groups for {len(groups)} of {len(docs)} docs")
    for doc, doc_groups in zip(docs, groups, strict=True):
        for name, spans in doc_groups.items():
            doc.spans[name] = [Span(doc, start, end, label=label) for start, end, label in spans]
    return docs


def split_runs(texts: Sequence[str], runs: int) -> list[list[str]]:
    """Split ``texts`` into at most ``runs`` contiguous, non-empty runs of about equal length in characters."""
    runs = max(1, min(runs, len(texts)))
    total = sum(len(text) for text in texts) or 1
    out: list[list[str]] = [[]]
    done = 0
    for i, text in enumerate(texts):
        # Start the next run once this one holds its share, keeping a text for every run still to come.
        if (
            out[-1]
            and len(out) < runs
            and (done >= total * len(out) / runs or len(texts) - i <= runs - len(out))
        ):
            out.append([])
        out[-1].append(text)
        done += len(text)
    return out


class HeadDocs:
    """The docs of long articles' heads, by text, for the whole article's parse to take instead of parsing
    them again: the whole parse then reads only the paragraphs past the head, and the one the head cut.

    A head's texts are its headline and whole paragraphs, then the one that crosses the bound, cut after a
    sentence (``capped_texts``): the whole article's texts begin with the same ones, and spaCy parses each
    text alone, so a kept doc is the doc the whole parse would make. ``assemble`` only reads docs, so one
    doc serves both passes. Bounded by ``max_chars`` characters of text (the oldest go first): a whole parse
    that finds nothing kept (its head parsed in another worker, or before a restart) parses every text.
    """

    def __init__(self, max_chars: int = HEAD_DOCS_CHARS) -> None:
        self.max_chars = max_chars
        self._docs: OrderedDict[str, Doc] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._docs)

    def parse(self, texts: Sequence[str], parse: Callable[[list[str]], list[Doc]], keep: bool) -> list[Doc]:
        """Return the docs of ``texts``, in order: the kept ones taken (and forgotten), the others from
        ``parse``; ``keep``: remember all of them (a head's) for its whole parse."""
        with self._lock:
            known = {text: self._take(text) for text in dict.fromkeys(texts) if text in self._docs}
        todo = [text for text in texts if text not in known]
        parsed = iter(parse(todo) if todo else [])
        docs = [known[text] if text in known else next(parsed) for text in texts]
        if keep:
            with self._lock:
                for text, doc in zip(texts, docs, strict=True):
                    self._keep(text, doc)
        return docs

    def _take(self, text: str) -> Doc:
        self._chars -= len(text)
        return self._docs.pop(text)

    def _keep(self, text: str, doc: Doc) -> None:
        if text in self._docs:
            self._take(text)
        self._docs[text] = doc
        self._chars += len(text)
        while self._chars > self.max_chars:
            self._take(next(iter(self._docs)))


class ParsePool:
    """``processes`` children that parse texts with ``extractor``'s spaCy pipeline; see the module docstring.

    ``parse_article`` is ``extractor.parse`` on more than one core, one call at a time (a lock). A background
    call (the whole of a long article, off the stream's path: ``FactExtractor.splits``) goes to ``processes``
    children of its own, split across them the same way, started when first needed, at the lowest CPU
    priority (``BACKGROUND_NICE``): the stream's parses keep the cores and it takes the time they leave. It
    parses only what the article's head did not: the head's docs are kept for it (``HeadDocs``). Texts
    parsed in process take a lock of their own (the spaCy pipeline is shared).
    """

    def __init__(self, extractor: FactExtractor, processes: int, split_chars: int = SPLIT_CHARS) -> None:
        if processes < 1:
            raise ValueError(f"processes must be >= 1, got {processes}")
        self.extractor = extractor
        self.split_chars = split_chars
        names = "" if extractor.names_model is None else str(extractor.names_model)
        self._command = [sys.executable, "-m", "pipeline.runtime.parse_pool", extractor.model, names]
        self._children: list[subprocess.Popen[bytes] | None] = [self._start() for _ in range(processes)]
        self._ready = [False] * processes
        self._lock = threading.Lock()
        self._here = threading.Lock()
        # The background children: from index ``processes`` of the lists above once started, with a lock of
        # their own.
        self._background = processes
        self._background_lock = threading.Lock()
        self._heads = HeadDocs()
        # Wait for the children to load their models in the background, so the first long article does not.
        threading.Thread(target=self._warm, name="parse-pool-warm", daemon=True).start()

    def _warm(self) -> None:
        with self._lock:
            for i in range(self._background):
                try:
                    self._child(i)
                except (OSError, EOFError, ValueError) as error:
                    log.warning(
                        "parse process %d did not start (%s): it is started again when needed", i, error
                    )

    def _nice(self, i: int) -> int:
        return BACKGROUND_NICE if i >= self._background else 0

    def _start(self, nice: int = 0) -> subprocess.Popen[bytes]:
        return subprocess.Popen([*self._command, str(nice)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def parse_article(
        self, article: NormalizedArticle, head: bool = False, background: bool = False
    ) -> list[Doc]:
        """Return the parsed docs of the article's headline and paragraphs (of its ``head``), as
        ``FactExtractor.parse`` does; ``background``: in the background children."""
        texts = self.extractor.texts(article, head)
        return self._heads.parse(texts, self.parse_background if background else self.parse, keep=head)

    def parse_background(self, texts: Sequence[str]) -> list[Doc]:
        """Return the docs of ``texts``, in order, parsed in the background children (in process if one fails)."""
        runs = self._runs(texts)
        first = self._background
        return self._parse_in(range(first, first + len(runs)), runs, texts, self._background_lock)

    def parse(self, texts: Sequence[str]) -> list[Doc]:
        """Return the docs of ``texts``, in order, parsed in the children (in process if one fails)."""
        runs = self._runs(texts)
        if len(runs) == 1:  # a short article: parsed here, where it costs less than the trip to a child
            return self._parse_here(texts)
        return self._parse_in(range(len(runs)), runs, texts, self._lock)

    def _runs(self, texts: Sequence[str]) -> list[list[str]]:
        """Split ``texts`` into a run per ``split_chars`` characters, at most one per child of a kind."""
        total = sum(len(text) for text in texts)
        return split_runs(texts, min(self._background, max(1, total // self.split_chars)))

    def _parse_in(
        self, used: range, runs: list[list[str]], texts: Sequence[str], lock: threading.Lock
    ) -> list[Doc]:
        """Parse each run in its child of ``used`` at once, holding ``lock`` (the stream's children or the
        background ones); if one fails, restart them and parse in process."""
        with lock:
            while len(self._children) < used.stop:  # a background child is started when first needed
                self._children.append(None)
                self._ready.append(False)
            try:
                for i, run in zip(used, runs, strict=True):
                    self._send(i, json.dumps(run).encode("utf-8"))
                payloads = [self._receive(i) for i in used]
            except (OSError, EOFError, ValueError) as error:
                kind = "background parse process" if used.start >= self._background else "parse process"
                log.warning("%s failed (%s): restarting it; this article is parsed in process", kind, error)
                metrics.PARSE_FAILURES.inc()
                for i in used:
                    self._restart(i)
                return self._parse_here(texts)
        return self._read_docs(payloads, texts)

    def _read_docs(self, payloads: Sequence[bytes], texts: Sequence[str]) -> list[Doc]:
        """Return the docs of the children's payloads, in order, one for each of ``texts``."""
        vocab = self.extractor.nlp.vocab
        docs = [doc for payload in payloads for doc in _unpack_docs(payload, vocab)]
        if len(docs) != len(texts):
            raise RuntimeError(f"the parse processes returned {len(docs)} docs for {len(texts)} texts")
        return docs

    def _parse_here(self, texts: Sequence[str]) -> list[Doc]:
        with self._here:
            return list(self.extractor.nlp.pipe(texts))

    def _child(self, i: int) -> subprocess.Popen[bytes]:
        child = self._children[i]
        if child is None or child.poll() is not None:
            if child is not None:
                _stop(child)
            child = self._children[i] = self._start(self._nice(i))
            self._ready[i] = False
        assert child.stdin is not None and child.stdout is not None
        if not self._ready[i]:
            if _read_frame(child.stdout) != _READY:
                raise ValueError("the parse process did not start")
            self._ready[i] = True
        return child

    def _send(self, i: int, payload: bytes) -> None:
        child = self._child(i)
        assert child.stdin is not None
        _write_frame(child.stdin, payload)

    def _receive(self, i: int) -> bytes:
        child = self._children[i]
        assert child is not None and child.stdout is not None
        return _read_frame(child.stdout)

    def _restart(self, i: int) -> None:
        child = self._children[i]
        if child is not None:
            _stop(child, wait_s=0)
        self._children[i] = self._start(self._nice(i))
        self._ready[i] = False

    def close(self) -> None:
        """Stop the children (closing their stdin ends them)."""
        with self._lock, self._background_lock:
            for i, child in enumerate(self._children):
                if child is not None:
                    _stop(child)
                self._children[i] = None

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def in_turn(extractor: FactExtractor) -> Callable[..., list[Doc]]:
    """Return ``extractor.parse`` in process, taking a lock: the facts and facts-rest agents call it from
    threads of their own, and one spaCy pipeline parses one text at a time. A background call (the rest's)
    goes as the stream's do; a head's docs are kept for it, as the parse pool keeps them (``HeadDocs``)."""
    lock = threading.Lock()
    heads = HeadDocs()

    def parse_texts(texts: list[str]) -> list[Doc]:
        with lock:
            return list(extractor.nlp.pipe(texts))

    def parse_in_turn(article: Any, head: bool = False, background: bool = False) -> list[Doc]:
        return heads.parse(extractor.texts(article, head), parse_texts, keep=head)

    return parse_in_turn


def _stop(child: subprocess.Popen[bytes], wait_s: float = 10) -> None:
    """End a child: close its stdin (it exits at the end of its input), kill it if it has not after
    ``wait_s``, and close its pipes."""
    for stream in (child.stdin, child.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    try:
        child.wait(timeout=wait_s)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _serve(model: str, names_model: str, nice: int = 0) -> None:
    """A child: parse each frame of texts with the facts stage's pipeline until stdin closes, at ``nice``."""
    from pipeline.facts import FactExtractor

    if nice:
        os.nice(nice)
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # anything printed goes to the log, not the frames
    nlp = FactExtractor(model, names_model=names_model or None).nlp
    stdin = sys.stdin.buffer
    try:
        _write_frame(out, _READY)  # a worker killed while its children load is gone before this
        while True:
            texts = json.loads(_read_frame(stdin))
            _write_frame(out, _pack_docs(nlp.pipe(texts)))
    except (EOFError, BrokenPipeError):
        os._exit(0)  # the worker stopped or died: nothing to flush, nobody to tell


if __name__ == "__main__":
    _serve(
        sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "", int(sys.argv[3]) if len(sys.argv) > 3 else 0
    )
