"""Decontamination speed: the whole curate stage (benchmarks/curate_throughput.py's corpus and
timing) with the n-gram signal only, as before, against the same stage with every signal
(n-gram + structure + embedding with its static shortlist), in the same run, same workers.

    python benchmarks/decontamination_speed.py --n 100000 --workers 2 [--rounds 2]

With --rounds R the configurations run alternately (R rounds of each, in turn) and the medians
are reported, so that a change in the machine's load falls on every configuration alike.

Goal: all signals <= 3x the n-gram-only stage. The stage's `build_index` call (curate/verdicts.py)
is timed on its own as `index_seconds` (the embedding model's load and the benchmark side).
Results go to benchmarks/results/decontamination_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import make_records  # noqa: E402
from curate_throughput import cpu_seconds, ingest_rows  # noqa: E402

import alchemist.curate.verdicts as verdicts  # noqa: E402
from alchemist.curate.stage import curate_shards  # noqa: E402
from alchemist.recipe import Recipe, apply_overrides  # noqa: E402
from alchemist.rules.decontaminate import build_index  # noqa: E402
from alchemist.schema import rows_to_table  # noqa: E402
from alchemist.testsets.decontaminate import load_problems  # noqa: E402


def run_stage(recipe, shard: Path, d: Path) -> tuple[float, float, dict, float]:
    spec = recipe.curate.decontaminate
    built = {}

    def timed_index(*args, **kwargs):
        t = time.perf_counter()
        idx = build_index(*args, **kwargs)
        built["seconds"] = time.perf_counter() - t
        return idx

    verdicts.build_index = timed_index
    try:
        start, cpu0 = time.perf_counter(), cpu_seconds()
        out = d / "curated"
        out.mkdir(parents=True)
        problems, skipped = load_problems(spec)
        curate_shards(recipe.curate, [shard], problems, skipped, out, d / "work", recipe.seed)
        wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu0
    finally:
        verdicts.build_index = build_index
    stats = json.loads((out / "stats.json").read_text())
    return wall, cpu, stats["sources"]["bench"], built.get("seconds", 0.0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1, help="configurations run alternately this many times; medians")
    ap.add_argument("--configs", default="ngram only,ngram + structure,all signals")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "decontamination_speed.json"))
    args = ap.parse_args()
    load_start = os.getloadavg()
    records = make_records(args.n)
    rows = ingest_rows(records)
    configs = {"ngram only": ["decontaminate.structure.enabled=false", "decontaminate.embedding.enabled=false"],
               "ngram + structure": ["decontaminate.embedding.enabled=false"],
               "all signals": []}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        shard = tmp / "bench.parquet"
        pq.write_table(rows_to_table(rows), shard)
        runs: dict[str, list] = {}
        for round_ in range(args.rounds):
            for name, sets in configs.items():
                if name not in args.configs.split(","):
                    continue
                raw = {"name": "bench", "sources": [{"name": "bench", "adapter": "alpaca", "path": "unused"}],
                       "curate": apply_overrides({"decontaminate": {"benchmarks": ["humaneval"]}, "executor": {"workers": args.workers}}, sets)}
                recipe = Recipe.model_validate(raw)
                d = tmp / f"{name.replace(' ', '_').replace('+', '')}_{round_}"
                runs.setdefault(name, []).append(run_stage(recipe, shard, d))
                print(name, round_, runs[name][-1][:2], flush=True)
        for name, rs in runs.items():
            wall, cpu, build = (statistics.median(r[i] for r in rs) for i in (0, 1, 3))
            counts = rs[-1][2]
            results[name] = {"seconds": round(wall, 2), "cpu_seconds": round(cpu, 2), "index_seconds": round(build, 2),
                             "samples_per_s": round(len(rows) / wall), "kept": counts["kept"],
                             "contaminated": counts["dropped"].get("contaminated", 0)}
            if args.rounds > 1:
                results[name]["runs_seconds"] = [round(r[0], 2) for r in rs]
                results[name]["runs_cpu_seconds"] = [round(r[1], 2) for r in rs]
    base = results["ngram only"]["seconds"]
    base_cpu = results["ngram only"]["cpu_seconds"]
    base_stage = base - results["ngram only"]["index_seconds"]
    for r in results.values():
        r["ratio_to_ngram_only"] = round(r["seconds"] / base, 3)
        r["cpu_ratio_to_ngram_only"] = round(r["cpu_seconds"] / base_cpu, 3)
        # the index (model load, benchmark side) is built once per stage, whatever the corpus size
        r["ratio_without_index"] = round((r["seconds"] - r["index_seconds"]) / base_stage, 3)
    # CPU time (this process and its workers) is the fair measure on a shared machine: wall time
    # stretches with the other load, CPU time much less. Each round's ratio pairs runs made one
    # after the other, so their spread shows how much the load moved it.
    per_round = {name: [round(a[1] / b[1], 3) for a, b in zip(rs, runs["ngram only"])]
                 for name, rs in runs.items() if name != "ngram only"}
    out = {"benchmark": "decontamination_speed", "samples": len(rows), "workers": args.workers, "rounds": args.rounds,
           "machine": f"{platform.machine()}, {os.cpu_count()} cores",
           "load_average": {"start": [round(x, 2) for x in load_start], "end": [round(x, 2) for x in os.getloadavg()]},
           "goal": "all signals <= 3x ngram only (CPU time)",
           "cpu_ratio_per_round": {name: {"runs": r, "median": round(statistics.median(r), 3), "min": min(r), "max": max(r)}
                                   for name, r in per_round.items()},
           "results": results}
    print(json.dumps(out, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
