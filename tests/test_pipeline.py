"""`alchemist run recipes/tiny.yaml` end to end, reruns, and a run killed half-way."""

import json
import os
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from tests.helpers import ROOT, run_cli, stdlib_functions, write_jsonl


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    r = run_cli("run", "recipes/tiny.yaml", "--set", f"output_dir={out}")
    assert r.returncode == 0, r.stderr
    return out, r


def test_tiny_accounts_for_every_record(tiny_run):
    out, _ = tiny_run
    manifest = json.loads((out / "data" / "manifest.json").read_text())
    assert set(manifest["sources"]) == {"code_alpaca", "evol_instruct", "oss_instruct", "sharegpt", "chat_messages",
                                        "commits", "snippets"}
    for name, s in manifest["sources"].items():
        assert s["read"] == s["kept"] + sum(s["dropped"].values()), name
        assert s["read"] > 0 and s["kept"] > 0, name
    dropped = manifest["total"]["dropped"]
    for reason in ("malformed", "exact_duplicate", "near_duplicate", "contaminated", "empty_response"):
        assert dropped.get(reason, 0) > 0, reason
    final = pq.read_table(out / "data" / "final" / "train.parquet")
    assert final.num_rows == manifest["final"]["rows"]
    tasks = set(final.column("task").to_pylist())
    assert "code_snippet" not in tasks and "codegen" in tasks  # snippets are seeds, not training rows
    assert manifest["relabel"]["data_filtering"] == 8  # the tiny recipe asks for 8; built without an LLM
    assert manifest["relabel"]["llm_requests"] > 0
    assert manifest["sources"]["commits"]["final_rows"] == 2 * manifest["sources"]["commits"]["kept"]
    assert (out / "recipe.resolved.yaml").is_file()
    results = json.loads((out / "eval" / "humaneval" / "results.json").read_text())
    assert results["tasks_scored"] == 164 and results["pass_at_k"]["pass@1"] == 0.0  # a random model solves nothing
    board = json.loads((out / "leaderboard" / "leaderboard.json").read_text())
    assert any(not r["reference"] for r in board["rows"]) and (out / "leaderboard" / "index.html").is_file()


def test_tiny_report_lists_contamination_with_task_ids(tiny_run):
    out, _ = tiny_run
    report = (out / "data" / "report.md").read_text()
    assert "## Contamination hits" in report
    assert "HumanEval/" in report and "private/" in report
    rejected = pq.read_table(out / "data" / "curated" / "rejected.parquet").to_pylist()
    contaminated = [r for r in rejected if r["reason"] == "contaminated"]
    assert contaminated and all(json.loads(r["detail"])["matches"] for r in contaminated)


def test_rerun_skips_unchanged_stages_and_redoes_changed_ones(tiny_run):
    out, _ = tiny_run
    r = run_cli("data", "recipes/tiny.yaml", "--set", f"output_dir={out}")
    assert r.returncode == 0
    assert "unchanged, skipped" in r.stderr and "curate: inputs and settings unchanged" in r.stderr
    r = run_cli("data", "recipes/tiny.yaml", "--set", f"output_dir={out}", "--set", "curate.filters.min_response_chars=40")
    assert r.returncode == 0
    assert "curate: quality filters" in r.stderr  # curation ran again
    manifest = json.loads((out / "data" / "manifest.json").read_text())
    assert manifest["total"]["dropped"]["short_response"] > 0


def test_killed_run_never_looks_complete_and_resumes_to_the_same_result(tmp_path):
    records = []
    for i in range(4):  # ~1,700 distinct samples: long enough to be killed during curation
        records += [{**r, "instruction": f"{r['instruction']} (variant {i}: {'abcdefgh'[i]} edition)",
                     "output": r["output"].replace("\n", f"\n# revision {i}{'xyzuvw'[i]}\n", 1)}
                    for r in stdlib_functions(limit=420)]
    data = write_jsonl(tmp_path / "d.jsonl", records)

    def recipe(out):
        p = tmp_path / f"{out}.yaml"
        p.write_text(f"""name: k
output_dir: {tmp_path / out}
sources: [{{name: a, adapter: alpaca, path: {data}}}]
curate: {{decontaminate: {{benchmarks: [humaneval]}}, executor: {{workers: 2}}}}
""")
        return p

    proc = subprocess.Popen([sys.executable, "-m", "alchemist.cli", "data", str(recipe("killed"))], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    data_dir = tmp_path / "killed" / "data"
    deadline = time.time() + 120
    while time.time() < deadline and not list(data_dir.glob("curate.work-*/1_screen")):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (data_dir / "curated" / "_SUCCESS").exists()
    assert not (data_dir / "manifest.json").exists()

    assert run_cli("data", recipe("killed")).returncode == 0
    assert run_cli("data", recipe("clean")).returncode == 0
    killed = json.loads((data_dir / "manifest.json").read_text())
    clean = json.loads((tmp_path / "clean" / "data" / "manifest.json").read_text())
    assert killed["sources"] == clean["sources"]
    a = pq.read_table(data_dir / "final" / "train.parquet").column("id").to_pylist()
    b = pq.read_table(tmp_path / "clean" / "data" / "final" / "train.parquet").column("id").to_pylist()
    assert a == b
