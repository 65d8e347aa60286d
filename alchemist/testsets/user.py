"""A user's own benchmark file (`{name: private, path: x.jsonl}` in a recipe, or
`--benchmark private --data x.jsonl`): a Benchmark built from its records."""

from __future__ import annotations

from pathlib import Path

from alchemist.testsets.base import CHECK_KINDS, Benchmark, Problem, read_problems


def infer_checks(problems: list[Problem]) -> str | None:
    """The kind of checks the records carry, the first of CHECK_KINDS every record carries:
    evalplus inputs, HumanEval's check(), or asserts (None: no kind fits every record, e.g.
    training data without tests)."""
    return next((kind.name for kind in CHECK_KINDS.values() if problems and all(map(kind.carried_by, problems))), None)


def user_benchmark(name: str, path: str | Path, checks: str | None = None) -> Benchmark:
    """The benchmark of a file of the user's. For decontamination any text fields do; for
    evaluation the kind of checks is read from the records (or given); when none fits,
    `eval_problems()` refuses the file naming the first problem without tests."""
    path = Path(path)

    def load(given: Path | None) -> list[Problem]:
        return read_problems(name, given if given is not None else path)

    kind = checks or infer_checks(read_problems(name, path)) or "asserts"
    return Benchmark(name=name, title=name, load=load, checks=kind, source=str(path))
