"""`copydesk eval entities|quotes|quantities` on small slices of the development data."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from pipeline.evals import facts as evals
from tests.conftest import SHARED_DATA, last_json

CONLL_DEV = SHARED_DATA / "conll2003_dev.txt"
POLNEAR_DEV = SHARED_DATA / "polnear_dev.jsonl"
NEWSQUANT_DEV = SHARED_DATA / "newsquant_dev.jsonl"


# --- scoring pieces --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "chunks"),
    [
        # IOB1 as distributed: I- throughout, B- only between two adjacent entities of one type.
        (["I-PER", "I-PER", "O", "I-LOC"], [(0, 2, "PER"), (3, 4, "LOC")]),
        (["I-LOC", "B-LOC", "I-LOC"], [(0, 1, "LOC"), (1, 3, "LOC")]),
        (["I-ORG", "I-MISC"], [(0, 1, "ORG"), (1, 2, "MISC")]),
        # IOB2 reads the same.
        (["B-PER", "I-PER", "B-PER"], [(0, 2, "PER"), (2, 3, "PER")]),
        (["O", "O"], []),
    ],
)
def test_iob_chunks_follow_conlleval(tags: list[str], chunks: list[tuple[int, int, str]]) -> None:
    assert evals.iob_chunks(tags) == chunks


@pytest.mark.shared_data("conll2003_dev.txt")
def test_read_conll_counts_the_dev_entities() -> None:
    sentences = evals.read_conll(CONLL_DEV)
    assert len(sentences) == 3250  # the shared task's table, without -DOCSTART- lines
    assert sum(len(spans) for _, spans in sentences) == 5942
    words, spans = sentences[0]
    assert (words, spans) == (
        ["CRICKET", "-", "LEICESTERSHIRE", "TAKE", "OVER", "AT", "TOP", "AFTER", "INNINGS", "VICTORY", "."],
        [(2, 3, "ORG")],
    )


@pytest.mark.parametrize(
    ("label", "conll"),
    [
        ("PERSON", "PER"),
        ("ORG", "ORG"),
        ("GPE", "LOC"),
        ("FAC", "LOC"),
        ("NORP", "MISC"),
        ("LAW", "MISC"),
        ("DATE", None),
    ],
)
def test_label_mapping(label: str, conll: str | None) -> None:
    assert evals.to_conll_label(label) == conll


@pytest.mark.parametrize(
    ("unit", "normalized"),
    [
        ("$", "dollar"),
        ("US$ per barrel", "dollar per barrel"),
        ("USD per barrel", "dollar per barrel"),
        ("dollars", "dollar"),
        ("%", "percentage"),
        ("per cent", "percentage"),
        ("percent", "percentage"),
        ("miles", "mile"),
        ("degrees Celsius", "degree celsius"),
        ("year-old", "year of age"),
        ("-", ""),
        (None, ""),
    ],
)
def test_normalize_unit(unit: str | None, normalized: str) -> None:
    assert evals.normalize_unit(unit) == normalized


def test_match_greedy_is_one_to_one_best_first() -> None:
    scores = {(0, 0): 0.6, (0, 1): 0.9, (1, 1): 0.8, (2, 0): 0.4}
    assert evals.match_greedy(scores, 0.5) == {0: 1}
    assert evals.match_greedy(scores, 0.3) == {0: 1, 2: 0}


def test_paragraph_offsets_index_the_text() -> None:
    text = "Title.\n\n  “Quote,” she said.\nNext\n"
    paras = evals.paragraphs_with_offsets(text)
    assert [p for _, p in paras] == ["Title.", "“Quote,” she said.", "Next"]
    assert all(text[o : o + len(p)] == p for o, p in paras)


# --- the commands on slices ------------------------------------------------------------------------


@pytest.mark.shared_data("conll2003_dev.txt")
def test_entities_eval_on_a_dev_slice() -> None:
    result = CliRunner().invoke(evals.entities, [str(CONLL_DEV), "--limit", "300"])
    assert result.exit_code == 0, result.output
    figures = last_json(result.output)
    assert figures["sentences"] == 300
    assert {"precision", "recall", "f1", "per_type_f1", "words_per_second"} <= figures.keys()
    assert figures["f1"] > 0.88  # 0.92 when written; en_core_web_sm alone scores about 0.6
    assert min(figures["per_type_f1"].values()) > 0.8
    assert "MISC" in result.output


@pytest.mark.shared_data("polnear_dev.jsonl")
def test_quotes_eval_on_a_dev_slice() -> None:
    result = CliRunner().invoke(evals.quotes, [str(POLNEAR_DEV), "--limit", "10"])
    assert result.exit_code == 0, result.output
    figures = last_json(result.output)
    assert figures["articles"] == 10
    assert {
        "precision",
        "recall",
        "f1",
        "speaker_accuracy",
        "words_per_second",
        "f1_jaccard",
    } <= figures.keys()
    # 0.65 / 0.85 when written on these ten (Breitbart, with TV transcripts); 0.81 / 0.90 on all 84.
    assert figures["f1"] > 0.55
    assert figures["speaker_accuracy"] > 0.75


@pytest.mark.shared_data("newsquant_dev.jsonl")
def test_quantities_eval_on_a_dev_slice() -> None:
    result = CliRunner().invoke(evals.quantities, [str(NEWSQUANT_DEV), "--limit", "60"])
    assert result.exit_code == 0, result.output
    figures = last_json(result.output)
    assert figures["sentences"] == 60
    assert {"f1_value", "f1_value_unit", "precision", "recall", "sentences_per_second"} <= figures.keys()
    assert figures["f1_value"] > 0.9  # 0.94 when written
    assert figures["f1_value_unit"] > 0.75  # 0.81
    assert figures["f1_value_unit_strict"] <= figures["f1_value_unit"]


def _head_sentences(path, n: int) -> str:
    """The first `n` sentences of a CoNLL file, in its own format."""
    blocks = path.read_text("utf-8").split("\n\n")
    return "\n\n".join(blocks[: n + 1]) + "\n"


@pytest.mark.shared_data("conll2003_train.txt", "conll2003_dev.txt")
def test_train_ner_warm_starts_and_saves_the_best_epoch(tmp_path) -> None:
    from pipeline.training.ner import train

    train_file, dev_file = tmp_path / "train.txt", tmp_path / "dev.txt"
    train_file.write_text(_head_sentences(SHARED_DATA / "conll2003_train.txt", 400), "utf-8")
    dev_file.write_text(_head_sentences(CONLL_DEV, 60), "utf-8")
    lines: list[str] = []
    best = train(train_file, dev_file, tmp_path / "model", max_epochs=1, dev_split=None, log=lines.append)
    # One epoch on 400 sentences: the copied encoder already finds most names.
    assert best > 0.4
    assert (tmp_path / "model" / "ner" / "model").exists()
    assert lines[0].startswith("train ") and "warm start" in lines[0]
