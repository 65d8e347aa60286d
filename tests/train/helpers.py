"""Running the train worker as a real process (for kills and launchers)."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_env(**extra) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONUNBUFFERED": "1"}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def worker_args(spec, data: Path, out: Path, work: Path, tmp: Path) -> list[str]:
    spec_file = tmp / f"spec-{work.name}.json"
    spec_file.write_text(spec.model_dump_json())
    return [sys.executable, "-m", "alchemist.train.worker", str(spec_file), str(data), str(out), str(work)]


def run_worker(spec, data, out, work, tmp, timeout=300, **env) -> tuple[dict, str]:
    p = subprocess.run(worker_args(spec, data, out, work, tmp), env=worker_env(**env), cwd=ROOT,
                       capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1]), p.stderr


def logged_losses(work: Path) -> dict[int, float]:
    """step -> train loss from the last checkpoint's trainer state (the whole run's history)."""
    last = max((work / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    state = json.loads((last / "trainer_state.json").read_text())
    return {h["step"]: h["loss"] for h in state["log_history"] if "loss" in h}
