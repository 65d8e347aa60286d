"""Toolchain programs: programs per second per language in alchemist's sandbox (compile + run,
every layer on) against the same programs compiled and run directly on the host with the commands
of the benchmarks' own executors (HumanEval-X's CodeGeeX: `g++ -std=c++11 test.cpp && ./a.out`,
`node test.js`, `javac Main.java && java Main`, `go test`, Rust's tests as `cargo test` builds
them (`rustc --test`); MultiPL-E's: `g++ -std=c++17`, `node`, `javac && java -ea`, `go test`,
`rustc && ./a.out`), alternating sandbox and direct rounds in one run. C++ also runs in the
sandbox without its compile cache (the precompiled standard headers), to measure it. The direct
runs are the reference verdicts: the result counts how many of ours agree (the repository's
HumanEval-X and MultiPL-E fixtures: canonical and wrong solutions, and per language one program
that does not compile).

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
from alchemist.testsets.multilang import program

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "testsets" / "data"
LIMITS = Limits(timeout=20.0, memory_mb=2048, file_mb=64, processes=128)
BROKEN = {"cpp": "int main() { return undefined_name; }\n", "js": "const f = (x) => { return x +; };\n",
          "java": "public class Main { void f() { int x = \"s\"; } }\n", "go": "package main\nfunc TestX(t *T) {}\n",
          "rust": "fn main() { let x: i32 = \"s\"; }\n"}


def programs(lang: str) -> list[tuple[str, str, str]]:
    """(name, source, suite): every fixture's canonical and wrong solution, and a program that does not compile."""
    out = []
    for suite in ("humaneval_x", "multipl_e"):
        path = DATA / f"{suite}_{lang}.jsonl"
        problems = get_benchmark(f"{suite}/{lang}").problems(path)
        records = [json.loads(line) for line in path.read_text().splitlines()]
        for p, r in zip(problems, records):
            out += [(f"{suite} {p.task_id} canonical", program(p, p.prompt + r["canonical_solution"]), suite),
                    (f"{suite} {p.task_id} wrong", program(p, p.prompt + r["wrong_solution"]), suite)]
    return out + [(f"{lang} compile error", BROKEN[lang], "humaneval_x")]


def direct(lang: str, source: str, suite: str, tools) -> str:
    """The verdict of running the program on the host, as the benchmark's executor does."""
    t = tools[lang]
    spec = job(t, source, LIMITS)
    with tempfile.TemporaryDirectory() as d:
        Path(d, spec["source_name"]).write_text(source)
        env = {"PATH": "/usr/bin:/bin", "HOME": d, "TMPDIR": d, **{k: v.replace("{work}", d) for k, v in t.env.items()}}
        for step in spec["steps"]:
            argv = list(step["argv"])
            if lang == "cpp" and step["role"] == "compile":  # CodeGeeX's and MultiPL-E's commands
                argv = [argv[0], "-std=c++11" if suite == "humaneval_x" else "-std=c++17", "-o", "prog", "main.cpp"]
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
    tools = available(compile_cache=False)
    results, agreement = {}, {"programs": 0, "agree": 0, "disagree": []}
    with LanguagePool(require_isolation=True) as pool, LanguagePool(require_isolation=True, compile_cache=False) as plain:
        for lang in sorted(tools):
            progs = programs(lang)
            pool.run(lang, progs[0][1], LIMITS)  # the workers started (not timed: once per worker)
            plain.run(lang, progs[0][1], LIMITS)
            ours, uncached, theirs, verdicts = [], [], [], {}
            for _ in range(args.rounds):
                start = time.perf_counter()
                mine = [pool.run(lang, source, LIMITS).status for _, source, _ in progs]
                ours.append(time.perf_counter() - start)
                if lang == "cpp":  # the same without the compile cache
                    start = time.perf_counter()
                    for _, source, _ in progs:
                        plain.run(lang, source, LIMITS)
                    uncached.append(time.perf_counter() - start)
                start = time.perf_counter()
                ref = [direct(lang, source, suite, tools) for _, source, suite in progs]
                theirs.append(time.perf_counter() - start)
                verdicts = {name: (a, b) for (name, _, _), a, b in zip(progs, mine, ref)}
            agreement["programs"] += len(verdicts)
            agreement["agree"] += sum(a == b for a, b in verdicts.values())
            agreement["disagree"] += [f"{name}: ours {a}, direct {b}" for name, (a, b) in verdicts.items() if a != b]
            sandbox_s, direct_s = statistics.median(ours), statistics.median(theirs)
            results[lang] = {"programs": len(progs), "sandbox_s": round(sandbox_s, 3), "direct_s": round(direct_s, 3),
                             "sandbox_programs_per_s": round(len(progs) / sandbox_s, 2),
                             "direct_programs_per_s": round(len(progs) / direct_s, 2),
                             "ratio_sandbox_over_direct_time": round(sandbox_s / direct_s, 3),
                             "verdicts": {name: a for name, (a, _) in verdicts.items()}}
            if uncached:
                results[lang]["sandbox_without_compile_cache_programs_per_s"] = round(len(progs) / statistics.median(uncached), 2)
                results[lang]["compile_cache_speedup"] = round(statistics.median(uncached) / sandbox_s, 3)
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
