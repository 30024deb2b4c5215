"""Fixtures of the facts tests: one extractor for the whole package (loading spaCy takes seconds) and the
facts of the five seed articles (five versions of one story)."""

from __future__ import annotations

import pytest

from pipeline.facts import FactExtractor
from schemas.models import Facts
from tests.conftest import seed_snippets as article

LOPEZ_OBRADOR = "person:andres-manuel-lopez-obrador"


@pytest.fixture(scope="package")
def extractor() -> FactExtractor:
    return FactExtractor()


@pytest.fixture(scope="package")
def seed_facts(extractor: FactExtractor) -> dict[str, Facts]:
    seeds = ["000", "001", "002", "003", "004"]
    return dict(zip(seeds, extractor.extract_many([article(s) for s in seeds]), strict=True))
