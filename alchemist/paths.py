"""Paths a user gives: relative ones are read from the working directory, else from the recipe's
folder. The recipe makes every path absolute with these at load time; sources expand them. And
alchemist's own cache folder (downloaded benchmarks, built models, oracle answers)."""

from __future__ import annotations

import glob
import os
from pathlib import Path


def resolve_path(text: str, recipe_path: Path | None) -> Path:
    """A recipe path: as given when absolute or found from the working directory, else beside the recipe."""
    p = Path(os.path.expanduser(text))
    if p.is_absolute() or recipe_path is None or exists(p):
        return p
    alt = recipe_path.parent / p
    return alt if exists(alt) else p


def exists(p: Path) -> bool:
    """Whether the path, or else the pattern (`*`, `?`, `[...]`), names anything."""
    if p.exists():
        return True
    if any(ch in str(p) for ch in "*?["):
        return bool(glob.glob(str(p), recursive=True))
    return p.exists()


def cache_dir() -> Path:
    """$ALCHEMIST_CACHE, else $XDG_CACHE_HOME/alchemist, else ~/.cache/alchemist."""
    base = os.environ.get("ALCHEMIST_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"), "alchemist")
    return Path(base)
