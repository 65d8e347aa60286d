"""Source adapters, registered by name: each turns one corpus format into Sample rows."""

from __future__ import annotations

from pathlib import Path

from alchemist.sources import alpaca, chat, code_files, commit, evol, mapped
from alchemist.sources.base import Adapter, AdapterError, Converted
from alchemist.sources.readers import RawRecord, iter_file, iter_hub
from alchemist.sources.readers import expand_paths as _expand

ADAPTERS: dict[str, Adapter] = {
    a.name: a
    for a in (alpaca.ADAPTER, evol.ADAPTER, chat.MESSAGES, chat.SHAREGPT, commit.ADAPTER, code_files.ADAPTER, mapped.ADAPTER)
}


def expand_paths(text: str, recipe_path: Path | None, adapter: Adapter | None = None) -> list[Path]:
    return _expand(text, recipe_path, adapter.suffixes if adapter else alpaca.ADAPTER.suffixes)


__all__ = ["ADAPTERS", "Adapter", "AdapterError", "Converted", "RawRecord", "expand_paths", "iter_file", "iter_hub"]
