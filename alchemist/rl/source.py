"""Where the policy comes from: the model this run trained, a built-in model, a local directory or
a hub id (a directory or hub id is checked as the train stage checks its base model)."""

from __future__ import annotations

from pathlib import Path

from alchemist.errors import UserError
from alchemist.llm import builtin
from alchemist.rl.spec import TRAINED
from alchemist.tiny_model import build_tiny_model
from alchemist.training import BUILTIN_TINY, local_model_files, model_path


def check(model: str, trained: Path | None) -> None:
    """A model named that cannot exist: one line, before any stage runs."""
    if model == TRAINED:
        if trained is None:
            raise UserError("rl.model: `train` (the model this run trains) needs an enabled train section; "
                            "or name a model directory, hub id or builtin: model")
        return
    if model == BUILTIN_TINY:
        return
    if builtin.is_builtin(model):
        builtin.check(model)
        return
    model_path(model, "rl.model", "`train`, a local Hugging Face model directory, a hub id, or a builtin: model")


def resolve(model: str, trained: Path | None, work: Path) -> str:
    """A local directory or hub id to load the policy from; `builtin:tiny` is built into `work`."""
    check(model, trained)
    if model == TRAINED:
        return str(trained)
    if model == BUILTIN_TINY:
        return str(build_tiny_model(work / "builtin-tiny"))
    if builtin.is_builtin(model):
        return str(builtin.resolve(model))
    return model_path(model, "rl.model", "`train`, a local Hugging Face model directory, a hub id, or a builtin: model")


def local_files(model: str) -> list[Path]:
    """The files of a local starting model that decide the result (for the stage fingerprint)."""
    return [] if model == TRAINED else local_model_files(model)
