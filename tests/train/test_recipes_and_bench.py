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
def test_gpu_mfu_script_runs_on_cpu_with_a_tiny_shape(tmp_path):
    out = tmp_path / "mfu.json"
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu" / "train_mfu.py"), "--tiny", "--out", str(out)],
                       capture_output=True, text=True, timeout=300, env={"OMP_NUM_THREADS": "2", "PATH": ""})
    assert p.returncode == 0, p.stderr[-2000:]
    import json

    result = json.loads(out.read_text())
    assert result["packed_vs_alone"]["agree"] and result["tokens_per_s"] > 0
