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


def test_a_lone_surrogate_escape_is_one_malformed_record(tmp_path):
    """JSON may escape half of an emoji ("\\ud83d"); json.loads keeps it, no UTF-8 writer does:
    a message holding one is malformed with the reason, the file and line, and the rest is kept.
    A proper pair of escapes is one character; in a field kept in meta it is escaped, and kept."""
    data = tmp_path / "d.jsonl"
    emoji = {"instruction": "Write a function that returns a smiley \U0001F600.", "output": GOOD["output"]}
    data.write_text(json.dumps(GOOD) + "\n" + json.dumps({**GOOD, "instruction": "Say hi \ud83d"}) + "\n"
                    + json.dumps(emoji) + "\n" + json.dumps({**GOOD, "extra": "\udc80"}) + "\n")
    r = run_cli("data", recipe(tmp_path, data, "  dedup: {exact: false, near: false}\n"))
    assert r.returncode == 0, r.stderr
    manifest = json.loads((tmp_path / "run" / "data" / "manifest.json").read_text())
    assert manifest["sources"]["a"]["read"] == 4 and manifest["sources"]["a"]["dropped"] == {"malformed": 1}
    report = (tmp_path / "run" / "data" / "report.md").read_text()
    assert f"{data}:2" in report and "U+D83D" in report
    import pyarrow.parquet as pq

    metas = [json.loads(m) for m in pq.read_table(tmp_path / "run" / "data" / "ingested" / "a.parquet").column("meta").to_pylist()]
    assert [m["fields"].get("extra") for m in metas if "fields" in m] == ["\udc80"]


def test_a_file_name_that_is_not_utf8_is_read_and_recorded(tmp_path):
    """Python holds such a name as lone surrogates: fingerprints, manifests and meta escape it."""
    import os

    import pyarrow.parquet as pq

    files = tmp_path / "files"
    files.mkdir()
    with open(os.path.join(os.fsencode(files), b"bad\xffname.py"), "w") as fh:
        fh.write("def helper(values):\n    total = 0\n    for v in values:\n        total += v\n    return total\n")
    p = recipe(tmp_path, write_jsonl(tmp_path / "d.jsonl", [GOOD]))
    p.write_text(p.read_text().replace("curate:", f"  - {{name: f, adapter: code_files, path: '{files}'}}\ncurate:", 1))
    r = run_cli("data", p)
    assert r.returncode == 0, r.stderr
    manifest = json.loads((tmp_path / "run" / "data" / "manifest.json").read_text())
    assert manifest["sources"]["f"]["kept"] == 1
    meta = json.loads(pq.read_table(tmp_path / "run" / "data" / "ingested" / "f.parquet").column("meta").to_pylist()[0])
    assert meta["file"].endswith("bad\udcffname.py")


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


def test_a_file_with_no_readable_record_is_an_error_naming_it(tmp_path):
    """An empty file or one where nothing parses would otherwise pass as a source with nothing in it."""
    good = write_jsonl(tmp_path / "good.jsonl", [GOOD])
    for name, content in (("empty.jsonl", ""), ("bad.jsonl", "{nope\n[1]\n")):
        (tmp_path / name).write_text(content)
        p = tmp_path / f"{name}.yaml"
        p.write_text(f"""name: t
output_dir: {tmp_path / 'run'}
sources:
  - {{name: a, adapter: alpaca, path: {tmp_path / name}}}
  - {{name: good, adapter: alpaca, path: {good}}}
curate: {{decontaminate: {{benchmarks: [humaneval]}}, executor: {{workers: 1}}}}
""")
        r = run_cli("data", p)
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert f"{tmp_path / name}: no record could be read" in r.stderr


def test_an_empty_path_is_refused_not_the_working_directory(tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", [GOOD])
    p = recipe(tmp_path, data)
    for value in ("", "[]"):
        r = run_cli("data", p, "--set", f"sources.0.path={value}", cwd=tmp_path)
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert "sources[0]: Value error" not in r.stderr and "path` is empty" in r.stderr
    assert not (tmp_path / "run").exists()


def test_set_takes_a_glob_as_text(tmp_path):
    write_jsonl(tmp_path / "d1.jsonl", [GOOD])
    write_jsonl(tmp_path / "d2.jsonl", [{**GOOD, "instruction": "Write a function returning the cube of x."}])
    p = recipe(tmp_path, tmp_path / "d1.jsonl")
    r = run_cli("data", p, "--set", f"sources.0.path={tmp_path}/*.jsonl")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "run" / "data" / "manifest.json").read_text())["sources"]["a"]["read"] == 2


def test_recipe_mistakes_end_in_one_line(tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", [GOOD])
    p = recipe(tmp_path, data)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(p.read_bytes().replace(b"name: t", b"name: t\xe9"))
    r = run_cli("data", latin)
    assert r.returncode == 2 and "Traceback" not in r.stderr and f"{latin}:1: not UTF-8" in r.stderr
    afile = tmp_path / "afile"
    afile.write_text("x")
    r = run_cli("data", p, "--set", f"output_dir={afile}")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "is a file, not a directory" in r.stderr
    r = run_cli("data", p, "--set", "relabel.enabled=false")  # no relabel section: disabling it is fine
    assert r.returncode == 0, r.stderr
    r = run_cli("data", p, "--set", "relabel.alchemist_prompts.fraction=0.1")
    assert r.returncode == 2 and "relabel: `llm` is required when relabel is enabled" in r.stderr


def test_eval_cli_rejects_bad_numbers_in_one_line(tmp_path):
    samples = write_jsonl(tmp_path / "s.jsonl", [{"task_id": "HumanEval/0", "completion": "    return True\n"}])
    for flag, value in (("--timeout", "0"), ("--timeout", "-1"), ("--limit", "-1"), ("--workers", "-3"), ("-n", "0")):
        r = run_cli("eval", "--benchmark", "humaneval", "--samples", samples, flag, value)
        assert r.returncode == 2 and "Traceback" not in r.stderr and "out of range" in r.stderr, (flag, value, r.stderr)
