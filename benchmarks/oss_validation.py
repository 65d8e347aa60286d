"""OSS-Instruct validation throughput: generated (solution, tests) pairs run in the sandbox, every
layer on, through the relabel stage's own validator (relabel/validate.py, parallel, every
verdict logged); half the pairs fail their tests. Baseline, same run, same threads: each pair
run unsandboxed as `python -c PROGRAM`, as scripts without a sandbox do.

    python benchmarks/oss_validation.py [--pairs 1000] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alchemist.execution import isolation
from alchemist.relabel import oss_instruct as oss
from alchemist.relabel.validate import Validator


def pairs(n: int) -> list[tuple[str, str, bool]]:
    """(solution, tests, should_pass): small realistic functions with asserts, half off by one."""
    out = []
    for i in range(n):
        good = i % 2 == 0
        solution = (f"def f{i}(xs):\n    total = 0\n    for x in xs:\n        total += x * {i % 7 + 1}\n"
                    f"    return total{'' if good else ' + 1'}\n")
        tests = f"assert f{i}([1, 2, 3]) == {6 * (i % 7 + 1)}\nassert f{i}([]) == 0\n"
        out.append((solution, tests, good))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "oss_validation.json"))
    args = ap.parse_args()
    work = pairs(args.pairs)
    programs = [oss.program(solution, tests) for solution, tests, _ in work]
    with tempfile.TemporaryDirectory() as d:
        validator = Validator(Path(d), timeout=5.0, workers=args.workers)
        try:
            start = time.perf_counter()
            verdicts = validator.map(validator.reason, programs)
            seconds = time.perf_counter() - start
        finally:
            validator.close()
    with ThreadPoolExecutor(args.workers) as threads:
        start = time.perf_counter()
        plain = list(threads.map(lambda src: subprocess.run([sys.executable, "-c", src], capture_output=True,
                                                            timeout=60).returncode == 0, programs))
        baseline = time.perf_counter() - start
    right = sum((v is None) == good for v, (_, _, good) in zip(verdicts, work))
    result = {"benchmark": "oss_validation", "machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "pairs": len(work), "workers": args.workers, "seconds": round(seconds, 2),
              "pairs_per_s": round(len(work) / seconds, 1), "verdicts_right": right,
              "baseline": "python -c per pair, no sandbox", "baseline_seconds": round(baseline, 2),
              "baseline_right": sum(ok == good for ok, (_, _, good) in zip(plain, work)),
              "ratio_to_baseline": round(seconds / baseline, 3),
              "sandbox": {k: v for k, v in isolation().items() if k != "time"}}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
