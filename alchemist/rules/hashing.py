"""Text primitives shared by the curation rules: word hashing straight from UTF-8 bytes, rolling
window hashes over any id sequence, and the one text of a conversation that every rule matches.

Exact, near-duplicate, n-gram and structure checks all hash words or tokens the same way, so a
sample's n-grams computed for one are comparable with another's.
"""

from __future__ import annotations

import re

import numpy as np

# Docstrings are prose that a paraphrase rewrites entirely; the code around them survives. The
# "code" view of a problem (prompt without docstrings + solution) is matched against samples with
# their docstrings removed too.
DOCSTRING_RE = re.compile(r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'')
_DOCSTRING_BYTES = re.compile(DOCSTRING_RE.pattern.encode())

# Words are runs of [0-9A-Za-z_] and non-ASCII bytes, hashed straight from the UTF-8 bytes with
# numpy (no Python loop per word: this runs on every sample of every corpus).
_WORD_BYTE = np.zeros(256, dtype=bool)
for _c in b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_":
    _WORD_BYTE[_c] = True
_WORD_BYTE[128:] = True
_BASE = np.uint64(1_000_003)
_BASE_INV = np.uint64(pow(1_000_003, -1, 2**64))
# A name right before "(" is a function being defined or called. Renaming the benchmark's
# function must not hide it, so every such name hashes to one placeholder word, on both sides.
_CALL = np.uint64(0x9E3779B97F4A7C15)


_pow = np.ones(1, dtype=np.uint64)
_pow_inv = np.ones(1, dtype=np.uint64)


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """B^i and B^-i mod 2^64 for i < n (B is odd, so it has an inverse modulo 2^64)."""
    global _pow, _pow_inv
    if len(_pow) < n:
        size = max(n, 2 * len(_pow), 4096)
        with np.errstate(over="ignore"):
            _pow = np.ones(size, dtype=np.uint64)
            _pow[1:] = np.cumprod(np.full(size - 1, _BASE, dtype=np.uint64))
            _pow_inv = np.ones(size, dtype=np.uint64)
            _pow_inv[1:] = np.cumprod(np.full(size - 1, _BASE_INV, dtype=np.uint64))
    return _pow, _pow_inv


def prefix_sums(values: np.ndarray) -> np.ndarray:
    """S[i] = sum_{j<i} v[j] B^-j (mod 2^64)."""
    m = len(values)
    _, pw_inv = _powers(m + 1)
    prefix = np.zeros(m + 1, dtype=np.uint64)
    np.cumsum(values * pw_inv[:m], out=prefix[1:])  # array arithmetic wraps silently
    return prefix


def span_hashes(prefix: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Polynomial hash of values[s:e] for every span: B^(e-1) (S[e] - S[s]). uint64 arithmetic
    wraps, so this is exact modulo 2^64."""
    pw, _ = _powers(len(prefix))
    return pw[ends - 1] * (prefix[ends] - prefix[starts])


def word_hashes(text: str, docstrings: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """One uint64 per word of the lower-cased text; names followed by "(" become _CALL. With
    `docstrings`, also a mask of the words that lie inside triple-quoted strings."""
    data = text.lower().encode("utf-8", "surrogatepass")
    raw = np.frombuffer(data, dtype=np.uint8)
    if not len(raw):
        empty = np.empty(0, dtype=np.uint64)
        return (empty, np.empty(0, dtype=bool)) if docstrings else empty
    padded = np.zeros(len(raw) + 2, dtype=bool)
    padded[1:-1] = _WORD_BYTE[raw]
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    starts, ends = edges[0::2], edges[1::2]
    if not len(starts):
        empty = np.empty(0, dtype=np.uint64)
        return (empty, np.empty(0, dtype=bool)) if docstrings else empty
    hashes = span_hashes(prefix_sums(raw.astype(np.uint64) + np.uint64(1)), starts, ends)
    followed = ends < len(raw)
    calls = np.zeros(len(ends), dtype=bool)
    calls[followed] = raw[ends[followed]] == ord("(")
    hashes[calls] = _CALL
    if not docstrings:
        return hashes
    inside = np.zeros(len(raw) + 1, dtype=np.int8)
    for m in _DOCSTRING_BYTES.finditer(data):
        inside[m.start()] += 1
        inside[m.end()] -= 1
    return hashes, np.cumsum(inside[:-1])[starts] > 0


def window_hashes(ids: np.ndarray, lengths: list[int]) -> np.ndarray:
    """Hash of every window of each length over a sequence of word hashes."""
    m = len(ids)
    prefix = prefix_sums(ids)
    pw, _ = _powers(m + 1)
    parts = [pw[n - 1 : m] * (prefix[n:] - prefix[: m - n + 1]) for n in lengths if n <= m]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.uint64)


def sample_text(messages: list[dict]) -> str:
    """Every turn of a conversation, in order: what decontamination matches."""
    return "\n".join(m["content"] for m in messages)
