"""The per-sample verdict: contamination is checked for every sample, over every turn, and wins
over any quality reason (else a contaminated sample becomes a data-filtering question)."""

import orjson
import pytest
from datatrove.data import Document

from alchemist.curate.steps import Screen
from alchemist.recipe import FilterSpec
from alchemist.rules.decontaminate import NgramIndex, contamination
from alchemist.rules.filters import quality_reason, screen
from alchemist.schema import Sample
from alchemist.testsets import load_benchmark

CLEAN_CODE = "```python\ndef double(x):\n    return 2 * x\n```"


@pytest.fixture(scope="module")
def problem():
    return load_benchmark("humaneval")[0]


@pytest.fixture(scope="module")
def index():
    return NgramIndex(load_benchmark("humaneval")[:10], n=13, min_overlap=0.1)


def chat(*turns):
    return Sample(source="t", messages=[{"role": r, "content": c} for r, c in turns])


def leak(p):
    return f"```python\n{p.prompt}{p.solution}\n```"


@pytest.mark.parametrize("bad_response, quality", [
    ("Yes", "short_response"),
    ("", "empty_response"),
    ("```python\ndef f(:\n```", "python_syntax_error"),
    ("I would loop over the numbers and compare every pair with the threshold given.", "no_code"),
])
def test_contamination_wins_over_quality_reasons(index, problem, bad_response, quality):
    s = chat(("user", f"Complete this function:\n{problem.prompt}"), ("assistant", bad_response))
    assert quality_reason(s, FilterSpec()) == quality  # it fails a quality filter too
    reason, detail = screen(s, FilterSpec(), index)
    assert reason == "contaminated" and detail["matches"][0]["task_id"] == problem.task_id


@pytest.mark.parametrize("where", ["system", "first answer", "first question"])
def test_every_turn_is_checked(index, problem, where):
    turns = {
        "system": [("system", f"Reference:\n{leak(problem)}"), ("user", "Write a doubling function."), ("assistant", CLEAN_CODE)],
        "first answer": [("user", "Write a helper."), ("assistant", leak(problem)),
                         ("user", "Now a doubling function."), ("assistant", CLEAN_CODE)],
        "first question": [("user", f"Here is some code:\n{problem.prompt}"), ("assistant", "Noted."),
                           ("user", "Now a doubling function."), ("assistant", CLEAN_CODE)],
    }[where]
    s = chat(*turns)
    assert quality_reason(s, FilterSpec()) is None
    assert screen(s, FilterSpec(), index)[0] == "contaminated"
    assert contamination(s, index)["matches"][0]["task_id"] == problem.task_id


def test_contamination_helper(index, problem):
    clean = chat(("user", "Write a doubling function."), ("assistant", CLEAN_CODE))
    assert contamination(clean, index) is None and contamination(clean, None) is None
    assert screen(clean, FilterSpec(), index) == (None, None)
    assert screen(chat(("user", "Write it."), ("assistant", "Yes")), FilterSpec(), None) == ("short_response", None)
    detail = contamination(chat(("user", "Solve it."), ("assistant", leak(problem))), index)
    assert set(detail) == {"matches"} and 1 <= len(detail["matches"]) <= 5
    assert set(detail["matches"][0]) == {"task_id", "field", "overlap"} and detail["matches"][0]["task_id"] == problem.task_id


def test_screen_step_on_a_list(tmp_path, index, problem):
    samples = [
        chat(("user", "Write a doubling function."), ("assistant", CLEAN_CODE)),
        chat(("user", f"Complete:\n{problem.prompt}"), ("assistant", "Yes")),  # short AND contaminated
        chat(("user", "Write it."), ("assistant", "Yes")),                      # short only
    ]
    docs = [Document(text="", id=str(i), metadata={"sample": s}) for i, s in enumerate(samples)]
    passed = list(Screen(str(tmp_path), FilterSpec(), index).run(docs))
    assert [d.id for d in passed] == ["0"]
    verdicts = [orjson.loads(line) for line in (tmp_path / "00000.jsonl").read_text().splitlines()]
    assert [(v["idx"], v["reason"]) for v in verdicts] == [(0, None), (1, "contaminated"), (2, "short_response")]
    assert verdicts[1]["detail"]["matches"][0]["task_id"] == problem.task_id
