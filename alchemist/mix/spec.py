"""The mix section."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field

from alchemist.specs import MAX_WEIGHT, Strict

# What relabeled rows are, by the relabel task that made them (mix weighs each kind)
TaskKind = Literal["alchemist_prompt", "instruction_evolution", "evol_codegen", "data_filtering", "code_review", "oss_instruct"]
TASK_KINDS = get_args(TaskKind)


class MixSpec(Strict):
    shuffle: bool = Field(True, description="Shuffle the final rows (seeded).")
    task_weights: dict[TaskKind, Annotated[float, Field(ge=0, le=MAX_WEIGHT)]] = Field(
        default_factory=dict, description="Per relabel task (" + ", ".join(TASK_KINDS) + "): <1 subsamples, >1 repeats.")
