"""``copydesk chaos``: kill -9 the worker at random points (and optionally stall the broker) while a real
corpus streams through, then compare the sink with an uninterrupted run of the same input.

Nothing may be lost, nothing doubled, and every article must get the same dedup relation, facts and story
id.
A supervisor loop restarts any process that died, as systemd or Kubernetes would.
"""

from __future__ import annotations

import hashlib
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.runtime.stack import LocalStack
from pipeline.settings import Settings
from schemas import RawArticle

__all__ = ["ChaosResult", "Outcome", "compare", "run_chaos"]

Outcome = dict[str, tuple[str, str | None, str, str]]  # article_id -> (relation, of, story_id, facts digest)


@dataclass
class ChaosResult:
    trials: int
    records: int
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    # In two stories in the undisturbed run as well: the pipeline's own output, not a fault's, so not
    # counted as doubled (before merged stories' last snapshots listed no articles, a merge did that).
    doubled_undisturbed: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    restarts: int = 0
    seconds: float = 0.0

    def figures(self) -> dict[str, object]:
        return {
            "trials": self.trials,
            "records": self.records,
            "lost": len(self.lost),
            "doubled": len(self.doubled),
            "doubled_undisturbed": len(self.doubled_undisturbed),
            "mismatched": len(self.mismatched),
            "restarts": self.restarts,
            "seconds": round(self.seconds, 1),
        }


def _outcome(stack: LocalStack) -> tuple[Outcome, list[str]]:
    """Return each article's (relation, of, story, facts digest) and the ids in stories more than once."""
    outcome = {
        a.article_id: (a.dedup.relation, a.dedup.of, a.story_id, _digest(a.facts.model_dump_json()))
        for a in stack.store.articles()
    }
    seen: dict[str, int] = {}
    for story in stack.store.stories():
        for article_id in story.article_ids:
            seen[article_id] = seen.get(article_id, 0) + 1
    doubled = sorted(article_id for article_id, count in seen.items() if count > 1)
    doubled += sorted(a for a, (_, of, _, _) in outcome.items() if of == a)  # a duplicate of itself
    return outcome, doubled


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def compare(expected: Outcome, actual: Outcome) -> tuple[list[str], list[str]]:
    """Return the article_ids lost and those whose relation, original, story or facts differ."""
    lost = sorted(set(expected) - set(actual))
    mismatched = sorted(a for a in expected.keys() & actual.keys() if expected[a] != actual[a])
    return lost, mismatched


def run_chaos(
    settings: Settings,
    articles: list[RawArticle],
    out_dir: Path,
    trials: int,
    *,
    stall_s: float = 0.0,
    seed: int = 7,
    timeout: float = 1800.0,
    say: Callable[[str], None] = print,
) -> ChaosResult:
    """Run the corpus once undisturbed and once under ``trials`` kill -9s of the worker; compare the sinks."""
    started = time.monotonic()
    ids = {article.article_id for article in articles}
    say(f"baseline: {len(articles)} articles, no faults")
    with LocalStack(settings, out_dir / "baseline", feed=articles[0].feed) as stack:
        stack.start("worker")
        stack.start("sink")
        stack.publish(articles)
        stack.wait_for_sink(ids, timeout)
        expected, doubled_undisturbed = _outcome(stack)
    say(f"  settled in {time.monotonic() - started:.0f}s")

    say(
        f"chaos: the same articles, {trials} kill -9s of the worker"
        + (f", a {stall_s:.0f}s broker stall" if stall_s else "")
    )
    rng = random.Random(seed)
    result = ChaosResult(trials=trials, records=len(articles), doubled_undisturbed=doubled_undisturbed)
    with LocalStack(settings, out_dir / "chaos", feed=articles[0].feed) as stack:
        chaos_started = time.monotonic()
        stack.start("worker")
        stack.start("sink")
        stack.publish(articles)
        stalled = not stall_s
        chunk = max(1, len(articles) // (trials + 1))
        for trial in range(1, trials + 1):
            # A random point mid-stream: after the restarted worker settled 1..chunk more articles.
            target = min(len(ids), len(stack.store.settled_ids()) + rng.randint(1, chunk))
            deadline = time.monotonic() + 120
            while len(stack.store.settled_ids()) < target and time.monotonic() < deadline:
                result.restarts += _supervise(stack)
                time.sleep(0.05)
            if not stalled and trial > trials // 2 and stack.broker is not None:
                say(f"  stalling the broker (SIGSTOP) for {stall_s:.0f}s")
                stack.broker.signal(signal.SIGSTOP)
                time.sleep(stall_s)
                stack.broker.signal(signal.SIGCONT)
                stalled = True
            stack.kill("worker")
            stack.start("worker")
            say(f"  trial {trial}/{trials} at {time.monotonic() - chaos_started:.0f}s: killed and restarted the "
                f"worker ({len(stack.store.settled_ids())}/{len(articles)} settled)")  # fmt: skip
        if not stalled and stack.broker is not None:
            # A stall alone (no kills): mid-stream, then the pipeline must recover by itself.
            while len(stack.store.settled_ids()) < len(ids) // 3:
                result.restarts += _supervise(stack)
                time.sleep(0.05)
            say(f"  stalling the broker (SIGSTOP) for {stall_s:.0f}s, no kills")
            stack.broker.signal(signal.SIGSTOP)
            time.sleep(stall_s)
            stack.broker.signal(signal.SIGCONT)
        deadline = time.monotonic() + timeout
        while not ids <= stack.store.settled_ids():
            result.restarts += _supervise(stack)
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        say(
            f"  {len(stack.store.settled_ids() & ids)}/{len(ids)} settled at {time.monotonic() - chaos_started:.0f}s"
        )
        actual, doubled = _outcome(stack)
        undisturbed = set(result.doubled_undisturbed)
        result.doubled = [a for a in doubled if a not in undisturbed]
    result.lost, result.mismatched = compare(expected, actual)
    result.seconds = time.monotonic() - started
    return result


def _supervise(stack: LocalStack) -> int:
    """Restart processes that died by themselves (as a process supervisor would); return how many."""
    restarted = 0
    for name, process in list(stack.processes.items()):
        if process.poll() is not None:
            stack.start(name)
            restarted += 1
    return restarted
