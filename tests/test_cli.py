"""The command line as a user meets it: one clear line for their mistakes, no traceback."""

import json

import pytest

from tests.helpers import ROOT, run_cli, write_jsonl


def recipe(tmp_path, data, extra=""):
    p = tmp_path / "r.yaml"
    p.write_text(f"""name: t
output_dir: {tmp_path / 'run'}
sources:
  - name: a
    adapter: alpaca
    path: {data}
curate:
  decontaminate: {{benchmarks: [humaneval]}}
  executor: {{workers: 1}}
{extra}""")
    return p


GOOD = {"instruction": "Write a function that returns the square of x.", "output": "def square(x):\n    return x * x\n"}


def test_bad_recipe_key_is_one_line_without_traceback(tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", [GOOD])
    p = recipe(tmp_path, data, "  strictt: true\n")
    r = run_cli("data", p)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert f"{p}:10: curate.strictt: unknown key; did you mean 'strict'?" in r.stderr


def test_missing_recipe_and_missing_data(tmp_path):
    r = run_cli("data", tmp_path / "none.yaml")
    assert r.returncode == 2 and "recipe file not found" in r.stderr and "Traceback" not in r.stderr
    p = recipe(tmp_path, tmp_path / "absent.jsonl")
    r = run_cli("data", p)
    assert r.returncode == 2 and "no file matches" in r.stderr and "Traceback" not in r.stderr


def test_strict_mode_stops_at_first_malformed_line(tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", [GOOD, "{not json", GOOD])
    r = run_cli("data", recipe(tmp_path, data, "  strict: true\n"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"{data}:2: not valid JSON" in r.stderr


def test_lenient_mode_counts_malformed_and_carries_on(tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", [GOOD, "{not json", {"instruction": 5, "output": "x"}, "[]"])
    r = run_cli("data", recipe(tmp_path, data))
    assert r.returncode == 0, r.stderr
    manifest = json.loads((tmp_path / "run" / "data" / "manifest.json").read_text())
    assert manifest["sources"]["a"] == {"read": 4, "kept": 1, "dropped": {"malformed": 3}, "final_rows": 1}
    report = (tmp_path / "run" / "data" / "report.md").read_text()
    assert f"{data}:2" in report and "field 'instruction' is int" in report


def test_sources_lists_adapters_and_corpora():
    r = run_cli("sources")
    assert r.returncode == 0
    for name in ("alpaca", "sharegpt", "commit", "code_files", "mapped", "evol_codealpaca", "commitpackft_python"):
        assert name in r.stdout


def test_set_override_from_command_line(tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", [GOOD])
    r = run_cli("data", recipe(tmp_path, data), "--set", "curate.decontaminate.ngrm=3")
    assert r.returncode == 2 and "curate.decontaminate.ngrm: unknown key" in r.stderr


def test_default_mbpp_is_skipped_with_a_warning_offline_but_a_named_one_is_required(tmp_path):
    import os
    import subprocess
    import sys

    data = write_jsonl(tmp_path / "d.jsonl", [GOOD])
    env = {**os.environ, "ALCHEMIST_CACHE": str(tmp_path / "cache")}
    default = tmp_path / "default.yaml"
    default.write_text(f"name: t\noutput_dir: {tmp_path / 'run'}\nsources: [{{name: a, adapter: alpaca, path: {data}}}]\n")
    r = subprocess.run([sys.executable, "-m", "alchemist.cli", "data", str(default)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    report = (tmp_path / "run" / "data" / "report.md").read_text()
    if (tmp_path / "cache" / "mbpp.jsonl").exists():
        pytest.skip("MBPP could be downloaded here; the offline path is not exercised")
    assert "Not checked against mbpp" in report and "Checked against: humaneval." in report
    named = tmp_path / "named.yaml"
    named.write_text(default.read_text() + "curate: {decontaminate: {benchmarks: [humaneval, mbpp]}}\n")
    r = subprocess.run([sys.executable, "-m", "alchemist.cli", "data", str(named)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "MBPP is not available offline" in r.stderr and "Traceback" not in r.stderr


def test_unreachable_hub_dataset_is_one_clear_line(tmp_path):
    import os
    import subprocess
    import sys

    p = tmp_path / "hub.yaml"
    p.write_text(f"name: t\noutput_dir: {tmp_path / 'run'}\nsources: [{{name: a, adapter: alpaca, hf: nobody/no-such-corpus}}]\n"
                 "curate: {decontaminate: {benchmarks: [humaneval]}}\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    r = subprocess.run([sys.executable, "-m", "alchemist.cli", "data", str(p)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "cannot load Hugging Face dataset 'nobody/no-such-corpus'" in r.stderr


def test_empty_and_all_malformed_sources_are_accounted(tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    bad = write_jsonl(tmp_path / "bad.jsonl", ["{nope", "[1]"])
    good = write_jsonl(tmp_path / "good.jsonl", [GOOD])
    p = tmp_path / "r.yaml"
    p.write_text(f"""name: t
output_dir: {tmp_path / 'run'}
sources:
  - {{name: empty, adapter: alpaca, path: {tmp_path / 'empty.jsonl'}}}
  - {{name: bad, adapter: alpaca, path: {bad}}}
  - {{name: good, adapter: alpaca, path: {good}}}
curate: {{decontaminate: {{benchmarks: [humaneval]}}, executor: {{workers: 1}}}}
""")
    r = run_cli("data", p)
    assert r.returncode == 0, r.stderr
    sources = json.loads((tmp_path / "run" / "data" / "manifest.json").read_text())["sources"]
    assert sources["empty"]["read"] == 0 and sources["bad"]["dropped"] == {"malformed": 2}
    assert sources["good"]["kept"] == 1
