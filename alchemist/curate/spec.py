"""The curate section: dedup, decontamination, quality filters and the executor that runs them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from alchemist.specs import Strict, volatile


class NearDedupSpec(Strict):
    enabled: bool = Field(True, description="MinHash near-duplicate removal.")
    threshold: float = Field(0.7, gt=0, lt=1, description="Jaccard similarity above which samples are near-duplicates.")
    # 3-word shingles: instruction data is short, and in a 50-word sample one renamed variable
    # already breaks a third of the 5-word shingles
    ngram: int = Field(3, ge=1, description="Word n-gram (shingle) size.")
    num_perm: int = Field(112, ge=8, le=1024, description="Hash functions in total (buckets x hashes per bucket).")
    num_buckets: int | None = Field(None, ge=1, description="LSH bands; derived from threshold when unset.")
    hashes_per_bucket: int | None = Field(None, ge=1, description="Rows per band; derived from threshold when unset.")


class DedupSpec(Strict):
    exact: bool = Field(True, description="Drop exact copies (after whitespace and docstring normalization).")
    near: NearDedupSpec | bool = Field(default_factory=NearDedupSpec, description="Near-duplicate settings, or false.")

    @field_validator("near", mode="after")
    @classmethod
    def _near_bool(cls, v):
        if isinstance(v, bool):
            return NearDedupSpec(enabled=v)
        return v


class BenchmarkRef(Strict):
    name: str = Field(description="A built-in benchmark or your own name.")
    path: str | None = Field(None, description="Local copy; required for names that are not built in.")


class DecontaminateSpec(Strict):
    enabled: bool = Field(True, description="Drop samples that overlap benchmark problems.")
    benchmarks: list[str | BenchmarkRef] = Field(default_factory=lambda: ["humaneval", "mbpp"],
                                                 description="Benchmarks to check against: names, or {name, path}.")
    ngram: int = Field(13, ge=3, description="Word n-gram size of the overlap test.")
    min_overlap: float = Field(
        0.1, gt=0, le=1,
        description="Share of one benchmark field's n-grams found in a sample that marks it contaminated.",
    )

    def refs(self) -> list[BenchmarkRef]:
        return [BenchmarkRef(name=b) if isinstance(b, str) else b for b in self.benchmarks]


class FilterSpec(Strict):
    min_response_chars: int = Field(8, ge=0, description="Responses shorter than this are dropped.")
    max_chars: int = Field(60_000, ge=1, description="Instruction + response characters above which a sample is dropped.")
    require_code: bool = Field(True, description="Drop code-generation samples whose response holds no code.")
    python_syntax: bool = Field(True, description="Drop samples whose Python code does not parse.")
    max_garbled_ratio: float = Field(0.001, ge=0, le=1, description="Share of U+FFFD / control characters tolerated.")


class ExecutorSpec(Strict):
    type: Literal["local", "ray"] = Field("local", description="datatrove executor: local processes, or a running Ray cluster.")
    # Workers change only how fast verdicts come: the verdicts do not depend on them. A resume
    # with another layout starts the stage's work afresh (see curate/stage.py).
    workers: int = volatile(0, ge=0, description="Parallel tasks; 0 means one per CPU core.")
    options: dict[str, Any] = volatile(default_factory=dict, description="Passed to datatrove's executor.")


class CurateSpec(Strict):
    enabled: bool = Field(True, description="Curation always runs; false is refused (the trainer needs curated data).")
    strict: bool = Field(False, description="Stop at the first malformed record instead of counting it.")
    dedup: DedupSpec = Field(default_factory=DedupSpec, description="Exact and near dedup.")
    decontaminate: DecontaminateSpec = Field(default_factory=DecontaminateSpec, description="Benchmark decontamination.")
    filters: FilterSpec = Field(default_factory=FilterSpec, description="Quality filters.")
    executor: ExecutorSpec = Field(default_factory=ExecutorSpec, description="Where curation tasks run.")
