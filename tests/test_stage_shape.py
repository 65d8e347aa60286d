"""The pipeline's own rules, on small stages of the real shape: what reruns, what is skipped, what
survives a failure, what run.json says."""

import json
from pathlib import Path

import pytest
from pydantic import Field

from alchemist import pipeline
from alchemist.errors import StageSkipped, UserError
from alchemist.recipe import load_recipe
from alchemist.rundir import OUTPUTS, marker
from alchemist.specs import Strict, stable_dump, volatile
from tests.helpers import ROOT, write_jsonl


class Knobs(Strict):
    size: int = Field(1)
    workers: int = volatile(4)


def test_volatile_fields_are_left_out_of_the_fingerprint_slice():
    assert stable_dump(Knobs(size=2, workers=8)) == stable_dump(Knobs(size=2, workers=1)) == {"size": 2}
    assert stable_dump(Knobs(size=3)) != stable_dump(Knobs(size=2))


class Counting:
    """A stage that writes one file and counts its runs; its behaviour is set per test."""

    def __init__(self, name, reads=(), fail=False, skip=False, external=None):
        self.name, self.version, self.reads = name, 1, reads
        self.fail, self.skip, self.external, self.runs, self.knob = fail, skip, external, 0, 1
        self.works = []

    publishes: dict[str, str] = {}

    def enabled(self, recipe):
        return True

    def plan(self, ctx):
        return ""

    def preflight(self, ctx):
        pass

    def config(self, recipe):
        return {"knob": self.knob, "volatile": Knobs(workers=self.runs)}

    def inputs(self, ctx):
        return [self.external] if self.external else []

    def run(self, ctx, out: Path, work: Path):
        self.runs += 1
        self.works.append(sorted(p.name for p in work.iterdir()))
        (work / f"attempt{self.runs}").write_text("x")
        if self.skip:
            raise StageSkipped("nothing to do")
        (out / "result.txt").write_text(f"run {self.runs}")
        if self.fail:
            raise RuntimeError("boom")
        return {"runs": self.runs}


@pytest.fixture
def tiny_recipe(tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", [{"instruction": "Write f.", "output": "def f():\n    return 1\n"}])
    p = tmp_path / "r.yaml"
    p.write_text(f"name: s\noutput_dir: {tmp_path / 'run'}\nsources: [{{name: a, adapter: alpaca, path: {data}}}]\n")
    return load_recipe(p)


@pytest.fixture
def stages(monkeypatch):
    a, b = Counting("ingest"), Counting("curate", reads=("ingest",))
    monkeypatch.setattr(pipeline, "STAGES", (a, b))
    monkeypatch.setattr(pipeline, "STAGE_NAMES", ("ingest", "curate"))
    return a, b


def test_unchanged_stages_are_skipped_and_a_changed_one_reruns_what_reads_it(tiny_recipe, stages):
    a, b = stages
    run_dir = tiny_recipe.run_dir
    pipeline.Pipeline(tiny_recipe).run()
    pipeline.Pipeline(tiny_recipe).run()
    assert (a.runs, b.runs) == (1, 1)
    a.knob = 2  # ingest's recipe slice changed: it reruns, and so does curate, which reads it
    pipeline.Pipeline(tiny_recipe).run()
    assert (a.runs, b.runs) == (2, 2)
    b.knob = 5  # curate alone
    pipeline.Pipeline(tiny_recipe).run()
    assert (a.runs, b.runs) == (2, 3)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["stages"]["curate"]["status"] == "done" and record["stages"]["ingest"]["status"] == "skipped"
    assert record["stages"]["curate"]["counts"] == {"runs": 3}
    assert (run_dir / OUTPUTS["curate"] / "result.txt").read_text() == "run 3"
    assert not (run_dir / "work" / "curate").exists()  # work is dropped once the stage is done


def test_an_external_file_that_changes_reruns_the_stage(tiny_recipe, stages, tmp_path):
    a, b = stages
    ext = tmp_path / "benchmark.jsonl"
    ext.write_text("one\n")
    a.external = ext
    pipeline.Pipeline(tiny_recipe).run()
    pipeline.Pipeline(tiny_recipe).run()
    assert a.runs == 1
    ext.write_text("two\n")
    pipeline.Pipeline(tiny_recipe).run()
    assert (a.runs, b.runs) == (2, 2)


def test_a_failed_stage_keeps_the_previous_output_and_its_work(tiny_recipe, stages):
    a, b = stages
    pipeline.Pipeline(tiny_recipe).run()
    out = tiny_recipe.run_dir / OUTPUTS["curate"]
    done = marker(out)
    b.knob, b.fail = 2, True
    with pytest.raises(RuntimeError):
        pipeline.Pipeline(tiny_recipe).run()
    assert marker(out) == done and (out / "result.txt").read_text() == "run 1"  # never half-written
    record = json.loads((tiny_recipe.run_dir / "run.json").read_text())
    assert record["stages"]["curate"]["status"] == "failed" and record["stages"]["curate"]["error"] == "boom"
    b.fail = False  # the retry with the same fingerprint finds the work of the failed attempt
    pipeline.Pipeline(tiny_recipe).run()
    assert b.works[-1] == [".fingerprint", "attempt2"]
    assert marker(out) != done


def test_a_stage_with_nothing_to_do_is_skipped_without_output(tiny_recipe, stages):
    a, b = stages
    b.skip = True
    pipeline.Pipeline(tiny_recipe).run()
    record = json.loads((tiny_recipe.run_dir / "run.json").read_text())
    assert record["stages"]["curate"] == {**record["stages"]["curate"], "status": "skipped", "reason": "nothing to do"}
    assert marker(tiny_recipe.run_dir / OUTPUTS["curate"]) is None


def test_selection_needs_finished_upstream_output(tiny_recipe, stages):
    with pytest.raises(UserError, match="stage ingest has no finished output"):
        pipeline.Pipeline(tiny_recipe).run(pipeline.Selection(only=("curate",)))
    pipeline.Pipeline(tiny_recipe).run(pipeline.Selection(only=("ingest",)))
    a, b = stages
    assert (a.runs, b.runs) == (1, 0)
    pipeline.Pipeline(tiny_recipe).run(pipeline.Selection(start="curate"))
    assert (a.runs, b.runs) == (1, 1)


def test_every_shipped_recipe_validates():
    for path in sorted((ROOT / "recipes").glob("*.yaml")):
        load_recipe(path)


def test_every_stage_has_every_member_of_the_protocol():
    """The pipeline calls each member without asking whether it is there (no hasattr)."""
    members = [m for m in pipeline.Stage.__dict__ if not m.startswith("_")] + list(pipeline.Stage.__annotations__)
    assert {"plan", "preflight", "publishes", "run"} <= set(members)
    for stage in pipeline.STAGES:
        missing = [m for m in members if not hasattr(stage, m)]
        assert not missing, f"{stage.name} lacks {missing}"
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in stage.publishes.items())
