"""`final/stats.json`, written and read through `MixStats`: the rows each source and each relabel
task put in train.parquet (and how many distinct), and the final rows by task.

Other packages (the report) read the file as plain JSON and may not import this module: `to_json`
keeps the keys and their order as they were."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from alchemist.errors import UserError


@dataclass
class SourceMix:
    rows: int = 0  # in train.parquet, repeats included
    distinct: int = 0
    subsampled: int = 0  # curated rows a weight below 1 or max_samples left out
    seeds: int = 0  # rows kept for generation only (code snippets), never trained on


@dataclass
class TaskMix:
    rows: int = 0
    distinct: int = 0


@dataclass
class MixStats:
    sources: dict[str, SourceMix] = field(default_factory=dict)  # in recipe order
    relabeled: dict[str, TaskMix] = field(default_factory=dict)  # relabel task kind -> rows
    rows: int = 0
    by_task: dict[str, int] = field(default_factory=dict)  # task -> rows of train.parquet, in order first seen

    def to_json(self) -> dict:
        return {"sources": {k: asdict(v) for k, v in self.sources.items()},
                "relabeled": {k: asdict(v) for k, v in self.relabeled.items()},
                "rows": self.rows, "by_task": self.by_task}

    @classmethod
    def from_json(cls, path: Path) -> MixStats:
        """The stats mix wrote to `path`; a damaged or foreign file is one error naming it and the key."""
        try:
            d = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            raise UserError(f"{path}: cannot read mix's stats ({e}); run the mix stage again") from None
        if not isinstance(d, dict):
            raise UserError(f"{path}: not mix's stats (a JSON object expected); run the mix stage again")
        return cls({k: _record(SourceMix, v, f"sources.{k}", path) for k, v in _key(d, "sources", dict, path).items()},
                   {k: _record(TaskMix, v, f"relabeled.{k}", path) for k, v in _key(d, "relabeled", dict, path).items()},
                   _key(d, "rows", int, path), _key(d, "by_task", dict, path))


def _key(d: dict, key: str, kind: type, path: Path, parent: str = ""):
    where = f"{parent}.{key}" if parent else key
    if key not in d:
        raise UserError(f"{path}: key '{where}' is missing from mix's stats; run the mix stage again")
    if not isinstance(d[key], kind) or isinstance(d[key], bool):
        what = {dict: "an object", int: "an integer"}[kind]
        raise UserError(f"{path}: key '{where}' of mix's stats is not {what}; run the mix stage again")
    return d[key]


def _record(cls, d, where: str, path: Path):
    if not isinstance(d, dict):
        raise UserError(f"{path}: key '{where}' of mix's stats is not an object; run the mix stage again")
    return cls(**{f.name: _key(d, f.name, int, path, where) for f in fields(cls)})
