"""Normalize: raw feed bytes in, a NormalizedArticle out (headline, byline, dateline, clean body).

The core validates the raw message itself (encoding, size, JSON, schema version) and raises
``InvalidArticle`` with a readable reason; the agent routes that to wire.deadletter.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from html.parser import HTMLParser

from pydantic import ValidationError

from pipeline.furniture import furniture_model
from pipeline.text import split_sentences
from schemas import SCHEMA_VERSION, NormalizedArticle, RawArticle

__all__ = ["InvalidArticle", "is_boilerplate", "is_timestamp", "normalize", "parse_raw"]


class InvalidArticle(ValueError):
    """The message cannot become an article; ``str(error)`` says why, for a human."""


# --- boilerplate ----------------------------------------------------------------------------------

# Lines that are page furniture wherever they appear: ads, widgets, comment forms, "read more" links,
# social counters. Matched against the whole stripped line, case-insensitively.
_FURNITURE = re.compile(
    r"""^(?:
        (?:article\s+)?ad(?:vertisement)?(?:\s+box)?|skip\s+advertisement|sponsored(?:\s+content)?
      | story\s+continues\s+below(?:\s+advertisement)?|continue\s+reading(?:\s+the\s+main\s+story)?
      | read\s+(?:the\s+)?(?:entire|full|more)(?:\s+(?:article|story))?(?:\s*(?:»|>|→|\.\.\.))?|read\s+more\s*:.*
      | leave\s+a\s+(?:comment|reply)|post\s+(?:a\s+)?comment|comments?\s*(?:\(\d+\))?|add\s+a\s+comment
      | your\s+email\s+address\s+will\s+not\s+be\s+published\..*|required\s+fields\s+are\s+marked\s*\*?
      | scroll\s+to\s+(?:top|bottom)|back\s+to\s+top|share(?:\s+(?:this(?:\s+(?:article|story|page|post))?|on\s+\w+|article|story))?|click\s+to\s+share.*
      | (?:follow|like)\s+us\s+on\s+.*|sign\s+up\s+for\s+(?:our|the)\s+.*newsletter.*|subscribe(?:\s+now)?|print
      | related(?:\s+(?:articles|stories|topics))?|more\s+on\s+this\s+story|top\s+stories|most\s+read
      | (?:photo|image|picture|video)\s*(?:source|credit)s?\s*[,:].*|getty\s+images|media\s+caption\s*,?
      | \d+\s+(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?)\s+ago(?:\s+\d+)?
      | copyright\b.*|©.*|all\s+rights\s+reserved\.?
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
# A line that is only a page's date stamp: "21 July 2013 Last updated at 11:11 GMT", "DECEMBER 16, 2008",
# "Sunday, March 17, 2013 | 5:00 PM", "12 January 2010 @ 09:29 pm". Only date and time words, numbers and
# separators, with a number and a month, an "updated"/"published" or a clock time among them ("At 10" and
# "June" are not one).
_STAMP_WORD = (
    r"(?:last\s+updated|updated|published|posted|(?:mon|tues|wednes|thurs|fri|satur|sun)day|at|on|am|pm|a\.m\.|p\.m\."
    r"|jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?"
    r"|nov(?:ember)?|dec(?:ember)?|gmt|bst|utc|[ecmp][sd]?t|cest?|\d+(?:st|nd|rd|th)?)"
)
_STAMP_SEP = r"[\s,.:;|@/()\-–—]*"
_TIMESTAMP = re.compile(rf"^{_STAMP_SEP}(?:{_STAMP_WORD}(?!\w){_STAMP_SEP})+$", re.IGNORECASE)
_STAMP_ANCHOR = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b|updated|published|posted|\d{1,2}:\d{2}",
    re.IGNORECASE,
)
# A caption marker, alone or followed by the caption text on the same line ("Image caption,The ...").
_CAPTION = re.compile(r"^(?:image|media|video|photo)\s+caption\s*[,:]?\s*(?P<text>.*)$", re.IGNORECASE)
# Credits glued to the alt text of an image, as scraped pages often have them ("Antony BlinkenImage source, X").
_GLUED_CREDIT = re.compile(r"(?:image|photo|picture)\s+(?:source|credit)s?\s*[,:]", re.IGNORECASE)
# Disclaimers that syndicators and aggregators append to copied articles.
_DISCLAIMER = re.compile(
    r"does\s+not\s+take\s+any\s+responsibility|third[- ]party\s+content\s+provider"
    r"|this\s+(?:article|story)\s+(?:was\s+)?(?:originally\s+)?(?:published|appeared)\s+(?:on|in|at|by)"
    r"|(?:is|was)\s+(?:auto-?generated|automatically\s+generated)\s+from\s+a\s+syndicated\s+feed"
    r"|the\s+views\s+expressed\s+(?:in\s+this\s+article\s+)?are\s+(?:those\s+of\s+the\s+author|not\s+necessarily)",
    re.IGNORECASE,
)
_SYNDICATOR = re.compile(r"^(?P<name>[A-Z0-9][\w&.' -]{1,40}?)\s+does\s+not\s+take\s+any\s+responsibility")

