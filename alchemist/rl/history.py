"""Per-step metrics of a GRPO run, kept across attempts (a resumed run's report covers the whole
run), and the report: training_report.json and reward.png."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from transformers import TrainerCallback

from alchemist.training import read_lines

# what the report plots and tabulates per step, under the names TRL logs them
SHOWN = {"reward": "reward", "pass_rate": "pass rate", "kl": "KL", "completions/mean_length": "response length"}


def _jsonable(v) -> bool:
    return isinstance(v, (int, str, bool)) or (isinstance(v, float) and math.isfinite(v))


class History(TrainerCallback):
    """Every log line with its step and attempt, appended to `path`; lines past the checkpoint
    resumed from (`resumed_at`) are steps this attempt redoes, and are dropped."""

    def __init__(self, path: Path | None, resumed_at: int = 0):
        self.path = path
        self.lines: list[dict] = []
        self.attempt = 1
        if path is not None:
            self.lines = [h for h in read_lines(path) if h.get("step", 0) <= resumed_at]
            self.attempt = max((h.get("attempt", 0) for h in self.lines), default=0) + 1
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(json.dumps(h) + "\n" for h in self.lines))

    def on_log(self, args, state, control, logs=None, **kw):
        if not logs:
            return
        entry = {"step": state.global_step, **{k: v for k, v in logs.items() if _jsonable(v)}, "attempt": self.attempt}
        if self.path is not None:
            with self.path.open("a") as f:
                f.write(json.dumps(entry) + "\n")
        self.lines.append(entry)


def steps(history: list[dict]) -> list[dict]:
    """One row per optimizer step with the metrics the report shows (the training log lines,
    not the final summary line)."""
    rows = {}
    for h in history:
        if "reward" in h:
            rows[h["step"]] = {"step": h["step"], **{k: h[k] for k in SHOWN if k in h}}
    return [rows[s] for s in sorted(rows)]


def write_report(out: Path, history: list[dict], summary: dict) -> None:
    (out / "training_report.json").write_text(json.dumps({**summary, "per_step": steps(history), "history": history}, indent=1))
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib  # heavy: only when a report is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = steps(history)
    fig, axes = plt.subplots(1, len(SHOWN), figsize=(12, 3), dpi=110)
    for ax, (key, label) in zip(axes, SHOWN.items()):
        pts = [(r["step"], r[key]) for r in rows if key in r]
        if pts:
            ax.plot(*zip(*pts), marker="o", markersize=3, linewidth=1.2, color="black")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(summary.get("title", "GRPO"), fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "reward.png")
    plt.close(fig)
