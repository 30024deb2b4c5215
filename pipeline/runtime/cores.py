"""The stages' cores, configured from the settings: the worker builds them here, and so does the bench."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from pipeline.dedupe import DuplicateIndex
from pipeline.facts import FactExtractor
from pipeline.runtime.aliases import PartitionAliases
from pipeline.runtime.parse_pool import ParsePool, in_turn
from pipeline.settings import Settings
from pipeline.stories import StoryIndex

if TYPE_CHECKING:
    from spacy.tokens import Doc

__all__ = ["dedupe_index", "fact_parser", "stories_index"]

log = logging.getLogger(__name__)


def dedupe_index(settings: Settings) -> DuplicateIndex:
    """Return an empty dedupe index configured by the settings."""
    cfg = settings.dedupe
    return DuplicateIndex(
        num_perm=cfg.num_perm,
        shingle_words=cfg.shingle_words,
        lsh_threshold=cfg.lsh_threshold,
        window_size=cfg.window_size,
        window_hours=cfg.window_hours,
    )


def fact_parser(
    settings: Settings, alias_table: MutableMapping[str, Any], extractor: FactExtractor | None = None
) -> tuple[FactExtractor, Callable[..., list[Doc]]]:
    """Return the facts stages' extractor and the function that parses an article for it.

    A given ``extractor`` (the agent tests pass one) parses in process. Otherwise one is built from the
    settings, its alias memory in ``alias_table``, and parses in ``FACTS__PARSE_PROCESSES`` child processes
    (0: in process).
    """
    if extractor is not None:
        return extractor, in_turn(extractor)
    if sys.version_info < (3, 12):
        log.warning(
            "Python %d.%d: spaCy's wheels for Pythons before 3.12 are built with Cython's profiling hooks, "
            "which take the GIL at every call in the parser's and NER's transition loops; the facts "
            "stage parses about 1.7x slower than on Python 3.12 (the same docs)",
            *sys.version_info[:2],
        )
    extractor = FactExtractor(
        settings.facts.spacy_model,
        aliases=PartitionAliases(alias_table, settings.facts.alias_window or None),
        max_chars=settings.facts.text_bound,
        inline_chars=settings.facts.inline_bound,
    )
    processes = settings.facts.parse_processes
    return extractor, ParsePool(extractor, processes).parse_article if processes else in_turn(extractor)


def stories_index(settings: Settings) -> StoryIndex:
    """Return an empty story index configured by the settings."""
    cfg = settings.stories
    return StoryIndex(
        join_threshold=cfg.join_threshold, quiet_hours=cfg.quiet_hours, max_open_stories=cfg.max_open_stories
    )
