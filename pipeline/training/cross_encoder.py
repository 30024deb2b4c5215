"""Fine-tune the dedupe stage's sentence-pair cross-encoder and export it to int8 ONNX::

    python -m pipeline.training.cross_encoder --base DIR --train ../shared/data/msrp_train.jsonl \\
        --dev ../shared/data/msrp_dev.jsonl [--out pipeline/models/cross_encoder]

``--base`` is a BERT-layout checkpoint directory (``config.json``, ``model.safetensors``, ``tokenizer.json``),
all-MiniLM-L6-v2 for the shipped model. A two-label classification head on ``[CLS] text1 [SEP] text2 [SEP]``
is trained on the MSRP train file only (AdamW, linear warm-up then decay, one seed). After each epoch of
each learning rate it is scored on the ``tune`` half of the dev file (``pipeline.evals.split``); the best
(learning rate, epoch) by tune accuracy is kept and the probability threshold is the one that maximizes tune
accuracy. ``check`` is never read here; ``copydesk eval paraphrase --model cross-encoder`` scores it.

The kept model is exported to ONNX (``input_ids``, ``attention_mask``, ``token_type_ids`` -> ``logits``,
batch and length dynamic) with its weights stored as int8 (``quantize``): a quarter of the float size,
small enough for the wheel, while the arithmetic stays float, so a pair scores the same alone or in any
batch. ``--out`` gets ``model.onnx``, the base model's ``tokenizer.json`` and ``meta.json`` (maximum
length, threshold, base model and licence, training figures). The run-time side,
``pipeline.dedupe.cross_encoder``, needs only onnxruntime and tokenizers.

This module is the only one that imports torch and transformers (``pip install copydesk[train]``).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import random
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import AutoModelForSequenceClassification

from pipeline.evals.split import part_of

__all__ = ["export", "main", "quantize", "read_rows", "train"]

# pipeline.dedupe.cross_encoder.MODEL_DIR; not imported, since the dedupe package needs the run-time stack.
MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "cross_encoder"
BASE_NAME = "sentence-transformers/all-MiniLM-L6-v2"
BASE_LICENSE = "Apache-2.0"


def read_rows(path: Path) -> list[dict]:
    """Return the rows (text1, text2, label, pair_index) of an MSRP-layout JSONL file."""
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def _tokenizer(base: Path, max_length: int) -> Tokenizer:
    tokenizer = Tokenizer.from_file(str(base / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=max_length)
    tokenizer.no_padding()
    return tokenizer


def _batch(tokenizer: Tokenizer, pairs: list[tuple[str, str]]) -> dict[str, torch.Tensor]:
    encodings = tokenizer.encode_batch(pairs)
    width = max(len(e.ids) for e in encodings)
    ids = torch.zeros((len(pairs), width), dtype=torch.long)
    mask = torch.zeros_like(ids)
    types = torch.zeros_like(ids)
    for i, e in enumerate(encodings):
        n = len(e.ids)
        ids[i, :n] = torch.tensor(e.ids)
        mask[i, :n] = 1
        types[i, :n] = torch.tensor(e.type_ids)
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def _batches(rows: list[dict], size: int, rng: random.Random) -> list[list[dict]]:
    """Shuffle, then sort within windows of 50 batches by length so a batch pads little."""
    order = rows[:]
    rng.shuffle(order)
    window = size * 50
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda r: len(r["text1"]) + len(r["text2"]))
        batches += [chunk[i : i + size] for i in range(0, len(chunk), size)]
    rng.shuffle(batches)
    return batches


@torch.no_grad()
def _probabilities(model, tokenizer: Tokenizer, rows: list[dict], size: int = 64) -> np.ndarray:
    model.eval()
    out = []
    for start in range(0, len(rows), size):
        chunk = rows[start : start + size]
        logits = model(**_batch(tokenizer, [(r["text1"], r["text2"]) for r in chunk])).logits
        out.append(torch.softmax(logits, dim=-1)[:, 1].numpy())
    return np.concatenate(out) if out else np.zeros(0)


def _onnx_probabilities(path: Path, tokenizer: Tokenizer, rows: list[dict], size: int = 64) -> np.ndarray:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.add_session_config_entry("session.disable_quant_qdq", "1")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    out = []
    for start in range(0, len(rows), size):
        batch = _batch(tokenizer, [(r["text1"], r["text2"]) for r in rows[start : start + size]])
        (logits,) = session.run(["logits"], {k: v.numpy() for k, v in batch.items()})
        out.append(1.0 / (1.0 + np.exp(logits[:, 0] - logits[:, 1])))
    return np.concatenate(out)


def _best_threshold(p: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Return (threshold, accuracy) maximizing accuracy; ties go to the threshold nearest 0.5."""
    candidates = sorted(np.round(np.linspace(0.05, 0.95, 91), 3), key=lambda t: abs(t - 0.5))
    scored = [(float(np.mean((p >= t) == (y == 1))), float(t)) for t in candidates]
    accuracy, threshold = max(scored, key=lambda s: s[0])
    return threshold, accuracy


