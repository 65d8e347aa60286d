"""`alchemist leaderboard` from real eval results; the page opened in headless Chromium."""

import json
import shutil
import subprocess

import pytest

from alchemist.testsets import load_benchmark
from tests.helpers import ROOT, run_cli, write_jsonl


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lb")
    problems = load_benchmark("humaneval")[:10]
    good = write_jsonl(tmp / "good-model.jsonl", [{"task_id": p.task_id, "completion": p.solution} for p in problems])
    half = write_jsonl(tmp / "half-model.jsonl", [{"task_id": p.task_id, "completion": p.solution if i % 2 else "    return None\n"}
                                                  for i, p in enumerate(problems)])
    for f in (good, half):
        assert run_cli("eval", "--benchmark", "humaneval", "--samples", f, "-o", tmp / "runs" / f.stem).returncode == 0
    r = run_cli("leaderboard", tmp / "runs", "-o", tmp / "board")
    assert r.returncode == 0, r.stderr
    return tmp / "board"


def test_outputs_and_ranking(board):
    data = json.loads((board / "leaderboard.json").read_text())
    ours = [r for r in data["rows"] if not r["reference"]]
    assert [r["model"] for r in ours] == ["good-model", "half-model"]
    assert ours[0]["scores"]["humaneval"] == 100.0 and ours[1]["scores"]["humaneval"] == 50.0
    assert ours[0]["partial"] == {"humaneval": "10/164 tasks"}
    assert any(r["reference"] and r["model"] == "AlchemistCoder-DS" for r in data["rows"])
    md = (board / "leaderboard.md").read_text()
    assert "**good-model**" in md and "AlchemistCoder-DS *(reference)*" in md and "arXiv 2405.19265" in md
    assert (board / "pass_at_1.png").stat().st_size > 1000
    page = (board / "index.html").read_text()
    assert "http://" not in page and "https://" not in page  # viewable offline: nothing fetched


def test_bad_input_is_one_line(tmp_path):
    r = run_cli("leaderboard", tmp_path / "nothing", "-o", tmp_path / "o")
    assert r.returncode == 2 and "no such results file or folder" in r.stderr and "Traceback" not in r.stderr


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (Debian package `chromium`; .ci/run installs it)")
def test_page_renders_table_and_chart_in_chromium(board, tmp_path):
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    url = (board / "index.html").resolve().as_uri()
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    assert dom.count('<tr class="ours">') == 2 and dom.count('<tr class="reference">') == 11
    chart = dom[dom.index('<svg id="chart"'):]
    chart = chart[: chart.index("</svg>")]
    assert chart.count("<rect") == 13
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    shot = artifacts / "leaderboard.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1200,1400", url], capture_output=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 10_000


def _results(path, model, score, benchmark="humaneval", **extra):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"model": model, "benchmark": benchmark, "pass_at_k": {"pass@1": score},
                                "tasks_scored": 164, "tasks_in_benchmark": 164, **extra}))
    return path


def test_runs_sharing_a_model_name_are_all_kept(tmp_path):
    """Two runs of one name on one benchmark: both rows, told apart by their run folders, and said."""
    problems = load_benchmark("humaneval")[:4]
    good = write_jsonl(tmp_path / "a" / "model.jsonl", [{"task_id": p.task_id, "completion": p.solution} for p in problems])
    bad = write_jsonl(tmp_path / "b" / "model.jsonl", [{"task_id": p.task_id, "completion": "    return None\n"} for p in problems])
    for run, samples in (("first", bad), ("second", good)):
        r = run_cli("eval", "--benchmark", "humaneval", "--samples", samples, "--name", "same",
                    "-o", tmp_path / "runs" / run / "eval" / "humaneval")
        assert r.returncode == 0, r.stderr
    _results(tmp_path / "runs" / "second" / "eval" / "mbpp" / "results.json", "same", 0.5, "mbpp")
    r = run_cli("leaderboard", tmp_path / "runs", "-o", tmp_path / "board", "--no-reference")
    assert r.returncode == 0, r.stderr
    data = json.loads((tmp_path / "board" / "leaderboard.json").read_text())
    rows = {r["model"]: r for r in data["rows"]}
    assert set(rows) == {"same (first)", "same (second)"}
    assert rows["same (second)"]["scores"] == {"humaneval": 100.0, "mbpp": 50.0}  # one run's benchmarks stay one row
    assert rows["same (first)"]["scores"] == {"humaneval": 0.0} and rows["same (first)"]["name"] == "same"
    assert "2 runs are named 'same'" in data["notes"][0]
    assert "2 runs are named 'same'" in (tmp_path / "board" / "leaderboard.md").read_text()
    assert "2 runs are named" in (tmp_path / "board" / "index.html").read_text()