_BYLINE = re.compile(
    r"^by\s+(?P<names>[A-Z][\w.'’-]+(?:\s+(?:[A-Z][\w.'’-]+|and|&|de|la|van|von|,))*)\s*$", re.I
)
# "BBC News, Washington": an outlet and a place on the line after the byline.
_OUTLET_PLACE = re.compile(r"^(?P<outlet>[A-Z][\w.&' -]{1,40}),\s*(?P<place>[A-Z][\w.' -]{1,40})$")
# Wire datelines opening the first paragraph: "WASHINGTON (AP) — ...", "MEXICO CITY, Dec 27 (Reuters) - ...".
_WIRE_DATELINE = re.compile(
    r"^(?P<place>[A-Z][A-Z.'’ -]{1,40}?(?:,\s*[A-Z][A-Za-z.]{1,20})?)"
    r"(?:,?\s+(?P<date>[A-Z][a-z]{2,8}\.?\s+\d{1,2}))?\s*"
    r"(?:\((?P<agency>[A-Za-z][\w .&-]{1,20})\)\s*)?[-—–]{1,2}\s+(?=\S)"
)
_TERMINAL = re.compile(r"[.!?\"”’')\]:]$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HTML_TAG = re.compile(
    r"</?(?:p|div|br|span|a|html|body|head|script|style|table|td|tr|li|ul|h\d|img)\b[^>]*>", re.I
)


def is_boilerplate(line: str) -> bool:
    """Return True when the line is page furniture, a caption marker, or a syndication disclaimer."""
    stripped = line.strip()
    return bool(_FURNITURE.match(stripped) or _CAPTION.match(stripped) or _DISCLAIMER.search(stripped))


def is_timestamp(line: str) -> bool:
    """Return True when the line is only a date and time stamp (a page's "Last updated ..." line)."""
    return (
        len(line) <= 80
        and any(c.isdigit() for c in line)
        and bool(_TIMESTAMP.match(line))
        and bool(_STAMP_ANCHOR.search(line))
    )


# --- raw message ----------------------------------------------------------------------------------


def parse_raw(payload: bytes, max_bytes: int) -> RawArticle:
    """Return the RawArticle in a raw message; raise InvalidArticle saying what is wrong with it."""
    if not payload or not payload.strip():
        raise InvalidArticle("empty message")
    if len(payload) > max_bytes:
        raise InvalidArticle(f"message is {len(payload):,} bytes, over the {max_bytes:,}-byte limit")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidArticle(f"not UTF-8: byte {error.start} is invalid ({error.reason})") from None
    try:
        document = json.loads(text)
    except RecursionError:
        raise InvalidArticle("malformed JSON: nested too deeply") from None
    except json.JSONDecodeError as error:
        raise InvalidArticle(
            f"malformed JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    if not isinstance(document, dict):
        raise InvalidArticle(f"expected a JSON object, got {type(document).__name__}")
    version = document.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise InvalidArticle(
            f"unknown schema_version {version!r}: this worker reads version {SCHEMA_VERSION}"
        )
    try:
        return RawArticle.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or 'record'}: {e['msg']}" for e in error.errors()[:5]
        )
        raise InvalidArticle(f"not a raw article: {problems}") from None
    except RecursionError:
        raise InvalidArticle("malformed JSON: nested too deeply") from None


# --- text -----------------------------------------------------------------------------------------


