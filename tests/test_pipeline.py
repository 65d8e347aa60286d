"""`alchemist run recipes/tiny.yaml` end to end, reruns, and a run killed half-way."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.helpers import ROOT, run_cli, stdlib_functions, write_jsonl


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    r = run_cli("run", "recipes/tiny.yaml", "--set", f"output_dir={out}", timeout=1800)  # a loaded machine is slow
    assert r.returncode == 0, r.stderr
    return out, r


@pytest.mark.slow
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


@pytest.mark.slow
def test_tiny_report_lists_contamination_with_task_ids(tiny_run):
    out, _ = tiny_run
    report = (out / "data" / "report.md").read_text()
    assert "## Contamination hits" in report
    assert "HumanEval/" in report and "private/" in report
    rejected = pq.read_table(out / "data" / "curated" / "rejected.parquet").to_pylist()
    contaminated = [r for r in rejected if r["reason"] == "contaminated"]
    assert contaminated and all(json.loads(r["detail"])["matches"] for r in contaminated)


@pytest.mark.slow
def test_rerun_skips_unchanged_stages_and_redoes_changed_ones(tiny_run):
    out, _ = tiny_run
    r = run_cli("run", "recipes/tiny.yaml", "--set", f"output_dir={out}", timeout=1800)  # a loaded machine is slow
    assert r.returncode == 0, r.stderr
    for stage in ("ingest", "curate", "relabel", "mix", "train", "eval", "leaderboard", "report"):
        assert re.search(rf"{stage}\s+skipped in [0-9.]+s: unchanged", r.stderr), (stage, r.stderr)
    assert "Loading weights" not in r.stderr and "generating" not in r.stderr  # no model loaded, nothing generated
    record = json.loads((out / "run.json").read_text())
    assert {k: v["status"] for k, v in record["stages"].items()} == {
        "ingest": "skipped", "curate": "skipped", "relabel": "skipped", "mix": "skipped", "train": "skipped",
        "rl": "disabled", "eval": "skipped", "leaderboard": "skipped", "report": "skipped"}
    final = out / "data" / "final" / "train.parquet"
    before = final.stat().st_mtime_ns
    r = run_cli("data", "recipes/tiny.yaml", "--set", f"output_dir={out}", "--set", "curate.filters.min_response_chars=40")
    assert r.returncode == 0
    assert "ingest      skipped" in r.stderr and "curate      done" in r.stderr  # curation ran again, ingest did not
    manifest = json.loads((out / "data" / "manifest.json").read_text())
    assert manifest["total"]["dropped"]["short_response"] > 0
    assert final.stat().st_mtime_ns != before
    results = out / "eval" / "humaneval" / "results.json"
    kept = results.stat().st_mtime_ns
    # a volatile setting (workers) changes nothing; the eval output is never touched by data reruns
    r = run_cli("run", "recipes/tiny.yaml", "--set", f"output_dir={out}", "--set", "curate.executor.workers=1",
                "--set", "curate.filters.min_response_chars=40", "--stages", "ingest,curate")
    assert r.returncode == 0 and "curate      skipped" in r.stderr, r.stderr
    assert results.stat().st_mtime_ns == kept
    assert run_cli("data", "recipes/tiny.yaml", "--set", f"output_dir={out}").returncode == 0  # back to the recipe


@pytest.mark.slow
def test_resolved_recipe_runs_from_another_directory(tiny_run, tmp_path):
    out, _ = tiny_run
    r = run_cli("run", out / "recipe.resolved.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "ingest      skipped" in r.stderr and "eval        skipped" in r.stderr


@pytest.mark.slow
def test_dry_run_writes_nothing_and_says_why(tiny_run, tmp_path):
    out, _ = tiny_run
    fresh = tmp_path / "fresh"
    r = run_cli("run", "recipes/tiny.yaml", "--set", f"output_dir={fresh}", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert not fresh.exists()
    assert "no finished output" in r.stderr and "164 answers" in r.stderr
    before = (out / "run.json").read_text()
    r = run_cli("run", "recipes/tiny.yaml", "--set", f"output_dir={out}", "--dry-run", "--force", "curate")
    assert r.returncode == 0 and "forced" in r.stderr and "unchanged" in r.stderr
    assert (out / "run.json").read_text() == before


@pytest.mark.slow
def test_force_reruns_a_stage_and_what_reads_it(tiny_run):
    out, _ = tiny_run
    r = run_cli("run", "recipes/tiny.yaml", "--set", f"output_dir={out}", "--force", "leaderboard")
    assert r.returncode == 0, r.stderr
    assert "leaderboard done" in r.stderr and "report      done" in r.stderr  # the report reads the leaderboard
    assert "mix         skipped" in r.stderr and "eval        skipped" in r.stderr


def test_a_second_run_on_the_same_directory_is_refused(tmp_path):
    from alchemist.rundir import RunLock

    data = write_jsonl(tmp_path / "d.jsonl", stdlib_functions(limit=20))
    p = tmp_path / "r.yaml"
    p.write_text(f"name: l\noutput_dir: {tmp_path / 'run'}\nsources: [{{name: a, adapter: alpaca, path: {data}}}]\n"
                 "curate: {decontaminate: {benchmarks: [humaneval]}, executor: {workers: 1}}\n")
    with RunLock(tmp_path / "run"):
        r = run_cli("data", p)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"another alchemist run holds this run directory (pid {os.getpid()})" in r.stderr
    # a lock whose holder was killed is taken over
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pathlib import Path; "
                               "from alchemist.rundir import RunLock; l = RunLock(Path(sys.argv[1])).__enter__(); "
                               "print('locked', flush=True); time.sleep(60)", str(tmp_path / "run")],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    holder.kill()
    holder.wait()
    r = run_cli("data", p)
    assert r.returncode == 0, r.stderr


@pytest.mark.slow
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
    while time.time() < deadline and not (tmp_path / "killed" / "work" / "curate" / "1_screen").exists():
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (data_dir / "curated" / "_SUCCESS").exists()
    assert not (data_dir / "manifest.json").exists()

    # resumed with another worker count (another machine): the task layout changed, so curation restarts
    r = run_cli("data", recipe("killed"), "--set", "curate.executor.workers=1")
    assert r.returncode == 0, r.stderr
    assert run_cli("data", recipe("clean")).returncode == 0
    killed = json.loads((data_dir / "manifest.json").read_text())
    clean = json.loads((tmp_path / "clean" / "data" / "manifest.json").read_text())
    assert killed["sources"] == clean["sources"]
    a = pq.read_table(data_dir / "final" / "train.parquet").column("id").to_pylist()
    b = pq.read_table(tmp_path / "clean" / "data" / "final" / "train.parquet").column("id").to_pylist()
    assert a == b


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid = int(open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    out, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.add(c)
            todo.append(c)
    return out


def _alive(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_kill_9_leaves_no_worker_behind(tmp_path):
    records = []
    for i in range(3):
        records += [{**r, "instruction": f"{r['instruction']} (take {i})"} for r in stdlib_functions(limit=420)]
    data = write_jsonl(tmp_path / "d.jsonl", records)
    p = tmp_path / "r.yaml"
    p.write_text(f"name: k\noutput_dir: {tmp_path / 'run'}\nsources: [{{name: a, adapter: alpaca, path: {data}}}]\n"
                 "curate: {decontaminate: {benchmarks: [humaneval]}, executor: {workers: 2}}\n")
    proc = subprocess.Popen([sys.executable, "-m", "alchemist.cli", "data", str(p)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    workers: set[int] = set()
    while time.time() < deadline and proc.poll() is None and len(workers) < 2:
        workers = _descendants(proc.pid)
        time.sleep(0.02)
    assert workers, "no worker process was seen"
    proc.kill()  # the main process only, as kill -9 PID does
    proc.wait()
    deadline = time.time() + 30
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.1)
    assert not [w for w in workers if _alive(w)]


def _wait_for_running(run_json: Path, stage: str, proc, timeout: float = 300) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        try:
            if json.loads(run_json.read_text())["stages"].get(stage, {}).get("status") == "running":
                return True
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    return False


@pytest.mark.slow
def test_killed_in_every_stage_resumes_to_the_uninterrupted_result(tiny_run, tmp_path):
    """One run killed (SIGKILL, whole process group) during curate, relabel, train and eval in
    turn, each time rerun: it finishes with the uninterrupted run's data, model and scores."""
    import random

    from safetensors.numpy import load_file

    ref, _ = tiny_run
    out = tmp_path / "killed"
    rng = random.Random(7)
    for stage in ("curate", "relabel", "train", "eval"):
        proc = subprocess.Popen([sys.executable, "-m", "alchemist.cli", "run", "recipes/tiny.yaml", "--set", f"output_dir={out}"],
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        if _wait_for_running(out / "run.json", stage, proc):
            time.sleep(rng.uniform(0.0, 1.5))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    r = run_cli("run", "recipes/tiny.yaml", "--set", f"output_dir={out}", timeout=1800)  # a loaded machine is slow
    assert r.returncode == 0, r.stderr
    statuses = {k: v["status"] for k, v in json.loads((out / "run.json").read_text())["stages"].items()}
    assert statuses.pop("rl") == "disabled"  # the tiny recipe has no rl section
    assert set(statuses.values()) <= {"done", "skipped"}, statuses
    a, b = (json.loads((d / "data" / "manifest.json").read_text()) for d in (out, ref))
    assert a["sources"] == b["sources"] and a["final"] == b["final"]
    ids = pq.read_table(out / "data" / "final" / "train.parquet").column("id").to_pylist()
    assert ids == pq.read_table(ref / "data" / "final" / "train.parquet").column("id").to_pylist()
    relabeled = pq.read_table(out / "data" / "relabeled" / "samples.parquet").column("id").to_pylist()
    assert len(relabeled) == len(set(relabeled))  # no duplicate rows
    if (ref / "model").is_dir():
        wa, wb = load_file(str(out / "model" / "model.safetensors")), load_file(str(ref / "model" / "model.safetensors"))
        assert wa.keys() == wb.keys()
        for k in wa:
            assert abs(wa[k].astype("float64") - wb[k].astype("float64")).max() < 1e-5, k
    for bench in os.listdir(ref / "eval"):
        if (ref / "eval" / bench / "results.json").is_file():
            ra, rb = (json.loads((d / "eval" / bench / "results.json").read_text()) for d in (out, ref))
            assert ra["pass_at_k"] == rb["pass_at_k"]
            assert {t: v["status"] for t, v in ra["tasks"].items()} == {t: v["status"] for t, v in rb["tasks"].items()}


def _proc(pid: int) -> dict | None:
    """What /proc says of a process: group, state, start time (to tell a reused pid), and whether
    a SIGKILL is pending (it is then doomed, whatever it is doing)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        status = open(f"/proc/{pid}/status").read()
    except OSError:
        return None
    pending = 0
    for line in status.splitlines():
        if line.startswith(("SigPnd:", "ShdPnd:")):
            pending |= int(line.split()[1], 16)
    return {"state": fields[0], "pgrp": int(fields[2]), "start": fields[19], "sigkill": bool(pending & (1 << (signal.SIGKILL - 1)))}


def _tagged(tag: str) -> set[int]:
    out = set()
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if tag.encode() in open(f"/proc/{d}/environ", "rb").read():
                    out.add(int(d))
            except OSError:
                continue
    return out


@pytest.mark.slow
def test_a_kill_9_of_the_run_at_any_moment_leaves_no_process_behind(tmp_path):
    """The tiny run killed (SIGKILL to its process group) at many moments, each rerun going further
    (curation's workers, the sandbox's, generation's, the trainer's): right after each kill every
    process of the group has the kill pending, and soon after nothing of the run is left; processes
    outside the group (sandboxed programs in their own sessions) die with their parents."""
    import random
    import uuid

    rng = random.Random(19)
    out, tag = tmp_path / "run", f"ALCHEMIST_KILL_TEST={uuid.uuid4().hex}"
    env = {**os.environ, tag.split("=")[0]: tag.split("=")[1]}
    kills = 0
    for _ in range(8):
        proc = subprocess.Popen([sys.executable, "-m", "alchemist.cli", "run", "recipes/tiny.yaml", "--set", f"output_dir={out}"],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + rng.uniform(2.0, 25.0)
        while time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        if proc.poll() is not None:
            break  # the run finished: every stage was reached
        seen = {p: _proc(p) for p in _descendants(proc.pid) | _tagged(tag) | {proc.pid}}
        os.killpg(proc.pid, signal.SIGKILL)
        kills += 1
        for pid, before in seen.items():  # right after: the group is doomed, to the last process
            now = _proc(pid)
            if before and now and now["start"] == before["start"] and now["pgrp"] == proc.pid:
                assert now["sigkill"] or now["state"] in "ZX", (pid, now)
        proc.wait()
        deadline = time.time() + 120  # dying takes a while on a loaded machine; left behind is never
        while time.time() < deadline:
            left = [p for p, b in seen.items() if b and (n := _proc(p)) and n["start"] == b["start"] and n["state"] not in "ZX"]
            left += [p for p in _tagged(tag) if (n := _proc(p)) and n["state"] not in "ZX"]
            if not left:
                break
            time.sleep(0.1)
        assert not left, f"kill {kills}: processes of the run still alive: {left}"
    assert kills >= 1  # how many kills fit before the run completes depends on the machine's speed
