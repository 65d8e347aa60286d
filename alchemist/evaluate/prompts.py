"""Prompt styles: how a benchmark problem is put to a model, and where its answer stops.

- `instruct`: chat models through their chat template; the answer is a whole program
  (sanitized before execution).
- `paper`: AlchemistCoder's HumanEval prompt (completion mode), as published.
- `completion`: base models continue the prompt; the continuation is the function body.
- `mbpp-3shot`: MBPP's [BEGIN]/[DONE] three-shot format (completion mode), the shots being the
  benchmark's few-shot examples (`Benchmark.examples()`: MBPP's task ids 2-4).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from alchemist.errors import UserError
from alchemist.evaluate import languages
from alchemist.testsets import Problem
from alchemist.testsets.multilang import language_of

# The usual HumanEval stops: a completion ends where top-level code would start.
COMPLETION_STOPS = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", "\nassert ")
PAPER_HUMANEVAL = ("Below is an instruction that describes a task. Write a response that appropriately completes the "
                   "request.\n\n\nComplete the following python function.\n\n\n{prompt}\n\n\nHere is the completed function:\n\n\n")


@dataclass(frozen=True)
class Prompt:
    messages: list[dict] | None  # chat
    text: str | None  # completion mode
    stop: tuple[str, ...]
    kind: str  # "solution" (a program) or "completion" (continues the benchmark prompt)


def _mbpp_task(problem: Problem) -> str:
    return f"You are an expert Python programmer, and here is your task: {problem.prompt} Your code should pass these tests:\n\n{problem.tests}\n"


def completes_function(problem: Problem) -> bool:
    """Whether the prompt is code to continue (a signature and docstring, as HumanEval's) rather
    than a task in prose (MBPP's)."""
    return bool(problem.entry_point) and f"def {problem.entry_point}" in problem.prompt


def _instruct(problem: Problem, shots: list[Problem] | None) -> Prompt:
    if completes_function(problem):
        ask = f"Complete the following Python function:\n```python\n{problem.prompt}\n```"
    else:
        ask = f"{problem.prompt}\nYour code should pass these tests:\n{problem.tests}"
    return Prompt([{"role": "user", "content": ask}], None, (), "solution")


def _paper(problem: Problem, shots: list[Problem] | None) -> Prompt:
    return Prompt(None, PAPER_HUMANEVAL.format(prompt=problem.prompt), (), "solution")


def _completion(problem: Problem, shots: list[Problem] | None) -> Prompt:
    if not completes_function(problem):
        raise UserError("the completion style continues a function prompt (HumanEval); use instruct or mbpp-3shot for MBPP")
    return Prompt(None, problem.prompt, COMPLETION_STOPS, "completion")


def _mbpp_3shot(problem: Problem, shots: list[Problem] | None) -> Prompt:
    if not shots:
        raise UserError("mbpp-3shot needs MBPP's task ids 2-4 as examples: give the original mbpp.jsonl with --data")
    text = "".join(f"{_mbpp_task(s)}[BEGIN]\n{s.solution}\n[DONE]\n" for s in shots) + f"{_mbpp_task(problem)}[BEGIN]\n"
    return Prompt(None, text, ("[DONE]",), "solution")


@dataclass(frozen=True)
class Style:
    """A prompt style: how a problem is put to a model."""

    make: Callable[[Problem, list[Problem] | None], Prompt]  # the prompt of a problem, given the few-shot examples
    # prompted with the benchmark's few-shot examples (`Benchmark.examples()`); the tasks that
    # are examples are not scored
    few_shot: bool = False


STYLES: dict[str, Style] = {"instruct": Style(_instruct), "paper": Style(_paper), "completion": Style(_completion),
                            "mbpp-3shot": Style(_mbpp_3shot, few_shot=True)}


def few_shot(style: str | None) -> bool:
    """Whether `style` is prompted with the benchmark's few-shot examples."""
    return style in STYLES and STYLES[style].few_shot


def make_prompt(problem: Problem, style: str, shots: list[Problem] | None = None) -> Prompt:
    if lang := language_of(problem.benchmark):  # HumanEval-X: the function in its own language
        if style == "completion":
            return Prompt(None, problem.prompt, languages.STOPS[lang], "completion")
        if style == "instruct":
            return Prompt([{"role": "user", "content": languages.prompt_text(problem, lang)}], None, (), "solution")
        raise UserError(f"{problem.benchmark} is prompted in the instruct or completion style, not {style}")
    if style not in STYLES:
        raise UserError(f"unknown prompt style '{style}'; choose one of {', '.join(STYLES)}")
    return STYLES[style].make(problem, shots)