class _TextExtractor(HTMLParser):
    """Turn an HTML fragment into text, one line per block element, scripts and styles dropped."""

    _BLOCKS = frozenset(
        {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _plain_text(text: str) -> str:
    if "\x00" in text:
        raise InvalidArticle("text contains NUL bytes: binary data, not an article")
    if _HTML_TAG.search(text):
        extractor = _TextExtractor()
        extractor.feed(text)
        extractor.close()
        text = "".join(extractor.parts)
    text = html.unescape(text) if "&" in text else text
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text).replace("\u00a0", " ").replace("\u200b", "")
    return text


def _words(text: str) -> int:
    return len(text.split())


def _is_headline(line: str) -> bool:
    # A headline is short; a first line that reads like a full lead paragraph is not one.
    words = _words(line)
    return 0 < words <= 25 and not (words > 18 and line.rstrip().endswith("."))


def _derived_headline(lead: str, limit: int = 120) -> str:
    first = split_sentences(lead)[0]
    if len(first) <= limit:
        return first.rstrip(".")
    return first[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def _strip_captions(lines: list[str]) -> tuple[list[str], list[str]]:
    """Drop caption markers, the caption they introduce, and the image alt text just before them."""
    kept: list[str] = []
    removed: list[str] = []
    caption_follows = False
    for line in lines:
        if caption_follows:
            caption_follows = False
            removed.append(line)
            continue
        caption = _CAPTION.match(line)
        if caption:
            removed.append(line)
            # Alt text of the image: the line just before a caption, written as a label, not a sentence.
            if kept and not _TERMINAL.search(kept[-1]):
                removed.append(kept.pop())
            caption_follows = not caption.group("text")
            continue
        if _GLUED_CREDIT.search(line) and not _TERMINAL.search(line):
            removed.append(line)
            continue
        kept.append(line)
    return kept, removed


def normalize(raw: RawArticle, min_body_words: int = 5) -> NormalizedArticle:
    """Return the article split into headline, byline, dateline and clean paragraphs.

    Raise InvalidArticle when no article is left (empty, or a body under ``min_body_words`` words).
    """
    text = _plain_text(raw.text)
    lines = [" ".join(line.split()) for line in text.split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        raise InvalidArticle("article text is empty")

    title = " ".join(_plain_text(raw.title).split()) if raw.title else None
    above: list[str] = []  # date stamps and page furniture above the headline
    if title is not None and is_timestamp(title):
        # A page's date stamp given as its title ("21 July 2013 Last updated at 11:11 GMT"): not a headline.
        above.append(title)
        title = None
    headline = title
    if headline is None:
        # Not the furniture model: a headline at the top of a page is as short and capitalised as a widget.
        while len(lines) > 1 and (is_timestamp(lines[0]) or _FURNITURE.match(lines[0])):
            above.append(lines.pop(0))
        if _is_headline(lines[0]) and len(lines) > 1:
            headline = lines.pop(0)

    lines, removed = _strip_captions(lines)
    removed[:0] = above
    source = raw.source
    model = furniture_model()
    byline = dateline = None
    paragraphs: list[str] = []
    furniture: list[str] = []
    for index, line in enumerate(lines):
        if is_boilerplate(line):
            removed.append(line)
            syndicator = _SYNDICATOR.match(line)
            if syndicator and source is None:
                source = syndicator.group("name").strip()
            continue
        by = _BYLINE.match(line) if byline is None and not paragraphs and _words(line) <= 10 else None
        if by:
            byline = by.group("names").strip().rstrip(",")
            continue
        outlet = _OUTLET_PLACE.match(line) if byline and not paragraphs and index > 0 else None
        if outlet and _words(line) <= 8:
            source = source or outlet.group("outlet").strip()
            dateline = outlet.group("place").strip()
            continue
        if headline is not None and line == headline and not paragraphs:
            continue  # pages that repeat the headline above the body
        if not paragraphs and is_timestamp(line):
            removed.append(line)  # the page's date stamp under the headline ("Published: July 29, 2004")
            continue
        if model.is_furniture(line):
            furniture.append(line)  # worded unlike any pattern: by the kind of line it is
            continue
        paragraphs.append(line)
    if paragraphs:
        removed.extend(furniture)
    else:
        paragraphs = furniture  # a page of one short line (a headline feed) is all article, not all furniture

    if paragraphs and dateline is None:
        wire = _WIRE_DATELINE.match(paragraphs[0])
        if wire and (wire.group("agency") or wire.group("place").isupper()):
            dateline = wire.group("place").strip().title()
            source = source or wire.group("agency")
            paragraphs[0] = paragraphs[0][wire.end() :]

    body = "\n\n".join(paragraphs)
    word_count = _words(body)
    if word_count < min_body_words:
        raise InvalidArticle(f"body has {word_count} words after cleaning, fewer than {min_body_words}")
    if headline is None:
        headline = _derived_headline(paragraphs[0])
    return NormalizedArticle(
        article_id=raw.article_id,
        feed=raw.feed,
        source=source,
        url=raw.url,
        published_at=raw.published_at,
        received_at=raw.received_at,
        headline=headline,
        byline=byline,
        dateline=dateline,
        paragraphs=paragraphs,
        body=body,
        word_count=word_count,
        boilerplate=removed,
    )
