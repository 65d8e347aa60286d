"""Score generations made anywhere: `task_id` + `solution` (a whole program, possibly a raw chat
answer) or `completion` (the continuation of the benchmark prompt), as evalplus takes them."""

from __future__ import annotations

import json
import os
import platform
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alchemist import __version__
from alchemist.errors import UserError
from alchemist.evaluate.metrics import mean_pass_at_k
from alchemist.evaluate.sandbox import Limits, SandboxPool, isolation
from alchemist.evaluate.sanitize import sanitize
from alchemist.testsets import Problem, fingerprint


BASE_OK = "alchemist-base-inputs-ok"

# evalplus-style differential testing: the candidate must match the reference on every input.
_PLUS_CHECK = """
import copy as _copy, json as _json, math as _math
def _close(a, b, atol):
    if isinstance(a, float) or isinstance(b, float):
        try:
            return (_math.isnan(a) and _math.isnan(b)) or _math.isclose(a, b, rel_tol=1e-6, abs_tol=max(atol, 1e-6))
        except TypeError:
            return False
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_close(x, y, atol) for x, y in zip(a, b))
    return a == b
_candidate = {entry}
_reference_ns = {{}}
exec({reference!r}, _reference_ns)
_reference = _reference_ns[{entry!r}]
for _inputs, _marker in ((_json.loads({base!r}), {base_ok!r}), (_json.loads({plus!r}), None)):
    for _args in _inputs:
        _expected = _reference(*_copy.deepcopy(_args))
        _got = _candidate(*_copy.deepcopy(_args))
        assert _close(_got, _expected, {atol!r}), f"input {{_args!r}}: expected {{_expected!r}}, got {{_got!r}}"
    if _marker:
        print(_marker)
"""


def program(problem: Problem, code: str) -> str:
    """The code under test followed by the benchmark's checks."""
    if problem.base_inputs is not None:
        import json

        return code + "\n" + _PLUS_CHECK.format(entry=problem.entry_point, reference=problem.solution,
                                               base=json.dumps(problem.base_inputs), plus=json.dumps(problem.plus_inputs or []),
                                               base_ok=BASE_OK, atol=problem.atol)
    if problem.entry_point and "def check(" in problem.tests:  # HumanEval style: check(candidate)
        return f"{code}\n\n{problem.tests}\n\ncheck({problem.entry_point})\n"
    return f"{code}\n\n{problem.tests}\n"  # MBPP style: plain asserts


def read_samples(path: Path, problems: dict[str, Problem]) -> list[dict]:
    """Samples with their line numbers; a bad line is an error naming it."""
    if not path.is_file():
        raise UserError(f"{path}: samples file not found")
    out = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise UserError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
            if not isinstance(record, dict) or not isinstance(record.get("task_id"), str):
                raise UserError(f"{path}:{lineno}: each line needs a string task_id and a solution or completion")
            if record["task_id"] not in problems:
                raise UserError(f"{path}:{lineno}: task_id {record['task_id']!r} is not in this benchmark")
            if not isinstance(record.get("solution", record.get("completion")), str):
                raise UserError(f"{path}:{lineno}: give the code as `solution` (a program) or `completion` (after the prompt)")
            out.append({**record, "line": lineno})
    if not out:
        raise UserError(f"{path}: no samples")
    return out


def score(benchmark: str, problems: list[Problem], samples_path: Path, out_dir: Path, *, do_sanitize: bool = True,
          limits: Limits = Limits(), workers: int = 0, model: str | None = None, generation: dict | None = None) -> dict:
    """Run every sample against its problem's checks; write results.json and samples.jsonl.
    `generation` (prompt style, sampling parameters, backend) is recorded when we generated."""
    by_id = {p.task_id: p for p in problems}
    samples = read_samples(samples_path, by_id)
    for s in samples:
        p = by_id[s["task_id"]]
        if "solution" in s:
            s["raw"] = s["solution"]
            s["code"] = sanitize(s["solution"], p.entry_point) if do_sanitize else s["solution"]
        else:
            s["raw"] = s["completion"]
            s["code"] = p.prompt + s["completion"]
    workers = workers or os.cpu_count() or 1
    start = time.perf_counter()
    with SandboxPool() as sandbox, ThreadPoolExecutor(workers) as pool:  # each program is its own process
        outcomes = list(pool.map(lambda s: sandbox.run(program(by_id[s["task_id"]], s["code"]), limits), samples))
    seconds = time.perf_counter() - start

    plus = any(p.base_inputs is not None for p in problems)
    tasks: dict[str, dict] = defaultdict(lambda: {"n": 0, "passed": 0, "base_passed": 0, "samples": []})
    for s, o in zip(samples, outcomes):
        t = tasks[s["task_id"]]
        t["n"] += 1
        t["passed"] += o.status == "passed"
        t["base_passed"] += o.status == "passed" or (plus and BASE_OK in o.stdout)
        t["samples"].append({"line": s["line"], "status": o.status, "seconds": o.seconds,
                             "error": (o.stderr.strip().splitlines() or [""])[-1][:500] if o.status != "passed" else ""})
    for t in tasks.values():
        t["status"] = "passed" if t["passed"] == t["n"] else ("failed" if t["passed"] == 0 else "partial")
    counts = [(t["n"], t["passed"]) for t in tasks.values()]
    results = {
        "benchmark": benchmark,
        "model": model or samples_path.stem,
        "pass_at_k": mean_pass_at_k(counts),
        # plus benchmarks: the base score counts the original tests only, pass_at_k base + plus
        "base_pass_at_k": mean_pass_at_k([(t["n"], t["base_passed"]) for t in tasks.values()]) if plus else None,
        "tasks_scored": len(tasks), "tasks_in_benchmark": len(problems), "samples": len(samples),
        "sanitized": do_sanitize, "data_hash": fingerprint(problems),
        "generation": generation or {"source": str(samples_path)},
        "sandbox": {**isolation(), "timeout_s": limits.timeout, "memory_mb": limits.memory_mb},
        "seconds": round(seconds, 2), "programs_per_s": round(len(samples) / seconds, 1),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": {"alchemist": __version__, "python": platform.python_version()},
        "tasks": dict(tasks),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "samples.jsonl", "w", encoding="utf-8") as fh:
        for s, o in zip(samples, outcomes):
            fh.write(json.dumps({"task_id": s["task_id"], "raw": s["raw"], "sanitized": s["code"], "status": o.status}) + "\n")
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return results
