"""The curate stage: every ingested row kept, or dropped with a reason and its detail.

Writes `curated/samples.parquet` (kept), `curated/rejected.parquet` (dropped, with `reason` and
`detail` JSON) and `curated/stats.json`. datatrove's task markers live in the stage's work
directory, so a killed curation resumes where its tasks left off.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from alchemist.curate.spec import CurateSpec, workers_for
from alchemist.curate.stats import MAX_EXAMPLES, CurateStats, SourceCounts
from alchemist.curate.verify import kept_tests, verify
from alchemist.llm.factory import build_client
from alchemist.rules.judge import judge_near_misses
from alchemist.rundir import RunLayout, write_json_atomic
from alchemist.schema import SAMPLE_SCHEMA, TESTS_KEY, Sample, meta_json
from alchemist.testsets import Problem
from alchemist.testsets import fingerprint as problems_fingerprint
from alchemist.testsets.decontaminate import run_problems

REJECTED_SCHEMA = SAMPLE_SCHEMA.append(pa.field("reason", pa.string())).append(pa.field("detail", pa.string()))


def curate_shards(spec: CurateSpec, shards: list[Path], problems: list[Problem], skipped: list[dict], out: Path,
                  work: Path, seed: int, say=lambda m: None) -> dict:
    """Verdicts for every row of `shards` (in order) written to `out`; returns headline counts."""
    # datatrove's pipeline steps (about half a second of imports): loaded when curation runs
    from alchemist.curate.verdicts import curate

    _reset_if_layout_changed(work, spec, shards)
    verdicts = curate(shards, spec, problems, work, seed, status=lambda m: say(f"curate: {m}"))
    if spec.decontaminate.enabled and spec.decontaminate.judge.llm is not None:
        _judge(verdicts, shards, problems, spec, work, say)
    tests = _verify(verdicts, shards, spec, say) if spec.verify.enabled else {}
    stats = CurateStats(benchmarks=sorted({p.benchmark for p in problems}), benchmarks_skipped=skipped,
                        workers=workers_for(spec))
    kept_writer = pq.ParquetWriter(out / "samples.parquet", SAMPLE_SCHEMA)
    rejected_writer = pq.ParquetWriter(out / "rejected.parquet", REJECTED_SCHEMA)
    offset = 0
    for shard in shards:
        table = pq.read_table(shard)
        n = table.num_rows
        reasons = verdicts.reasons[offset : offset + n]
        mask = pa.array([r is None for r in reasons], type=pa.bool_())
        kept_writer.write_table(_with_tests(table, tests, offset).filter(mask))
        dropped = table.filter(pc.invert(mask))
        dropped_idx = [offset + j for j, r in enumerate(reasons) if r is not None]
        dropped = dropped.append_column("reason", pa.array([verdicts.reasons[i] for i in dropped_idx], pa.string()))
        dropped = dropped.append_column("detail", pa.array([json.dumps(verdicts.details.get(i)) if i in verdicts.details else None
                                                            for i in dropped_idx], pa.string()))
        rejected_writer.write_table(dropped)
        stats += _count(table, reasons, verdicts, offset)
        offset += n
    kept_writer.close()
    rejected_writer.close()
    stats = stats.closest()
    write_json_atomic(out / "stats.json", stats.to_json())
    dropped = stats.dropped
    return {"kept": stats.kept, "dropped": sum(dropped.values()), "contaminated": dropped.get("contaminated", 0)}


def _samples_at(shards: list[Path], wanted: set[int]) -> dict:
    """Sample objects of the rows at global positions `wanted` (across shards, in order)."""
    rows, offset = {}, 0
    for shard in shards:
        table = pq.read_table(shard)
        picks = [j for j in range(table.num_rows) if offset + j in wanted]
        for j, row in zip(picks, table.take(picks).to_pylist() if picks else []):
            rows[offset + j] = Sample.from_row(row)
        offset += table.num_rows
    return rows


def _with_tests(table: pa.Table, tests: dict[int, dict], offset: int) -> pa.Table:
    """The shard's rows with the checks verify ran recorded as their tests (`Sample.tests`);
    other rows are untouched, byte for byte."""
    mine = [j for j in range(table.num_rows) if offset + j in tests]
    if not mine:
        return table
    meta = table.column("meta").to_pylist()
    for j in mine:
        old = json.loads(meta[j]) if meta[j] else {}
        if TESTS_KEY not in old:  # tests the record came with are kept as they are
            meta[j] = meta_json({**old, TESTS_KEY: tests[offset + j]})
    return table.set_column(table.schema.get_field_index("meta"), "meta", pa.array(meta, pa.string()))


def _verify(verdicts, shards: list[Path], spec: CurateSpec, say) -> dict[int, dict]:
    """Kept codegen samples whose Python answer fails its own asserts or doctests (or does not
    even import) are dropped as fails_execution, with the error (the paper's cleaning); the
    asserts or doctests of the ones kept become their tests, by row position."""
    kept = [i for i, r in enumerate(verdicts.reasons) if r is None]
    rows = _samples_at(shards, set(kept))
    kept = [i for i in kept if rows[i].task == "codegen"]
    say(f"curate: running {len(kept)} answers in the sandbox")
    tests = {}
    for i, (reason, detail) in zip(kept, verify([rows[i] for i in kept], spec.verify)):
        if reason is not None:
            verdicts.reasons[i] = reason
            verdicts.details[i] = detail
        elif (found := kept_tests(rows[i], detail)) is not None:
            tests[i] = found
    return tests


def _judge(verdicts, shards: list[Path], problems: list[Problem], spec: CurateSpec, work: Path, say) -> None:
    """The LLM judge decides the doubtful candidates of kept samples, in this process (the one that
    holds the client and its cache, not the screening workers); a confirmed match makes the
    sample contaminated, like any other signal."""
    doubtful = [i for i, r in enumerate(verdicts.reasons) if r is None and (verdicts.details.get(i) or {}).get("near_misses")]
    if not doubtful:
        return
    rows = _samples_at(shards, set(doubtful))
    say(f"curate: judge: {len(doubtful)} doubtful samples to {spec.decontaminate.judge.llm.model}")
    client = build_client(spec.decontaminate.judge.llm, RunLayout(work.parent.parent).judge_cache)  # work: RUN/work/curate
    try:
        client.preflight()
        results = judge_near_misses([rows[i] for i in doubtful], [verdicts.details[i]["near_misses"] for i in doubtful],
                                    problems, client, spec.decontaminate.judge)
    finally:
        client.close()
    for i, found in zip(doubtful, results):
        if found is not None:
            verdicts.reasons[i] = "contaminated"
            verdicts.details[i] = {**found, "near_misses": verdicts.details[i]["near_misses"]}


def _reset_if_layout_changed(work: Path, spec: CurateSpec, shards: list[Path]) -> None:
    """datatrove's task markers are only valid for the task layout that wrote them: a resume with
    another worker count (the default is one per core, so another machine) would skip rows."""
    layout = {"workers": workers_for(spec), "executor": spec.executor.type, "shards": [s.name for s in shards]}
    path = work / "layout.json"
    try:
        previous = json.loads(path.read_text()) if path.is_file() else layout
    except (OSError, ValueError):  # damaged by hand or by a disk: its markers cannot be trusted either
        previous = None
    if previous != layout:
        for child in work.iterdir():
            if child.name != ".fingerprint":
                shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink()
    work.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, layout)


def _count(table: pa.Table, reasons: list, verdicts, offset: int) -> CurateStats:
    """One shard's stats: its rows' verdicts (`reasons`), which start at row `offset` of the run."""
    stats = CurateStats()
    sources = table.column("source").to_pylist()
    near = {j for j, r in enumerate(reasons) if r is None and (verdicts.details.get(offset + j) or {}).get("near_misses")}
    needs_rows = sorted({j for j, r in enumerate(reasons) if r is not None} | near)
    rows = table.select(["id", "source", "meta"]).take(needs_rows).to_pylist() if needs_rows else []
    by_pos = dict(zip(needs_rows, rows))
    for j, reason in enumerate(reasons):
        entry = stats.sources.setdefault(sources[j], SourceCounts())
        if reason is None:
            entry.kept += 1
            if j in near:
                row = by_pos[j]
                for m in verdicts.details[offset + j]["near_misses"]:
                    stats.near_misses.append(
                        {"id": row["id"], "source": row["source"], "where": json.loads(row["meta"]).get("where"), **m})
            continue
        entry.dropped[reason] += 1
        row = by_pos[j]
        where = json.loads(row["meta"]).get("where")
        detail = verdicts.details.get(offset + j)
        if reason == "contaminated":
            for m in detail["matches"]:
                stats.contamination.append({"id": row["id"], "source": row["source"], "where": where, **m})
        elif len(examples := stats.examples.setdefault(reason, [])) < MAX_EXAMPLES:
            examples.append({"id": row["id"], "source": row["source"], "where": where, "detail": detail})
    return stats


class Curate:
    name, version, reads = "curate", 2, ("ingest",)
    publishes: dict[str, str] = {}  # writes nothing outside its own folder

    def preflight(self, ctx) -> None:
        """Nothing to check before the run starts: no endpoint, model or tool of its own."""

    def enabled(self, recipe) -> bool:
        return True

    def config(self, recipe):
        return {"curate": recipe.curate, "seed": recipe.seed}

    def inputs(self, ctx) -> list:
        problems, skipped = run_problems(ctx)
        return [f"benchmarks:{problems_fingerprint(problems)}", f"skipped:{[s['benchmark'] for s in skipped]}"]

    def plan(self, ctx) -> str:
        return f"{workers_for(ctx.recipe.curate)} workers"

    def run(self, ctx, out: Path, work: Path) -> dict:
        problems, skipped = run_problems(ctx)
        # ingest's contract: one shard per source, named after it, in recipe order
        shards = [ctx.output("ingest") / f"{spec.name}.parquet" for spec in ctx.recipe.sources]
        return curate_shards(ctx.recipe.curate, shards, problems, skipped, out, work, ctx.recipe.seed, ctx.say)
