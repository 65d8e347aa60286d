"""Near-duplicate detection with datatrove's MinHash pipeline (signatures, LSH buckets, clusters,
filter), run by datatrove's executor. alchemist supplies the documents, a code-aware word
tokenizer and the LSH banding derived from a similarity threshold."""

from __future__ import annotations

import dataclasses
import math
import re
from functools import lru_cache

import numpy as np
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
from datatrove.utils.hashing import HashConfig
from datatrove.utils.text import simplify_text
from datatrove.utils.word_tokenizers import WordTokenizer

from alchemist.rules.hashing import prefix_sums, span_hashes, window_hashes
from alchemist.rules.spec import NearDedupSpec

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


class MinhashSignature(MinhashDedupSignature):
    """datatrove's MinHash signature step with vectorized shingle hashing.

    datatrove hashes every word n-gram in a Python loop (join + sha1 per shingle), which is most
    of its per-document cost. Here the same n-grams of the same simplified, tokenized text are
    hashed with numpy (a 64-bit polynomial hash of each word's UTF-8 bytes, then of each window
    of n word hashes); datatrove's own code turns them into the signature, buckets, clusters."""

    @property
    def _ascii_norm(self):
        return dataclasses.replace(self.config.norm_config, norm_unicode_diacritics=False)

    def get_shingles(self, text: str) -> np.ndarray:
        norm = self.config.norm_config
        if norm.norm_unicode_diacritics and text.isascii():  # ASCII has no diacritics: skip the per-character pass
            norm = self._ascii_norm
        tokens = self.word_tokenizer.word_tokenize(simplify_text(text, norm))
        n = self.config.n_grams
        if len(tokens) < n:
            return np.empty((0, 1), dtype=np.uint64)
        joined = "".join(tokens)
        data = joined.encode("utf-8", "surrogatepass")
        lengths = np.fromiter(map(len, tokens) if joined.isascii() else (len(t.encode("utf-8", "surrogatepass")) for t in tokens),
                              dtype=np.int64, count=len(tokens))
        ends = np.cumsum(lengths)
        raw = np.frombuffer(data, dtype=np.uint8).astype(np.uint64) + np.uint64(1)
        words = span_hashes(prefix_sums(raw), ends - lengths, ends)
        return mix64(window_hashes(words, [n])).reshape((-1, 1))


def mix64(x: np.ndarray) -> np.ndarray:
    """murmur3's 64-bit finalizer: polynomial hashes of similar n-grams are related linearly,
    and MinHash's linear permutations must not see that structure."""
    x = x ^ (x >> np.uint64(33))
    x = x * np.uint64(0xFF51AFD7ED558CCD)
    x = x ^ (x >> np.uint64(33))
    x = x * np.uint64(0xC4CEB9FE1A85EC53)
    return x ^ (x >> np.uint64(33))
