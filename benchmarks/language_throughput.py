"""Toolchain programs: programs per second per language in alchemist's sandbox (compile + run,
every layer on) against the same programs compiled and run directly on the host with the commands
of HumanEval-X's own executor (CodeGeeX: `g++ -std=c++11 test.cpp && ./a.out`, `node test.js`,
`javac Main.java && java Main`, `go test`; Rust with `rustc --test`, as `cargo test` builds it),
alternating sandbox and direct rounds in one run. The direct runs are also the reference verdicts:
the result counts how many of our verdicts agree (the repository's HumanEval-X fixtures: each
problem's canonical and wrong solution, plus one program per language that does not compile).

    python benchmarks/language_throughput.py --rounds 3

Results go to benchmarks/results/language_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from alchemist.execution import Limits, isolation
from alchemist.execution.languages import LanguagePool, available, job
from alchemist.testsets import get_benchmark
from alchemist.testsets.humaneval_x import program, reference

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "testsets" / "data"
LIMITS = Limits(timeout=20.0, memory_mb=2048, file_mb=64, processes=128)
BROKEN = {"cpp": "int main() { return undefined_name; }\n", "js": "const f = (x) => { return x +; };\n",
          "java": "public class Main { void f() { int x = \"s\"; } }\n", "go": "package main\nfunc TestX(t *T) {}\n",
          "rust": "fn main() { let x: i32 = \"s\"; }\n"}


def programs(lang: str) -> list[tuple[str, str]]:
    """(name, source): every fixture's canonical and wrong solution, and a program that does not compile."""
    path = DATA / f"humaneval_x_{lang}.jsonl"
    problems = get_benchmark(f"humaneval_x/{lang}").problems(path)
    wrong = [json.loads(line)["wrong_solution"] for line in path.read_text().splitlines()]
    out = []
    for p, bad in zip(problems, wrong):
        out += [(f"{p.task_id} canonical", reference(lang, p)), (f"{p.task_id} wrong", program(lang, p, p.prompt + bad))]
    return out + [(f"{lang} compile error", BROKEN[lang])]


def direct(lang: str, source: str, tools) -> str:
    """The verdict of running the program on the host, as the benchmark's executor does."""
    t = tools[lang]
    spec = job(t, source, LIMITS)
    with tempfile.TemporaryDirectory() as d:
        Path(d, spec["source_name"]).write_text(source)
        env = {"PATH": "/usr/bin:/bin", "HOME": d, "TMPDIR": d, **{k: v.replace("{work}", d) for k, v in t.env.items()}}
        for step in spec["steps"]:
            argv = list(step["argv"])
            if lang == "cpp" and step["role"] == "compile":
                argv = [argv[0], "-std=c++11", "-o", "prog", "main.cpp"]  # CodeGeeX's command
            try:
                r = subprocess.run(argv, cwd=d, env=env, capture_output=True, timeout=step["wall"])
            except subprocess.TimeoutExpired:
                return "timeout"
            if r.returncode != 0 or (spec["stderr_fails"] and step["role"] == "run" and r.stderr):
                return "failed"
    return "passed"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "language_throughput.json"))
    args = ap.parse_args()
    tools = available()
    results, agreement = {}, {"programs": 0, "agree": 0, "disagree": []}
    with LanguagePool(require_isolation=True) as pool:
        for lang in sorted(tools):
            progs = programs(lang)
            pool.run(lang, progs[0][1], LIMITS)  # the worker started (not timed: once per worker)
            ours, theirs, verdicts = [], [], {}
            for _ in range(args.rounds):
                start = time.perf_counter()
                mine = [pool.run(lang, source, LIMITS).status for _, source in progs]
                ours.append(time.perf_counter() - start)
                start = time.perf_counter()
                ref = [direct(lang, source, tools) for _, source in progs]
                theirs.append(time.perf_counter() - start)
                verdicts = {name: (a, b) for (name, _), a, b in zip(progs, mine, ref)}
            agreement["programs"] += len(verdicts)
            agreement["agree"] += sum(a == b for a, b in verdicts.values())
            agreement["disagree"] += [f"{name}: ours {a}, direct {b}" for name, (a, b) in verdicts.items() if a != b]
            sandbox_s, direct_s = statistics.median(ours), statistics.median(theirs)
            results[lang] = {"programs": len(progs), "sandbox_s": round(sandbox_s, 3), "direct_s": round(direct_s, 3),
                             "sandbox_programs_per_s": round(len(progs) / sandbox_s, 2),
                             "direct_programs_per_s": round(len(progs) / direct_s, 2),
                             "ratio_sandbox_over_direct_time": round(sandbox_s / direct_s, 3),
                             "verdicts": {name: a for name, (a, _) in verdicts.items()}}
            print(f"{lang}: sandbox {results[lang]['sandbox_programs_per_s']} programs/s, direct "
                  f"{results[lang]['direct_programs_per_s']} programs/s, time ratio {results[lang]['ratio_sandbox_over_direct_time']}")
    out = {"what": "compile + run of each program, one at a time; medians of alternating rounds",
           "rounds": args.rounds, "languages": results, "agreement_with_direct_runs": agreement,
           "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release(),
                       "load_1min": round(os.getloadavg()[0], 2)},
           "sandbox": isolation(), "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"agreement: {agreement['agree']}/{agreement['programs']}")


if __name__ == "__main__":
    main()
