"""A few GRPO steps on a tiny policy on a CPU, rewarded by real sandbox verdicts; a run killed
mid-way resumes from its last checkpoint."""

import json
import signal
import subprocess
import sys
import time
from collections import defaultdict

import pytest

from alchemist.execution import Limits
from alchemist.rl.checks import candidate_code, suite
from alchemist.rl.prompts import select
from alchemist.rl.reward import SandboxReward
from alchemist.rl.spec import RLSpec
from alchemist.rl.trainer import grpo
from tests.helpers import ROOT
from tests.rl.conftest import samples


def tiny_rl(**kw) -> RLSpec:
    base = dict(model="builtin:tiny", num_generations=4, prompts_per_step=2, micro_batch_size=4, max_steps=2,
                max_completion_length=40, save_steps=1, lr=1e-4, beta=0.04, report_to=["tensorboard"],
                reward={"timeout": 4, "call_timeout": 60, "workers": 2})
    return RLSpec(**{**base, **kw})


def prompts():
    return select(samples(), 0.0, 0, 1, None, True).train


@pytest.mark.slow
def test_grpo_steps_are_rewarded_by_sandbox_verdicts(policy, tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    summary = grpo(tiny_rl(), str(policy), prompts(), out, work, seed=0, say=lambda m: None)
    assert summary["steps"] == 2 and summary["completions_scored"] == 16
    log = [json.loads(x) for x in (work / "rewards.rank0.jsonl").read_text().splitlines()]
    assert len(log) == 16
    # every reward is a verdict's share of tests, and some completions solved their problem
    # while others did not: the policy's samples really ran
    assert all(x["reward"] == (x["passed"] / x["total"] if x["status"] in ("passed", "failed") else 0.0) for x in log)
    assert any(x["status"] == "passed" for x in log) and any(x["reward"] < 1 for x in log)
    # the same completions scored again, in a fresh sandbox, get the same rewards
    by_id = {s.id: s for s in samples()}
    again = SandboxReward(Limits(timeout=4), call_timeout=60, workers=2)
    try:
        for x in log:
            if x["status"] in ("passed", "failed"):
                sample = by_id[x["sample_id"]]
                s = suite(sample.tests, reference=candidate_code(sample.response))
                assert again.score(x["completion"], s).reward == x["reward"], x
    finally:
        again.close()
    # per step: the logged reward is the mean of that step's verdicts
    per_step = defaultdict(list)
    for x in log:
        per_step[x["step"] + 1].append(x["reward"])
    report = json.loads((out / "training_report.json").read_text())
    assert [r["step"] for r in report["per_step"]] == [1, 2]
    for row in report["per_step"]:
        assert row["reward"] == pytest.approx(sum(per_step[row["step"]]) / 8, abs=1e-6)
        assert {"kl", "pass_rate", "completions/mean_length"} <= row.keys()
    assert (out / "reward.png").is_file() and (out / "config.json").is_file() and (out / "logs").is_dir()


@pytest.mark.slow
def test_a_killed_run_resumes_from_its_last_checkpoint(policy, tmp_path):
    steps = 4
    work, out = tmp_path / "work", tmp_path / "out"
    work.mkdir()
    spec_file, prompts_file = tmp_path / "spec.json", tmp_path / "prompts.jsonl"
    spec_file.write_text(tiny_rl(max_steps=steps, report_to=[]).model_dump_json())
    prompts_file.write_text("".join(json.dumps(r) + "\n" for r in prompts()))
    args = [sys.executable, "-m", "alchemist.rl.worker", str(spec_file), str(prompts_file), str(policy), str(out),
            str(work), "0"]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = work / "checkpoints" / "checkpoint-2" / "trainer_state.json"
    deadline = time.monotonic() + 600
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (out / "training_report.json").exists()
    killed_at = max(int(p.name.split("-")[1]) for p in (work / "checkpoints").glob("checkpoint-*"))
    assert 2 <= killed_at < steps

    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resuming from checkpoint-" in done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary["steps"] == steps and summary["resumed_from"].startswith("checkpoint-") and summary["attempts"] == 2
    report = json.loads((out / "training_report.json").read_text())
    assert [r["step"] for r in report["per_step"]] == list(range(1, steps + 1))
