"""All signals behind one decision: the index a recipe asks for, the verdict detail (matches
with the signal that fired, every signal's score), near misses, and `contamination`'s contract
(what relabel calls on produced samples)."""

import pytest

from alchemist.recipe import FilterSpec
from alchemist.rules.decontaminate import Decontaminator, NgramIndex, build_index, contamination, contamination_batch
from alchemist.rules.filters import screen_batch
from alchemist.rules.spec import DecontaminateSpec
from alchemist.schema import Sample
from alchemist.testsets import load_benchmark

STRUCTURE_ONLY = {"embedding": False}


@pytest.fixture(scope="module")
def problems():
    return load_benchmark("humaneval")[:30]


@pytest.fixture(scope="module")
def index(problems):
    return build_index(problems, DecontaminateSpec.model_validate(STRUCTURE_ONLY))


def chat(user, answer):
    return Sample(source="t", messages=[{"role": "user", "content": user}, {"role": "assistant", "content": answer}])


REWRITTEN = '''```python
def solve(data, limit):
    # every ordered pair
    for i, a in enumerate(data):
        for j, b in enumerate(data):
            if (i != j):
                gap = abs(a - b)
                if gap < limit: return True
    return False
```'''


def test_ngram_only_keeps_the_old_index(problems):
    spec = DecontaminateSpec.model_validate({"structure": False, "embedding": False})
    assert isinstance(build_index(problems, spec), NgramIndex)
    assert build_index([], spec) is None and build_index(problems, DecontaminateSpec(enabled=False)) is None


def test_a_rewritten_solution_is_caught_by_structure_with_every_score(index):
    assert isinstance(index, Decontaminator)
    detail = contamination(chat("Tell me if any two values are closer than a limit.", REWRITTEN), index)
    top = detail["matches"][0]
    assert (top["task_id"], top["signal"], top["field"]) == ("HumanEval/0", "structure", "structure")
    assert top["overlap"] >= 0.8 and set(detail["scores"]) == {"ngram", "structure"}


def test_clean_samples_get_none(index, clean_records):
    samples = [chat(r["instruction"], r["output"]) for r in clean_records[:150]]
    details = [d for d, _ in contamination_batch(samples, index)]
    assert sum(d is not None for d in details) <= 1


def test_near_misses_ride_on_the_clean_verdict(problems):
    spec = DecontaminateSpec.model_validate({"embedding": False, "structure": {"threshold": 0.99}, "judge": {"margin": 0.6}})
    index = build_index(problems, spec)
    partial = REWRITTEN.replace("                if gap < limit: return True\n", "")
    (reason, detail), = screen_batch([chat("Solve it.", partial)], FilterSpec(), index)
    assert reason is None and detail["near_misses"][0]["task_id"] == "HumanEval/0"


def test_verbatim_copies_still_name_their_field(index, problems):
    p = problems[3]
    detail = contamination(chat(f"Complete:\n{p.prompt}", f"```python\n{p.prompt}{p.solution}\n```"), index)
    assert detail["matches"][0]["task_id"] == p.task_id
    assert {"prompt", "solution", "code"} & {m["field"] for m in detail["matches"]}