def test_one_model_over_several_benchmarks_is_one_row(tmp_path):
    _results(tmp_path / "run" / "eval" / "humaneval" / "results.json", "m", 0.5)
    _results(tmp_path / "run" / "eval" / "mbpp" / "results.json", "m", 0.25, "mbpp")
    r = run_cli("leaderboard", tmp_path / "run", tmp_path / "run" / "eval" / "mbpp" / "results.json", "-o", tmp_path / "board")
    assert r.returncode == 0, r.stderr
    data = json.loads((tmp_path / "board" / "leaderboard.json").read_text())
    ours = [r for r in data["rows"] if not r["reference"]]
    assert [(r["model"], r["scores"]) for r in ours] == [("m", {"humaneval": 50.0, "mbpp": 25.0})]
    assert [n for n in data["notes"] if not n.startswith("ranked by")] == []  # one row: nothing about runs sharing a name
    assert data["titles"]["humaneval"] == "HumanEval"


@pytest.mark.parametrize("key, value", [("pass@1", "0.5"), ("pass@1", None), ("pass@10", [0.5]), ("pass@1", float("nan")),
                                        ("pass@1", 7), ("pass@10", True)])
def test_non_numeric_pass_at_k_names_the_file(tmp_path, key, value):
    path = _results(tmp_path / "r" / "results.json", "m", 0.5)
    record = json.loads(path.read_text())
    record["pass_at_k"][key] = value
    path.write_text(json.dumps(record))
    r = run_cli("leaderboard", path, "-o", tmp_path / "board")
    assert r.returncode == 2 and f"{path}: pass_at_k.{key} is" in r.stderr and "not a number from 0 to 1" in r.stderr
    assert "Traceback" not in r.stderr


def test_output_that_is_a_file_is_one_error(tmp_path):
    path = _results(tmp_path / "r" / "results.json", "m", 0.5)
    (tmp_path / "board").write_text("")
    r = run_cli("leaderboard", path, "-o", tmp_path / "board")
    assert r.returncode == 2 and "board: exists and is a file; -o needs a folder" in r.stderr and "Traceback" not in r.stderr


def test_an_average_over_fewer_benchmarks_is_not_ranked_beside_full_ones(tmp_path):
    """One benchmark scored: no average (the paper's rows have four), ranked by the benchmark every
    row has, and the note says so; with every benchmark, the average is back."""
    from alchemist.leaderboard import collect

    paths = [_results(tmp_path / "a" / "results.json", "weak", 0.0),
             _results(tmp_path / "b" / "results.json", "strong", 0.9)]
    board = collect(paths)
    ours = {r["model"]: r for r in board["rows"] if not r["reference"]}
    assert ours["weak"]["average"] is None and ours["strong"]["average"] is None
    assert board["rank_by"] == ["humaneval"]
    ranked = [r["model"] for r in board["rows"]]
    assert ranked[0] == "strong" and ranked[-1] == "weak"  # 90.0 beats every reference HumanEval score; 0 is last
    humaneval = [r["scores"]["humaneval"] for r in board["rows"]]
    assert humaneval == sorted(humaneval, reverse=True)
    assert any("ranked by HumanEval" in n and "average is shown only for rows with all 4" in n for n in board["notes"])
    refs = [r for r in board["rows"] if r["reference"]]
    assert all(r["average"] is not None for r in refs)
    alone = collect([_results(tmp_path / "c" / "results.json", "x", 0.5, benchmark=b) for b in ("humaneval",)]
                    + [_results(tmp_path / b / "results.json", "x", 0.5, benchmark=b) for b in ("humaneval_plus", "mbpp", "mbpp_plus")],
                    with_reference=False)
    assert alone["rows"][0]["average"] == 50.0 and alone["rank_by"] == ["humaneval", "humaneval_plus", "mbpp", "mbpp_plus"]


def test_a_baseline_row_gives_every_other_row_its_difference(tmp_path):
    from alchemist.leaderboard import to_markdown, write_leaderboard

    _results(tmp_path / "base" / "results.json", "base", 0.067)
    _results(tmp_path / "tuned" / "results.json", "tuned", 0.085)
    board = write_leaderboard([str(tmp_path / "base"), str(tmp_path / "tuned")], tmp_path / "out", baseline="base")
    tuned = next(r for r in board["rows"] if r["model"] == "tuned")
    assert tuned["delta"] == {"humaneval": 1.8}
    assert all("delta" not in r for r in board["rows"] if r["model"] != "tuned")
    md = to_markdown(board)
    assert "8.5 (+1.8)" in md and "difference from base" in md
    missing = write_leaderboard([str(tmp_path / "tuned")], tmp_path / "out2", baseline="base")
    assert any("baseline 'base' has no row" in n for n in missing["notes"])
