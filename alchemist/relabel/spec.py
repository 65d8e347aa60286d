"""The relabel section: AlchemistPrompts and code-comprehension tasks through one LLM."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from alchemist.specs import Strict, local_path, volatile
from alchemist.specs.llm import llm_spec


class AlchemistPromptSpec(Strict):
    fraction: float = Field(0.05, ge=0, le=1, description="Share of curated code samples that get an AlchemistPrompt.")
    mode: Literal["add", "replace"] = Field("add", description="add: relabeled copy beside the original; replace: instead of it.")
    min_words: int = Field(4, ge=1, description="Shorter prompts are rejected.")
    max_words: int = Field(80, ge=1, description="Longer prompts are rejected.")


class ComprehensionSpec(Strict):
    instruction_evolution: int = Field(0, ge=0, description="(original, evolved) instruction comparison tasks.")
    evol_codegen: int | None = Field(None, ge=0, description="Evolved instructions answered as code samples (default: as many as evolved).")
    data_filtering: int = Field(0, ge=0, description="Multiple-choice tasks from rejected samples.")
    code_review: int = Field(0, ge=0, description="Code reviews (scores, suggestions, refined code).")


class GenerateSpec(Strict):
    oss_instruct: float = Field(0, ge=0, description="OSS-Instruct pairs from code snippets: a count, or a fraction (<1) of the seeds.")
    language: str | None = Field(None, description="Target language of the problems (default: each snippet's own).")
    validate_: Literal["tests", "none"] = Field("tests", alias="validate", description="tests: a Python solution is kept only when it passes its own asserts in the sandbox.")
    candidates: int = Field(1, ge=1, le=16, description="Candidate solutions per seed; the first passing one is kept.")
    timeout: float = Field(5.0, gt=0, description="CPU seconds per candidate run in the sandbox.")
    workers: int | None = volatile(None, ge=1, description="Candidates validated at once (default: one per CPU core).")

    def count(self, seeds: int) -> int:
        n = self.oss_instruct
        return round(n * seeds) if 0 < n < 1 else int(n)


class RelabelSpec(Strict):
    enabled: bool = Field(True, description="Run the relabel stage.")
    llm: llm_spec("openai") | None = Field(None, description="The LLM that writes prompts and tasks (required when enabled).")
    alchemist_prompts: AlchemistPromptSpec = Field(default_factory=AlchemistPromptSpec, description="Hindsight AlchemistPrompts.")
    comprehension: ComprehensionSpec = Field(default_factory=ComprehensionSpec, description="Code-comprehension tasks.")
    generate: GenerateSpec = Field(default_factory=GenerateSpec, description="Pairs generated from seeds (OSS-Instruct).")
    max_failure_rate: float = volatile(0.2, ge=0, le=1, description="Stop when more LLM requests than this share fail.")
    cache: str | None = local_path(None, volatile=True, description="SQLite answer cache; default OUTPUT_DIR/llm_cache.sqlite.")
    seed: int | None = Field(None, description="Sampling seed sent with requests (default: the recipe seed).")

    @model_validator(mode="after")
    def _llm_when_enabled(self):
        if self.enabled and self.llm is None:
            raise ValueError("`llm` is required when relabel is enabled, e.g. llm: {backend: openai, model: NAME, "
                             "base_url: http://HOST:8000/v1}; or set relabel.enabled: false")
        return self
