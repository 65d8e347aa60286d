"""The relabel tasks, registered by name (the same shape as `sources/`' adapters), in two kinds.

A `RelabelTask` asks an LLM once per picked curated sample: it says which curated samples it may
take, how many (from the recipe), the request for one sample, and how an answer becomes a new
sample or a reject reason (a manifest counter). The stage sends every such task's requests in
one batch. Adding one is a module with a `RelabelTask` and one line in `TASKS`:

    MY_TASK = RelabelTask("my_task", ("my_template",), lambda spec, n: spec.comprehension.my_task,
                          eligible=is_codegen, request=my_request, accept=my_accept)

A `BuiltTask` makes its samples itself from a `TaskContext` (relabel/context.py), after the
RelabelTasks are answered: from their answers (EvolCode answers of evolved instructions), with
several candidates and the sandbox (OSS-Instruct), or without an LLM (data-filtering questions
from rejected samples). Adding one is a function `TaskContext -> list[Sample]` and one line in
`BUILT`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from alchemist.relabel import built, tasks
from alchemist.relabel.context import TaskContext
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


@dataclass(frozen=True)
class BuiltTask:
    name: str  # also its counter in the stage's stats
    templates: tuple[str, ...]  # prompt files whose versions are part of the stage fingerprint
    make: Callable[[TaskContext], list[Sample]]  # counts its own rejects in the context's tally
    # its samples were held to every curation rule as they were made (TaskContext.check.admit);
    # the others are decontaminated by the stage afterwards
    admitted: bool


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

# Made in this order, after the RelabelTasks, their samples kept in this order after theirs:
# data_filtering also teaches from the pairs evol_codegen's quality filters dropped.
BUILT: dict[str, BuiltTask] = {t.name: t for t in (
    BuiltTask("evol_codegen", ("evol_answer",), built.evol_codegen, admitted=True),
    BuiltTask("oss_instruct", ("oss_instruct",), built.oss_instruct, admitted=True),
    BuiltTask("data_filtering", ("data_filtering",), built.data_filtering, admitted=False),
)}

# The order the stage fingerprint has listed the prompt files in since before the BuiltTasks were
# registered: another order would make every run directory relabel again. A new task's prompt
# files follow these.
FINGERPRINT_ORDER = ("alchemist_prompt", "instruction_evolution", "instruction_compare_task", "code_review",
                     "code_review_task", "evol_answer", "data_filtering", "oss_instruct")


def templates() -> tuple[str, ...]:
    """Every task's prompt files, once each, in the fingerprint's order."""
    own = [t for task in (*TASKS.values(), *BUILT.values()) for t in task.templates]
    return tuple(dict.fromkeys([t for t in FINGERPRINT_ORDER if t in own] + own))
