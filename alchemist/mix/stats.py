"""`final/stats.json`, written and read through `MixStats`: the rows each source and each relabel
task put in train.parquet (and how many distinct), and the final rows by task.

Other packages (the report) read the file as plain JSON and may not import this module: `to_json`
keeps the keys and their order as they were."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from alchemist.rundir.stats import StatsFile


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
        f = StatsFile(path, "mix")
        d = f.load()
        return cls({k: _record(f, SourceMix, v, f"sources.{k}") for k, v in f.key(d, "sources", dict).items()},
                   {k: _record(f, TaskMix, v, f"relabeled.{k}") for k, v in f.key(d, "relabeled", dict).items()},
                   f.key(d, "rows", int), f.key(d, "by_task", dict))


def _record(f: StatsFile, cls, d, where: str):
    if not isinstance(d, dict):
        raise f.bad(where, "an object")
    return cls(**{fl.name: f.key(d, fl.name, int, where) for fl in fields(cls)})
