"""Every path a user gives is precious: each command, with its output aimed at each of its inputs
and at a source's folder, is refused in one line before any work, and every input keeps its bytes.
Inside alchemist's own folders, a file it did not write is never replaced or deleted."""

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from alchemist import pipeline
from alchemist.cli import main
from alchemist.errors import UserError
from alchemist.recipe import load_recipe
from alchemist.rundir import OUTPUTS
from alchemist.rundir.ownership import MARK
from tests.helpers import write_jsonl
from tests.test_stage_shape import Counting

RECORDS = [{"instruction": f"Write f{i}.", "output": f"def f{i}():\n    return {i}\n"} for i in range(3)]
RESULT = {"model": "m", "benchmark": "humaneval", "pass_at_k": {"pass@1": 0.5}, "tasks_scored": 164, "tasks_in_benchmark": 164}


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A user's folder: a source, eval samples, a benchmark file, a results file, a recipe."""
    monkeypatch.chdir(tmp_path)
    write_jsonl(tmp_path / "data" / "curated" / "corpus.jsonl", RECORDS)
    write_jsonl(tmp_path / "samples.jsonl", [{"task_id": "HumanEval/0", "completion": "    return False\n"}])
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "results.json").write_text(json.dumps(RESULT))
    (tmp_path / "r.yaml").write_text("name: t\nsources: [{name: a, adapter: alpaca, path: data/curated/corpus.jsonl}]\n"
                                     "curate: {decontaminate: {benchmarks: [humaneval], structure: false, embedding: false}}\n")
    return tmp_path


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


INPUTS = ["data/curated/corpus.jsonl", "samples.jsonl", "res/results.json", "r.yaml"]
FOLDERS = [".", "data", "data/curated", "res"]
COMMANDS = {
    "run": lambda out: ["run", "r.yaml", "--set", f"output_dir={out}"],
    "data": lambda out: ["data", "r.yaml", "--set", f"output_dir={out}"],
    "eval": lambda out: ["eval", "--benchmark", "humaneval", "--samples", "samples.jsonl", "--limit", "1", "-o", out],
    "leaderboard": lambda out: ["leaderboard", "res", "-o", out],
    "slurm": lambda out: ["slurm", "r.yaml", "-o", out],
}


@pytest.mark.parametrize("target", INPUTS + FOLDERS)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_an_output_aimed_at_an_input_is_refused_and_every_input_keeps_its_bytes(project, command, target, capsys):
    before = snapshot(project)
    code = main(COMMANDS[command](target))
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err, err
    assert snapshot(project) == before  # nothing changed, nothing added


def test_an_eval_folder_keeps_what_alchemist_did_not_write(project, capsys):
    out = project / "ev"
    assert main(COMMANDS["eval"]("ev")) == 0
    (out / "notes.txt").write_text("mine")
    assert main(COMMANDS["eval"]("ev")) == 0  # its own files are replaced, the note is kept
    assert (out / "notes.txt").read_text() == "mine"
    os.remove(out / MARK)  # without its record the folder is the user's
    capsys.readouterr()
    assert main(COMMANDS["eval"]("ev")) == 2
    assert "holds files alchemist did not write" in capsys.readouterr().err


def test_a_folder_of_the_users_is_not_taken_as_an_eval_or_leaderboard_folder(project, capsys):
    (project / "mine").mkdir()
    (project / "mine" / "results.json").write_text("{}")
    (project / "lb").mkdir()
    (project / "lb" / "index.html").write_text("<p>my page</p>")
    before = snapshot(project)
    assert main(COMMANDS["eval"]("mine")) == 2
    assert main(COMMANDS["leaderboard"]("lb")) == 2
    assert snapshot(project) == before
    errs = capsys.readouterr().err.splitlines()
    assert len(errs) == 2 and all("holds files alchemist did not write" in e for e in errs)


@pytest.fixture
def stages(monkeypatch):
    a, b = Counting("ingest"), Counting("curate", reads=("ingest",))
    monkeypatch.setattr(pipeline, "STAGES", (a, b))
    monkeypatch.setattr(pipeline, "STAGE_NAMES", ("ingest", "curate"))
    return a, b


