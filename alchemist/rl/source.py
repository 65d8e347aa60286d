"""Where the policy comes from: the model this run trained, a built-in model, a local directory or
a hub id. (The train stage resolves its base model the same way; the two stages share no code,
so the few lines are kept here too.)"""

from __future__ import annotations

import re
from pathlib import Path

from alchemist import builtin_models
from alchemist.errors import UserError
from alchemist.rl.spec import TRAINED
from alchemist.tiny_model import build_tiny_model

BUILTIN_TINY = "builtin:tiny"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")
MODEL_FILES = (".json", ".safetensors", ".bin", ".model", ".txt", ".jinja", ".tiktoken")


def check(model: str, trained: Path | None) -> None:
    """A model named that cannot exist: one line, before any stage runs."""
    if model == TRAINED:
        if trained is None:
            raise UserError("rl.model: `train` (the model this run trains) needs an enabled train section; "
                            "or name a model directory, hub id or builtin: model")
        return
    if model == BUILTIN_TINY:
        return
    if builtin_models.is_builtin(model):
        builtin_models.check(model)
        return
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise UserError(f"rl.model: {path} has no config.json; point it at a Hugging Face model directory")
        return
    if path.exists() or not _HUB_ID.match(model):
        raise UserError(f"rl.model: {model} is not a model directory or a hub id (org/name); give `train`, "
                        "a local Hugging Face model directory, a hub id, or a builtin: model")


def resolve(model: str, trained: Path | None, work: Path) -> str:
    """A local directory or hub id to load the policy from; `builtin:tiny` is built into `work`."""
    check(model, trained)
    if model == TRAINED:
        return str(trained)
    if model == BUILTIN_TINY:
        return str(build_tiny_model(work / "builtin-tiny"))
    if builtin_models.is_builtin(model):
        return str(builtin_models.resolve(model))
    return str(Path(model).expanduser()) if Path(model).expanduser().is_dir() else model


def local_files(model: str) -> list[Path]:
    """The files of a local starting model that decide the result (for the stage fingerprint)."""
    path = Path(model).expanduser()
    if model == TRAINED or model.startswith("builtin:") or not path.is_dir():
        return []
    return sorted(p for p in path.iterdir() if p.is_file() and p.suffix in MODEL_FILES)
