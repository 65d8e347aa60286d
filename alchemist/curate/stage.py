"""The curate stage: exact dedup, then quality filters and decontamination, then MinHash near
dedup. Every ingested row gets a verdict: kept, or dropped with a reason (and details)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from alchemist.curate.decontaminate import NgramIndex
from alchemist.curate.exact import content_key
from alchemist.curate.near import CodeWordTokenizer, minhash_config
from alchemist.curate.steps import KeptIds, PassedReader, SampleReader, Screen
from alchemist.errors import UserError
from alchemist.recipe import CurateSpec
from alchemist.schema import Sample
from alchemist.testsets import Problem


@dataclass
class Verdicts:
    reasons: list[str | None]
    details: dict[int, dict] = field(default_factory=dict)

    @property
    def kept(self) -> list[int]:
        return [i for i, r in enumerate(self.reasons) if r is None]


def workers_for(spec: CurateSpec) -> int:
    return spec.executor.workers or os.cpu_count() or 1


@contextlib.contextmanager
def stderr_to(path: Path):
    """datatrove logs every task to stderr; send that (workers inherit fd 2) to a log file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def _execute(pipeline, tasks: int, workers: int, logging_dir: Path, spec: CurateSpec) -> None:
    from datatrove.executor import LocalPipelineExecutor

    options = {"start_method": "fork", **spec.executor.options}
    executor = LocalPipelineExecutor(
        pipeline=pipeline, tasks=tasks, workers=min(workers, tasks), logging_dir=str(logging_dir),
        skip_completed=True, **options,
    )
    log = logging_dir.parent / "datatrove.log"
    try:
        with stderr_to(log):
            executor.run()
    except Exception as e:  # a failed task: its log says why
        raise UserError(f"curation step {logging_dir.name} failed ({e}); see {log} and {logging_dir}/logs") from None


def exact_duplicates(files: list[Path]) -> tuple[list[bool], dict[int, dict]]:
    """First occurrence wins, across all sources in recipe order."""
    seen: dict[bytes, tuple[int, str]] = {}
    keep, details, offset = [], {}, 0
    for f in files:
        for row in pq.read_table(f, columns=["id", "source", "task", "messages", "language", "meta"]).to_pylist():
            key = content_key(Sample.from_row(row))
            first = seen.setdefault(key, (offset, row["id"]))
            keep.append(first[0] == offset)
            if first[0] != offset:
                details[offset] = {"duplicate_of": first[1]}
            offset += 1
    return keep, details


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

    if spec.dedup.exact:
        say("exact dedup")
        keep, dup_details = exact_duplicates(files)
        for i, k in enumerate(keep):
            if not k:
                reasons[i] = "exact_duplicate"
                active[i] = False
        details.update(dup_details)

    index = None
    if spec.decontaminate.enabled and problems:
        index = NgramIndex(problems, spec.decontaminate.ngram, spec.decontaminate.min_overlap)

    workers = workers_for(spec)
    tasks = max(1, min(workers, int(active.sum()) // 256 or 1))
    near = spec.dedup.near
    verdict_dir, kept_dir = work_dir / "verdicts", work_dir / "kept"
    reader = SampleReader([str(f) for f in files], active)
    screen = Screen(str(verdict_dir), spec.filters, index)
    say(f"quality filters, decontamination{', MinHash signatures' if near.enabled else ''} ({tasks} tasks)")
    if near.enabled:
        from datatrove.pipeline.dedup.minhash import (
            MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter, MinhashDedupSignature,
        )

        config = minhash_config(near, seed)
        sigs, buckets, clusters = work_dir / "signatures", work_dir / "buckets", work_dir / "clusters"
        _execute([reader, screen, MinhashDedupSignature(str(sigs), config=config, language=CodeWordTokenizer())],
                 tasks, workers, work_dir / "1_screen", spec)
        say("MinHash buckets")
        _execute([MinhashDedupBuckets(str(sigs), str(buckets), config=config)],
                 config.num_buckets, workers, work_dir / "2_buckets", spec)
        say("MinHash clusters")
        _execute([MinhashDedupCluster(str(buckets), str(clusters), config=config)], 1, 1, work_dir / "3_clusters", spec)
        say("MinHash filter")
        _execute([PassedReader(str(verdict_dir)), MinhashDedupFilter(str(clusters)), KeptIds(str(kept_dir))],
                 tasks, workers, work_dir / "4_filter", spec)
    else:
        _execute([reader, screen], tasks, workers, work_dir / "1_screen", spec)

    passed = []
    for rank in range(tasks):
        with open(verdict_dir / f"{rank:05d}.jsonl", encoding="utf-8") as fh:
            for line in fh:
                v = json.loads(line)
                reasons[v["idx"]] = v["reason"]
                if v["detail"]:
                    details[v["idx"]] = v["detail"]
                if v["reason"] is None:
                    passed.append(v["idx"])
    if near.enabled:
        kept = set()
        for rank in range(tasks):
            kept.update(int(x) for x in (kept_dir / f"{rank:05d}.txt").read_text().split())
        for idx in passed:
            if idx not in kept:
                reasons[idx] = "near_duplicate"
    return Verdicts(reasons, details)