def test_a_rerun_never_deletes_a_file_dropped_into_a_stage_output(project, stages):
    recipe = load_recipe(project / "r.yaml", ["output_dir=runs/t"])
    pipeline.Pipeline(recipe).run()
    note = recipe.run_dir / OUTPUTS["curate"] / "notes.txt"
    note.write_text("mine")
    stages[1].knob = 2  # curate must rerun, which would replace its folder
    with pytest.raises(UserError, match=r"holds notes.txt, which alchemist did not write"):
        pipeline.Pipeline(recipe).run()
    assert note.read_text() == "mine" and stages[1].runs == 1  # refused before any work
    note.unlink()
    pipeline.Pipeline(recipe).run()
    assert stages[1].runs == 2


def test_a_folder_in_place_of_a_stage_output_is_not_replaced(project, stages):
    recipe = load_recipe(project / "r.yaml", ["output_dir=runs/t"])
    pipeline.Pipeline(recipe).run()
    curated = recipe.run_dir / OUTPUTS["curate"]
    shutil.rmtree(curated)
    write_jsonl(curated / "corpus.jsonl", RECORDS)  # the user's own data where the output was
    stages[1].knob = 3
    with pytest.raises(UserError, match="was not made by alchemist"):
        pipeline.Pipeline(recipe).run()
    assert (curated / "corpus.jsonl").is_file()


def test_a_run_directory_of_someone_else_is_refused_and_an_older_one_is_taken(project, stages):
    other = project / "other"
    other.mkdir()
    (other / "thesis.tex").write_text("x")
    with pytest.raises(UserError, match="holds files alchemist did not write"):
        pipeline.Pipeline(load_recipe(project / "r.yaml", [f"output_dir={other}"])).run()
    assert sorted(os.listdir(other)) == ["thesis.tex"]
    # a run directory an older alchemist made (run.json, no record) is taken over
    recipe = load_recipe(project / "r.yaml", ["output_dir=runs/old"])
    pipeline.Pipeline(recipe).run()
    os.remove(recipe.run_dir / MARK)
    stages[1].knob = 4
    pipeline.Pipeline(recipe).run()
    assert stages[1].runs == 2


def test_a_slurm_folder_inside_the_run_directory_leaves_the_run_directory_usable(project, stages):
    assert main(["slurm", "r.yaml"]) == 0
    recipe = load_recipe(project / "r.yaml")
    assert (recipe.run_dir / "slurm" / "submit.sh").is_file()
    pipeline.Pipeline(recipe).run()
    assert stages[0].runs == 1


def test_a_run_directory_whose_name_is_not_utf8_works(project, stages):
    recipe = load_recipe(project / "r.yaml", ["output_dir=" + os.fsdecode(b"runs/caf\xe9")])
    pipeline.Pipeline(recipe).run()
    pipeline.Pipeline(recipe).run()
    assert stages[0].runs == 1  # the second run found the first one's outputs, record and digests
    assert (project / os.fsdecode(b"runs/caf\xe9") / MARK).is_file()


def test_what_a_run_wrote_beside_its_stages_does_not_block_the_next_run(project, stages):
    """The relabel answer cache, the eval and judge caches, the published files: alchemist's own."""
    recipe = load_recipe(project / "r.yaml", ["output_dir=runs/t"])
    pipeline.Pipeline(recipe).run()
    (recipe.run_dir / "llm_cache.sqlite").write_bytes(b"SQLite format 3\0")
    (recipe.run_dir / "cache").mkdir()
    (recipe.run_dir / "cache" / "eval_llm.sqlite").write_bytes(b"SQLite format 3\0")
    stages[1].knob = 7
    pipeline.Pipeline(recipe).run()
    assert stages[1].runs == 2


def test_a_damaged_marker_or_work_stamp_reruns_the_stage(project, stages):
    recipe = load_recipe(project / "r.yaml", ["output_dir=runs/t"])
    pipeline.Pipeline(recipe).run()
    (recipe.run_dir / OUTPUTS["curate"] / "_SUCCESS").write_bytes(b"\xff\xfe\x00")
    (recipe.run_dir / "work" / "curate").mkdir(parents=True, exist_ok=True)
    (recipe.run_dir / "work" / "curate" / ".fingerprint").write_bytes(b"\xff")
    pipeline.Pipeline(recipe).run()
    assert stages[1].runs == 2 and stages[0].runs == 1