def train(
    base: Path,
    train_rows: list[dict],
    tune_rows: list[dict],
    *,
    rates: list[float],
    epochs: int,
    batch_size: int,
    max_length: int,
    seed: int,
    swap: bool = False,
) -> tuple[torch.nn.Module, dict]:
    """Return the best model on tune and its figures, over each learning rate and each epoch; ``swap`` also
    trains on every pair in the other order (paraphrase is symmetric, the encoder's input is not)."""
    tokenizer = _tokenizer(base, max_length)
    if swap:
        train_rows = train_rows + [r | {"text1": r["text2"], "text2": r["text1"]} for r in train_rows]
    y_tune = np.array([int(r["label"]) for r in tune_rows])
    best_model, best = None, {"tune_accuracy": -1.0}
    history = []
    steps = epochs * math.ceil(len(train_rows) / batch_size)
    warmup = max(1, steps // 10)
    for rate in rates:
        torch.manual_seed(seed)
        rng = random.Random(seed)
        model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=2)
        no_decay = ("bias", "LayerNorm.weight")
        groups = [
            {
                "params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)],
                "weight_decay": 0.01,
            },
            {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)], "weight_decay": 0.0},
        ]
        optimizer = torch.optim.AdamW(groups, lr=rate)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / (steps - warmup)))
        )
        for epoch in range(1, epochs + 1):
            model.train()
            started, total = time.perf_counter(), 0.0
            for chunk in _batches(train_rows, batch_size, rng):
                labels = torch.tensor([int(r["label"]) for r in chunk])
                loss = model(
                    **_batch(tokenizer, [(r["text1"], r["text2"]) for r in chunk]), labels=labels
                ).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
                total += loss.item() * len(chunk)
            p = _probabilities(model, tokenizer, tune_rows)
            threshold, accuracy = _best_threshold(p, y_tune)
            figures = {
                "lr": rate,
                "epoch": epoch,
                "train_loss": round(total / len(train_rows), 4),
                "tune_accuracy_at_0.5": round(float(np.mean((p >= 0.5) == (y_tune == 1))), 4),
                "tune_accuracy": round(accuracy, 4),
                "threshold": threshold,
                "seconds": round(time.perf_counter() - started, 1),
            }
            history.append(figures)
            print(json.dumps(figures), flush=True)
            if accuracy > best["tune_accuracy"]:
                best, best_model = figures, copy.deepcopy(model)
    return best_model, {"best": best, "history": history}


def quantize(fp32: Path, out: Path) -> None:
    """Write the ONNX graph at ``fp32`` to ``out`` with its weights in int8 and its arithmetic in float.

    The embedding tables go through ``quantize_dynamic`` restricted to Gather, which stores them as int8 and
    dequantizes only the rows looked up. Every MatMul with a constant weight gets that weight as int8 with
    one symmetric scale per output column, behind a DequantizeLinear. Full dynamic quantization would also
    quantize the activations, with one scale per tensor computed at run time over the whole batch: a pair's
    score would then depend on the other pairs in its batch and on their padding.
    """
    import onnx
    from onnx import helper, numpy_helper
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, op_types_to_quantize=["Gather"])
    model = onnx.load(str(out))
    graph = model.graph
    initializers = {i.name: i for i in graph.initializer}
    nodes = []
    for node in graph.node:
        weight = initializers.get(node.input[1]) if node.op_type == "MatMul" else None
        array = numpy_helper.to_array(weight) if weight is not None else None
        if array is not None and array.ndim == 2 and array.dtype == np.float32:
            scale = (np.abs(array).max(axis=0) / 127.0).astype(np.float32)
            scale[scale == 0] = 1.0
            values = np.clip(np.round(array / scale), -127, 127).astype(np.int8)
            name = weight.name
            graph.initializer.remove(weight)
            graph.initializer.extend(
                [
                    numpy_helper.from_array(values, f"{name}_int8"),
                    numpy_helper.from_array(scale, f"{name}_scale"),
                ]
            )
            nodes.append(
                helper.make_node(
                    "DequantizeLinear",
                    [f"{name}_int8", f"{name}_scale"],
                    [name],
                    axis=1,
                    name=f"{name}_dequantize",
                )
            )
        nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    onnx.save(model, str(out))


