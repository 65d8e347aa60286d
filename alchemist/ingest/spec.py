"""A source of the recipe: where a corpus lives and which adapter reads it."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from alchemist.specs import MAX_WEIGHT, FileName, Strict, local_path


class SourceSpec(Strict):
    name: FileName = Field(description="Unique name; the manifest counts per name (and data/ingested/NAME.parquet is named after it).")
    adapter: str = Field(description="How records become Samples; see `alchemist sources`.")
    path: str | list[str] | None = local_path(None, description="File, glob, directory or list of them.")
    hf: str | None = Field(None, description="Hugging Face dataset id, read with `datasets`.")
    config: str | None = Field(None, description="Dataset config (subset) for `hf`.")
    split: str = Field("train", description="Dataset split for `hf`.")
    revision: str | None = Field(None, description="Dataset revision (commit, tag) for `hf`.")
    options: dict[str, Any] = Field(default_factory=dict, description="Adapter options.")
    weight: float = Field(1.0, ge=0, le=MAX_WEIGHT, description="Mixing weight: <1 subsamples, >1 repeats (at most 1000).")
    max_samples: int | None = Field(None, ge=0, description="Cap on curated samples taken from this source.")
    use: str | None = Field(None, description="Name of the data_sources/ entry this was expanded from.")

    @field_validator("hf")
    @classmethod
    def _dataset_id(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("is empty (an unset shell variable?); give a dataset id such as org/name")
        if value is not None and "://" in value:
            dataset = value.split("/datasets/", 1)[-1].strip("/") if "/datasets/" in value else "org/name"
            raise ValueError(f"is a URL; give the dataset id, e.g. hf: {dataset}")
        return value

    @model_validator(mode="after")
    def _one_location(self):
        if (self.path is None) == (self.hf is None):
            raise ValueError("give exactly one of `path` (local files) or `hf` (a Hugging Face dataset id)")
        paths = [self.path] if isinstance(self.path, str) else (self.path or [])

        if self.path is not None and (not paths or any(not str(p).strip() for p in paths)):
            raise ValueError("`path` is empty (an unset shell variable?); give a file, glob or directory")
        return self

    def paths(self) -> list[str]:
        return [] if self.path is None else ([self.path] if isinstance(self.path, str) else list(self.path))
