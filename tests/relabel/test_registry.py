"""Every relabel task is registered and run through one shape: the RelabelTasks answered in one
batch, then each BuiltTask made from the stage's TaskContext, in its registered order."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alchemist.llm import Sampling
from alchemist.llm.factory import build_client
from alchemist.llm.fake_server import FakeServer
from alchemist.recipe import Recipe
from alchemist.relabel import registry
from alchemist.relabel.context import Tally, TaskContext
from alchemist.relabel.curation import ProducedCuration
from alchemist.relabel.registry import BUILT, TASKS, BuiltTask, templates
from alchemist.relabel.templates import load
from alchemist.schema import Sample, rows_to_table
from alchemist.stage import RunContext

# the prompt files as the stage fingerprint has always listed them: a run directory made before
# keeps its fingerprint, so it is not relabeled again
FINGERPRINTED = ("alchemist_prompt", "instruction_evolution", "instruction_compare_task", "code_review",
                 "code_review_task", "evol_answer", "data_filtering", "oss_instruct")


def test_every_task_is_registered_once_and_the_fingerprint_keeps_its_order():
    assert list(TASKS) == ["alchemist_prompt", "instruction_evolution", "code_review"]
    assert list(BUILT) == ["evol_codegen", "oss_instruct", "data_filtering"]  # data_filtering reads evol_codegen's drops
    assert not set(TASKS) & set(BUILT)
    assert [name for name, task in BUILT.items() if not task.admitted] == ["data_filtering"]
    assert templates() == FINGERPRINTED
    assert all(load(name).id.startswith(f"{name}.v") for name in templates())


def test_a_new_task_s_prompt_files_follow_the_fingerprinted_ones(monkeypatch):
    monkeypatch.setitem(registry.BUILT, "mine", BuiltTask("mine", ("mine", "alchemist_prompt"), lambda tc: [], admitted=False))
    assert templates() == (*FINGERPRINTED, "mine")


def codegen(k: int, source: str = "s") -> Sample:
    return Sample(source=source, messages=[{"role": "user", "content": f"Write a function number {k} that sorts a list."},
                                           {"role": "assistant", "content": f"```python\ndef f{k}(x):\n    return sorted(x)\n```"}],
                  task="codegen", language="python")


@pytest.fixture
def server():
    s = FakeServer(latency=0.0).start()
    yield s
    s.stop()


def test_data_filtering_teaches_from_the_pairs_evol_codegen_dropped(tmp_path, server):
    """The built tasks share one TaskContext: evol_codegen answers instruction_evolution's evolved
    instructions (up to its count), counts the answers a quality filter drops and hands them on;
    data_filtering turns those and the curate stage's filter rejects into questions, with no LLM."""
    recipe = Recipe.model_validate({
        "name": "t", "output_dir": str(tmp_path), "sources": [{"name": "s", "adapter": "alpaca", "path": str(tmp_path / "x")}],
        # the test server's answers are a few hundred characters: every one is short here
        "curate": {"decontaminate": {"enabled": False}, "filters": {"min_response_chars": 1000}},
        "relabel": {"llm": {"backend": "openai", "model": "fake-model", "base_url": server.url, "api_key_env": None},
                    "comprehension": {"instruction_evolution": 3, "evol_codegen": 2, "data_filtering": 6}}})
    spec = recipe.relabel
    samples = [codegen(k) for k in range(4)]
    answered = [("instruction_evolution", i, Sample(source="s", messages=[{"role": "user", "content": "compare"}],
                                                    task="instruction_evolution", meta={"evolved": f"{samples[i].instruction} In O(n)."}))
                for i in range(3)]
    answered.insert(1, ("code_review", 3, Sample(source="s", messages=[{"role": "user", "content": "review"}], task="code_review")))
    no_code = codegen(10, "t")
    rejected = rows_to_table([s.to_row() for s in (no_code, codegen(11), Sample(
        source="s", messages=[{"role": "user", "content": "snippet"}, {"role": "assistant", "content": "x"}], task="code_snippet"))])
    pq.write_table(rejected.append_column("reason", pa.array(["no_code", "exact_duplicate", "no_code"])), tmp_path / "rejected.parquet")
    said = []
    client = build_client(spec.llm, tmp_path / "cache.sqlite")
    tc = TaskContext(spec, 7, samples, tmp_path / "rejected.parquet", client, Sampling(max_tokens=256, seed=7),
                     {"llm": client.model_id}, tmp_path, Tally(), said.append, answered=answered)
    tc.check = ProducedCuration(RunContext(recipe=recipe), samples, tmp_path)
    try:
        assert BUILT["evol_codegen"].make(tc) == []
        assert sum(server.requests.values()) == 2  # evol_codegen: 2 of the 3 evolved instructions
        assert dict(tc.tally.rejected) == {"evol_codegen": {"short_response": 2}}
        assert [(s.meta["origin"], s.meta["generated"], why) for s, why in tc.filtered] == \
            [(samples[0].id, "evol_codegen", "short_response"), (samples[1].id, "evol_codegen", "short_response")]
        made = BUILT["data_filtering"].make(tc)
    finally:
        tc.check.close()
        client.close()
    assert sum(server.requests.values()) == 2  # data filtering asks no LLM
    # the curate stage's filter reject of a codegen sample, then the two dropped pairs
    assert sorted((s.meta["origin"], s.meta["answer"]) for s in made) == sorted(
        [(no_code.id, "C")] + [(s.id, "A") for s, _ in tc.filtered])
    assert all(s.task == "data_filtering" and s.meta["template"] == load("data_filtering").id for s in made)
    assert said == ["relabel: only 3 rejected samples can become data-filtering tasks (6 asked)"]
