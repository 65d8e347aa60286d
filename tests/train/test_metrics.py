"""MFU's two inputs: model FLOPs per token (full and LoRA) and each GPU's peak by form factor;
and the one-line errors of a missing DeepSpeed and of a model that hides position ids."""

import sys

import pytest
import torch

from alchemist.errors import UserError
from alchemist.train import deepspeed as ds
from alchemist.train.metrics import flops_per_token, peak_for


def test_lora_counts_the_weight_gradients_of_trainable_parameters_only():
    n, layers, hidden, length = 7_000_000_000, 32, 4096, 500.0
    attention = 12 * layers * hidden * length
    assert flops_per_token(n, layers, hidden, length) == 6 * n + attention
    lora = flops_per_token(n, layers, hidden, length, trainable=40_000_000)
    assert lora == 4 * n + 2 * 40_000_000 + attention
    assert 1.45 < flops_per_token(n, layers, hidden, length) / lora < 1.55  # the 1.5x the 6N count overstated


@pytest.mark.parametrize("name, peak", [
    ("NVIDIA H100 80GB HBM3", 989.0), ("NVIDIA H100 PCIe", 756.0), ("NVIDIA H100 NVL", 835.0),
    ("NVIDIA H200", 989.0), ("NVIDIA H200 NVL", 835.0), ("NVIDIA GH200 480GB", 989.0),
    ("NVIDIA A100-SXM4-80GB", 312.0), ("NVIDIA L40S", 362.0), ("Some New GPU", None),
])
def test_gpu_peaks_follow_the_form_factor(name, peak):
    assert peak_for(name) == peak


def test_missing_deepspeed_is_one_line(monkeypatch):
    for mod in [m for m in sys.modules if m == "deepspeed" or m.startswith("deepspeed.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "deepspeed", None)  # import deepspeed -> ImportError, as when not installed
    with pytest.raises(UserError, match=r"train.deepspeed: needs deepspeed \(pip install deepspeed\)"):
        ds.config(2, "none", None)


def test_sdpa_varlen_refuses_a_packed_row_without_position_ids():
    from alchemist.train.varlen import _attention

    module = torch.nn.Module()
    q = torch.randn(1, 2, 8, 4)
    with pytest.raises(ValueError, match="passes no position_ids to its attention"):
        _attention(module, q, q, q, None)
    pos = torch.tensor([[0, 1, 2, 0, 1, 2, 3, 4]])
    out, _ = _attention(module.eval(), q, q, q, None, position_ids=pos)
    assert out.shape == (1, 8, 2, 4)


def test_a_resumed_run_reports_every_attempts_steps(tmp_path):
    from types import SimpleNamespace

    from alchemist.train.metrics import MetricsCallback, mean_train_loss

    def attempt(resumed_at, steps):
        meter = MetricsCallback(100.0, None, history_file=tmp_path / "history.jsonl", resumed_at=resumed_at)
        for step in steps:
            meter.on_log(None, SimpleNamespace(global_step=step, num_input_tokens_seen=step * 10), None,
                         logs={"loss": float(step), "learning_rate": 0.1})
        return meter.history

    attempt(0, range(1, 7))  # killed after step 6; its last whole checkpoint is step 4
    with (tmp_path / "history.jsonl").open("a") as f:
        f.write('{"step": 7, "lo')  # a line cut by the kill
    merged = attempt(4, range(5, 9))
    assert [(h["step"], h["attempt"]) for h in merged] == [(1, 1), (2, 1), (3, 1), (4, 1), (5, 2), (6, 2), (7, 2), (8, 2)]
    assert mean_train_loss(merged) == pytest.approx(sum(range(1, 9)) / 8)
    # logged every 2 steps: each logged loss stands for the steps since the previous log
    assert mean_train_loss([{"step": 2, "loss": 1.0}, {"step": 6, "loss": 4.0}]) == pytest.approx((2 + 16) / 6)
