import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from alchemist.train.spec import TrainSpec

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["cl-7b.yaml", "7b-lora.yaml"])
def test_shipped_train_sections_validate(name):
    spec = TrainSpec(**yaml.safe_load((ROOT / "recipes" / name).read_text())["train"])
    assert spec.max_seq_len == 8192 and spec.packing and spec.epochs == 2


def test_launch_defaults_exist():
    assert TrainSpec().launch.nproc_per_node == "auto"


@pytest.mark.slow
def test_gpu_mfu_script_runs_on_cpu_with_the_stages_kernel(tmp_path):
    import json

    env = {"OMP_NUM_THREADS": "2", "PATH": "", "OUT": str(tmp_path)}
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu" / "train_mfu.py"), "--tiny"],
                       capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 0, p.stderr[-2000:]
    lines = [line for line in p.stdout.splitlines() if " tok/s" in line]
    assert len(lines) == 2 and all("sdpa_varlen" in line and "packed=alone yes" in line for line in lines)
    result = json.loads((tmp_path / "train_mfu-cpu-tiny.json").read_text())  # into $OUT, nowhere else
    assert [c["gradient_checkpointing"] for c in result["configs"]] == [False, True]
    assert all(c["attention"] == "sdpa_varlen" and c["tokens_per_s"] > 0 for c in result["configs"])
