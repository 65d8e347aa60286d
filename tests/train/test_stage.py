import json
import shutil
from types import SimpleNamespace

import pytest

from alchemist.stage import RunContext
from alchemist.train.stage import Train
from tests.train.conftest import tiny_spec


def test_stage_trains_from_the_mix_output_and_resumes(base_model, data_path, tmp_path):
    spec = tiny_spec(base_model, chat_template="chatml", max_steps=2, save_steps=1, launch={"nproc_per_node": 1})
    recipe = SimpleNamespace(train=spec, seed=0, run_dir=tmp_path / "run")
    (recipe.run_dir / "data" / "final").mkdir(parents=True)
    shutil.copy(data_path, recipe.run_dir / "data" / "final" / "train.parquet")
    said = []
    ctx = RunContext(recipe=recipe)
    ctx.say = said.append
    stage = Train()
    assert stage.enabled(recipe) and stage.config(recipe) == {"train": spec, "seed": 0, "world_size": 1}
    assert [p.name for p in stage.inputs(ctx)] and all(p.parent == base_model for p in stage.inputs(ctx))
    assert "full fine-tune" in stage.plan(ctx) and "global batch 1x1x1 = 1" in stage.plan(ctx)
    stats = stage.run(ctx, tmp_path / "out", tmp_path / "work")
    assert stats["steps"] == 2 and stats["resumed_from"] is None
    json.dumps(stats)  # goes into run.json
    # a second attempt with the same work directory picks up the last checkpoint
    stats = stage.run(ctx, tmp_path / "out2", tmp_path / "work")
    assert stats["resumed_from"] == "checkpoint-2" and stats["tokenize_cache_hit"]
    assert any("resuming from checkpoint-2" in s for s in said)


@pytest.mark.slow
def test_stage_launches_ranks_and_reads_rank0s_report(tiny_model, data_path, tmp_path, monkeypatch):
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    from tests.train.helpers import free_port

    spec = tiny_spec(tiny_model, max_steps=2, launch={"nproc_per_node": 2, "master_port": free_port()})
    recipe = SimpleNamespace(train=spec, seed=0, run_dir=tmp_path / "run")
    (recipe.run_dir / "data" / "final").mkdir(parents=True)
    shutil.copy(data_path, recipe.run_dir / "data" / "final" / "train.parquet")
    said = []
    ctx = RunContext(recipe=recipe)
    ctx.say = said.append
    stats = Train().run(ctx, tmp_path / "out", tmp_path / "work")
    assert any("torch.distributed.run --standalone --nproc_per_node 2" in s for s in said)
    assert stats["steps"] == 2 and "history" not in stats
    assert (tmp_path / "out" / "model.safetensors").is_file()


def test_world_size_is_part_of_the_run_unless_the_global_batch_is_pinned(monkeypatch):
    from alchemist.specs import stable_dump
    from alchemist.train.spec import TrainSpec

    def fingerprint(spec, procs):
        monkeypatch.setenv("RANK", "0")
        monkeypatch.setenv("WORLD_SIZE", str(procs))
        return stable_dump(Train().config(SimpleNamespace(train=spec, seed=0)))

    free = TrainSpec(grad_accum=4)
    assert fingerprint(free, 8) != fingerprint(free, 4)
    pinned = TrainSpec(global_batch_size=64, micro_batch_size=2)
    assert fingerprint(pinned, 8) == fingerprint(pinned, 4)
    assert pinned.accumulation(8) == 4 and pinned.accumulation(4) == 8 and pinned.global_batch(8) == 64
