from __future__ import annotations

import json

import pytest

from pipeline.normalize import InvalidArticle, is_boilerplate, is_timestamp, normalize, parse_raw
from schemas import RawArticle
from tests.conftest import RECEIVED, raw_seed


def raw(text: str, **fields: object) -> RawArticle:
    return RawArticle(article_id="a1", feed="test", received_at=RECEIVED, text=text, **fields)


@pytest.mark.parametrize(
    ("prefix", "headline", "byline", "source", "dateline"),
    [
        (
            "000",
            "Antony Blinken leads officials to Mexico as US seeks to stem migration",
            "Matt Murphy",
            "BBC News",
            "Washington",
        ),
        (
            "001",
            "US officials are led by Antony Blinken to Mexico in an effort to curb migration.",
            None,
            None,
            None,
        ),
        # 002 has no headline line: its first line is the lead paragraph, so the headline is derived from it.
        (
            "002",
            "Secretary of State Antony J. Blinken and other top American officials were meeting with Mexico’s"
            " president on Wednesday…",
            None,
            "24World Media",
            None,
        ),
        (
            "003",
            "US and Mexico look to stem ‘unprecedented’ migrant flow",
            "Matt Murphy",
            "BBC News",
            "Washington",
        ),
        ("004", "Blinken heads to Mexico as migrant caravan moves toward US border", None, None, None),
    ],
)
def test_seed_parts(seed_articles, prefix, headline, byline, source, dateline):
    article = seed_articles[prefix]
    assert (article.headline, article.byline, article.source, article.dateline) == (
        headline,
        byline,
        source,
        dateline,
    )


def test_seed_002_keeps_its_lead_in_the_body(seed_articles):
    assert seed_articles["002"].paragraphs[0].startswith("Secretary of State Antony J. Blinken and other top")


@pytest.mark.parametrize(
    ("prefix", "removed"),
    [
        (
            "000",
            [
                "ARTICLE AD BOX",
                "Antony BlinkenImage source, Getty Images",
                "Image caption,",
                "US Secretary of State will lead the US delegation to meet President Andrés Manuel López Obrador",
                "Media caption,",
                "Watch: A look at the US border as immigration debate heats up",
                "1 year ago 20",
                "Read Entire Article",
            ],
        ),
        (
            "001",
            [
                "Leave a Comment",
                "Your email address will not be published. Required fields are marked *",
                "Scroll to Top",
            ],
        ),
        (
            "003",
            [
                "Antony Blinken waves from the plane as he departs at Felipe Angeles International Airport in "
                "Zumpango, Mexico",
                "At least 7,000 migrants are estimated to have joined the caravan which started in southern Mexico",
                "Leave a Reply",
            ],
        ),
    ],
)
def test_seed_boilerplate_removed(seed_articles, prefix, removed):
    article = seed_articles[prefix]
    for line in removed:
        assert line in article.boilerplate
        assert line not in article.body


def test_syndication_disclaimer_removed(seed_articles):
    body = seed_articles["002"].body
    assert "does not take any responsibility" not in body
    assert body.endswith("said in a statement on Friday.")


def test_seed_bodies_keep_the_reporting(seed_articles):
    assert "more than 190,000 apprehensions in November alone" in seed_articles["000"].body
    assert seed_articles["000"].paragraphs[0].startswith("Top US officials have arrived in Mexico")
    assert seed_articles["003"].paragraphs[-1].startswith("So far, the caravan")
    assert all(article.word_count > 400 for article in seed_articles.values())


@pytest.mark.parametrize(
    "line",
    [
        "ADVERTISEMENT",
        "Skip Advertisement",
        "Read more",
        "Share this article",
        "Continue reading the main story",
        "Image caption, Police at the scene",
        "Photo credit: Reuters",
        "3 hours ago",
        "© 2024 Example Media",
        "Follow us on Twitter",
        "This article originally appeared on The Conversation.",
    ],
)
def test_is_boilerplate(line):
    assert is_boilerplate(line)


@pytest.mark.parametrize(
    "line",
    [
        "The share price fell 3% after the announcement.",
        "Read the statement carefully, he said.",
        "Advertisers fled the platform in November.",
    ],
)
def test_is_not_boilerplate(line):
    assert not is_boilerplate(line)


def test_wire_dateline_and_agency():
    article = normalize(
        raw(
            "Storm hits coast\n\nMIAMI (AP) — A hurricane made landfall on Tuesday with winds of "
            "120 miles per hour, officials said."
        )
    )
    assert article.dateline == "Miami"
    assert article.source == "AP"
    assert article.paragraphs[0].startswith("A hurricane made landfall")


