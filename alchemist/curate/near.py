"""Near-duplicate detection with datatrove's MinHash pipeline (signatures, LSH buckets, clusters,
filter), run by datatrove's executor. alchemist supplies the documents, a code-aware word
tokenizer and the LSH banding derived from a similarity threshold."""

from __future__ import annotations

import math
import re
from functools import lru_cache

from datatrove.pipeline.dedup.minhash import MinhashConfig
from datatrove.utils.hashing import HashConfig
from datatrove.utils.word_tokenizers import WordTokenizer

from alchemist.recipe import NearDedupSpec

_WORD = re.compile(r"\w+|[^\w\s]")


class CodeWordTokenizer(WordTokenizer):
    """datatrove's default word tokenizers need spaCy/NLTK models and split code badly;
    code splits well on identifiers and single punctuation marks."""

    def __init__(self):
        super().__init__("code")

    def word_tokenize(self, text: str) -> list[str]:
        return _WORD.findall(text)

    def sent_tokenize(self, text: str) -> list[str]:
        return [text]

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        return [(0, len(text))]


def _integrate(f, a: float, b: float, steps: int = 200) -> float:
    h = (b - a) / steps
    return h * (sum(f(a + i * h) for i in range(1, steps)) + (f(a) + f(b)) / 2)


@lru_cache(maxsize=64)
def optimal_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) with bands * rows <= num_perm minimizing the false positive plus false
    negative probability mass around the threshold (the usual LSH parameter choice)."""
    best, best_err = (1, num_perm), math.inf
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = _integrate(lambda s: 1 - (1 - s ** r) ** b, 0.0, threshold)
            fn = _integrate(lambda s: (1 - s ** r) ** b, threshold, 1.0)
            if fp + fn < best_err:
                best, best_err = (b, r), fp + fn
    return best


def minhash_config(spec: NearDedupSpec, seed: int) -> MinhashConfig:
    bands, rows = optimal_bands(round(spec.threshold, 4), spec.num_perm)
    # datatrove's default xxhash path breaks with xxhash>=4 ("Strings must be encoded"); sha1 works with any
    return MinhashConfig(
        n_grams=spec.ngram,
        num_buckets=spec.num_buckets or bands,
        hashes_per_bucket=spec.hashes_per_bucket or rows,
        seed=seed + 1,
        hash_config=HashConfig(precision=64, hash_fc="sha1"),
    )
