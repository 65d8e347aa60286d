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
