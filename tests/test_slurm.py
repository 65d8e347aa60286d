"""`alchemist slurm RECIPE`: sbatch scripts that parse, carry the recipe's Slurm settings and the
resolved recipe's absolute path, and (on the one-node cluster the curate tests start) run."""

import subprocess
import time

import pytest

from alchemist.errors import UserError
from alchemist.recipe import load_recipe
from alchemist.slurm import write_slurm_scripts
from tests.curate.test_executors import needs_slurm, slurm_cluster
from tests.helpers import ROOT


def recipe_file(tmp_path, extra: str, executor: str = "{type: slurm, partition: cpu, workers: 2, qos: low, time: '02:00:00'}"):
    p = tmp_path / "r.yaml"
    p.write_text(f"""name: t
output_dir: {tmp_path / 'run'}
sources:
  - {{name: a, adapter: alpaca, path: {ROOT / 'data_sources/samples/code_alpaca.jsonl'}}}
curate:
  decontaminate: {{benchmarks: [humaneval], structure: false, embedding: false}}
  executor: {executor}
{extra}""")
    return p


FULL = """train:
  model: builtin:tiny
  launch: {partition: gpu, account: proj, gpus_per_node: 4, nnodes: 2, time: '10:00:00'}
eval:
  llm: {backend: vllm, model: train, tensor_parallel_size: 2}
  benchmarks: [humaneval]
"""


def sbatch_lines(path):
    return [line for line in path.read_text().splitlines() if line.startswith("#SBATCH")]


def test_scripts_for_every_stage_parse_and_carry_the_settings(tmp_path):
    recipe = load_recipe(recipe_file(tmp_path, FULL))
    paths = write_slurm_scripts(recipe, tmp_path / "slurm", nodes=4)
    assert [p.name for p in paths] == ["data.sbatch", "train.sbatch", "eval.sbatch", "submit.sh"]
    for p in paths:
        r = subprocess.run(["bash", "-n", str(p)], capture_output=True, text=True)
        assert r.returncode == 0, (p.name, r.stderr)
    resolved = (tmp_path / "slurm" / "recipe.resolved.yaml").resolve()
    expected = recipe.model_dump()
    expected["train"]["launch"]["nnodes"] = 4  # --nodes 4
    assert load_recipe(resolved).model_dump() == expected
    data, train, ev, submit = paths

    # data: a one-CPU driver on the executor's partition; the curate stage submits the arrays
    assert {"#SBATCH --partition=cpu", "#SBATCH --qos=low", "#SBATCH --time=02:00:00", "#SBATCH --cpus-per-task=1",
            "#SBATCH --job-name=t-data"} <= set(sbatch_lines(data))
    assert f"alchemist data {resolved}" in data.read_text()
    # train: --nodes overrides train.launch.nnodes; torchrun on every node
    assert {"#SBATCH --nodes=4", "#SBATCH --gpus-per-node=4", "#SBATCH --partition=gpu", "#SBATCH --account=proj",
            "#SBATCH --time=10:00:00"} <= set(sbatch_lines(train))
    assert f"alchemist train {resolved}" in train.read_text()
    # eval: vLLM over tensor_parallel_size GPUs, then the stages after it
    assert {"#SBATCH --gpus-per-node=2", "#SBATCH --partition=gpu", "#SBATCH --nodes=1"} <= set(sbatch_lines(ev))
    assert f"alchemist run {resolved} --from eval" in ev.read_text()
    # each job after the one before it succeeded
    text = submit.read_text()
    assert text.index(str(data)) < text.index(str(train)) < text.index(str(ev))
    assert text.count("--dependency=afterok:") == 3


def test_local_executor_data_job_takes_the_cores_it_uses(tmp_path):
    recipe = load_recipe(recipe_file(tmp_path, "", executor="{workers: 16}"))
    paths = write_slurm_scripts(recipe, tmp_path / "slurm")
    assert [p.name for p in paths] == ["data.sbatch", "submit.sh"]
    assert "#SBATCH --cpus-per-task=16" in sbatch_lines(paths[0])
    recipe = load_recipe(recipe_file(tmp_path, "", executor="{workers: 0}"))
    assert "#SBATCH --exclusive" in sbatch_lines(write_slurm_scripts(recipe, tmp_path / "slurm2")[0])


def test_nodes_without_train_and_deepspeed_across_nodes_are_refused(tmp_path):
    with pytest.raises(UserError, match="no enabled train section"):
        write_slurm_scripts(load_recipe(recipe_file(tmp_path, "")), tmp_path / "s", nodes=2)
    recipe = load_recipe(recipe_file(tmp_path, "train: {model: 'builtin:tiny', launch: {launcher: deepspeed}}\n"))
    with pytest.raises(UserError, match="launcher: torchrun"):
        write_slurm_scripts(recipe, tmp_path / "s", nodes=2)


@needs_slurm
@pytest.mark.slow
def test_data_job_drives_curation_arrays_on_a_real_cluster(tmp_path, monkeypatch):
    """The data job runs `alchemist data`, whose curate stage submits datatrove job arrays from
    inside it (its SLURM_* variables kept out of them) and waits; the run ends with curated data."""
    from alchemist.curate import executors, verdicts

    if getattr(verdicts, "execute", None) is not executors.execute:
        pytest.skip("alchemist/curate/verdicts.py does not run its steps through executors.execute yet")
    p = recipe_file(tmp_path, "", executor="{type: slurm, partition: debug, workers: 1, time: '00:10:00', mem_per_cpu_gb: 0.5}")
    paths = write_slurm_scripts(load_recipe(p), tmp_path / "slurm")
    with slurm_cluster() as conf:
        monkeypatch.setenv("SLURM_CONF", str(conf))
        r = subprocess.run(["bash", str(paths[-1])], capture_output=True, text=True, check=True)
        job = r.stdout.split("job ")[1].split()[0]
        deadline = time.monotonic() + 120
        while subprocess.run(["squeue", "-h", "-j", job], capture_output=True, text=True).stdout.strip():
            assert time.monotonic() < deadline, "the data job did not finish in 120 s"
            time.sleep(0.5)
        # job ids count up: the ones between the data job and a probe are what it submitted
        probe = subprocess.run(["sbatch", "--parsable", "--wrap=true"], capture_output=True, text=True, check=True).stdout
    log = next((tmp_path / "slurm").glob("data-*.out")).read_text()
    assert (tmp_path / "run" / "data" / "curated" / "samples.parquet").is_file(), log[-3000:]
    assert (tmp_path / "run" / "data" / "final").is_dir(), log[-3000:]
    # 4 curation steps (screen, MinHash buckets, clusters, filter), each an array and its stats merge
    assert int(probe.split(";")[0]) - int(job) - 1 == 8
