"""Mix: the final training set from curated samples, by per-source weight and cap, plus relabeled
samples by task weight, shuffled. Also writes the run's data manifest and report (published as
data/manifest.json and data/report.md): mix is where every record's fate is known."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from alchemist.errors import UserError
from alchemist.mix.manifest import build_manifest, build_report, relabel_manifest
from alchemist.mix.stats import MixStats, SourceMix, TaskMix
from alchemist.rundir import PUBLISHED, write_json_atomic, write_text_atomic
from alchemist.schema import NOT_TRAINED


def plan(n: int, weight: float, max_samples: int | None, rng: random.Random) -> list[int]:
    """Row indices (with repeats) a source contributes: `weight` 0.5 keeps a random half,
    2.0 repeats every row twice, 1.5 repeats a random half; `max_samples` caps distinct rows."""
    order = list(range(n))
    rng.shuffle(order)
    if max_samples is not None:
        order = order[:max_samples]
    whole, frac = divmod(weight, 1.0)
    picked = order * int(whole) + order[: round(len(order) * frac)]
    return picked


def mix(recipe, curated: Path, relabeled: Path | None, out: Path) -> MixStats:
    """Curated samples by source weight (minus originals an AlchemistPrompt replaced) plus
    relabeled samples by task weight, shuffled; writes out/train.parquet and out/stats.json."""
    samples = curated / "samples.parquet"
    extra = relabeled / "samples.parquet" if relabeled else None
    table = pq.read_table(samples)
    rng = random.Random(recipe.seed)
    replaced = set(json.loads((relabeled / "stats.json").read_text())["replaced"]) if relabeled else set()
    ids = table.column("id").to_pylist()
    sources = table.column("source").to_pylist()
    tasks = table.column("task").to_pylist()
    picked, stats = [], MixStats()
    for spec in recipe.sources:
        rows = [i for i, (s, t) in enumerate(zip(sources, tasks))
                if s == spec.name and t not in NOT_TRAINED and ids[i] not in replaced]
        seeds = sum(1 for s, t in zip(sources, tasks) if s == spec.name and t in NOT_TRAINED)
        chosen = [rows[j] for j in plan(len(rows), spec.weight, spec.max_samples, rng)]
        distinct = len(set(chosen))
        stats.sources[spec.name] = SourceMix(len(chosen), distinct, len(rows) - distinct, seeds)
        picked += chosen
    if extra is not None:
        new = pq.read_table(extra)
        new_tasks = new.column("task").to_pylist()
        generated = [json.loads(m).get("generated") for m in new.column("meta").to_pylist()]
        kinds = [g or t for g, t in zip(generated, new_tasks)]  # evol_codegen rows are codegen by task
        offset = table.num_rows
        table = pa.concat_tables([table, new.cast(table.schema)])
        for kind in sorted(set(kinds)):
            rows = [offset + i for i, k in enumerate(kinds) if k == kind]
            chosen = [rows[j] for j in plan(len(rows), recipe.mix.task_weights.get(kind, 1.0), None, rng)]
            stats.relabeled[kind] = TaskMix(len(chosen), len(set(chosen)))
            picked += chosen
    if not picked and recipe.trains:  # train would fail later on an empty file; say why now
        raise UserError(f"the training set is empty: {table.num_rows} curated samples, none picked "
                        "(source weights 0, only code_files seeds, or every record dropped: see data/ingested/*.stats.json "
                        "and data/curated/); give a source a weight above 0 or relax the filters")
    if recipe.mix.shuffle:
        rng.shuffle(picked)
    final = table.take(pa.array(picked, pa.int64())) if picked else table.slice(0, 0)
    pq.write_table(final, out / "train.parquet")
    stats.rows = final.num_rows
    stats.by_task = dict(Counter(final.column("task").to_pylist()))
    write_json_atomic(out / "stats.json", stats.to_json())
    return stats


class Mix:
    name, version, reads = "mix", 3, ("ingest", "curate", "relabel")
    publishes = PUBLISHED["mix"]

    def plan(self, ctx) -> str:
        return ""

    def preflight(self, ctx) -> None:
        """Nothing to check before the run starts: no endpoint, model or tool of its own."""

    def enabled(self, recipe) -> bool:
        return True

    def config(self, recipe):
        return {"seed": recipe.seed, "mix": recipe.mix,
                "sources": [(s.name, s.weight, s.max_samples) for s in recipe.sources]}

    def inputs(self, ctx) -> list:
        return []

    def run(self, ctx, out: Path, work: Path) -> dict:
        curated, relabeled = ctx.output("curate"), ctx.output("relabel")
        stats = mix(ctx.recipe, curated, relabeled, out)
        ingested = ctx.output("ingest")
        manifest = build_manifest(ctx.recipe, ingested, curated, stats, relabel_manifest(relabeled))
        write_json_atomic(out / "manifest.json", manifest)
        write_text_atomic(out / "report.md", build_report(manifest, ingested, curated, relabeled))
        t = manifest["total"]
        ctx.say(f"data ready: {t['read']} read, {t['kept']} kept, {stats.rows} rows in train.parquet")
        return {"read": t["read"], "kept": t["kept"], "rows": stats.rows}
