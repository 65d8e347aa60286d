"""What the two training stages (train: SFT, rl: GRPO) share, below both: where a starting model
comes from, the process's rank, the launcher they run their ranks through, resuming from the
last whole checkpoint, the base DeepSpeed config, and reading a per-step history a kill may have
cut."""

from __future__ import annotations

import ctypes
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from alchemist.errors import UserError

BUILTIN_TINY = "builtin:tiny"
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")
# the files of a local model that decide a result (for a stage's fingerprint)
MODEL_FILES = (".json", ".safetensors", ".bin", ".model", ".txt", ".jinja", ".tiktoken")


def model_path(model: str, key: str, alternatives: str) -> str:
    """A local Hugging Face model directory or a hub id, as named at `key`; one line naming the
    `alternatives` when it can be neither."""
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise UserError(f"{key}: {path} has no config.json; point it at a Hugging Face model directory")
        return str(path)
    if path.exists() or not HUB_ID.match(model):
        raise UserError(f"{key}: {model} is not a model directory or a hub id (org/name); give {alternatives}")
    return model


def local_model_files(model: str) -> list[Path]:
    """The files of a local starting model that decide the result (a builtin: or hub model: none)."""
    path = Path(model).expanduser()
    if model.startswith("builtin:") or not path.is_dir():
        return []
    return sorted(p for p in path.iterdir() if p.is_file() and p.suffix in MODEL_FILES)


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def die_with_parent() -> None:
    """In a launched process (a launcher or a training rank): SIGKILL when its parent dies (kept
    across exec), so a rank outlives neither its launcher nor a kill -9 of the run."""
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux
        pass


def rank_main(work: Callable[[Callable[[str], None]], dict]) -> int:
    """The body of one training process: `work(say)` -> its summary, printed by rank 0 as the last
    line (JSON); a recipe problem is one line and status 2."""
    try:
        summary = work(lambda m: print(f"• {m}", file=sys.stderr, flush=True))
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if rank() == 0:
        print(json.dumps(summary), flush=True)
    return 0


def launched(cmd: list[str], out: Path, say, stage: str, drop: tuple[str, ...] = ("history", "title")) -> dict:
    """Run the training processes through their launcher; rank 0's training_report.json, without
    its long parts (`drop`), is the stage's stats."""
    say(f"launching: {shlex.join(cmd)}")
    # the launcher is exec'd, not forked by Python, so the pipeline's fork hook never reaches it:
    # ask for SIGKILL when alchemist dies (kept across exec), as every other worker has
    code = subprocess.run(cmd, preexec_fn=die_with_parent).returncode
    if code == 2:
        raise UserError(f"{stage}: a training process stopped on a recipe problem (its message is above)")
    if code != 0:
        raise RuntimeError(f"the {stage} launcher exited with status {code}")
    report = json.loads((out / "training_report.json").read_text())
    for key in drop:
        report.pop(key, None)
    return report


def last_checkpoint(folder: Path) -> Path | None:
    """The newest checkpoint whose trainer_state.json (written last) is whole; a later one cut by a
    kill is removed so the trainer's rotation never counts it."""
    if not folder.is_dir():
        return None
    found = sorted((p for p in folder.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()),
                   key=lambda p: int(p.name.split("-")[-1]), reverse=True)
    for ckpt in found:
        try:
            json.loads((ckpt / "trainer_state.json").read_text())
            return ckpt
        except (OSError, ValueError):
            if rank() == 0:
                shutil.rmtree(ckpt, ignore_errors=True)
    return None


def zero_config(stage: int, offload: str = "none") -> dict:
    """The DeepSpeed config for ZeRO `stage`. Batch sizes, clipping and precision are "auto": the
    HF integration fills them from the training arguments, so a recipe states each of them once.

    No train_batch_size: DeepSpeed derives it as micro x accum x world size, which the HF
    integration can get wrong before the process group exists (on CPU it fills world size 1)."""
    zero: dict = {"stage": stage, "overlap_comm": True, "contiguous_gradients": True,
                  "reduce_bucket_size": "auto"}
    if stage == 3:
        zero.update({"stage3_prefetch_bucket_size": "auto", "stage3_param_persistence_threshold": "auto",
                     # the saved model is one full checkpoint, not shards only DeepSpeed can read
                     "stage3_gather_16bit_weights_on_model_save": True})
    if offload in ("optimizer", "all"):
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": True}
    if offload == "all":
        zero["offload_param"] = {"device": "cpu", "pin_memory": True}
    return {
        "train_micro_batch_size_per_gpu": "auto",
        "gradient_accumulation_steps": "auto",
        "gradient_clipping": "auto",
        "bf16": {"enabled": "auto"},
        "zero_optimization": zero,
        "steps_per_print": 1_000_000_000,  # the trainer logs; DeepSpeed's own prints would duplicate it
    }


def read_lines(path: Path) -> list[dict]:
    """The JSON lines of a history file; a line a kill cut (an attempt that resumed appends after
    it) is skipped."""
    out = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out
