"""The dedupe stage: is an article unique, or a copy, rewrite or update of one seen before?

``DuplicateIndex.match(article)`` is the stage's whole face; behind it, one module per concern:
``fingerprints`` (MinHash signatures and the stored form of an article), ``compare`` (the pair scores and
the relation they decide), ``index`` (the window of recent articles, looked up by LSH) and
``paraphrase`` (the sentence-pair model that tells a spin from other copy of the same story).
"""

from pipeline.dedupe.compare import PairScores, best_counterparts, classify, compare
from pipeline.dedupe.fingerprints import Fingerprint, fingerprint
from pipeline.dedupe.index import DuplicateIndex

__all__ = [
    "DuplicateIndex",
    "Fingerprint",
    "PairScores",
    "best_counterparts",
    "classify",
    "compare",
    "fingerprint",
]