def test_title_field_is_the_headline():
    article = normalize(
        raw("The council voted on Tuesday to close the old bridge for repairs.", title="Bridge shut")
    )
    assert article.headline == "Bridge shut"
    assert article.paragraphs == ["The council voted on Tuesday to close the old bridge for repairs."]


@pytest.mark.parametrize(
    "line",
    [
        "21 July 2013 Last updated at 11:11 GMT",
        "Last Updated: Monday, 28 November 2005, 02:24 GMT",
        "DECEMBER 16, 2008",
        "12 January 2010 @ 09:29 pm",
        "Sunday, March 17, 2013 | 5:00 PM",
        "November 28th, 2005, 09:11 GMT",
        "Updated 5:02 p.m. ET",
        "Published: July 29, 2004",
    ],
)
def test_is_timestamp(line):
    assert is_timestamp(line)


@pytest.mark.parametrize(
    "line",
    [
        "At 10",
        "June",
        "2014",
        "On Monday",
        "May Day protests",
        "Dec. 5 vote set",
        "March 2014: a year on",
        "x" * 200,
    ],
)
def test_is_not_timestamp(line):
    assert not is_timestamp(line)


def test_a_date_stamp_is_not_the_headline():
    # BBC pages scraped with their "Last updated" line as the title (ECB+ has 43): the headline is the
    # text's first line, and the stamp is boilerplate.
    article = normalize(
        raw(
            "Waitrose fire in Wellington town centre tackled\n"
            "Published: 21 July 2013\n"
            "Crews have tackled a blaze at a supermarket in a Somerset town.",
            title="21 July 2013 Last updated at 11:11 GMT",
        )
    )
    assert article.headline == "Waitrose fire in Wellington town centre tackled"
    assert article.body == "Crews have tackled a blaze at a supermarket in a Somerset town."
    assert article.boilerplate == ["21 July 2013 Last updated at 11:11 GMT", "Published: 21 July 2013"]
    # Without a title, a stamp above the headline is skipped the same way.
    untitled = normalize(raw("Friday, June 7, 2013\nFire tackled\nCrews tackled a blaze in a Somerset town."))
    assert untitled.headline == "Fire tackled"
    # Nor is page furniture above it ("ADVERTISEMENT" was the headline of such a page).
    furnished = normalize(raw("ADVERTISEMENT\nFire tackled\nCrews tackled a blaze in a Somerset town."))
    assert (furnished.headline, furnished.boilerplate) == ("Fire tackled", ["ADVERTISEMENT"])
    # A stamp further down, between paragraphs (a live blog's "1:30 p.m."), is left in the body.
    blog = normalize(
        raw("Live: the vote\nPolls opened early today.\n1:30 p.m.\nTurnout is high, officials said.")
    )
    assert "1:30 p.m." in blog.paragraphs


def test_html_is_reduced_to_text():
    article = normalize(
        raw(
            "<html><script>var x=1;</script><h1>Fire downtown</h1><p>A fire broke out in a "
            "warehouse on Main Street &amp; crews responded.</p><p>No one was hurt.</p></html>"
        )
    )
    assert article.headline == "Fire downtown"
    assert article.paragraphs == [
        "A fire broke out in a warehouse on Main Street & crews responded.",
        "No one was hurt.",
    ]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "empty message"),
        (b"   ", "empty message"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"{not json", "malformed JSON"),
        (b"[1, 2]", "expected a JSON object, got list"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (json.dumps({"schema_version": 99, "article_id": "x"}).encode(), "unknown schema_version 99"),
        (json.dumps({"article_id": "x", "feed": "f"}).encode(), "received_at: Field required"),
        (b"x" * 2_000_001, "over the 2,000,000-byte limit"),
    ],
)
def test_parse_raw_rejects_with_a_reason(payload, reason):
    with pytest.raises(InvalidArticle, match=reason):
        parse_raw(payload, max_bytes=2_000_000)


def test_parse_raw_accepts_a_raw_article():
    article = raw_seed("000")
    assert parse_raw(article.model_dump_json().encode(), max_bytes=1_000_000) == article


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "article text is empty"),
        ("\n\n  \n", "article text is empty"),
        ("Hello", "fewer than 5"),
        ("Headline\n\nOne two", "fewer than 5"),
        ("Real text\x00with NUL bytes in it here", "NUL bytes"),
        ("<div><span></span></div>", "article text is empty"),
    ],
)
def test_normalize_rejects_what_is_not_an_article(text, reason):
    with pytest.raises(InvalidArticle, match=reason):
        normalize(raw(text))
