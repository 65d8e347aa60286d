"""Verdicts for every ingested row: kept, or dropped with a reason and details.

One parallel pass (datatrove's executor) screens each sample (quality filters, decontamination)
and computes its exact-dedup key and MinHash signature; datatrove's bucket, cluster and filter
steps follow. Exact dedup is then resolved per group of identical samples: one copy is kept, the
first in recipe order unless MinHash kept another copy of the group.
Reasons, in order of precedence: contaminated, quality reasons, exact_duplicate, near_duplicate."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson
import pyarrow.parquet as pq

from alchemist.curate.executors import execute
from alchemist.curate.spec import CurateSpec, workers_for
from alchemist.curate.steps import KeptIds, PassedReader, SampleReader, Screen
from alchemist.rules.decontaminate import build_index
from alchemist.rules.near import CodeWordTokenizer, MinhashSignature, minhash_config
from alchemist.testsets import Problem


@dataclass
class Verdicts:
    reasons: list[str | None]
    details: dict[int, dict] = field(default_factory=dict)


def curate(files: list[Path], spec: CurateSpec, problems: list[Problem], work_dir: Path, seed: int, status=None) -> Verdicts:
    """Verdicts for every row of `files` (ingested shards, in order). `work_dir` keeps datatrove's
    completion markers, so a killed run resumes where its tasks left off."""
    say = status or (lambda msg: None)
    total = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    reasons: list[str | None] = [None] * total
    details: dict[int, dict] = {}
    active = np.ones(total, dtype=bool)
    if total == 0:
        return Verdicts(reasons)

    index = None
    if spec.decontaminate.enabled and problems:
        index = build_index(problems, spec.decontaminate)

    workers = workers_for(spec)
    # one task per worker, as datatrove's own examples do: every extra task adds signature files
    # that the bucket step must merge
    tasks = max(1, min(workers, int(active.sum()) // 512 or 1))
    near = spec.dedup.near
    verdict_dir, kept_dir = work_dir / "verdicts", work_dir / "kept"
    reader = SampleReader([str(f) for f in files], active)
    screen = Screen(str(verdict_dir), spec.filters, index)
    say(f"quality filters, decontamination{', MinHash signatures' if near.enabled else ''} ({tasks} tasks)")
    if near.enabled:
        from datatrove.pipeline.dedup.minhash import MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter

        config = minhash_config(near, seed)
        sigs, buckets, clusters = work_dir / "signatures", work_dir / "buckets", work_dir / "clusters"
        execute([reader, screen, MinhashSignature(str(sigs), config=config, language=CodeWordTokenizer())],
                tasks, workers, work_dir / "1_screen", spec, "1_screen")
        say("MinHash buckets")
        execute([MinhashDedupBuckets(str(sigs), str(buckets), config=config)],
                config.num_buckets, workers, work_dir / "2_buckets", spec, "2_buckets")
        say("MinHash clusters")
        execute([MinhashDedupCluster(str(buckets), str(clusters), config=config)], 1, 1, work_dir / "3_clusters", spec, "3_clusters")
        say("MinHash filter")
        execute([PassedReader(str(verdict_dir)), MinhashDedupFilter(str(clusters)), KeptIds(str(kept_dir))],
                tasks, workers, work_dir / "4_filter", spec, "4_filter")
    else:
        execute([reader, screen], tasks, workers, work_dir / "1_screen", spec, "1_screen")

    passed, groups = [], {}
    for rank in range(tasks):
        with open(verdict_dir / f"{rank:05d}.jsonl", encoding="utf-8") as fh:
            for line in fh:
                v = orjson.loads(line)
                reasons[v["idx"]] = v["reason"]
                if v["detail"]:
                    details[v["idx"]] = v["detail"]
                if v["reason"] is None:
                    passed.append(v["idx"])
                    groups.setdefault(v["key"], []).append(v["idx"])
    kept = set(passed)
    if near.enabled:
        kept = set()
        for rank in range(tasks):
            kept.update(int(x) for x in (kept_dir / f"{rank:05d}.txt").read_text().split())
    ids = _ids(files) if spec.dedup.exact and any(len(m) > 1 for m in groups.values()) else []
    for members in groups.values():
        members.sort()
        if spec.dedup.exact and len(members) > 1:
            # the copy MinHash kept (else the first) stands for the group; the others are its exact copies
            keep = next((i for i in members if i in kept), members[0])
            if keep not in kept:  # MinHash dropped the whole group for a near-duplicate elsewhere
                reasons[keep] = "near_duplicate"
            for i in members:
                if i != keep:
                    reasons[i] = "exact_duplicate"
                    details[i] = {"duplicate_of": ids[keep]}
        else:
            for i in members:
                if i not in kept:
                    reasons[i] = "near_duplicate"
    return Verdicts(reasons, details)


def _ids(files: list[Path]) -> list[str]:
    out: list[str] = []
    for f in files:
        out += pq.read_table(f, columns=["id"]).column("id").to_pylist()
    return out
