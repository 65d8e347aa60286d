"""The report's model-beside-its-baseline part, from real eval results (scored in the sandbox)."""

import pytest

from alchemist.leaderboard import write_leaderboard
from alchemist.report import collect as C
from alchemist.report import page
from alchemist.testsets import load_benchmark
from tests.helpers import run_cli, write_jsonl


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cmp")
    problems = load_benchmark("humaneval")[:6]
    # base passes tasks 0-2, tuned passes 2-5; tuned's answers to 0 and 1 were cut at max_tokens
    base = write_jsonl(tmp / "base.jsonl", [{"task_id": p.task_id, "completion": p.solution if i < 3 else "    return None\n"}
                                            for i, p in enumerate(problems)])
    tuned = write_jsonl(tmp / "tuned.jsonl", [{"task_id": p.task_id, "completion": p.solution if i >= 2 else "    return None\n",
                                               **({"truncated": True} if i < 2 else {})} for i, p in enumerate(problems)])
    for f in (base, tuned):
        r = run_cli("eval", "--benchmark", "humaneval", "--samples", f, "--limit", "6", "-o", tmp / "runs" / f.stem)
        assert r.returncode == 0, r.stderr
    return write_leaderboard([str(tmp / "runs")], tmp / "board", baseline="base")


def test_tasks_gained_and_lost_and_cut_answers_are_told(board):
    [c] = C.compared(board)
    assert (c["base"], c["model"], c["benchmark"]) == ("base", "tuned", "humaneval")
    assert c["gained"] == ["HumanEval/3", "HumanEval/4", "HumanEval/5"] and c["lost"] == ["HumanEval/0", "HumanEval/1"]
    assert c["before"]["truncated"] == 0 and c["after"]["truncated"] == 2 and c["after"]["samples"] == 6
    html = str(page._versus(c))
    assert "tuned beside base" in html and "2 of 6 (33.3%)" in html and "0 of 6 (0.0%)" in html
    assert "Passed by tuned only (3): HumanEval/3, HumanEval/4, HumanEval/5" in html


def test_no_baseline_no_comparison(board):
    assert C.compared({**board, "baseline": None}) == []
    assert C.compared({**board, "baseline": "not a row"}) == []


def test_the_loss_mask_is_shown_and_escaped():
    samples = [{"task": "codegen", "tokens": 9, "loss_tokens": 3, "shown": 9, "problems": [],
                "runs": [{"text": "<|im_start|>user\nWrite <script>x</script>", "loss": False},
                         {"text": "def f(): pass<|im_end|>", "loss": True}]}]
    html = "".join(str(p) for p in page._loss_mask(samples))
    assert "<mark>def f(): pass&lt;|im_end|&gt;</mark>" in html
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert "3 of 9" in html and page._loss_mask([]) == []
