"""DeepSpeed ZeRO-2 and ZeRO-3 on CPU, one rank and two (torchrun): the same losses as plain
training, and a model directory that loads."""

import sys

import pytest
from transformers import AutoModelForCausalLM

from tests.train.conftest import tiny_spec
from tests.train.helpers import free_port, logged_losses, run_worker

STEPS = 3


def spec(model, stage=0, accum=2):
    return tiny_spec(model, max_steps=STEPS, grad_accum=accum, save_steps=STEPS, deepspeed={"stage": stage})


def one_rank():
    return dict(RANK=0, WORLD_SIZE=1, LOCAL_RANK=0, LOCAL_WORLD_SIZE=1, MASTER_ADDR="127.0.0.1", MASTER_PORT=free_port())


@pytest.fixture(scope="module")
def plain(tiny_model, data_path, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("plain")
    run_worker(spec(tiny_model), data_path, tmp / "out", tmp / "work", tmp)
    return logged_losses(tmp / "work")


@pytest.mark.slow
@pytest.mark.parametrize("stage", [2, 3])
def test_zero_one_rank_matches_plain(tiny_model, data_path, tmp_path, plain, stage):
    stats, said = run_worker(spec(tiny_model, stage), data_path, tmp_path / "out", tmp_path / "work", tmp_path,
                             timeout=420, **one_rank())
    assert f"DeepSpeed ZeRO-{stage}" in said
    got = logged_losses(tmp_path / "work")
    assert got == pytest.approx(plain, abs=1e-5)
    AutoModelForCausalLM.from_pretrained(tmp_path / "out")


@pytest.mark.slow
@pytest.mark.parametrize("stage", [2, 3])
def test_zero_two_ranks_torchrun(tiny_model, data_path, tmp_path, plain, stage):
    # 2 ranks x accum 1 sees the same rows per step as 1 rank x accum 2
    s = spec(tiny_model, stage, accum=1)
    from tests.train.helpers import worker_args

    args = worker_args(s, data_path, tmp_path / "out", tmp_path / "work", tmp_path)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(free_port()), *args[1:]]
    import subprocess

    from tests.train.helpers import ROOT, worker_env

    p = subprocess.run(cmd, env=worker_env(), cwd=ROOT, capture_output=True, text=True, timeout=420)
    assert p.returncode == 0, p.stderr[-3000:]
    got = logged_losses(tmp_path / "work")
    assert list(got) == list(plain)
    assert got == pytest.approx(plain, abs=1e-4)
    AutoModelForCausalLM.from_pretrained(tmp_path / "out")
