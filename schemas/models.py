"""Pydantic v2 models of every record on every topic (see the package docstring for the topic map)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1

Relation = Literal["unique", "exact_duplicate", "near_duplicate", "paraphrase", "update"]


class Record(BaseModel):
    """Base of every record: immutable, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --- wire.raw.<feed> -------------------------------------------------------------------------------


class RawArticle(Record):
    """One article as a feed delivered it: free text, maybe with a title and metadata."""

    schema_version: int = SCHEMA_VERSION
    article_id: str = Field(min_length=1, max_length=256)
    feed: str = Field(min_length=1, max_length=128)
    source: str | None = Field(default=None, description="Outlet, when the feed says so.")
    url: str | None = None
    published_at: AwareDatetime | None = None
    received_at: AwareDatetime = Field(
        description="When the seeder published it (end-to-end latency starts)."
    )
    title: str | None = Field(
        default=None, description="Headline, when the feed gives it apart from the text."
    )
    text: str = Field(description="The article as delivered: headline, byline and boilerplate may be inside.")


# --- copydesk.normalized ---------------------------------------------------------------------------


class NormalizedArticle(Record):
    """An article split into its parts with boilerplate removed."""

    schema_version: int = SCHEMA_VERSION
    article_id: str
    feed: str
    source: str | None = None
    url: str | None = None
    published_at: AwareDatetime | None = None
    received_at: AwareDatetime
    headline: str
    byline: str | None = None
    dateline: str | None = None
    paragraphs: list[str]
    body: str = Field(description="Clean body: the paragraphs joined by blank lines.")
    word_count: int = Field(ge=0)
    boilerplate: list[str] = Field(default_factory=list, description="The lines removed as boilerplate.")


# --- copydesk.deduped ------------------------------------------------------------------------------


class Dedup(Record):
    """How an article relates to the closest earlier article the dedupe stage has seen."""

    relation: Relation
    of: str | None = Field(default=None, description="article_id of the earlier article, null when unique.")
    similarity: float = Field(ge=0.0, le=1.0)


class DedupedArticle(NormalizedArticle):
    dedup: Dedup
    seq: int = Field(
        default=0,
        ge=0,
        description="Dedupe's gap-free arrival number (1, 2, ...): the order the stories stage restores after "
        "facts ran in parallel. 0: not sequenced (a record made outside the pipeline).",
    )


# --- copydesk.facts --------------------------------------------------------------------------------


class Entity(Record):
    """A named entity of one article, merged over its mentions."""

    text: str = Field(description="The fullest mention as written in this article.")
    label: str = Field(description="PERSON, ORG, GPE, LOC, NORP, ... (spaCy / OntoNotes labels).")
    canonical: str = Field(description="Canonical name, the same in every article.")
    entity_id: str = Field(description="Stable id derived from the canonical name: equal across articles.")
    count: int = Field(ge=1, description="Mentions in this article.")


class Quantity(Record):
    """A number in the text with what it counts."""

    text: str = Field(description="The quantity as written, e.g. 'more than 190,000 apprehensions'.")
    value: float = Field(description="Normalized value; for a range, its low end.")
    high: float | None = Field(default=None, description="High end of a range ('between 6,000 and 10,000').")
    qualifier: str | None = Field(default=None, description="'more than', 'up to', 'about', 'between', ...")
    bound: Literal["exact", "approx", "lower", "upper", "range", "magnitude"] = Field(
        default="exact",
        description="What the text says of the true value: it is `value` (exact), near it (approx), at least "
        "it (lower: 'more than'), at most it (upper: 'up to'), between `value` and `high` (range), or only its "
        "order of magnitude, from `value` to `high` (magnitude: 'hundreds of migrants' is 100 to 1,000).",
    )
    unit: str | None = Field(default=None, description="Unit when measured ('miles', 'percent', 'USD').")
    counted: str | None = Field(default=None, description="The noun counted ('apprehensions', 'people').")
    per: str | None = Field(
        default=None,
        description="What a rate is per: 'day' in '10,000 people a day', 'gallon' in '$2.11 per gallon'.",
    )
    sentence: str


