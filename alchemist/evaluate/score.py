"""Score generations made anywhere: `task_id` + `solution` (a whole program, possibly a raw chat
answer) or `completion` (the continuation of the benchmark prompt), as evalplus takes them."""

from __future__ import annotations

import codecs
import gzip
import json
import os
import platform
import time
import zlib
from collections import defaultdict
from collections.abc import Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alchemist import __version__
from alchemist.errors import UserError
from alchemist.evaluate.metrics import mean_pass_at_k
from alchemist.evaluate.sandbox import Limits, SandboxPool, isolation
from alchemist.evaluate.sanitize import sanitize
from alchemist.testsets import BENCHMARKS, Benchmark, Problem, fingerprint
from alchemist.testsets.user import infer_checks

BASE_OK = "alchemist-base-inputs-ok"
GZIP_MAGIC = b"\x1f\x8b"

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


def program(checks: str, problem: Problem, code: str) -> str:
    """The code under test followed by the benchmark's checks (`checks`: its Benchmark's kind)."""
    if checks == "differential":
        return code + "\n" + _PLUS_CHECK.format(entry=problem.entry_point, reference=problem.solution,
                                               base=json.dumps(problem.base_inputs), plus=json.dumps(problem.plus_inputs or []),
                                               base_ok=BASE_OK, atol=problem.atol)
    if checks == "check_function":  # HumanEval: check(candidate)
        return f"{code}\n\n{problem.tests}\n\ncheck({problem.entry_point})\n"
    if checks == "asserts":  # MBPP: plain asserts
        return f"{code}\n\n{problem.tests}\n"
    raise ValueError(f"unknown kind of checks {checks!r}")


