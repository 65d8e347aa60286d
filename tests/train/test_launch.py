import sys

import pytest

from alchemist.errors import UserError
from alchemist.train.launch import command, read_hostfile, sbatch_script
from alchemist.train.spec import TrainSpec

ARGS = ["spec.json", "train.parquet", "out", "work", "0"]


@pytest.fixture(autouse=True)
def not_under_a_launcher(monkeypatch):
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)


def test_one_process_runs_in_place():
    assert command(TrainSpec(launch={"nproc_per_node": 1}), ARGS, env={}) is None


def test_one_node_torchrun():
    cmd = command(TrainSpec(launch={"nproc_per_node": 8}), ARGS, env={})
    assert cmd == [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "8",
                   "-m", "alchemist.train.worker", *ARGS]


def test_multi_node_torchrun_through_srun():
    spec = TrainSpec(launch={"nproc_per_node": 8, "nnodes": 4, "master_port": 29600})
    cmd = command(spec, ARGS, env={"SLURM_JOB_NUM_NODES": "4", "MASTER_ADDR": "node001"})
    assert cmd[:4] == ["srun", "--nodes=4", "--ntasks-per-node=1", "--kill-on-bad-exit=1"]
    assert "--rdzv_endpoint" in cmd and cmd[cmd.index("--rdzv_endpoint") + 1] == "node001:29600"
    assert cmd[cmd.index("--nnodes") + 1] == "4" and cmd[-5:] == ARGS
    with pytest.raises(UserError, match="train.launch.nnodes: 4 nodes need a Slurm allocation"):
        command(spec, ARGS, env={})


def test_deepspeed_launcher_with_hostfile(tmp_path):
    hf = tmp_path / "hostfile"
    hf.write_text("# two nodes\nworker-1 slots=8\nworker-2 slots=8\n")
    assert read_hostfile(hf) == [("worker-1", 8), ("worker-2", 8)]
    cmd = command(TrainSpec(launch={"launcher": "deepspeed", "nnodes": 2, "hostfile": str(hf)}), ARGS, env={})
    assert cmd[:3] == ["deepspeed", "--hostfile", str(hf)] and "--module" in cmd
    hf.write_text("worker-1 8\n")
    with pytest.raises(UserError, match=r"hostfile:1: expected `host slots=N`"):
        read_hostfile(hf)
    with pytest.raises(UserError, match="needs a hostfile"):
        command(TrainSpec(launch={"launcher": "deepspeed", "nnodes": 2}), ARGS, env={})


def test_inside_a_launcher_nothing_more_is_started(monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "8")
    assert command(TrainSpec(launch={"nproc_per_node": 8}), ARGS, env={}) is None


def test_sbatch_script():
    spec = TrainSpec(launch={"nnodes": 4, "gpus_per_node": 8, "partition": "gpu", "time": "12:00:00"})
    text = sbatch_script(spec, "/runs/7b/recipe.resolved.yaml", "/runs/7b", "alchemist-7b", workdir="/src")
    assert text.startswith("#!/bin/bash\n")
    for line in ("#SBATCH --nodes=4", "#SBATCH --gpus-per-node=8", "#SBATCH --partition=gpu",
                 "#SBATCH --time=12:00:00", "#SBATCH --output=/runs/7b/slurm-%j.out",
                 "alchemist train /runs/7b/recipe.resolved.yaml", "export MASTER_PORT=29500"):
        assert line in text.splitlines()
