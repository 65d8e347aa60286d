"""The recipe: composed of the specs each stage owns (`<stage>/spec.py`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, PrivateAttr, model_validator

from alchemist.curate.spec import CurateSpec
from alchemist.evaluate.spec import TRAINED, EvalSpec
from alchemist.ingest.spec import SourceSpec
from alchemist.leaderboard.spec import LeaderboardSpec
from alchemist.mix.spec import MixSpec
from alchemist.relabel.spec import RelabelSpec
from alchemist.rl.spec import RLSpec
from alchemist.specs import MAX_SEED, FileName, Strict
from alchemist.specs.llm import HFLLM
from alchemist.train.spec import TrainSpec


class Recipe(Strict):
    name: FileName = Field(description="Name of the run (and of runs/NAME/ when output_dir is not given).")
    output_dir: str | None = Field(None, description="The run directory (default runs/NAME).")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seeds sampling, mixing, data order and initialization (0 to 2**32 - 2).")
    sources: list[SourceSpec] = Field(min_length=1, description="The corpora to read.")
    curate: CurateSpec = Field(default_factory=CurateSpec, description="Dedup, decontamination, filters.")
    relabel: RelabelSpec | None = Field(None, description="AlchemistPrompts and comprehension tasks (absent: skipped).")
    mix: MixSpec = Field(default_factory=MixSpec, description="How the final training set is mixed.")
    train: TrainSpec | None = Field(None, description="Fine-tuning (absent: skipped).")
    rl: RLSpec | None = Field(None, description="GRPO rewarded by the samples' tests in the sandbox, after train (absent: skipped).")
    eval: EvalSpec | None = Field(None, description="Benchmarks (absent: skipped).")
    leaderboard: LeaderboardSpec | None = Field(None, description="The leaderboard (absent: skipped).")
    _path: Path | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _eval_model(self):
        if self.eval is not None and self.eval.enabled and self.eval.llm is None:
            if not self.trains:
                raise ValueError("eval.llm is required (the model to evaluate), e.g. llm: {backend: hf, model: /models/x}; "
                                 "with an enabled train section it defaults to the model this run trains")
            self.eval.llm = HFLLM(model=TRAINED, temperature=0.0, max_tokens=512)
        if self.evaluates_trained and not self.trains:
            raise ValueError("eval.llm.model is `train` (the model this run trains) but the recipe has no enabled train section")
        return self

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir or f"runs/{self.name}")

    @property
    def trains(self) -> bool:
        return self.train is not None and self.train.enabled

    @property
    def evaluates_trained(self) -> bool:
        return self.eval is not None and self.eval.enabled and self.eval.llm is not None and self.eval.llm.model == TRAINED
