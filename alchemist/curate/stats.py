"""`curated/stats.json`, written and read through `CurateStats`: per source what was kept and
dropped (by reason), the first few examples of every drop, every contamination hit and the closest
near misses. Each shard's counts are a `CurateStats` of their own, summed with `+` in shard order
(datatrove's `PipelineStats` merge the same way), so the sum is what one pass over all the rows
would have counted.

Other stages (mix's manifest, the report) read the file as plain JSON and may not import this
module: `to_json` keeps the keys and their order as they were."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from alchemist.rundir.stats import StatsFile

MAX_EXAMPLES = 5  # examples of each drop reason kept (the first ones, in row order)
MAX_NEAR_MISSES = 500  # borderline misses listed in stats.json and the report (the closest first)


@dataclass
class SourceCounts:
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)  # reason -> rows, in the order first seen

    def __add__(self, o: SourceCounts) -> SourceCounts:
        dropped = Counter(self.dropped)
        for reason, n in o.dropped.items():  # not Counter's +, which forgets a count of 0
            dropped[reason] += n
        return SourceCounts(self.kept + o.kept, dropped)


@dataclass
class CurateStats:
    sources: dict[str, SourceCounts] = field(default_factory=dict)  # in the order their rows came
    examples: dict[str, list[dict]] = field(default_factory=dict)  # reason -> first MAX_EXAMPLES drops
    contamination: list[dict] = field(default_factory=list)  # every match of every contaminated row
    # the run's settings, not counts: a sum keeps the left side's (or the right's where it has none)
    benchmarks: list[str] = field(default_factory=list)
    benchmarks_skipped: list[dict] = field(default_factory=list)
    workers: int = 0
    near_misses: list[dict] = field(default_factory=list)  # every one until `closest()` cuts the list

    def __add__(self, o: CurateStats) -> CurateStats:
        sources = dict(self.sources)
        for name, counts in o.sources.items():
            sources[name] = sources[name] + counts if name in sources else counts
        examples = {reason: list(items) for reason, items in self.examples.items()}
        for reason, items in o.examples.items():
            examples[reason] = (examples.get(reason, []) + items)[:MAX_EXAMPLES]
        return CurateStats(sources, examples, self.contamination + o.contamination,
                           self.benchmarks or o.benchmarks, self.benchmarks_skipped or o.benchmarks_skipped,
                           self.workers or o.workers, self.near_misses + o.near_misses)

    def closest(self) -> CurateStats:
        """These stats with only the MAX_NEAR_MISSES closest near misses (by overlap, ties in row order)."""
        misses = sorted(self.near_misses, key=lambda m: -float(m.get("overlap") or 0))
        return CurateStats(self.sources, self.examples, self.contamination, self.benchmarks,
                           self.benchmarks_skipped, self.workers, misses[:MAX_NEAR_MISSES])

    @property
    def kept(self) -> int:
        return sum(c.kept for c in self.sources.values())

    @property
    def dropped(self) -> Counter:
        total = Counter()
        for c in self.sources.values():
            total.update(c.dropped)
        return total

    def to_json(self) -> dict:
        return {
            "sources": {k: {"kept": c.kept, "dropped": dict(c.dropped)} for k, c in self.sources.items()},
            "examples": self.examples,
            "contamination": self.contamination,
            "benchmarks": self.benchmarks,
            "benchmarks_skipped": self.benchmarks_skipped,
            "workers": self.workers,
            "near_misses": self.near_misses,
        }

    @classmethod
    def from_json(cls, path: Path) -> CurateStats:
        """The stats curate wrote to `path`; a damaged or foreign file is one error naming it and the key."""
        f = StatsFile(path, "curate")
        d = f.load()
        sources = {}
        for name, c in f.key(d, "sources", dict).items():
            where = f"sources.{name}"
            if not isinstance(c, dict):
                raise f.bad(where, "an object")
            sources[name] = SourceCounts(f.key(c, "kept", int, where), Counter(f.key(c, "dropped", dict, where)))
        return cls(sources, f.key(d, "examples", dict), f.key(d, "contamination", list),
                   f.key(d, "benchmarks", list), f.key(d, "benchmarks_skipped", list),
                   f.key(d, "workers", int), f.key(d, "near_misses", list))
