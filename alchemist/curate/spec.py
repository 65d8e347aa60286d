"""The curate section: dedup, decontamination, quality filters and the executor that runs them."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from alchemist.rules.spec import DecontaminateSpec, FilterSpec, NearDedupSpec
from alchemist.specs import Strict, volatile


class DedupSpec(Strict):
    exact: bool = Field(True, description="Drop exact copies (after whitespace and docstring normalization).")
    near: NearDedupSpec | bool = Field(default_factory=NearDedupSpec, description="Near-duplicate settings, or false.")

    @field_validator("near", mode="after")
    @classmethod
    def _near_bool(cls, v):
        if isinstance(v, bool):
            return NearDedupSpec(enabled=v)
        return v


class VerifySpec(Strict):
    enabled: bool = Field(False, description="Run Python answers in the sandbox with the asserts or doctest examples they "
                                             "contain (else an import smoke run); drop failures as fails_execution.")
    timeout: float = Field(2.0, gt=0, description="CPU seconds per answer.")
    memory_mb: int = Field(512, ge=64, description="Address space per answer.")
    workers: int = volatile(2, ge=1, description="Answers run at once.")


class ExecutorSpec(Strict):
    """Where curation tasks run (`curate/executors.py`). Nothing here can change a verdict (tests
    compare Ray and Slurm runs with a local one), so every key is volatile: moving a finished run
    to a cluster does not redo its curation."""

    type: Literal["local", "ray", "slurm"] = volatile(
        "local", description="datatrove executor: `local` processes, a running `ray` cluster, or `slurm` job arrays.")
    # Workers change only how fast verdicts come: the verdicts do not depend on them. A resume
    # with another layout starts the stage's work afresh (see curate/stage.py).
    workers: int = volatile(0, ge=0, description="Parallel tasks; 0 means one per CPU core (of this machine: set it on a cluster).")
    options: dict[str, Any] = volatile(default_factory=dict, description="Passed to datatrove's executor as they are.")
    address: str = volatile(
        "auto", description="ray: the cluster to join: `auto` (RAY_ADDRESS, else the one `ray start` runs here), "
                            "`HOST:PORT`, `ray://HOST:PORT`, or `local` (a throwaway cluster in this process).")
    cpus_per_task: int = volatile(1, ge=1, description="ray, slurm: CPUs reserved for each task.")
    mem_per_cpu_gb: float = volatile(2.0, gt=0, description="ray, slurm: memory reserved per CPU, in GB.")
    partition: str | None = volatile(None, description="slurm: the partition the job arrays go to (required).")
    time: str = volatile("24:00:00", description="slurm: time limit of each task, as sbatch takes it.")
    qos: str | None = volatile(None, description="slurm: quality of service.")
    sbatch_args: dict[str, str | int] = volatile(
        default_factory=dict, description="slurm: more `#SBATCH --KEY=VALUE` lines, e.g. {account: myproj, constraint: cpu}.")
    env_command: str | None = volatile(
        None, description="slurm: shell line each task runs first, e.g. `source /shared/venv/bin/activate`; "
                          "default: activate the virtual environment alchemist runs from.")

    @model_validator(mode="after")
    def _keys_of_type(self):
        own = {"local": set(), "ray": {"address", "cpus_per_task", "mem_per_cpu_gb"},
               "slurm": {"partition", "time", "qos", "sbatch_args", "env_command", "cpus_per_task", "mem_per_cpu_gb"}}
        # a resolved recipe spells out every default: only values that differ from it count
        given = {k for k in self.model_fields_set if getattr(self, k) != type(self).model_fields[k].get_default(call_default_factory=True)}
        foreign = sorted(given - own[self.type] - {"type", "workers", "options"})
        if foreign:
            users = [t for t in ("ray", "slurm") if set(foreign) <= own[t]]
            hint = f"set type: {users[0]}" if users else "remove them"
            verb = "does" if len(foreign) == 1 else "do"
            raise ValueError(f"{', '.join(foreign)} {verb} not apply to executor type {self.type}: {hint}")
        if self.type == "slurm" and not self.partition:
            raise ValueError("type slurm needs partition: the Slurm partition for the job arrays (`sinfo` lists them)")
        return self


class CurateSpec(Strict):
    enabled: bool = Field(True, description="Curation always runs; false is refused (the trainer needs curated data).")
    strict: bool = Field(False, description="Stop at the first malformed record instead of counting it.")
    dedup: DedupSpec = Field(default_factory=DedupSpec, description="Exact and near dedup.")
    decontaminate: DecontaminateSpec = Field(default_factory=DecontaminateSpec, description="Benchmark decontamination.")
    filters: FilterSpec = Field(default_factory=FilterSpec, description="Quality filters.")
    executor: ExecutorSpec = Field(default_factory=ExecutorSpec, description="Where curation tasks run.")
    verify: VerifySpec = Field(default_factory=VerifySpec, description="Execution-verified data: Python answers run in the sandbox.")


def workers_for(spec: CurateSpec) -> int:
    """Curation tasks run at once: the executor's `workers`, else one per core of this machine."""
    return spec.executor.workers or os.cpu_count() or 1
