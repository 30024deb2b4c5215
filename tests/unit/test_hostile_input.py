"""Hostile input never crashes normalize: every message becomes an article or an InvalidArticle with a reason."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.normalize import InvalidArticle, normalize, parse_raw
from tests.conftest import raw_seed

MAX_BYTES = 512_000
GOOD = json.loads(raw_seed("000").model_dump_json())

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def accept_or_reject(payload: bytes) -> None:
    """The contract of the normalize agent's core: an article, or InvalidArticle with a readable reason."""
    try:
        article = normalize(parse_raw(payload, MAX_BYTES))
    except InvalidArticle as error:
        assert str(error), "a dead letter needs a reason"
        assert len(str(error)) < 1000
    else:
        assert article.word_count >= 5
        assert article.headline


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_any_bytes(payload):
    accept_or_reject(payload)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_any_json(value):
    accept_or_reject(json.dumps(value).encode())


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(sorted(GOOD)), json_values, max_size=len(GOOD)))
def test_good_article_with_fields_replaced(changes):
    accept_or_reject(json.dumps({**GOOD, **changes}).encode())


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=3000))
def test_any_article_text(text):
    accept_or_reject(json.dumps({**GOOD, "text": text}).encode())


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sampled_from(
            [
                "<p>",
                "</p>",
                "<div>",
                "<script>",
                "</script>",
                "<br>",
                "&amp;",
                "&#0;",
                "<!--",
                "-->",
                "<style>",
                "word",
                "Another sentence here.",
                "\x00",
                "\n",
            ]
        ),
        max_size=200,
    )
)
def test_html_soup(parts):
    accept_or_reject(json.dumps({**GOOD, "text": "".join(parts)}).encode())


def test_extreme_messages():
    for payload in (
        b"[" * 200_000,  # deeply nested (and oversized)
        b"[" * 50_000 + b"]" * 50_000,  # deeply nested, within the size limit
        json.dumps({**GOOD, "text": "word " * 100_000}).encode(),  # over the limit
        json.dumps({**GOOD, "text": "x" * 400_000}).encode(),  # one extremely long line, one "word"
        json.dumps({**GOOD, "text": ("long line without any break " * 5000)}).encode(),
        json.dumps({**GOOD, "text": "Headline\n\nOne"}).encode(),  # 1-word body
        json.dumps({**GOOD, "schema_version": "1"}).encode(),
        json.dumps({**GOOD, "received_at": "yesterday"}).encode(),
        json.dumps({**GOOD, "article_id": ""}).encode(),
        '{"text": "\ud800"}'.encode("utf-8", "surrogatepass"),
    ):
        accept_or_reject(payload)
