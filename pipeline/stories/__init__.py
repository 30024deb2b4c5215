"""The stories stage: file every article under a story across all feeds, and keep a snapshot of each story.

The pure core of the stage: no Kafka, no faust, no metrics. ``StoryIndex.tag(article)`` assigns the
article to an open story (or starts one) and returns the story's new ``StorySnapshot``;
``StoryIndex.drain_closed()`` then lists the stories that closed meanwhile, whose stored state can go, and
``StoryIndex.drain_merged()`` the last snapshots of those merged into another (``merged_into``, no articles).

Behind that face, one module per concern:

- ``index``: ``StoryIndex``, the open stories and the postings that find an article's candidate stories;
  joining, merging, closing, export and restore.
- ``terms``: an article's three bags of terms (body and headline lemmas, entities), term frequencies and
  the cosines with a story's centroid.
- ``embeddings``: WordLlama text embeddings and an article's (``article_embedding``).
- ``model``: the features of an (article, story) or (story, story) pair and the learned join and merge
  models over them (``pipeline/models/stories_join.json``).
- ``claims``: quantity claims: which reported numbers are one figure, their ranges from their qualifiers,
  and where a story's reports conflict or corroborate each other.
- ``reports``: a story's independent reports, outlets and title, and its most mentioned entities, kept up
  to date as articles arrive.
- ``snapshot``: a story's snapshot: title, outlets, top entities, claims, conflicts and corroborations.
- ``state``: an open story's state, its embedding's cosine with an article's, and its JSON-able form
  (``STATE_VERSION``).

The word lists the stage reads are data in ``pipeline/lexicons`` (``story_*.txt``, ``story_rate_words.json``
and the ``qualifiers.json`` it shares with the facts stage).
"""

from pipeline.stories.embeddings import article_embedding
from pipeline.stories.index import FIELD_WEIGHTS, StoryIndex, article_time
from pipeline.stories.model import (
    FEATURES,
    MODEL_FILE,
    join_probability,
    load_models,
    merge_probability,
    model_file,
    use_model_file,
)
from pipeline.stories.state import STATE_VERSION, Story
from pipeline.stories.terms import article_vectors

__all__ = [
    "FEATURES",
    "FIELD_WEIGHTS",
    "MODEL_FILE",
    "STATE_VERSION",
    "Story",
    "StoryIndex",
    "article_embedding",
    "article_time",
    "article_vectors",
    "join_probability",
    "load_models",
    "merge_probability",
    "model_file",
    "use_model_file",
]
