"""OSS-Instruct validation throughput: generated (solution, tests) pairs run in the sandbox, every
layer on, the way the relabel stage validates them; half the pairs fail their tests.

    python benchmarks/oss_validation.py [--pairs 1000] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alchemist.execution import Limits, SandboxPool, isolation
from alchemist.relabel import oss_instruct as oss


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
    with SandboxPool() as pool, ThreadPoolExecutor(args.workers) as threads:
        start = time.perf_counter()
        verdicts = list(threads.map(lambda p: oss.verdict(pool.run(oss.program(p[0], p[1]), Limits(timeout=5))), work))
        seconds = time.perf_counter() - start
    right = sum((v is None) == good for v, (_, _, good) in zip(verdicts, work))
    result = {"benchmark": "oss_validation", "machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "pairs": len(work), "workers": args.workers, "seconds": round(seconds, 2),
              "pairs_per_s": round(len(work) / seconds, 1), "verdicts_right": right,
              "sandbox": {k: v for k, v in isolation().items() if k != "time"}}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
