"""Run-directory mechanics: fingerprints, atomic outputs, and skipping finished stages.

A stage's output is complete only when its marker holds the fingerprint of the inputs and config
that made it; outputs are written under a temporary name and renamed, so a killed stage never
leaves something that looks finished.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

MARKER = "_SUCCESS"


def fingerprint(*parts) -> str:
    payload = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.blake2b(payload.encode(), digest_size=12).hexdigest()


def file_digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def is_complete(directory: Path, fp: str) -> bool:
    marker = directory / MARKER
    return marker.is_file() and marker.read_text().strip() == fp


@contextmanager
def atomic_dir(final: Path, fp: str):
    """Yield a fresh temporary directory; on success it replaces `final`, marked with `fp`."""
    tmp = final.with_name(final.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    yield tmp
    (tmp / MARKER).write_text(fp)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json_atomic(path: Path, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
