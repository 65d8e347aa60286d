"""Benchmark decontamination by word n-gram overlap.

Peers mostly test exact substrings, which misses a renamed function or a reworded docstring.
Here every benchmark problem is split into fields (prompt, reference solution, tests) and each
field into word n-grams; a sample is contaminated by a problem when it contains at least
`min_overlap` of one field's n-grams. Words are lower-cased `\\w+` runs, so whitespace,
indentation and punctuation changes do not matter, and an edit only breaks the n-grams that
span it. Fields shorter than n words (MBPP's one-sentence prompts) count as one n-gram of their
own length when they have at least MIN_SHORT_FIELD words.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from alchemist.testsets import Problem

# A name right before "(" is a function being defined or called. Renaming the benchmark's
# function must not hide it, so every such name becomes one placeholder word, on both sides.
TOKEN_RE = re.compile(r"\w+(?:[ \t]*\()?")
CALL = "\u0192("
_FILTER_BITS = 22  # a bitmap over hash bits screens n-grams before the dict lookup
MIN_SHORT_FIELD = 8
FIELDS = ("prompt", "solution", "tests")
_BASE = np.uint64(1_000_003)


@dataclass(slots=True)
class Hit:
    task_id: str
    field: str
    overlap: float


def words(text: str) -> list[str]:
    return [CALL if t[-1] == "(" else t for t in TOKEN_RE.findall(text.lower())]


_BASE_INV = np.uint64(pow(1_000_003, -1, 2**64))
_pow = np.ones(1, dtype=np.uint64)
_pow_inv = np.ones(1, dtype=np.uint64)


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """B^i and B^-i mod 2^64 for i < n (B is odd, so it has an inverse modulo 2^64)."""
    global _pow, _pow_inv
    if len(_pow) < n:
        size = max(n, 2 * len(_pow), 4096)
        with np.errstate(over="ignore"):
            _pow = np.cumprod(np.full(size, _BASE, dtype=np.uint64)) // _BASE  # B^0 .. B^(size-1)
            _pow[1:] = np.cumprod(np.full(size - 1, _BASE, dtype=np.uint64))
            _pow[0] = 1
            _pow_inv = np.ones(size, dtype=np.uint64)
            _pow_inv[1:] = np.cumprod(np.full(size - 1, _BASE_INV, dtype=np.uint64))
    return _pow, _pow_inv


def window_hashes(ids: np.ndarray, lengths: list[int]) -> np.ndarray:
    """Polynomial hash of every window of each length, from one prefix sum: with
    S[i] = sum_{j<i} ids[j] B^-j, the window [i, i+n) hashes to B^(i+n-1) (S[i+n] - S[i]).
    uint64 arithmetic wraps, so this is exact modulo 2^64."""
    m = len(ids)
    pw, pw_inv = _powers(m + 1)
    with np.errstate(over="ignore"):
        prefix = np.zeros(m + 1, dtype=np.uint64)
        np.cumsum(ids * pw_inv[:m], out=prefix[1:])
        parts = [pw[n - 1 : m] * (prefix[n:] - prefix[: m - n + 1]) for n in lengths if n <= m]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.uint64)


class NgramIndex:
    """Inverted index from hashed word n-grams to the benchmark fields that hold them."""

    def __init__(self, problems: list[Problem], n: int = 13, min_overlap: float = 0.2):
        self.n = n
        self.min_overlap = min_overlap
        self.vocab: dict[str, int] = {}
        self.fields: list[tuple[str, str, int]] = []  # (task_id, field, number of distinct n-grams)
        index: dict[int, list[int]] = defaultdict(list)
        lengths = {n}
        for problem in problems:
            for field in FIELDS:
                ids = np.array([self.vocab.setdefault(w, len(self.vocab) + 1) for w in words(getattr(problem, field))], dtype=np.uint64)
                if len(ids) >= n:
                    grams = set(window_hashes(ids, [n]).tolist())
                elif len(ids) >= MIN_SHORT_FIELD:
                    grams = set(window_hashes(ids, [len(ids)]).tolist())
                    lengths.add(len(ids))
                else:
                    continue
                fid = len(self.fields)
                self.fields.append((problem.task_id, field, len(grams)))
                for g in grams:
                    index[g].append(fid)
        self.lengths = sorted(lengths)
        self.index = dict(index)
        self.mask = np.uint64((1 << _FILTER_BITS) - 1)
        self.bitmap = np.zeros(1 << _FILTER_BITS, dtype=bool)
        self.bitmap[np.array(list(self.index), dtype=np.uint64) & self.mask] = True
        self.oov = np.uint64(len(self.vocab) + 1)  # one id for every word no benchmark uses

    def hits(self, text: str) -> list[Hit]:
        """Benchmark fields that `text` overlaps by at least min_overlap, best first."""
        vocab, oov = self.vocab, self.oov
        ids = np.array([vocab.get(w, oov) for w in words(text)], dtype=np.uint64)
        if len(ids) < self.lengths[0] or not self.index:
            return []
        grams = window_hashes(ids, self.lengths)
        candidates = grams[self.bitmap[grams & self.mask]]
        if not len(candidates):
            return []
        index = self.index
        counts: dict[int, int] = defaultdict(int)
        for g in set(candidates.tolist()):
            for fid in index.get(g, ()):
                counts[fid] += 1
        out = []
        for fid, c in counts.items():
            task_id, field, total = self.fields[fid]
            if c / total >= self.min_overlap:
                out.append(Hit(task_id, field, round(c / total, 3)))
        return sorted(out, key=lambda h: -h.overlap)
