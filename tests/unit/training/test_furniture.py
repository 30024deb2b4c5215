"""The furniture trainer reads its labelled lines back from the corpora (pipeline/training/furniture.py)."""

from __future__ import annotations

import hashlib
import json

import pytest

from pipeline.training.furniture import read_lines


def _corpus(tmp_path, text: str) -> None:
    for name in ("gva_dev", "ecbplus_dev"):
        rows = (
            [{"id": "a1", "text": text, "source": "example.com", "story": "1"}] if name == "gva_dev" else []
        )
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")


def _label(line: int, text: str, label: str) -> dict:
    sha1 = hashlib.sha1(text.encode()).hexdigest()
    return {"corpus": "gva_dev", "article_id": "a1", "line": line, "sha1": sha1, "label": label}


def test_labelled_lines_are_read_back_without_bylines(tmp_path) -> None:
    _corpus(tmp_path, "Police said two men were hurt.\n\nAdvertisement\nBy Jane Doe")
    labels = tmp_path / "labels.jsonl"
    rows = [_label(0, "Police said two men were hurt.", "body"), _label(2, "Advertisement", "furniture")]
    rows.append(_label(3, "By Jane Doe", "byline"))
    labels.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    lines = read_lines(tmp_path, labels)
    assert [(s.line, s.furniture, s.site) for s in lines] == [
        ("Police said two men were hurt.", False, "example.com"),
        ("Advertisement", True, "example.com"),
    ]


def test_a_line_that_changed_is_refused(tmp_path) -> None:
    _corpus(tmp_path, "Police said two men were hurt.")
    labels = tmp_path / "labels.jsonl"
    labels.write_text(json.dumps(_label(0, "Police said three men were hurt.", "body")) + "\n", "utf-8")
    with pytest.raises(ValueError, match="not the labelled text"):
        read_lines(tmp_path, labels)
