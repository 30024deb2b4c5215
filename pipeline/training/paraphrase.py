"""Refit the dedupe stage's sentence-pair paraphrase model on an MSRP-layout file (train split only)::

    python -m pipeline.training.paraphrase ../shared/data/msrp_train.jsonl [--out pipeline/models/paraphrase.json]

Each line of the file is ``{"text1", "text2", "label"}`` (1 = paraphrase). The fit is full-batch gradient
descent, deterministic for a given file; ``copydesk eval paraphrase`` scores the result on a dev file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pipeline.dedupe.paraphrase import WEIGHTS, fit

__all__ = ["main", "read_pairs"]


def read_pairs(path: Path) -> list[tuple[str, str, int]]:
    """Return the (text1, text2, label) pairs of an MSRP-layout JSONL file."""
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    return [(row["text1"], row["text2"], int(row["label"])) for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train", type=Path, help="MSRP-layout training pairs (JSONL).")
    parser.add_argument("--out", type=Path, default=WEIGHTS, help="Where to write the weights.")
    args = parser.parse_args()
    model = fit(read_pairs(args.train))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(model.to_state(), indent=1) + "\n", "utf-8")
    print(f"wrote {args.out} (threshold {model.threshold})")


if __name__ == "__main__":
    main()
