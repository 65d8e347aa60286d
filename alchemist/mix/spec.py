"""The mix section."""

from __future__ import annotations

from pydantic import Field

from alchemist.specs import Strict


class MixSpec(Strict):
    shuffle: bool = Field(True, description="Shuffle the final rows (seeded).")
    task_weights: dict[str, float] = Field(default_factory=dict, description="Per relabel task: <1 subsamples, >1 repeats.")
