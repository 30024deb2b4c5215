"""Unit tests of ``copydesk eval story-baselines`` (pipeline.evals.story_baselines): batch references."""

from __future__ import annotations

import json

import click.testing
import numpy as np
from click.testing import CliRunner

from pipeline.evals import eval_group
from pipeline.evals.story_baselines import CUTS, average_link, k_means

# Three stories of three reports each, worded apart.
_STORIES = {
    "quake": [
        (
            "Earthquake strikes Chile coast",
            "A magnitude 8 earthquake struck the Chilean coast near Valparaiso.",
        ),
        (
            "Chile earthquake kills dozens",
            "Dozens died when the earthquake hit the Chilean coast near Valparaiso.",
        ),
        (
            "Tsunami warning after Chile quake",
            "The earthquake off Valparaiso brought a tsunami warning for Chile.",
        ),
    ],
    "merger": [
        (
            "Fyffes and Chiquita agree merger",
            "Banana growers Fyffes and Chiquita agreed to merge in a share deal.",
        ),
        ("Chiquita to buy Fyffes", "Chiquita will combine with Fyffes, creating the largest banana company."),
        ("Banana giants merge", "The Fyffes Chiquita merger makes the biggest banana supplier in the world."),
    ],
    "mission": [
        (
            "Rover lands on Mars",
            "NASA's rover touched down in Jezero crater on Mars after a seven month trip.",
        ),
        (
            "Mars landing succeeds",
            "The rover landed safely in Jezero crater, NASA said, and sent images of Mars.",
        ),
        (
            "First images from Mars rover",
            "NASA released the rover's first images from the Jezero crater on Mars.",
        ),
    ],
}


def _rows() -> list[dict[str, str]]:
    return [
        {"id": f"{story}-{i}", "title": title, "text": text, "story": story}
        for story, items in _STORIES.items()
        for i, (title, text) in enumerate(items)
    ]


def test_average_link_is_scored_at_every_cut_and_finds_well_separated_stories() -> None:
    gold = ["a", "a", "b", "b"]
    vectors = np.array([[1.0, 0.0], [0.99, 0.14], [0.0, 1.0], [0.14, 0.99]])
    cuts = average_link(vectors, gold)
    assert list(cuts) == list(CUTS)
    assert cuts[0.05].pairwise == cuts[0.30].pairwise == (1.0, 1.0, 1.0)
    # The two groups lie at an average cosine distance of about 0.86: cut under it they stay apart; at 0.95
    # all four are one cluster, whose 6 pairs hold the 2 right ones.
    assert cuts[0.80].pairwise == (1.0, 1.0, 1.0)
    assert cuts[0.95].pairwise[0] == 1 / 3


def test_k_means_with_the_gold_k_finds_well_separated_stories() -> None:
    gold = ["a", "a", "b", "b", "c", "c"]
    vectors = np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0.1, 0.9, 0], [0, 0, 1], [0, 0.1, 0.9]])
    runs = k_means(vectors, gold, seeds=2)
    assert len(runs) == 2
    assert all(run.bcubed == (1.0, 1.0, 1.0) for run in runs)


def _invoke(tmp_path, *args: str) -> click.testing.Result:
    """Run the command on the three stories above, written to a file, with ``args``."""
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in _rows()), encoding="utf-8")
    return CliRunner().invoke(eval_group, ["story-baselines", str(path), *args])


def _figures(result: click.testing.Result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def test_the_command_reports_each_method_and_ends_with_json(tmp_path) -> None:
    result = _invoke(tmp_path, "--seeds", "2")
    figures = _figures(result)
    assert "9 docs, 3 gold stories" in result.output.splitlines()[0]
    assert figures["docs"] == 9 and figures["stories"] == 3
    assert len(figures["kmeans_tfidf"]["runs"]) == 2
    # The three stories share no content word: TF-IDF K-means with K = 3 and the best average-link cut
    # recover them exactly.
    assert figures["kmeans_tfidf"]["bcubed"]["f1"] == 1.0
    assert figures["avglink_tfidf"]["best_pairwise"]["pairwise"]["f1"] == 1.0
    assert figures["avglink_tfidf"]["best_pairwise"]["distance"] in CUTS
    assert 0.0 < figures["avglink_embedding"]["best_bcubed"]["bcubed"]["f1"] <= 1.0


def test_the_command_refuses_a_file_over_its_bound(tmp_path) -> None:
    result = _invoke(tmp_path, "--max-docs", "5")
    assert result.exit_code != 0
    assert "9 documents, over --max-docs 5" in result.output


def test_the_command_skips_k_means_over_its_bound(tmp_path) -> None:
    result = _invoke(tmp_path, "--max-k", "2")
    figures = _figures(result)
    assert "K-means skipped: 3 gold stories, over --max-k 2" in result.output
    assert figures["kmeans_tfidf"] is None
    assert figures["avglink_tfidf"]["best_pairwise"]["pairwise"]["f1"] == 1.0
