"""The records on every copydesk topic, in pipeline order: the contract between stages and subscribers.

Topic                    key          model
wire.raw.<feed>          article_id   RawArticle           (seeder -> normalize)
copydesk.normalized      article_id   NormalizedArticle    (normalize -> dedupe)
copydesk.deduped         article_id   DedupedArticle       (dedupe -> facts)
copydesk.facts-rest      article_id   ArticleRest          (facts -> facts: a long article, read whole)
copydesk.facts           article_id   FactsArticle         (facts -> stories)
wire.enriched            article_id   EnrichedArticle      (stories -> sink, subscribers)
wire.stories             story_id     StorySnapshot        (stories -> sink, subscribers)
wire.deadletter          original key DeadLetter           (any stage -> operators)

Every model is frozen, forbids unknown fields and uses timezone-aware datetimes. Public models carry
``schema_version``; a consumer rejects versions it does not know. ``python -m schemas`` writes the JSON
Schema of each public model to ``schemas/json/``.
"""

from schemas.models import (
    PUBLIC_MODELS,
    SCHEMA_VERSION,
    ArticleRest,
    ClaimValue,
    DateMention,
    DeadLetter,
    Dedup,
    DedupedArticle,
    EnrichedArticle,
    Entity,
    FactClaim,
    Facts,
    FactsArticle,
    NormalizedArticle,
    Quantity,
    Quote,
    RawArticle,
    Relation,
    StoryEntity,
    StorySnapshot,
)

__all__ = [
    "PUBLIC_MODELS",
    "SCHEMA_VERSION",
    "ArticleRest",
    "ClaimValue",
    "DateMention",
    "DeadLetter",
    "Dedup",
    "DedupedArticle",
    "EnrichedArticle",
    "Entity",
    "FactClaim",
    "Facts",
    "FactsArticle",
    "NormalizedArticle",
    "Quantity",
    "Quote",
    "RawArticle",
    "Relation",
    "StoryEntity",
    "StorySnapshot",
]
