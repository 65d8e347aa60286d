"""The rl stage in a run: off without an `rl:` section, GRPO from a named policy on samples with
tests, its outputs in rl/, fingerprinted (a rerun skips it, a changed setting reruns it)."""

import json

import pytest
import yaml

from alchemist.evaluate.stage import Eval, trained_model
from alchemist.pipeline import dependents
from alchemist.recipe import load_recipe
from alchemist.rl.checks import candidate_code
from alchemist.rundir import OUTPUTS
from alchemist.stage import RunContext
from tests.helpers import run_cli, write_jsonl
from tests.rl.conftest import samples


def recipe(tmp_path, policy, problems, **rl) -> object:
    data = write_jsonl(tmp_path / "d.jsonl", [{"instruction": "Write f that returns one.",
                                               "output": "```python\ndef f():\n    return 1\n```"}])
    spec = {"name": "rl", "output_dir": str(tmp_path / "run"),
            "sources": [{"name": "a", "adapter": "alpaca", "path": str(data)}],
            "curate": {"dedup": {"exact": True, "near": False}, "decontaminate": {"enabled": False}},
            "rl": {"model": str(policy), "data": str(problems), "held_out": 0.4, "num_generations": 4,
                   "prompts_per_step": 2, "micro_batch_size": 4, "max_steps": 1, "max_completion_length": 40,
                   "lr": 1e-4, "report_to": [], "reward": {"timeout": 4, "call_timeout": 60, "workers": 2}, **rl}}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_rl_is_off_without_its_section(tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", [{"instruction": "Write f.", "output": "def f():\n    return 1\n"}])
    path = tmp_path / "r.yaml"
    path.write_text(f"name: s\noutput_dir: {tmp_path / 'run'}\nsources: [{{name: a, adapter: alpaca, path: {data}}}]\n")
    assert load_recipe(path).rl is None and OUTPUTS["rl"] == "rl"


def test_eval_scores_the_rl_model_when_rl_is_enabled(tmp_path, problems):
    """`eval.llm.model: train` is the model the run ends with: rl/ after GRPO, else train/."""
    r = load_recipe(recipe(tmp_path, tmp_path / "policy", problems))
    run = tmp_path / "run"
    assert trained_model(RunContext(r, enabled={"train": True, "rl": True})) == run / OUTPUTS["rl"]
    assert trained_model(RunContext(r, enabled={"train": True, "rl": False})) == run / OUTPUTS["train"]
    assert "rl" in Eval.reads and "eval" in dependents({"rl"}, {"rl": True, "eval": True})  # a new RL model rescored


def test_rl_names_a_model_that_cannot_exist_in_one_line(tmp_path, problems):
    path = recipe(tmp_path, tmp_path / "no-such-model", problems)
    r = run_cli("run", str(path))
    assert r.returncode == 2 and "rl.model:" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "run" / "rl").exists()


def mbpp_recipe(tmp_path, policy) -> object:
    """The run's own data: the problems as MBPP ships its records (text, code, test_list), read by
    the mapped adapter, whose tests the rl stage turns into prompts (rl.data: null)."""
    path = recipe(tmp_path, policy, tmp_path / "unused.parquet")
    spec = yaml.safe_load(path.read_text())
    records = [{"text": s.instruction, "code": candidate_code(s.response), "task_id": 10 + i, "test_setup_code": "",
                "test_list": s.tests["code"].splitlines(), "challenge_test_list": []} for i, s in enumerate(samples())]
    spec["sources"] = [{"name": "mbpp", "adapter": "mapped", "path": str(write_jsonl(tmp_path / "mbpp.jsonl", records)),
                        "options": {"fields": {"instruction": "text", "response": "code", "tests": "test_list",
                                               "test_setup": "test_setup_code"}}}]
    spec["rl"]["data"] = None
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.mark.slow
def test_rl_stage_runs_in_the_pipeline_and_is_fingerprinted(tmp_path, policy):
    path = mbpp_recipe(tmp_path, policy)
    r = run_cli("run", str(path), timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    out = tmp_path / "run" / "rl"
    report = json.loads((out / "training_report.json").read_text())
    assert report["steps"] == 1 and report["completions_scored"] == 8 and report["prompts"] == 2
    held = [json.loads(x) for x in (out / "held_out.jsonl").read_text().splitlines()]
    assert len(held) == 1 and held[0]["suite"]["names"] == ["add"]
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    counts = record["stages"]["rl"]["counts"]
    assert record["stages"]["rl"]["status"] == "done" and counts["selection"] == {"read": 3, "reference_fails": 0}
    assert (out / "config.json").is_file() and not (tmp_path / "run" / "work" / "rl").exists()
    page = (tmp_path / "run" / "report.html").read_text()
    assert 'id="rl"' in page and "Summary (rl/training_report.json)" in page and "GRPO reward" in page

    again = run_cli("run", str(path), timeout=900)
    assert again.returncode == 0 and "rl          skipped" in again.stderr
    changed = run_cli("run", str(path), "--set", "rl.lr=2e-4", timeout=900)
    assert changed.returncode == 0, changed.stderr[-3000:]
    assert "rl: recipe or inputs changed" in changed.stderr
