"""Exact deduplication on normalized content: the first occurrence wins."""

from __future__ import annotations

import hashlib

from alchemist.schema import Sample


def normalized(sample: Sample) -> str:
    """Line endings unified, trailing spaces and surrounding blank lines dropped; indentation kept
    (it is syntax in Python), case kept."""
    parts = []
    for m in sample.messages:
        text = m["content"].replace("\r\n", "\n").replace("\r", "\n")
        parts.append(m["role"] + "\x1f" + "\n".join(line.rstrip() for line in text.strip().split("\n")))
    return "\x1e".join(parts)


def content_key(sample: Sample) -> bytes:
    return hashlib.blake2b(normalized(sample).encode("utf-8", "surrogatepass"), digest_size=16).digest()
