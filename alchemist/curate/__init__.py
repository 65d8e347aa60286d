"""Curation: exact and near dedup, decontamination, quality filters."""

from __future__ import annotations

import json
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from alchemist.errors import UserError
from alchemist.recipe import Recipe, resolve_path
from alchemist.rundir import atomic_dir, file_digest, fingerprint, is_complete, write_json_atomic
from alchemist.schema import SAMPLE_SCHEMA
from alchemist.testsets import Problem, fingerprint as problems_fingerprint, load_benchmark

MAX_EXAMPLES = 5
REJECTED_SCHEMA = SAMPLE_SCHEMA.append(pa.field("reason", pa.string())).append(pa.field("detail", pa.string()))


def benchmark_problems(recipe: Recipe, say=None) -> list[Problem]:
    """Problems of every benchmark to decontaminate against. A benchmark the recipe names that
    cannot be loaded is an error; MBPP in the default list is skipped with a warning when it can
    be neither downloaded nor found (offline), and the report says so."""
    spec = recipe.curate.decontaminate
    if not spec.enabled:
        return []
    explicit = "benchmarks" in spec.model_fields_set
    problems: list[Problem] = []
    seen = set()
    for ref in spec.refs():
        key = (ref.name if ref.name not in ("humaneval_plus", "mbpp_plus") or ref.path else ref.name.removesuffix("_plus"), ref.path)
        if key in seen:  # humaneval_plus without a file is humaneval's problems again
            continue
        seen.add(key)
        path = resolve_path(ref.path, recipe._path) if ref.path else None
        try:
            problems += load_benchmark(ref.name, path)
        except UserError as e:
            if explicit or ref.name not in ("mbpp", "mbpp_plus"):
                raise
            if any(skip["benchmark"] == ref.name for skip in SKIPPED):  # already said in this process
                continue
            SKIPPED.append({"benchmark": ref.name, "reason": str(e)})
            if say:
                say(f"[yellow]warning:[/] not decontaminating against {ref.name}: {e}")
    return problems


SKIPPED: list[dict] = []  # default benchmarks that could not be loaded in this process


def run_curate(recipe: Recipe, data_dir: Path, shards: list[Path], problems: list[Problem] | None = None, say=print) -> Path:
    """Write `curated/samples.parquet` (kept), `curated/rejected.parquet` (dropped, with reason
    and detail) and `curated/stats.json`; skipped when inputs and settings are unchanged."""
    from alchemist.curate.stage import curate

    problems = benchmark_problems(recipe, say) if problems is None else problems
    fp = fingerprint("curate-v1", recipe.curate.model_dump(mode="json", exclude={"executor"}), recipe.seed,
                     [file_digest(s) for s in shards], problems_fingerprint(problems))
    out = data_dir / "curated"
    if is_complete(out, fp):
        say("curate: inputs and settings unchanged, skipped")
        return out
    work = data_dir / f"curate.work-{fp}"
    for stale in data_dir.glob("curate.work-*"):  # left by a run of other inputs
        if stale != work:
            shutil.rmtree(stale, ignore_errors=True)
    verdicts = curate(shards, recipe.curate, problems, work, recipe.seed, status=lambda m: say(f"curate: {m}"))

    stats = {"sources": defaultdict(lambda: {"kept": 0, "dropped": Counter()}), "examples": defaultdict(list), "contamination": [],
             "benchmarks": sorted({p.benchmark for p in problems}), "benchmarks_skipped": list(SKIPPED)}
    with atomic_dir(out, fp) as tmp:
        kept_writer = pq.ParquetWriter(tmp / "samples.parquet", SAMPLE_SCHEMA)
        rejected_writer = pq.ParquetWriter(tmp / "rejected.parquet", REJECTED_SCHEMA)
        offset = 0
        for shard in shards:
            table = pq.read_table(shard)
            n = table.num_rows
            reasons = verdicts.reasons[offset : offset + n]
            mask = pa.array([r is None for r in reasons], type=pa.bool_())
            kept_writer.write_table(table.filter(mask))
            dropped = table.filter(pc.invert(mask))
            dropped_idx = [offset + j for j, r in enumerate(reasons) if r is not None]
            dropped = dropped.append_column("reason", pa.array([verdicts.reasons[i] for i in dropped_idx], pa.string()))
            dropped = dropped.append_column("detail", pa.array([json.dumps(verdicts.details.get(i)) if i in verdicts.details else None for i in dropped_idx], pa.string()))
            rejected_writer.write_table(dropped)
            _count(stats, table, reasons, verdicts, offset)
            offset += n
        kept_writer.close()
        rejected_writer.close()
        stats["sources"] = {k: {"kept": v["kept"], "dropped": dict(v["dropped"])} for k, v in stats["sources"].items()}
        write_json_atomic(tmp / "stats.json", stats)
    shutil.rmtree(work, ignore_errors=True)
    return out


def _count(stats: dict, table: pa.Table, reasons: list, verdicts, offset: int) -> None:
    sources = table.column("source").to_pylist()
    needs_rows = [j for j, r in enumerate(reasons) if r is not None]
    rows = table.select(["id", "source", "meta"]).take(needs_rows).to_pylist() if needs_rows else []
    by_pos = dict(zip(needs_rows, rows))
    for j, reason in enumerate(reasons):
        entry = stats["sources"][sources[j]]
        if reason is None:
            entry["kept"] += 1
            continue
        entry["dropped"][reason] += 1
        row = by_pos[j]
        where = json.loads(row["meta"]).get("where")
        detail = verdicts.details.get(offset + j)
        if reason == "contaminated":
            for m in detail["matches"]:
                stats["contamination"].append({"id": row["id"], "source": row["source"], "where": where, **m})
        elif len(stats["examples"][reason]) < MAX_EXAMPLES:
            stats["examples"][reason].append({"id": row["id"], "source": row["source"], "where": where, "detail": detail})