def export(model: torch.nn.Module, out: Path, *, fp32_copy: Path | None = None) -> Path:
    """Write the model as ONNX with int8 weights to ``out/model.onnx`` (and the float graph to ``fp32_copy``)."""
    model.eval()
    dummy = {
        "input_ids": torch.tensor([[101, 2023, 102, 2008, 102]]),
        "attention_mask": torch.ones((1, 5), dtype=torch.long),
        "token_type_ids": torch.tensor([[0, 0, 0, 1, 1]]),
    }
    names = list(dummy)
    axes = {name: {0: "batch", 1: "length"} for name in names} | {"logits": {0: "batch"}}
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "model.fp32.onnx"
        torch.onnx.export(
            model,
            (dummy["input_ids"], dummy["attention_mask"], dummy["token_type_ids"]),
            str(fp32),
            input_names=names,
            output_names=["logits"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
        out.mkdir(parents=True, exist_ok=True)
        quantize(fp32, out / "model.onnx")
        if fp32_copy is not None:
            fp32_copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(fp32, fp32_copy)
    return out / "model.onnx"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="BERT-layout checkpoint directory.")
    parser.add_argument("--train", type=Path, required=True, help="MSRP-layout training pairs (JSONL).")
    parser.add_argument(
        "--dev", type=Path, required=True, help="MSRP-layout dev pairs; only its tune half is read."
    )
    parser.add_argument("--out", type=Path, default=MODEL_DIR, help="Where to write model.onnx and friends.")
    parser.add_argument("--lr", type=float, nargs="+", default=[5e-5], help="Learning rates to try.")
    parser.add_argument(
        "--epochs", type=int, default=4, help="Epochs per learning rate (each one is scored)."
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=128, help="Tokens per pair, specials included.")
    parser.add_argument("--swap", action="store_true", help="Also train on each pair in the other order.")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads.")
    parser.add_argument(
        "--fp32-copy", type=Path, default=None, help="Also keep the unquantized ONNX graph here."
    )
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    train_rows = read_rows(args.train)
    tune_rows = [r for r in read_rows(args.dev) if part_of(str(r["pair_index"])) == "tune"]
    started = time.perf_counter()
    model, figures = train(
        args.base,
        train_rows,
        tune_rows,
        rates=args.lr,
        epochs=args.epochs,
        batch_size=args.batch_size,
        max_length=args.max_length,
        seed=args.seed,
        swap=args.swap,
    )
    training_minutes = (time.perf_counter() - started) / 60
    path = export(model, args.out, fp32_copy=args.fp32_copy)
    shutil.copyfile(args.base / "tokenizer.json", args.out / "tokenizer.json")

    # The threshold is refitted on the int8 model's own tune probabilities: rounding the weights shifts them a little.
    y_tune = np.array([int(r["label"]) for r in tune_rows])
    p_int8 = _onnx_probabilities(path, _tokenizer(args.base, args.max_length), tune_rows)
    threshold, accuracy = _best_threshold(p_int8, y_tune)
    best = figures["best"]
    meta = {
        "max_length": args.max_length,
        "threshold": threshold,
        "labels": {"0": "not paraphrase", "1": "paraphrase"},
        "base_model": BASE_NAME,
        "base_license": BASE_LICENSE,
        "training": {
            "data": f"{args.train.name} ({len(train_rows)} pairs); chosen on the tune half of {args.dev.name} "
            f"({len(tune_rows)} pairs)",
            "lr": best["lr"],
            "epochs": best["epoch"],
            "lr_tried": args.lr,
            "max_epochs": args.epochs,
            "batch_size": args.batch_size,
            "swap": args.swap,
            "seed": args.seed,
            "tune_accuracy_fp32": best["tune_accuracy"],
            "tune_accuracy_int8": round(accuracy, 4),
            "history": figures["history"],
            "minutes": round(training_minutes, 1),
        },
    }
    (args.out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", "utf-8")
    size = path.stat().st_size / 2**20
    print(f"wrote {path} ({size:.1f} MiB; lr {best['lr']}, epoch {best['epoch']}, threshold {threshold})")


if __name__ == "__main__":
    main()