class Quote(Record):
    text: str = Field(description="The quoted words, without the quote marks.")
    speaker: str | None = Field(default=None, description="The speaker as written ('he', 'Troy Miller').")
    speaker_entity_id: str | None = Field(default=None, description="entity_id the speaker resolves to.")
    verb: str | None = Field(default=None, description="The cue verb ('said', 'told').")


class DateMention(Record):
    text: str
    value: str | None = Field(default=None, description="ISO 8601 date, when resolvable.")


class Facts(Record):
    entities: list[Entity] = Field(default_factory=list)
    quantities: list[Quantity] = Field(default_factory=list)
    quotes: list[Quote] = Field(default_factory=list)
    dates: list[DateMention] = Field(default_factory=list)


FactsPart = Literal["whole", "head", "rest"]


class _WithFacts(DedupedArticle):
    facts: Facts


class ArticleRest(DedupedArticle):
    """copydesk.facts-rest: a long article whose head's facts went on to the stories stage, to be read whole."""

    aliases: dict[str, str] = Field(
        default_factory=dict,
        description="What the head's facts read from the cross-article alias memory (alias key -> canonical): "
        "the whole article's facts read the memory as its head did.",
    )


class FactsArticle(_WithFacts):
    part: FactsPart = Field(
        default="whole",
        description="'whole': the article's facts. A long article comes twice: 'head', the facts of its first "
        "FACTS__INLINE_CHARS characters, which the stories stage tags it by, in sequence; then 'rest', the "
        "facts of the whole article, which its wire.enriched record carries.",
    )


# --- wire.enriched ---------------------------------------------------------------------------------


class EnrichedArticle(_WithFacts):
    """The public record of an accepted article."""

    story_id: str
    processed_at: AwareDatetime


# --- wire.stories ----------------------------------------------------------------------------------


class StoryEntity(Record):
    entity_id: str
    canonical: str
    label: str
    articles: int = Field(ge=1, description="How many of the story's articles mention it.")


class ClaimValue(Record):
    """One value of a claim and the articles that report it."""

    value: float
    high: float | None = None
    qualifier: str | None = None
    text: str = Field(description="The value as one article wrote it.")
    article_ids: list[str]
    sources: list[str] = Field(description="Outlets reporting it; independent ones only count once each.")
    independent_reports: int = Field(ge=1, description="Reports that are not duplicates or spins of another.")


class FactClaim(Record):
    """A quantity claim: what it is about, and every value reported for it."""

    claim: str = Field(description="Human-readable key: counted noun plus context, e.g. 'caravan people'.")
    counted: str | None = None
    unit: str | None = None
    values: list[ClaimValue]


class StorySnapshot(Record):
    """The state of a story after its latest article."""

    schema_version: int = SCHEMA_VERSION
    story_id: str
    title: str
    first_seen: AwareDatetime
    last_updated: AwareDatetime
    article_ids: list[str]
    sources: list[str]
    top_entities: list[StoryEntity]
    facts: list[FactClaim]
    conflicts: list[FactClaim] = Field(description="Claims whose values disagree beyond their qualifiers.")
    corroborated: list[FactClaim] = Field(
        description="Claims with one value that two or more outlets report."
    )
    merged_into: str | None = Field(
        default=None,
        description=(
            "Set on the last snapshot of a story that merged into another: the surviving story's id (which "
            "may itself merge later). Such a snapshot lists no articles, sources or facts; the survivor's "
            "snapshots list them. Articles tagged before the merge keep this story's id in wire.enriched."
        ),
    )


# --- wire.deadletter -------------------------------------------------------------------------------


class DeadLetter(Record):
    """A message a stage could not accept, with why."""

    schema_version: int = SCHEMA_VERSION
    stage: str
    error: str = Field(description="Readable reason.")
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    payload: str = Field(description="The original message, decoded as UTF-8 with replacement, maybe cut.")
    payload_bytes: int = Field(ge=0, description="Size of the original message.")
    payload_truncated: bool = False
    failed_at: AwareDatetime


PUBLIC_MODELS: dict[str, type[Record]] = {
    "wire.raw": RawArticle,
    "wire.enriched": EnrichedArticle,
    "wire.stories": StorySnapshot,
    "wire.deadletter": DeadLetter,
}
