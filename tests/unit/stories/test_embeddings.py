"""The text embeddings the stories stage compares articles with (pipeline/stories/embeddings.py)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.stories.embeddings import DIMENSIONS, TextEmbedder, text_embedder


def test_a_text_embeds_as_a_unit_vector_and_an_empty_one_as_none() -> None:
    v = text_embedder().unit("Migrant caravan reaches the US border")
    assert v is not None and v.shape == (DIMENSIONS,) and v.dtype == np.float64
    assert float(v @ v) == pytest.approx(1.0)
    assert text_embedder().unit("") is None
    assert text_embedder().unit(" \n\t ") is None


def test_white_space_does_not_change_the_embedding_and_the_word_cache_is_pure() -> None:
    embed = text_embedder().unit
    one = embed("Earthquake kills dozens in Turkey")
    again = embed("Earthquake  kills\ndozens in\tTurkey")
    assert one is not None and again is not None
    assert np.array_equal(one, again)
    # A fresh embedder (empty word cache) gives the same floats: a story's decisions do not depend on
    # which words a process saw first.
    assert np.array_equal(TextEmbedder().unit("Earthquake kills dozens in Turkey"), one)


def test_two_wordings_of_one_event_embed_closer_than_other_news() -> None:
    # Headlines that share almost no word: what TF-IDF cannot see and the stories stage needs.
    embed = text_embedder().unit
    quake = embed("Earthquake kills dozens in Turkey")
    tremor = embed("Turkish quake death toll rises")
    vote = embed("Senate passes budget bill")
    markets = embed("Stocks fall as oil prices climb")
    assert quake is not None and tremor is not None and vote is not None and markets is not None
    assert float(quake @ tremor) > max(float(quake @ vote), float(quake @ markets)) + 0.1


def test_the_model_loads_from_the_installed_package_without_a_download(monkeypatch) -> None:
    # No network here or in production: the weights and tokenizer ship in the wheel.
    import requests

    def refuse(*args, **kwargs):
        raise AssertionError(f"tried to download {args!r}")

    monkeypatch.setattr(requests, "get", refuse)
    assert TextEmbedder().unit("Wildfire forces evacuations in California") is not None
