"""Benchmark test sets, registered by name: HumanEval, MBPP, their plus versions, user files.

Read by curation (decontamination) and by evaluation, so neither imports the other. Each
benchmark is a `Benchmark` record (base.py): its loader, the problems it is scored on, its kind
of checks (a `CheckKind` registered in base.CHECK_KINDS), the fields decontamination searches,
its few-shot examples and default prompt style.

Adding a benchmark is one module and one line here. E.g. `alchemist/testsets/apps.py`:

    APPS = Benchmark(name="apps", title="APPS", load=file_loader("apps", lambda: download(URL, "apps.jsonl", "APPS", "apps")),
                     checks="asserts")

and `apps.APPS` added to the tuple below. A user's own file (`{name: private, path: x.jsonl}`)
needs no module: `get_benchmark("private", "x.jsonl")` builds its record from the file.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from alchemist.errors import UserError
from alchemist.testsets import humaneval, humaneval_x, mbpp, multipl_e, plus
from alchemist.testsets.base import (
    CHECK_KINDS,
    CHECKS,
    Benchmark,
    CheckKind,
    Checks,
    Problem,
    cache_dir,
    check_kind,
    fingerprint,
    missing_checks,
    problem_from_record,
    read_jsonl,
    relabel,
)
from alchemist.testsets.humaneval import humaneval_path
from alchemist.testsets.user import user_benchmark

BENCHMARKS: dict[str, Benchmark] = {
    b.name: b for b in (humaneval.HUMANEVAL, plus.HUMANEVAL_PLUS, mbpp.MBPP, mbpp.MBPP_SANITIZED, plus.MBPP_PLUS,
                        *humaneval_x.BENCHMARKS, *multipl_e.BENCHMARKS)
}
KNOWN_BENCHMARKS = tuple(BENCHMARKS)


def get_benchmark(name: str, path: str | Path | None = None) -> Benchmark:
    """The registered benchmark `name` (a path then replaces its data when loading), or the
    benchmark of the user's file at `path`."""
    if name in BENCHMARKS:
        return BENCHMARKS[name]
    if path is not None:
        return user_benchmark(name, path)
    guess = difflib.get_close_matches(name, KNOWN_BENCHMARKS, n=1)
    hint = f"did you mean '{guess[0]}'? " if guess else ""
    raise UserError(f"unknown benchmark '{name}': {hint}built in are {', '.join(KNOWN_BENCHMARKS)}; others need a path")


def title(name: str) -> str:
    """How a benchmark is named on the leaderboard (its own name when it is not registered)."""
    return BENCHMARKS[name].title if name in BENCHMARKS else name


def load_benchmark(name: str, path: str | Path | None = None, for_eval: bool = False) -> list[Problem]:
    """Every problem of a benchmark; `path` overrides where they are read from. For
    decontamination (not `for_eval`) a plus set without a file of its own is its base set's
    problems (same prompts and solutions, no download)."""
    bench = get_benchmark(name, path)
    if not for_eval and path is None and bench.decontaminate_as:
        return relabel(BENCHMARKS[bench.decontaminate_as].problems(None), name)
    return bench.problems(path)


def eval_problems(name: str, path: str | Path | None = None) -> list[Problem]:
    """The problems a benchmark is scored on (MBPP's 974 are cut to the test split 11-510),
    each checked to carry the tests its kind of checks needs."""
    return get_benchmark(name, path).eval_problems(path)


__all__ = ["BENCHMARKS", "CHECKS", "CHECK_KINDS", "KNOWN_BENCHMARKS", "Benchmark", "CheckKind", "Checks", "Problem",
           "cache_dir", "check_kind", "eval_problems", "fingerprint", "get_benchmark", "humaneval_path", "load_benchmark",
           "missing_checks", "problem_from_record", "read_jsonl", "title", "user_benchmark"]
