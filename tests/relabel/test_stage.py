"""The relabel stage through `alchemist data`, against a real local OpenAI-compatible server."""

import json
import os
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from alchemist.llm.fake_server import FakeServer
from tests.helpers import ROOT, run_cli


@pytest.fixture(scope="module")
def server():
    s = FakeServer(latency=0.01).start()
    yield s
    s.stop()


def relabel_args(out, server, *extra):
    return ["data", "recipes/tiny.yaml", "--set", f"output_dir={out}",
            "--set", "relabel={llm: {backend: openai, model: fake-model, base_url: '%s', api_key_env: null}}" % server.url,
            "--set", "relabel.alchemist_prompts.fraction=0.2",
            "--set", "relabel.comprehension={instruction_evolution: 12, evol_codegen: 6, data_filtering: 8, code_review: 10}",
            *extra]


@pytest.fixture(scope="module")
def relabeled_run(tmp_path_factory, server):
    out = tmp_path_factory.mktemp("relabel")
    r = run_cli(*relabel_args(out, server))
    assert r.returncode == 0, r.stderr
    return out


def test_counts_and_formats_are_as_configured(relabeled_run):
    manifest = json.loads((relabeled_run / "data" / "manifest.json").read_text())
    rel = manifest["relabel"]
    code_samples = sum(1 for r in pq.read_table(relabeled_run / "data" / "curated" / "samples.parquet").to_pylist()
                       if r["task"] == "codegen")
    assert rel["alchemist_prompt"] == round(0.2 * code_samples)
    # every request is a row or a counted reject (a generated pair is held to every curation rule)
    made = {t: rel[t] + sum(rel["rejected"].get(t, {}).values())
            for t in ("instruction_evolution", "evol_codegen", "data_filtering", "code_review")}
    assert made == {"instruction_evolution": 12, "evol_codegen": 6, "data_filtering": 8, "code_review": 10}
    # produced samples are decontaminated on what they add: no review of a curated sample is lost to its template
    assert rel["code_review"] == 10 and not rel["rejected"].get("code_review")
    assert rel["failed"] == 0 and rel["llm_requests"] == rel["alchemist_prompt"] + 12 + 10 + 6
    final = pq.read_table(relabeled_run / "data" / "final" / "train.parquet").to_pylist()
    by_task = {}
    for row in final:
        by_task.setdefault(row["task"], []).append(row)
    assert len(by_task["alchemist_prompt"]) == rel["alchemist_prompt"]
    assert manifest["final"]["by_task"]["codegen"] == manifest["final"]["rows"] - sum(
        rel[t] for t in ("alchemist_prompt", "instruction_evolution", "data_filtering", "code_review"))
    originals = {r["id"]: r for r in final if r["task"] == "codegen"}
    for row in by_task["alchemist_prompt"]:
        meta = json.loads(row["meta"])
        assert meta["template"] == "alchemist_prompt.v2" and meta["llm"] == "openai:fake-model"
        origin = originals[meta["origin"]]  # mode add: the original stays beside its relabeled copy
        assert row["messages"][-1] == origin["messages"][-1]
        first_user = next(i for i, m in enumerate(row["messages"]) if m["role"] == "user")
        assert row["messages"][first_user]["content"] == f"{meta['alchemist_prompt']}\n\n{origin['messages'][first_user]['content']}"
        assert row["messages"][:first_user] == origin["messages"][:first_user]  # a system turn stays as it was
    for row in by_task["data_filtering"]:
        assert row["messages"][1]["content"][:2] in ("A.", "B.", "C.", "D.")
    for row in by_task["code_review"]:
        assert "1. Correctness:" in row["messages"][1]["content"] and "4. Refined code:" in row["messages"][1]["content"]
    report = (relabeled_run / "data" / "report.md").read_text()
    assert "## Relabeling (openai:fake-model)" in report


def test_rerun_sends_nothing_and_replace_mode_replaces(relabeled_run, server, tmp_path):
    before = sum(server.requests.values())
    r = run_cli(*relabel_args(relabeled_run, server))
    assert r.returncode == 0 and sum(server.requests.values()) == before
    r = run_cli(*relabel_args(relabeled_run, server, "--set", "relabel.alchemist_prompts.mode=replace"))
    assert r.returncode == 0, r.stderr
    assert sum(server.requests.values()) == before  # same requests, all answered from the cache
    manifest = json.loads((relabeled_run / "data" / "manifest.json").read_text())
    assert manifest["relabel"]["cache_hits"] > 0 and manifest["relabel"]["llm_requests"] == 0
    final = pq.read_table(relabeled_run / "data" / "final" / "train.parquet").to_pylist()
    ids = {r["id"] for r in final}
    replaced = [json.loads(r["meta"])["origin"] for r in final if r["task"] == "alchemist_prompt"]
    assert replaced and not any(o in ids for o in replaced)


