"""Curation throughput: alchemist's whole curate stage (exact dedup + quality filters +
decontamination + MinHash near dedup, reading ingested shards and writing curated ones) against
raw datatrove MinHash alone (its four stages: signatures, buckets, clusters, filter + writer)
with the same MinHash parameters and worker count, on the same corpus, in the same run.

    python benchmarks/curate_throughput.py --n 100000 --workers 2 --repeat 3 \
        --set decontaminate.structure=false --set decontaminate.embedding=false

Goal: ratio (ours / datatrove) <= 1.5. Results go to benchmarks/results/curate_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import make_records  # noqa: E402

from alchemist.curate.executors import stderr_to  # noqa: E402
from alchemist.curate.stage import curate_shards  # noqa: E402
from alchemist.recipe import Recipe, apply_overrides  # noqa: E402
from alchemist.rules.near import CodeWordTokenizer, minhash_config  # noqa: E402
from alchemist.schema import Sample, rows_to_table  # noqa: E402
from alchemist.sources import ADAPTERS  # noqa: E402
from alchemist.testsets.decontaminate import load_problems  # noqa: E402


def ingest_rows(records: list[dict]) -> list[dict]:
    rows = []
    for i, r in enumerate(records):
        c = ADAPTERS["alpaca"].convert(r, {})
        rows.append(Sample(source="bench", messages=c.messages, language=c.language, meta={"where": f"bench:{i}"}).to_row())
    return rows


def run_datatrove(text_parquet: Path, work: Path, recipe: Recipe, workers: int) -> float:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import ParquetReader
    from datatrove.pipeline.writers import ParquetWriter

    config = minhash_config(recipe.curate.dedup.near, recipe.seed)
    tok = CodeWordTokenizer()

    def reader():
        # one file per rank, as datatrove shards by file
        return ParquetReader(str(text_parquet), glob_pattern="*.parquet", text_key="text")

    def ex(pipeline, tasks, name):
        LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=min(tasks, workers),
                              logging_dir=str(work / "logs" / name), start_method="fork").run()

    start = time.perf_counter()
    with stderr_to(work / "datatrove.log"):
        ex([reader(), MinhashDedupSignature(str(work / "sigs"), config=config, language=tok)], workers, "sig")
        ex([MinhashDedupBuckets(str(work / "sigs"), str(work / "buckets"), config=config)], config.num_buckets, "buckets")
        ex([MinhashDedupCluster(str(work / "buckets"), str(work / "clusters"), config=config)], 1, "clusters")
        ex([reader(), MinhashDedupFilter(str(work / "clusters")), ParquetWriter(str(work / "out"))], workers, "filter")
    return time.perf_counter() - start


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (datatrove's workers)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1, help="runs of both sides, alternating; the median ratio is the result")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="curate settings for our side, e.g. --set filters.python_syntax=false")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "curate_throughput.json"))
    args = ap.parse_args()

    t0 = time.perf_counter()
    records = make_records(args.n)
    rows = ingest_rows(records)
    print(f"corpus: {len(rows)} samples in {time.perf_counter() - t0:.1f}s", flush=True)

    raw = {"name": "bench", "sources": [{"name": "bench", "adapter": "alpaca", "path": "unused"}],
           "curate": {"decontaminate": {"benchmarks": ["humaneval"]}, "executor": {"workers": args.workers}}}
    raw["curate"] = apply_overrides(raw["curate"], args.overrides)
    recipe = Recipe.model_validate(raw)
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        data_dir = d / "ours"
        (data_dir / "ingested").mkdir(parents=True)
        shard = data_dir / "ingested" / "bench.parquet"
        pq.write_table(rows_to_table(rows), shard)
        # datatrove reads text documents; give it one file per worker so both sides use all workers
        texts = [f"{r['instruction']}\n{r['output']}" for r in records]
        text_dir = d / "text"
        text_dir.mkdir()
        for w in range(args.workers):
            lo, hi = len(texts) * w // args.workers, len(texts) * (w + 1) // args.workers
            pq.write_table(pa.table({"text": texts[lo:hi], "id": [str(i) for i in range(lo, hi)]}), text_dir / f"{w:02d}.parquet")

        problems, skipped = load_problems(recipe.curate.decontaminate)
        runs = []
        out = data_dir / "curated"
        out.mkdir()
        for r in range(args.repeat):
            cpu0 = cpu_seconds()
            baseline = run_datatrove(text_dir, d / "dt", recipe, args.workers)
            baseline_cpu = cpu_seconds() - cpu0
            print(f"[{r + 1}/{args.repeat}] datatrove MinHash alone: {baseline:.1f}s ({len(rows) / baseline:.0f} samples/s)", flush=True)
            start = time.perf_counter()
            cpu0 = cpu_seconds()
            curate_shards(recipe.curate, [shard], problems, skipped, out, data_dir / "work", recipe.seed)
            ours = time.perf_counter() - start
            ours_cpu = cpu_seconds() - cpu0
            stats = json.loads((out / "stats.json").read_text())
            print(f"[{r + 1}/{args.repeat}] alchemist curate stage: {ours:.1f}s ({len(rows) / ours:.0f} samples/s)", flush=True)
            runs.append((ours / baseline, baseline, ours, baseline_cpu, ours_cpu))
            for gone in (d / "dt", out, data_dir / "work"):
                shutil.rmtree(gone, ignore_errors=True)
            out.mkdir()
        ratios = [r[0] for r in runs]
        _, baseline, ours, baseline_cpu, ours_cpu = sorted(runs)[len(runs) // 2]  # the median run

    result = {
        "benchmark": "curate_throughput",
        "samples": len(rows),
        "workers": args.workers,
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, {__import__('os').cpu_count()} cores",
        "datatrove_minhash_seconds": round(baseline, 2),
        "alchemist_curate_seconds": round(ours, 2),
        "datatrove_samples_per_s": round(len(rows) / baseline),
        "alchemist_samples_per_s": round(len(rows) / ours),
        "ratio": round(ours / baseline, 3),
        "datatrove_cpu_seconds": round(baseline_cpu, 2),
        "alchemist_cpu_seconds": round(ours_cpu, 2),
        "cpu_ratio": round(ours_cpu / baseline_cpu, 3),
        "ratios": [round(x, 3) for x in ratios],
        "goal": "ratio <= 1.5",
        "kept": stats["sources"]["bench"]["kept"],
        "dropped": stats["sources"]["bench"]["dropped"],
        "minhash": {"ngram": recipe.curate.dedup.near.ngram, "threshold": recipe.curate.dedup.near.threshold},
        "overrides": args.overrides,
    }
    print(json.dumps(result, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
