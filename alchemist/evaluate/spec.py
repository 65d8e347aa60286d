"""The eval section: which model, which benchmarks, how to prompt and sample."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from alchemist.specs import Strict, local_path, volatile
from alchemist.specs.llm import llm_spec

# Benchmark protocol defaults (greedy pass@1, 512 new tokens) unless eval.llm says otherwise.
EVAL_SAMPLING = {"temperature": 0.0, "max_tokens": 512}
# `llm.model: train` in an eval section: the model this run's train stage writes.
TRAINED = "train"


class EvalSpec(Strict):
    enabled: bool = Field(True, description="Run the eval stage.")
    llm: llm_spec("hf") | None = Field(None, description="The model to evaluate and its backend; `model: train` (the default "
                                                         "when a train section is enabled) is the model this run trains. "
                                                         "Sampling defaults to greedy with 512 new tokens.")
    name: str | None = Field(None, description="Model name in results and the leaderboard (default: from the model).")
    benchmarks: list[str] = Field(default_factory=lambda: ["humaneval", "humaneval_plus", "mbpp", "mbpp_plus"],
                                  description="Benchmarks to score.")
    data: dict[str, str] = local_path(default_factory=dict, description="Benchmark name -> local file (offline machines).")
    style: Literal["instruct", "paper", "completion", "mbpp-3shot"] = Field("instruct", description="Prompt style.")
    n: int = Field(1, ge=1, description="Samples per task; pass@k is reported for every k <= n.")
    timeout: float = Field(10.0, gt=0, description="Seconds per program in the sandbox.")
    limit: int = Field(0, ge=0, description="Only the first N tasks of each benchmark (0: all).")
    workers: int = volatile(0, ge=0, description="Programs at once in the sandbox (0: one per core).")
    max_failure_rate: float = Field(0.05, ge=0, le=1, description="Share of answers whose generation may fail (request failed, "
                                                                  "fewer choices than n) before the eval stage fails; they are never scored as wrong.")
    require_isolation: bool = Field(False, description="Fail when a sandbox layer (namespaces, read-only root, Landlock, seccomp, "
                                                       "cgroups) is unavailable on this machine, instead of warning once.")

    @model_validator(mode="after")
    def _eval_sampling(self):
        if self.llm is not None:
            for key, value in EVAL_SAMPLING.items():
                if key not in self.llm.model_fields_set:
                    setattr(self.llm, key, value)
        return self
