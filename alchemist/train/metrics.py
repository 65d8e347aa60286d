"""Throughput, model FLOPs utilization, per-task held-out loss, and the training report.

MFU = achieved model FLOPs / device peak. Model FLOPs per trained token are
6 x parameters (forward 2, backward 4; LoRA: 4 x parameters + 2 x trainable ones) plus attention: 12 x layers x hidden x L, where L is the
mean length a token attends over (sum of len^2 / sum of len over samples; packing keeps samples
apart, so it is the sample length, not the row length). Recomputation from gradient
checkpointing is not counted: MFU counts the model's FLOPs, not the hardware's.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from transformers import TrainerCallback

from alchemist.training import read_lines

# Dense bf16 tensor-core peaks in TFLOPS, per device: the vendors' data sheets list them with
# sparsity, halved here (NVIDIA H100 datasheet 2023: SXM 1,979 / PCIe 1,513 / NVL 1,671 sparse;
# H200 datasheet 2024: SXM 1,979 / NVL 1,671; A100 datasheet: 624 for SXM and PCIe; AMD MI300X
# datasheet: 1,307 dense). The form factor is in the device name torch reports ("NVIDIA H100
# PCIe", "NVIDIA H100 NVL"; an SXM part names only its memory, "NVIDIA H100 80GB HBM3"), so the
# longest matching key wins.
PEAK_TFLOPS = {
    "H200": 989.0, "H200 NVL": 835.0, "H100": 989.0, "H100 PCIe": 756.0, "H100 NVL": 835.0,
    "H800": 989.0, "H800 PCIe": 756.0, "GH200": 989.0, "B200": 2250.0, "A100": 312.0, "A800": 312.0,
    "L40S": 362.0, "L40": 181.0, "A6000": 155.0, "A10G": 125.0, "A10": 125.0, "L4": 121.0,
    "RTX 4090": 165.0, "RTX 3090": 71.0, "V100": 125.0, "MI300X": 1307.0, "MI250X": 383.0,
}


def flops_per_token(n_params: int, layers: int, hidden: int, attention_length: float,
                    trainable: int | None = None) -> float:
    """Forward 2N, backward 2N for the activations' gradients (they flow through frozen weights
    too) plus 2 x trainable parameters for the weights' gradients: 6N for a full fine-tune, about
    4N for LoRA, whose frozen base gets no weight gradient."""
    trained = n_params if trainable is None else trainable
    return 4.0 * n_params + 2.0 * trained + 12.0 * layers * hidden * attention_length


def peak_for(name: str) -> float | None:
    """The dense bf16 peak of a GPU named `name` (torch.cuda.get_device_name), or None."""
    for key in sorted(PEAK_TFLOPS, key=len, reverse=True):
        if key in name:
            return PEAK_TFLOPS[key]
    return None


def device_peak_tflops(override: float | None = None) -> tuple[float | None, str]:
    """(peak TFLOPS of one device, its name). On CPU: cores x clock x FLOPs/cycle, an estimate."""
    import torch

    if override:
        return override, "given"
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        return peak_for(name), name
    return _cpu_peak_tflops()


def _cpu_peak_tflops() -> tuple[float | None, str]:
    import torch

    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None, "cpu"
    mhz = [float(line.split(":")[1]) for line in info.splitlines() if line.startswith("cpu MHz")]
    flags = next((line for line in info.splitlines() if line.startswith("flags")), "")
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "cpu")
    if not mhz:
        return None, name
    # fp32 FMA: 2 units x (16 lanes AVX-512 | 8 lanes AVX2) x 2 FLOPs per cycle
    per_cycle = 64 if "avx512f" in flags else 32 if "avx2" in flags else 8
    threads = torch.get_num_threads()
    return threads * max(mhz) * 1e6 * per_cycle / 1e12, f"{name} x{threads} threads (estimated peak)"


class MetricsCallback(TrainerCallback):
    """Adds tokens/s and MFU to every log line and keeps the history for the report."""

    def __init__(self, flops_token: float, peak_tflops: float | None, world_size: int = 1,
                 history_file: Path | None = None, resumed_at: int = 0):
        """`history_file` keeps every attempt's log lines: a resumed run's report covers the whole
        run. Lines past the checkpoint resumed from (`resumed_at`) belong to steps this attempt
        redoes, and are dropped."""
        self.flops_token = flops_token
        self.peak = peak_tflops
        self.world = world_size
        self.history_file = history_file
        self.history: list[dict] = []
        if history_file is not None:
            self.history = [h for h in read_lines(history_file) if h.get("step", 0) <= resumed_at]
            self.attempt = max((h.get("attempt", 0) for h in self.history), default=0) + 1
            history_file.parent.mkdir(parents=True, exist_ok=True)
            history_file.write_text("".join(json.dumps(h) + "\n" for h in self.history))
        self._last: tuple[float, float] | None = None  # (time, tokens) at the previous log
        self.train_seconds = 0.0
        self._began: float | None = None

    def on_train_begin(self, args, state, control, **kw):
        self._began = time.perf_counter()
        self._last = None

    def on_train_end(self, args, state, control, **kw):
        if self._began is not None:
            self.train_seconds += time.perf_counter() - self._began

    def on_log(self, args, state, control, logs=None, **kw):
        if logs is None:
            return
        now = time.perf_counter()
        tokens = state.num_input_tokens_seen  # non-padding tokens, all ranks
        if tokens and "loss" in logs:
            if self._last is not None and now > self._last[0] and tokens > self._last[1]:
                rate = (tokens - self._last[1]) / (now - self._last[0])
                logs["tokens_per_s"] = round(rate, 1)
                if self.peak:
                    logs["mfu"] = round(rate * self.flops_token / (self.peak * 1e12 * self.world), 4)
            self._last = (now, tokens)
        entry = {"step": state.global_step, **{k: v for k, v in logs.items() if _jsonable(v)}}
        if self.history_file is not None:
            entry["attempt"] = self.attempt
            with self.history_file.open("a") as f:
                f.write(json.dumps(entry) + "\n")
        self.history.append(entry)


def mean_train_loss(history: list[dict]) -> float | None:
    """The mean training loss over every step of the run, from logged losses (each the mean over
    the steps since the previous log), whatever attempt logged them."""
    total = steps = 0.0
    last = 0
    for h in sorted((h for h in history if "loss" in h and "step" in h), key=lambda h: h["step"]):
        if h["step"] <= last:
            continue
        total += h["loss"] * (h["step"] - last)
        steps += h["step"] - last
        last = h["step"]
    return total / steps if steps else None


def _jsonable(v) -> bool:
    return isinstance(v, (int, float, str, bool)) or v is None


def write_report(out: Path, history: list[dict], summary: dict) -> None:
    """training_report.json (summary + every log line) and loss.png (train and per-task eval loss)."""
    (out / "training_report.json").write_text(json.dumps({**summary, "history": history}, indent=1))
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    train = [(h["step"], h["loss"]) for h in history if "loss" in h]
    if train:
        ax.plot(*zip(*train), label="train", color="black", linewidth=1.2)
    tasks = sorted({k[5:-5] for h in history for k in h if k.startswith("eval_") and k.endswith("_loss")})
    for task in tasks:
        pts = [(h["step"], h[f"eval_{task}_loss"]) for h in history if f"eval_{task}_loss" in h]
        ax.plot(*zip(*pts), marker="o", markersize=3, linewidth=1, label=f"held-out {task}")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (per label token)")
    ax.set_title(summary.get("title", "training loss"))
    ax.grid(alpha=0.3)
    if train or tasks:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "loss.png")
    plt.close(fig)
