"""The relabel tasks an LLM answers, registered by name (the same shape as `sources/`' adapters).

Each task says which curated samples it may take, how many (from the recipe), the request for
one sample, and how an answer becomes a new sample or a reject reason (a manifest counter).
Adding a task is one module with a `RelabelTask` and one line in `TASKS`:

    MY_TASK = RelabelTask("my_task", ("my_template",), lambda spec, n: spec.comprehension.my_task,
                          eligible=is_codegen, request=my_request, accept=my_accept)

Tasks built from other tasks' output (EvolCode answers of evolved instructions) or without an
LLM (data-filtering questions from rejected samples) follow in the stage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from alchemist.relabel import tasks
from alchemist.relabel.templates import load
from alchemist.schema import Sample


@dataclass(frozen=True)
class RelabelTask:
    name: str
    templates: tuple[str, ...]  # prompt files whose versions are part of the stage fingerprint
    count: Callable  # (RelabelSpec, number of eligible samples) -> how many to make
    eligible: Callable[[Sample], bool]
    request: Callable[[Sample, int], list[dict]]  # (sample, seed) -> chat messages
    accept: Callable  # (answer, sample, RelabelSpec, seed, meta) -> (Sample, None) | (None, reason)


def is_codegen(sample: Sample) -> bool:
    return sample.task == "codegen"


def _accept_prompt(answer, sample, spec, seed, meta):
    ap = spec.alchemist_prompts
    prompt, why = tasks.parse_alchemist_prompt(answer, sample, ap.min_words, ap.max_words)
    if why:
        return None, why
    return tasks.with_alchemist_prompt(sample, prompt, {**meta, "template": load("alchemist_prompt").id}), None


def _request_evolution(sample, seed):
    return tasks.evolution_request(sample, tasks.pick_operation(sample.id, seed))


def _accept_evolution(answer, sample, spec, seed, meta):
    found, why = tasks.parse_evolution(answer, sample.instruction, sample)
    if why:
        return None, why
    evolved, explanation = found
    return tasks.compare_task(sample, evolved, explanation, {
        **meta, "operation": tasks.pick_operation(sample.id, seed), "evolved": evolved,
        "template": load("instruction_evolution").id, "task_template": load("instruction_compare_task").id}), None


def _accept_review(answer, sample, spec, seed, meta):
    review, why = tasks.parse_review(answer, sample.language, sample)
    if why:
        return None, why
    return tasks.review_task(sample, review, {**meta, "template": load("code_review").id,
                                              "task_template": load("code_review_task").id}), None


ALCHEMIST_PROMPT = RelabelTask(
    "alchemist_prompt", ("alchemist_prompt",), lambda spec, n: round(spec.alchemist_prompts.fraction * n),
    eligible=is_codegen, request=lambda s, seed: tasks.alchemist_prompt_request(s), accept=_accept_prompt)
INSTRUCTION_EVOLUTION = RelabelTask(
    "instruction_evolution", ("instruction_evolution", "instruction_compare_task"),
    lambda spec, n: spec.comprehension.instruction_evolution,
    eligible=is_codegen, request=_request_evolution, accept=_accept_evolution)
CODE_REVIEW = RelabelTask(
    "code_review", ("code_review", "code_review_task"), lambda spec, n: spec.comprehension.code_review,
    eligible=is_codegen, request=lambda s, seed: tasks.review_request(s), accept=_accept_review)

TASKS: dict[str, RelabelTask] = {t.name: t for t in (ALCHEMIST_PROMPT, INSTRUCTION_EVOLUTION, CODE_REVIEW)}
# Prompt files of the tasks the stage builds from others' output or without an LLM.
DERIVED_TEMPLATES = ("evol_answer", "data_filtering", "oss_instruct")


def templates() -> tuple[str, ...]:
    return tuple(dict.fromkeys([t for task in TASKS.values() for t in task.templates] + list(DERIVED_TEMPLATES)))
