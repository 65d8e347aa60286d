"""The exact-dedup key: samples with the same normalized content are copies of each other.

Which copy is kept is decided in `verdicts.py` among the copies that passed the screen (copies
share their screen verdict): the first in recipe order, unless near dedup is on and MinHash kept
another copy of the group for its cluster; when MinHash kept none of them (it kept a near
duplicate outside the group), the first becomes `near_duplicate` and the others `exact_duplicate`."""

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
