"""A training process killed with SIGKILL resumes from its last checkpoint and reaches the same
loss at the same step as a run that was never interrupted."""

import json
import signal
import subprocess
import time

import pytest

from tests.train.conftest import tiny_spec
from tests.train.helpers import ROOT, logged_losses, run_worker, worker_args, worker_env

STEPS = 24


@pytest.mark.slow
def test_sigkill_then_resume_matches_uninterrupted(tiny_model, data_path, tmp_path):
    spec = tiny_spec(tiny_model, max_steps=STEPS, epochs=20, save_steps=4, save_total_limit=2, grad_accum=2,
                     scheduler="cosine", warmup_ratio=0.1)
    whole, _ = run_worker(spec, data_path, tmp_path / "out-a", tmp_path / "work-a", tmp_path)
    assert whole["steps"] == STEPS

    work = tmp_path / "work-b"
    proc = subprocess.Popen(worker_args(spec, data_path, tmp_path / "out-b", work, tmp_path), env=worker_env(),
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = work / "checkpoints" / "checkpoint-8" / "trainer_state.json"
    deadline = time.monotonic() + 240
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (tmp_path / "out-b").exists()
    killed_at = max(int(p.name.split("-")[1]) for p in (work / "checkpoints").glob("checkpoint-*"))
    assert 8 <= killed_at < STEPS

    resumed, said = run_worker(spec, data_path, tmp_path / "out-b", work, tmp_path)
    assert "resuming from checkpoint-" in said
    assert resumed["resumed_from"].startswith("checkpoint-") and resumed["steps"] == STEPS
    a, b = logged_losses(tmp_path / "work-a"), logged_losses(work)
    assert sorted(a) == sorted(b) == list(range(1, STEPS + 1))
    for step in a:
        assert b[step] == pytest.approx(a[step], abs=1e-6), step
    # the resumed run's report covers both attempts, as the uninterrupted one covers its one
    report = json.loads((tmp_path / "out-b" / "training_report.json").read_text())
    assert sorted(h["step"] for h in report["history"] if "loss" in h) == list(range(1, STEPS + 1))
    assert report["attempts"] == 2 and report["train_loss_mean"] == pytest.approx(whole["train_loss_mean"], abs=1e-5)
