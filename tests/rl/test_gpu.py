"""On a GPU with vLLM: GRPO generates through TRL's vLLM path (colocated), rewarded by the sandbox."""

import importlib.util
import json

import pytest

from tests.rl.test_grpo import prompts, tiny_rl

torch = pytest.importorskip("torch")
GPU = torch.cuda.is_available() and importlib.util.find_spec("vllm") is not None


@pytest.mark.skipif(not GPU, reason="needs a CUDA GPU and vllm: GRPO's vLLM generation (rl.use_vllm) runs only there")
def test_grpo_generates_with_vllm_on_a_gpu(policy, tmp_path):
    from alchemist.rl.trainer import grpo

    summary = grpo(tiny_rl(use_vllm=True, bf16="auto", vllm_gpu_memory_utilization=0.2), str(policy), prompts(),
                   tmp_path / "out", tmp_path / "work", seed=0, say=lambda m: None)
    assert summary["generation"] == "vllm" and summary["steps"] == 2 and summary["completions_scored"] == 16
    log = [json.loads(x) for x in (tmp_path / "work" / "rewards.rank0.jsonl").read_text().splitlines()]
    assert any(x["status"] == "passed" for x in log)


def test_use_vllm_true_without_a_gpu_is_one_line():
    from alchemist.errors import UserError
    from alchemist.rl.trainer import use_vllm

    if GPU:
        pytest.skip("this machine has a GPU and vllm")
    with pytest.raises(UserError, match="rl.use_vllm: true needs a CUDA GPU and vllm"):
        use_vllm(tiny_rl(use_vllm=True), cuda=torch.cuda.is_available())
    assert use_vllm(tiny_rl(use_vllm="auto"), cuda=torch.cuda.is_available()) is False
