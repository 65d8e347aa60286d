"""Recipes as users really get them wrong: every mistake is exit code 2 and exactly one line that
names the file and line (or the --set flag) and the key, and says what to do; no traceback.

Each case is a recipe text (and maybe --set flags); `{data}` is a good JSON lines file beside it.
Cases run in-process through alchemist.cli.main (fast); a few run as a real subprocess to show
that nothing but that one line reaches the terminal.
"""

import json

import pytest

from alchemist.cli import main
from tests.helpers import run_cli

RECORDS = [{"instruction": f"Write a function that returns {i}.", "output": f"def f():\n    return {i}\n"} for i in range(6)]

SRC = "sources:\n  - name: a\n    adapter: alpaca\n    path: data.jsonl\n"
OK = "name: t\n" + SRC


def two_sources(extra_a: str = "", extra_b: str = "") -> str:
    return ("name: t\nsources:\n  - name: a\n    adapter: alpaca\n    path: data.jsonl\n" + extra_a
            + "  - name: b\n    adapter: alpaca\n    path: data.jsonl\n" + extra_b)


# (id, recipe text, --set flags, what the one line must hold besides the file name)
CASES = [
    # -- YAML and recipe traps ------------------------------------------------------------------
    ("duplicate-top-key", "name: t\nseed: 1\n" + SRC + "seed: 2\n", [], [":7:", "seed", "lines 2 and 7"]),
    ("duplicate-source-key", "name: t\nsources:\n  - name: a\n    adapter: alpaca\n    path: data.jsonl\n    path: other.jsonl\n",
     [], [":6:", "sources[0].path", "lines 5 and 6"]),
    ("duplicate-nested-key", OK + "curate:\n  filters:\n    min_response_chars: 3\n    require_code: true\n    min_response_chars: 5\n",
     [], [":10:", "curate.filters.min_response_chars", "lines 8 and 10"]),
    ("duplicate-section", OK + "mix: {shuffle: true}\ncurate: {strict: false}\nmix: {shuffle: false}\n", [], [":8:", "mix", "lines 6 and 8"]),
    ("name-is-a-date", "name: 2024-05-01\n" + SRC, [], [":1:", "name", "as a date", 'name: "2024-05-01"']),
    ("name-is-a-datetime", "name: 2024-05-01 10:00:00\n" + SRC, [], [":1:", "as a date and time", "quote it"]),
    ("name-is-a-zero-padded-number", "name: 007\n" + SRC, [], [":1:", "YAML reads 007 as a number", 'name: "007"']),
    ("name-is-a-float", "name: 3.10\n" + SRC, [], [":1:", "3.10 as a number", 'name: "3.10"']),
    ("name-is-yes", "name: yes\n" + SRC, [], [":1:", "as a boolean", 'name: "yes"']),
    ("name-is-off", "name: off\n" + SRC, [], [":1:", "as a boolean"]),
    ("source-name-is-a-year", "name: t\nsources:\n  - name: 2024\n    adapter: alpaca\n    path: data.jsonl\n", [],
     [":3:", "sources[0].name", 'name: "2024"']),
    ("benchmark-is-a-number", OK + "eval:\n  llm: {backend: hf, model: x}\n  benchmarks:\n    - humaneval\n    - 2024\n", [],
     [":10:", "eval.benchmarks[1]", '- "2024"']),
    ("sources-is-a-mapping", "name: t\nsources:\n  name: a\n  adapter: alpaca\n  path: data.jsonl\n", [],
     [":3:", "sources:", "start each entry with '- '"]),
    ("sources-missing", "name: t\nseed: 3\n", [], ["recipe.yaml: sources: required key is missing"]),
    ("name-missing", SRC, [], ["recipe.yaml: name: required key is missing"]),
    ("source-adapter-missing", "name: t\nsources:\n  - name: a\n    path: data.jsonl\n", [], [":3:", "sources[0].adapter", "required"]),
    ("path-is-a-number", "name: t\nsources:\n  - name: a\n    adapter: alpaca\n    path: 2024\n", [], [":5:", "sources[0].path", 'path: "2024"']),
    ("decontaminate-benchmark-is-a-number", OK + "curate:\n  decontaminate:\n    benchmarks: [humaneval, 12]\n", [],
     [":8:", "curate.decontaminate.benchmarks[1]", '- "12"']),
    ("options-is-a-list", OK + "    options: [max_lines]\n", [], [":6:", "sources[0].options", "dictionary"]),
    ("adapter-is-a-number", "name: t\nsources:\n  - name: a\n    adapter: 1\n    path: data.jsonl\n", [], [":4:", "sources[0].adapter"]),
    ("set-name-007", OK, ["name=007"], ["--set name=007", "as a number", "--set 'name=\"007\"'"]),
    ("set-name-date", OK, ["name=2024-05-01"], ["--set name=2024-05-01", "as a date"]),
    ("set-double-dot", OK, ["a..b=1"], ["--set 'a..b=1'", "empty part"]),
    ("set-leading-dot", OK, [".seed=1"], ["--set '.seed=1'", "empty part"]),
    ("set-trailing-dot", OK, ["seed.=1"], ["--set 'seed.=1'", "empty part"]),
    ("set-no-equals", OK, ["seed"], ["--set 'seed'", "KEY=VALUE"]),
    ("set-unknown-section", OK, ["curate.filtrs.min_response_chars=3"], ["--set curate.filtrs.min_response_chars=3", "did you mean 'filters'"]),
    ("set-unknown-top-key", OK, ["a.b=1"], ["--set a.b=1", "a: unknown key"]),
    ("set-seed-not-a-number", OK, ["seed=abc"], ["--set seed=abc", "seed:", "integer"]),
    ("set-weight-inf", OK, ["sources.0.weight=.inf"], ["--set sources.0.weight=.inf", "finite"]),
    ("set-all-weights-zero", OK, ["sources.0.weight=0"], ["--set sources.0.weight=0", "weight 0"]),
    ("set-index-out-of-range", OK, ["sources.3.weight=2"], ["--set sources.3.weight=2", "not an index"]),
    ("tab-indented-yaml", "name: t\nsources:\n\t- name: a\n", [], [":3:", "never tabs"]),
    ("json-recipe-tabs-and-a-typo", '{\n\t"name": "t",\n\t"sources": [{"name": "a", "adapter": "alpaca", "path": "data.jsonl"}],\n\t"sed": 3\n}\n',
     [], [":4:", "sed", "did you mean 'seed'"]),
    ("json-recipe-trailing-comma", '{\n\t"name": "t",\n\t"sources": [{"name": "a", "adapter": "alpaca", "path": "data.jsonl"},]\n}\n',
     [], [":3:", "not valid JSON"]),
    ("unclosed-bracket", "name: t\nsources: [\n  {name: a, adapter: alpaca, path: data.jsonl}\n", [], ["not valid YAML"]),
    ("use-unknown-corpus", "name: t\nsources:\n  - use: code_alpaka\n", [], [":3:", "sources[0].use", "did you mean 'code_alpaca_20k'"]),
    ("use-unknown-second", OK + "  - use: evol_instruct_code_8k\n", [], [":6:", "sources[1].use", "did you mean 'evol_instruct_code_80k'"]),
    ("use-unknown-with-weight", "name: t\nsources:\n  - use: magicoder\n    weight: 2\n", [], [":3:", "sources[0].use", "no data_sources entry"]),
    ("task-weights-typo", OK + "mix:\n  task_weights: {code_reveiw: 0.5}\n", [], [":7:", "mix.task_weights.code_reveiw", "did you mean 'code_review'"]),
    ("task-weights-plural", OK + "mix:\n  task_weights:\n    code_review: 1\n    alchemist_prompts: 2\n", [], [":9:", "did you mean 'alchemist_prompt'"]),
    ("task-weights-unrelated", OK + "mix:\n  task_weights: {translation: 2}\n", [], [":7:", "allowed keys", "code_review"]),
    ("eval-without-llm", OK + "eval:\n  benchmarks: [humaneval]\n", [], [":6:", "eval.llm:", "is required"]),
    ("eval-model-train-without-train", OK + "eval:\n  benchmarks: [humaneval]\n  llm: {backend: hf, model: train}\n", [],
     [":8:", "eval.llm.model", "no enabled train section"]),
    ("near-dedup-not-a-section", OK + "curate:\n  dedup:\n    near: {threshold: 1.5}\n", [], [":8:", "curate.dedup.near.threshold", "less than 1"]),
    # -- numbers at the edges -------------------------------------------------------------------
    ("weight-inf", OK + "    weight: .inf\n", [], [":6:", "sources[0].weight", "finite"]),
    ("weight-minus-inf", OK + "    weight: -.inf\n", [], [":6:", "sources[0].weight"]),
    ("weight-nan", OK + "    weight: .nan\n", [], [":6:", "sources[0].weight", "finite"]),
    ("weight-1e12-string", OK + "    weight: 1e12\n", [], [":6:", "sources[0].weight", "1000"]),
    ("weight-1.0e12", OK + "    weight: 1.0e+12\n", [], [":6:", "sources[0].weight", "1000"]),
    ("weight-negative", OK + "    weight: -1\n", [], [":6:", "sources[0].weight", "greater than or equal to 0"]),
    ("weight-text", OK + "    weight: double\n", [], [":6:", "sources[0].weight", "number"]),
    ("all-weights-zero", OK + "    weight: 0\n", [], [":6:", "sources[0].weight", "weight 0", "training set would be empty"]),
    ("all-weights-zero-two-sources", two_sources("    weight: 0\n", "    weight: 0.0\n"), [], ["sources[0].weight", "weight 0"]),
    ("max-samples-negative", OK + "    max_samples: -5\n", [], [":6:", "sources[0].max_samples"]),
    ("near-threshold-nan", OK + "curate:\n  dedup:\n    near: {threshold: .nan}\n", [], [":8:", "curate.dedup.near.threshold", "finite"]),
    ("garbled-ratio-inf", OK + "curate:\n  filters: {max_garbled_ratio: .inf}\n", [], [":7:", "curate.filters.max_garbled_ratio", "finite"]),
    ("verify-timeout-nan", OK + "curate:\n  verify: {enabled: true, timeout: .NaN}\n", [], [":7:", "curate.verify.timeout", "finite"]),
    ("lr-nan", OK + "train: {model: 'builtin:tiny', lr: .nan}\n", [], [":6:", "train.lr", "finite"]),
    ("epochs-inf", OK + "train:\n  model: builtin:tiny\n  epochs: .inf\n", [], [":8:", "train.epochs", "finite"]),
    ("task-weight-inf", OK + "mix: {task_weights: {code_review: .inf}}\n", [], [":6:", "mix.task_weights.code_review", "finite"]),
    ("task-weight-huge", OK + "mix: {task_weights: {code_review: 1e9}}\n", [], [":6:", "mix.task_weights.code_review", "1000"]),
    ("seed-too-big", OK + "seed: 4294967296\n", [], [":6:", "seed", "4294967294"]),
    ("seed-negative", OK + "seed: -1\n", [], [":6:", "seed", "greater than or equal to 0"]),
    ("seed-1e20", OK + "seed: 1e20\n", [], [":6:", "seed", "integer"]),
    ("seed-float", OK + "seed: 1.5\n", [], [":6:", "seed"]),
    # -- names and paths ----------------------------------------------------------------------
    ("empty-name", 'name: ""\n' + SRC, [], [":1:", "name", "is empty"]),
    ("blank-name", "name: '   '\n" + SRC, [], [":1:", "name", "is empty"]),
    ("null-name", "name:\n" + SRC, [], [":1:", "name"]),
    ("name-with-slash", "name: exp/1\n" + SRC, [], [":1:", "name", "'/'"]),
    ("name-dotdot", "name: ..\n" + SRC, [], [":1:", "name", "starts with '.'"]),
    ("name-300-chars", "name: " + "x" * 300 + "\n" + SRC, [], [":1:", "name", "300 characters"]),
    ("source-name-with-slash", "name: t\nsources:\n  - name: hub/code_alpaca\n    adapter: alpaca\n    path: data.jsonl\n", [],
     [":3:", "sources[0].name", "'/'"]),
    ("source-name-dotdot-path", "name: t\nsources:\n  - name: ../../etc\n    adapter: alpaca\n    path: data.jsonl\n", [],
     [":3:", "sources[0].name"]),
    ("source-name-empty", "name: t\nsources:\n  - name: ''\n    adapter: alpaca\n    path: data.jsonl\n", [], [":3:", "sources[0].name", "is empty"]),
    ("source-name-newline", 'name: t\nsources:\n  - name: "a\\nb"\n    adapter: alpaca\n    path: data.jsonl\n', [],
     [":3:", "sources[0].name", "'\\n'"]),
    ("dir-of-only-txt", "name: t\nsources:\n  - name: a\n    adapter: alpaca\n    path: notes\n", [],
     [":5:", "sources[0].path", "holds only .txt files", ".jsonl"]),
    ("empty-dir", "name: t\nsources:\n  - name: a\n    adapter: alpaca\n    path: empty\n", [], [":5:", "sources[0].path", "is empty"]),
    ("code-dir-of-only-txt", "name: t\nsources:\n  - name: a\n    adapter: code_files\n    path: notes\n", [],
     [":5:", "holds only .txt files", ".py"]),
    ("glob-matches-nothing", "name: t\nsources:\n  - name: a\n    adapter: alpaca\n    path: 'shards/*.jsonl'\n", [],
     [":5:", "matches no file", ".jsonl"]),
    ("missing-file", "name: t\nsources:\n  - name: a\n    adapter: alpaca\n    path: dat.jsonl\n", [], [":5:", "no such file"]),
    ("bracket-name-missing", "name: t\nsources:\n  - name: a\n    adapter: alpaca\n    path: 'data[2].jsonl'\n", [], [":5:", "data[2].jsonl"]),
]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "README.txt").write_text("notes, not records\n")
    (tmp_path / "notes" / "todo.txt").write_text("- more data\n")
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def one_line_error(capsys, argv: list[str]) -> str:
    rc = main(argv)
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert rc == 2, (rc, err)
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("text, flags, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_recipe_is_one_line_naming_file_line_and_key(workdir, capsys, text, flags, expected):
    name = "recipe.json" if text.startswith("{") else "recipe.yaml"
    (workdir / name).write_text(text)
    argv = ["data", name, "--dry-run"] + [x for f in flags for x in ("--set", f)]
    line = one_line_error(capsys, argv)
    if not any(e.startswith("--set") for e in expected):
        assert line.startswith(f"error: {name}"), line  # the file first, then line and key
    for part in expected:
        assert part in line, (part, line)
    assert not (workdir / "runs").exists()  # nothing was written


def test_a_directory_given_as_the_recipe(workdir, capsys):
    (workdir / "recipes").mkdir()
    (workdir / "recipes" / "tiny.yaml").write_text(OK)
    line = one_line_error(capsys, ["data", "recipes", "--dry-run"])
    assert line == "error: recipes: is a directory; give the recipe file, e.g. recipes/tiny.yaml"


@pytest.mark.parametrize("entry, expected", [
    ("adapter: alpaca\npath: [unclosed\n", "not valid YAML"),
    ("- adapter: alpaca\n", "not a mapping"),
])
def test_a_broken_catalog_entry_beside_the_recipe(workdir, capsys, entry, expected):
    (workdir / "data_sources").mkdir()
    (workdir / "data_sources" / "mine.yaml").write_text(entry)
    (workdir / "r.yaml").write_text("name: t\nsources:\n  - use: mine\n")
    line = one_line_error(capsys, ["data", "r.yaml", "--dry-run"])
    assert line.startswith("error: r.yaml:3: sources[0].use: the data_sources entry") and expected in line, line


def test_a_json_recipe_indented_with_tabs_loads(workdir, capsys):
    (workdir / "r.json").write_text('{\n\t"name": "t",\n\t"sources": [\n\t\t{"name": "a", "adapter": "alpaca", "path": "data.jsonl"}\n\t]\n}\n')
    assert main(["data", "r.json", "--dry-run"]) == 0


def test_a_literal_bracket_file_name_and_a_glob_over_directories_are_read(workdir, capsys):
    (workdir / "in").mkdir()
    (workdir / "in" / "data[1].jsonl").write_text((workdir / "data.jsonl").read_text())
    for d in ("shard-0", "shard-1"):
        (workdir / "in" / "shards" / d).mkdir(parents=True)
        (workdir / "in" / "shards" / d / "part.jsonl").write_text((workdir / "data.jsonl").read_text())
    (workdir / "r.yaml").write_text("name: t\nsources:\n  - name: a\n    adapter: alpaca\n    path: 'in/data[1].jsonl'\n"
                                    "  - name: b\n    adapter: alpaca\n    path: 'in/shards/*'\n")
    assert main(["run", "r.yaml", "--stages", "ingest"]) == 0, capsys.readouterr().err
    stats = {n: json.loads((workdir / "runs/t/data/ingested" / f"{n}.stats.json").read_text()) for n in "ab"}
    assert (stats["a"]["read"], stats["a"]["ingested"]) == (6, 6)
    assert (stats["b"]["read"], stats["b"]["ingested"], len(stats["b"]["files"])) == (12, 12, 2)


@pytest.mark.parametrize("text, flags", [
    ("name: 007\n" + SRC, []),
    (OK + "seed: 1\nseed: 2\n", []),
    (OK, ["a..b=1"]),
])
def test_no_traceback_reaches_the_terminal(workdir, text, flags):
    (workdir / "r.yaml").write_text(text)
    proc = run_cli("data", "r.yaml", "--dry-run", *[x for f in flags for x in ("--set", f)], cwd=workdir)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr + proc.stdout
