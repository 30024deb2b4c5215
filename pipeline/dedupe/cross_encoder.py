"""Sentence-pair paraphrase cross-encoder: MiniLM fine-tuned on MSRP, run as int8 ONNX.

``CrossEncoder.load()`` reads ``pipeline/models/cross_encoder/``: ``model.onnx`` (the classifier, weights
quantized to int8), ``tokenizer.json`` (the base model's WordPiece tokenizer) and ``meta.json`` (maximum
length, probability threshold, how it was trained). Only onnxruntime and tokenizers run it; nothing is
downloaded. ``python -m pipeline.training.cross_encoder`` makes it; ``copydesk eval paraphrase --model
cross-encoder`` scores it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

__all__ = ["MODEL_DIR", "CrossEncoder"]

MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "cross_encoder"


class CrossEncoder:
    """Score sentence pairs jointly (``[CLS] text1 [SEP] text2 [SEP]``); ``threshold`` is on the probability."""

    def __init__(
        self, directory: Path = MODEL_DIR, *, threads: int = 1, model_file: str = "model.onnx"
    ) -> None:
        if threads < 1:
            raise ValueError(f"threads must be 1 or more, not {threads}")
        path = directory / model_file
        if not path.exists():
            raise FileNotFoundError(
                f"{path} is missing; make it with python -m pipeline.training.cross_encoder --out {directory}"
            )
        meta = json.loads((directory / "meta.json").read_text("utf-8"))
        self.max_length: int = int(meta["max_length"])
        self.threshold: float = float(meta["threshold"])
        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=self.max_length)
        # Pad to the longest pair of each batch, not to max_length: most pairs are far shorter.
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # The int8 weights are dequantized once, at load (constant folding), not on every run.
        options.add_session_config_entry("session.disable_quant_qdq", "1")
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}

    @classmethod
    def load(cls, directory: Path = MODEL_DIR, *, threads: int = 1) -> CrossEncoder:
        return cls(directory, threads=threads)

    def probabilities(self, pairs: Sequence[tuple[str, str]], batch_size: int = 32) -> np.ndarray:
        """Return, for each (text1, text2), the probability that the two say the same thing (float32)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be 1 or more, not {batch_size}")
        out = [np.zeros(0, dtype=np.float32)]
        for start in range(0, len(pairs), batch_size):
            encodings = self._tokenizer.encode_batch([tuple(p) for p in pairs[start : start + batch_size]])
            feeds = {
                "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
            }
            (logits,) = self._session.run(["logits"], {k: v for k, v in feeds.items() if k in self._inputs})
            # Softmax over two labels is the logistic of their difference, stable for any logits.
            out.append((1.0 / (1.0 + np.exp(logits[:, 0] - logits[:, 1]))).astype(np.float32))
        return np.concatenate(out)

    def probability(self, text1: str, text2: str) -> float:
        return float(self.probabilities([(text1, text2)])[0])

    def is_paraphrase(self, text1: str, text2: str) -> bool:
        return self.probability(text1, text2) >= self.threshold
