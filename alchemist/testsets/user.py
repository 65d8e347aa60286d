"""A user's own benchmark file (`{name: private, path: x.jsonl}` in a recipe, or
`--benchmark private --data x.jsonl`): a Benchmark built from its records."""

from __future__ import annotations

from pathlib import Path

from alchemist.testsets.base import HUMANEVAL_CHECK, Benchmark, Problem, read_problems


def infer_checks(problems: list[Problem]) -> str | None:
    """The kind of checks the records carry: evalplus inputs, HumanEval's check(), or asserts
    (None: no kind fits every record, e.g. training data without tests)."""
    if problems and all(p.base_inputs is not None for p in problems):
        return "differential"
    if problems and all(p.entry_point and HUMANEVAL_CHECK.search(p.tests) for p in problems):
        return "check_function"
    if problems and all(p.tests.strip() for p in problems):
        return "asserts"
    return None


def user_benchmark(name: str, path: str | Path, checks: str | None = None) -> Benchmark:
    """The benchmark of a file of the user's. For decontamination any text fields do; for
    evaluation the kind of checks is read from the records (or given); when none fits,
    `eval_problems()` refuses the file naming the first problem without tests."""
    path = Path(path)

    def load(given: Path | None) -> list[Problem]:
        return read_problems(name, given if given is not None else path)

    kind = checks or infer_checks(read_problems(name, path)) or "asserts"
    return Benchmark(name=name, title=name, load=load, checks=kind, source=str(path))