def test_unreachable_endpoint_and_missing_key_stop_before_work(tmp_path):
    r = run_cli("data", "recipes/tiny.yaml", "--set", f"output_dir={tmp_path}",
                "--set", "relabel={llm: {model: m, base_url: 'http://127.0.0.1:9/v1', api_key_env: null}}")
    assert r.returncode == 2 and "cannot reach the LLM endpoint http://127.0.0.1:9/v1" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "data" / "ingested").exists()  # stopped before any work
    env_free = {k: v for k, v in os.environ.items() if k != "ALCHEMIST_NO_SUCH_KEY"}
    r = subprocess.run([sys.executable, "-m", "alchemist.cli", "data", "recipes/tiny.yaml", "--set", f"output_dir={tmp_path}",
                        "--set", "relabel={llm: {model: m, api_key_env: ALCHEMIST_NO_SUCH_KEY}}"],
                       cwd=ROOT, capture_output=True, text=True, env=env_free, timeout=300)
    assert r.returncode == 2 and "ALCHEMIST_NO_SUCH_KEY" in r.stderr and "Traceback" not in r.stderr


def test_failure_limit_stops_and_keeps_what_was_answered(tmp_path):
    flaky = FakeServer().start()
    flaky.fail_share = 0.5
    args = ["data", "recipes/tiny.yaml", "--set", f"output_dir={tmp_path}",
            "--set", "relabel={llm: {model: fake-model, base_url: '%s', api_key_env: null, max_retries: 0}, "
                     "alchemist_prompts: {fraction: 0.3}, max_failure_rate: 0.1}" % flaky.url]
    try:
        r = run_cli(*args)
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert "failed (limit relabel.max_failure_rate=10%)" in r.stderr and "rerun to" in r.stderr
        answered = [k for k, n in flaky.requests.items()]
        flaky.fail_share = 0.0
        sent_before = sum(flaky.requests.values())
        r = run_cli(*args)
        assert r.returncode == 0, r.stderr
        manifest = json.loads((tmp_path / "data" / "manifest.json").read_text())["relabel"]
        # the second run asked again only for what failed the first time
        assert 0 < manifest["cache_hits"] and manifest["llm_requests"] == sum(flaky.requests.values()) - sent_before
        assert manifest["llm_requests"] < len(answered)
    finally:
        flaky.stop()


@pytest.mark.slow
def test_killed_relabel_resends_nothing_answered(tmp_path):
    slow = FakeServer(latency=0.15).start()
    try:
        args = ["data", "recipes/tiny.yaml", "--set", f"output_dir={tmp_path / 'k'}",
                "--set", "relabel={llm: {model: fake-model, base_url: '%s', api_key_env: null, concurrency: 2}, "
                         "alchemist_prompts: {fraction: 0.25}, comprehension: {code_review: 10}}" % slow.url]
        proc = subprocess.Popen([sys.executable, "-m", "alchemist.cli", *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 120
        while time.time() < deadline and sum(slow.requests.values()) < 20:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        answered_before = sum(slow.requests.values())
        assert 0 < answered_before
        assert not (tmp_path / "k" / "data" / "relabeled" / "_SUCCESS").exists()
        r = run_cli(*args)
        assert r.returncode == 0, r.stderr
        # every request was sent once, apart from those in flight at the kill (at most `concurrency`)
        assert sum(n - 1 for n in slow.requests.values()) <= 2
        killed = pq.read_table(tmp_path / "k" / "data" / "final" / "train.parquet").column("id").to_pylist()
        clean_args = [a.replace(str(tmp_path / "k"), str(tmp_path / "c")) for a in args]
        assert run_cli(*clean_args).returncode == 0
        clean = pq.read_table(tmp_path / "c" / "data" / "final" / "train.parquet").column("id").to_pylist()
        assert killed == clean
    finally:
        slow.stop()
