"""Exact deduplication on normalized content: the first occurrence wins."""

from __future__ import annotations

import hashlib
import re

from alchemist.schema import Sample

_TRAILING_SPACE = re.compile(r"[ \t]+(?=\n)")


def normalized(sample: Sample) -> str:
    """Line endings unified, trailing spaces and surrounding blank lines dropped; indentation kept
    (it is syntax in Python), case kept."""
    parts = []
    for m in sample.messages:
        text = m["content"]
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        text = text.strip()
        if " \n" in text or "\t\n" in text:
            text = _TRAILING_SPACE.sub("", text)
        parts.append(m["role"] + "\x1f" + text)
    return "\x1e".join(parts)


def content_key(sample: Sample) -> bytes:
    return hashlib.blake2b(normalized(sample).encode("utf-8", "surrogatepass"), digest_size=16).digest()
