"""Snapshots: what a story looks like to subscribers of wire.stories after each article.

``story_snapshot`` builds a story's ``StorySnapshot``: its title (``story_title``: the first real headline
of an original article), its outlets and independent reports (``pipeline.stories.reports``), its most mentioned entities
(``TopEntities``) and its claims, conflicts and corroborated values (``pipeline.stories.claims``). Each
part is kept up to date as articles arrive, so a snapshot of a long story costs little per article already
in it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.stories.claims import snapshot_claim
from pipeline.stories.reports import Reports, TopEntities
from schemas.models import StorySnapshot

if TYPE_CHECKING:
    from pipeline.stories.state import Story

__all__ = ["story_snapshot"]


def story_snapshot(s: Story) -> StorySnapshot:
    """Return the story's snapshot, building (and keeping on ``s``) its derived parts where they are missing."""
    arts = s.articles
    # A feed is not an outlet: an article that names none adds no source (it still counts as its own
    # report in ``Reports`` unless dedup ties it to another).
    if s.reports is None:
        s.reports = Reports(arts)
    report = s.reports
    outlet = report.outlet
    if s.top is None:
        s.top = TopEntities(s.entities)
    top = s.top.built(s.entities)

    facts, conflicts, corroborated = [], [], []
    while len(s.built) < len(s.claims):
        s.built.append({"values": []})
    for claim, built in zip(s.claims, s.built, strict=True):
        fc, conflict, agreed = snapshot_claim(claim, built, outlet, report)
        facts.append(fc)
        if conflict:
            conflicts.append(fc)
        if agreed is not None:
            corroborated.append(agreed)
    return StorySnapshot(
        story_id=s.story_id,
        title=report.title,
        first_seen=s.first_ts,
        last_updated=s.last_ts,
        article_ids=[a["id"] for a in arts],
        sources=list(dict.fromkeys(outlet.values())),
        top_entities=top,
        facts=facts,
        conflicts=conflicts,
        corroborated=corroborated,
    )
