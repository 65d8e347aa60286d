"""Benchmarks in languages other than Python (HumanEval-X, MultiPL-E): which language a benchmark
is in, and the program a candidate and a problem's test make."""

from __future__ import annotations

from alchemist.testsets import humaneval_x, multipl_e
from alchemist.testsets.base import Problem


def language_of(benchmark: str) -> str | None:
    """`humaneval_x/cpp`, `multipl_e/cpp` -> "cpp"; None for Python benchmarks."""
    return humaneval_x.language_of(benchmark) or multipl_e.language_of(benchmark)


def program(p: Problem, code: str) -> str:
    lang = language_of(p.benchmark)
    if lang is None:
        raise ValueError(f"{p.benchmark} is not a benchmark of another language")
    build = multipl_e.program if multipl_e.language_of(p.benchmark) else humaneval_x.program
    return build(lang, p, code)
