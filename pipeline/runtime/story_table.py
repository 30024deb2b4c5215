"""The stories stage's table: what it keeps beside the story states, and under which keys.

One changelog-backed table (one partition) holds the story states (keyed by story id, ``story-...``), each
story's last snapshot (``snap:``), a long article's whole facts that came before its head was tagged
(``rest:``), the rings of recent decisions (``recent:``, ``closed:``) and the reorder buffer (``reorder:``,
pipeline/runtime/reorder.py): one changelog partition, so a crash at any point leaves a prefix of the
stage's writes, in order.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from pipeline.runtime.replay import RecentDecisions
from pipeline.settings import Settings
from pipeline.stories import StoryIndex

__all__ = ["REST_PREFIX", "SNAPSHOT_PREFIX", "decision_rings", "keep_story_state"]

# Keys of each story's last snapshot (the story states themselves are keyed "story-...").
SNAPSHOT_PREFIX = "snap:"
# Keys of a long article's whole facts that came before its head was tagged.
REST_PREFIX = "rest:"


def decision_rings(
    settings: Settings, table: MutableMapping[str, Any]
) -> tuple[RecentDecisions, RecentDecisions]:
    """Return the stories stage's rings of recent decisions and of recently closed stories, kept in ``table``.

    Story decisions outlive their story: a record redelivered after a crash, whose story closed since, gets
    the same story id again (kept in the story table, beside the states and the reorder buffer). So does
    each story's last snapshot, to send again with such a record: the first one may have died with the
    worker. Kept for the open stories and the most recently closed ones.
    """
    size = settings.stories.remember_decisions
    return (
        RecentDecisions(table, size, prefix="recent:"),
        RecentDecisions(table, max(1, size // 10), prefix="closed:"),
    )


def keep_story_state(
    index: StoryIndex,
    table: MutableMapping[str, Any],
    recent: RecentDecisions,
    closed: RecentDecisions,
    article_id: str,
    snapshot: Any,
) -> list[Any]:
    """Write to the story table what the stories stage keeps after tagging an article; return the last
    snapshots of the stories merged meanwhile, to publish before ``snapshot``.

    The closed stories' states go (changelog tombstones) while their last snapshots stay for the most
    recently closed ones (a merged story's is the one that points at its survivor); the tagged story's
    state and snapshot are written; the decision is remembered.
    """
    for story_id in index.drain_closed():
        table.pop(story_id, None)
        forgotten = closed.remember(story_id, True)
        if forgotten is not None:
            table.pop(f"{SNAPSHOT_PREFIX}{forgotten[0]}", None)
    merged = index.drain_merged()
    for last in merged:
        table[f"{SNAPSHOT_PREFIX}{last.story_id}"] = last.model_dump(mode="json")
    table[snapshot.story_id] = index.export_state(snapshot.story_id)
    table[f"{SNAPSHOT_PREFIX}{snapshot.story_id}"] = snapshot.model_dump(mode="json")
    recent.remember(article_id, snapshot.story_id)
    return merged