def as_benchmark(benchmark: Benchmark | str, problems: list[Problem]) -> Benchmark:
    """A Benchmark for a name (callers that still pass one): registered, or read from the problems."""
    if isinstance(benchmark, Benchmark):
        return benchmark
    if benchmark in BENCHMARKS:
        return BENCHMARKS[benchmark]
    return Benchmark(name=benchmark, title=benchmark, load=lambda _: problems, checks=infer_checks(problems) or "asserts")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of a samples file: UTF-8 (a BOM is fine) or UTF-16 with a BOM, plain or
    gzipped (sniffed from the first bytes, whatever the suffix). A line that is not text ends in an
    error naming it."""
    lineno = 0
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
        fh = gzip.open(path, "rb") if head == GZIP_MAGIC else open(path, "rb")
        with fh:
            if fh.peek(2)[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
                try:
                    text = fh.read().decode("utf-16")
                except UnicodeDecodeError as e:
                    raise UserError(f"{path}: not UTF-16 text as its byte-order mark says ({e.reason}); "
                                    f"save the samples as UTF-8") from None
                yield from enumerate(text.splitlines(), 1)
                return
            for lineno, raw in enumerate(fh, 1):
                if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
                    raw = raw[len(codecs.BOM_UTF8):]
                try:
                    yield lineno, raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise UserError(f"{path}:{lineno}: not UTF-8 text (byte 0x{raw[e.start]:02x} at column {e.start + 1}); "
                                    f"save the samples as UTF-8, e.g. `iconv -f latin1 -t utf-8`") from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise UserError(f"{path}:{lineno + 1}: the gzip data is damaged or cut off after line {lineno} ({e}); "
                        f"write the file again") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read the samples file ({e.strerror or e})") from None


def read_samples(path: Path, problems: dict[str, Problem], excluded: Collection[str] = ()) -> tuple[list[dict], dict]:
    """Samples with their line numbers, and what was skipped: samples of tasks left out by --limit
    (`excluded`) are counted, not scored. A bad line is an error naming it."""
    if path.is_dir():
        raise UserError(f"{path}: is a folder; give the samples file (JSON lines: task_id + solution or completion)")
    if not path.is_file():
        raise UserError(f"{path}: samples file not found")
    out: list[dict] = []
    skipped = {"samples": 0, "tasks": set(), "first": None}
    for lineno, line in _lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as e:
            raise UserError(f"{path}:{lineno}: not valid JSON ({getattr(e, 'msg', e)})") from None
        if not isinstance(record, dict) or not isinstance(record.get("task_id"), str):
            raise UserError(f"{path}:{lineno}: each line needs a string task_id and a solution or completion")
        task_id = record["task_id"]
        if task_id in excluded:
            skipped["samples"] += 1
            skipped["tasks"].add(task_id)
            skipped["first"] = skipped["first"] or (lineno, task_id)
            continue
        if task_id not in problems:
            raise UserError(f"{path}:{lineno}: task_id {task_id!r} is not in this benchmark")
        solution, completion = record.get("solution"), record.get("completion")
        if solution is not None and completion is not None:
            raise UserError(f"{path}:{lineno}: both `solution` and `completion` given; keep one (solution: a whole "
                            f"program, completion: what follows the benchmark prompt)")
        code = solution if solution is not None else completion
        if not isinstance(code, str):
            raise UserError(f"{path}:{lineno}: give the code as `solution` (a program) or `completion` (after the prompt)")
        out.append({"task_id": task_id, "kind": "solution" if solution is not None else "completion", "text": code,
                    "line": lineno})
    if not out:
        if skipped["samples"]:
            lineno, task_id = skipped["first"]
            raise UserError(f"{path}:{lineno}: task {task_id} is beyond --limit {len(problems)}, and so is every other "
                            f"sample: raise --limit or leave it out")
        raise UserError(f"{path}: no samples")
    return out, skipped


def check_out_dir(out_dir: Path, flag: str = "-o") -> None:
    """An output folder that can be a folder: not an existing file, nor below one."""
    for p in (out_dir, *out_dir.parents):
        if p.exists():
            if not p.is_dir():
                raise UserError(f"{p}: exists and is a file; {flag} needs a folder"
                                + (f" (it would hold {out_dir.relative_to(p)})" if p != out_dir else ""))
            return


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def score(benchmark: Benchmark | str, problems: list[Problem], samples_path: Path, out_dir: Path, *, do_sanitize: bool = True,
          limits: Limits = Limits(), workers: int = 0, model: str | None = None, generation: dict | None = None,
          excluded: Collection[str] = ()) -> dict:
    """Run every sample against its problem's checks; write results.json and samples.jsonl.
    `generation` (prompt style, sampling parameters, backend) is recorded when we generated;
    `excluded` are the benchmark's tasks left out of `problems` by --limit."""
    bench = as_benchmark(benchmark, problems)
    check_out_dir(out_dir)
    by_id = {p.task_id: p for p in problems}
    excluded = set(excluded)
    samples, skipped = read_samples(samples_path, by_id, excluded)
    for s in samples:
        p = by_id[s["task_id"]]
        s["raw"] = s["text"]
        if s["kind"] == "solution":
            s["code"] = sanitize(s["text"], p.entry_point) if do_sanitize else s["text"]
        else:
            s["code"] = p.prompt + s["text"]
    workers = workers or os.cpu_count() or 1
    start = time.perf_counter()
    with SandboxPool() as sandbox, ThreadPoolExecutor(workers) as pool:  # each program is its own process
        outcomes = list(pool.map(lambda s: sandbox.run(program(bench.checks, by_id[s["task_id"]], s["code"]), limits), samples))
    seconds = time.perf_counter() - start

    plus = bench.checks == "differential"
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
    notes = []
    if skipped["samples"]:
        lineno, task_id = skipped["first"]
        notes.append(f"{skipped['samples']} samples of {len(skipped['tasks'])} tasks not scored: task {task_id} "
                     f"({samples_path}:{lineno}) and the others are beyond --limit {len(problems)}")
    results = {
        "benchmark": bench.name,
        "model": model or samples_path.name.removesuffix(".gz").removesuffix(".jsonl").removesuffix(".json"),
        "pass_at_k": mean_pass_at_k(counts),
        # plus benchmarks: the base score counts the original tests only, pass_at_k base + plus
        "base_pass_at_k": mean_pass_at_k([(t["n"], t["base_passed"]) for t in tasks.values()]) if plus else None,
        # tasks_in_benchmark counts the tasks --limit left out too, so a limited run reads as partial
        "tasks_scored": len(tasks), "tasks_in_benchmark": len(problems) + len(excluded - set(by_id)),
        "limit": len(problems) if excluded else None, "samples": len(samples),
        "samples_beyond_limit": skipped["samples"], "notes": notes,
        "checks": bench.checks, "sanitized": do_sanitize, "data_hash": fingerprint(problems),
        "generation": generation or {"source": str(samples_path)},
        "sandbox": {**isolation(), "timeout_s": limits.timeout, "memory_mb": limits.memory_mb},
        "seconds": round(seconds, 2), "programs_per_s": round(len(samples) / seconds, 1) if seconds else 0.0,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": {"alchemist": __version__, "python": platform.python_version()},
        "tasks": dict(tasks),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(out_dir / "samples.jsonl", "".join(
        json.dumps({"task_id": s["task_id"], "raw": s["raw"], "sanitized": s["code"], "status": o.status}) + "\n"
        for s, o in zip(samples, outcomes)))
    write_atomic(out_dir / "results.json", json.dumps(results, indent=2) + "\n")  # last: its presence means complete
    return results
