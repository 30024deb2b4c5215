from __future__ import annotations

import json
import random

import pytest
from click.testing import CliRunner

from pipeline.evals import dedup as evals
from pipeline.normalize import normalize
from schemas import RawArticle
from tests.conftest import RECEIVED, SHARED_DATA, last_json

ECBPLUS = SHARED_DATA / "ecbplus_dev.jsonl"


@pytest.fixture(scope="module")
def ecbplus_rows() -> list[dict]:
    return [json.loads(line) for line in ECBPLUS.read_text("utf-8").splitlines()]


@pytest.mark.shared_data("ecbplus_dev.jsonl")
def test_dedup_eval_on_an_ecbplus_slice(tmp_path, ecbplus_rows):
    stories = sorted({row["story"] for row in ecbplus_rows})[:4]
    slice_ = tmp_path / "slice.jsonl"
    slice_.write_text("".join(json.dumps(row) + "\n" for row in ecbplus_rows if row["story"] in stories))
    result = CliRunner().invoke(evals.dedup, [str(slice_), "--originals", "4", "--no-bench"])
    assert result.exit_code == 0, result.output
    figures = last_json(result.output)
    assert figures["recall"]["exact_duplicate"] == 1.0
    assert figures["recall"]["near_duplicate"] >= 0.9
    assert figures["recall"]["update"] >= 0.75
    assert figures["hard_negative_fpr"] <= 0.1
    assert figures["hard_negatives"] > 10
    assert figures["articles"] >= 4 * 7
    assert set(figures["precision"]) == {
        "unique",
        "exact_duplicate",
        "near_duplicate",
        "paraphrase",
        "update",
    }


@pytest.mark.shared_data("ecbplus_dev.jsonl")
def test_real_copies_are_not_hard_negatives(tmp_path, ecbplus_rows):
    story = [row for row in ecbplus_rows if row["story"] == ecbplus_rows[0]["story"]]
    copy = {**story[-1], "id": "zz-copy", "title": "Another outlet"}  # the same wire text under a new id
    slice_ = tmp_path / "copy.jsonl"
    slice_.write_text("".join(json.dumps(row) + "\n" for row in [*story, copy]))
    suite = evals.build_suite([slice_], originals=1)
    golds = {item.article_id: item.gold for item in suite.items}
    assert golds["copy:zz-copy"] == "copy"
    assert suite.gold_copies >= 1


@pytest.mark.shared_data("ecbplus_dev.jsonl")
def test_generated_variants_are_what_they_claim(ecbplus_rows):
    row = next(r for r in ecbplus_rows if len(r["text"].split()) > 300)
    rng = random.Random(1)
    spun, rate = evals.spin(row["text"], evals.load_synonyms(), rng)
    assert 0.1 <= rate <= 0.4
    names = {w for w in row["text"].split()[1:] if w[:1].isupper() and w.isalpha()}
    assert names <= set(spun.split()) | {w.upper() for w in names}  # names are never swapped
    original_words = row["text"].split()
    assert len(spun.split()) >= len(original_words) - 1  # a swap keeps the length (phrases may add words)
    edited = evals._edit(row["text"], 0.10, rng)
    assert edited != row["text"]
    assert abs(len(edited.split()) - len(original_words)) <= 0.1 * len(original_words)

    def body(text: str, title: str | None = None) -> str:
        return normalize(
            RawArticle(article_id="x", feed="t", received_at=RECEIVED, text=text, title=title)
        ).body

    for head, tail in evals._WRAPPERS:
        wrapped = "\n\n".join(x for x in (row["title"], head, row["text"], tail) if x)
        assert body(wrapped, row["title"]) == body(row["text"], row["title"])


def test_synonym_table_names_its_source():
    table = json.loads(evals.SYNONYMS.read_text("utf-8"))
    assert "WordNet" in table["_source"] and "Princeton" in table["_source"]
    assert "quake" in table["synonyms"]["earthquake"]


@pytest.mark.shared_data("gva_dev.jsonl", "ecbplus_dev.jsonl")
def test_copies_in_unseen_furniture_are_found_and_mostly_exact():
    figures = evals.unseen_furniture_copies([SHARED_DATA / "gva_dev.jsonl"], originals=60)
    assert figures is not None and figures["copies"] == 60
    assert figures["exact_duplicate"] + figures["near_duplicate"] == 60  # every copy is found
    assert figures["exact_duplicate"] >= 20  # once each syndicator's wrapper is learned


def test_no_labelled_furniture_no_figure(tmp_path):
    (tmp_path / "other.jsonl").write_text("", "utf-8")
    assert evals.unseen_furniture_copies([tmp_path / "other.jsonl"]) is None
