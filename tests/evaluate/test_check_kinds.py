"""Kinds of checks as registered records: testsets' CHECK_KINDS says what a kind is, the harness'
SCORERS how evaluation scores it; a kind added to both is honoured end to end."""

import json

import pytest

from alchemist.errors import UserError
from alchemist.evaluate import harness
from alchemist.evaluate.prompts import STYLES, few_shot
from alchemist.evaluate.score import program, score
from alchemist.testsets import BENCHMARKS, CHECK_KINDS, CHECKS, Benchmark, CheckKind, Problem, missing_checks
from alchemist.testsets.multilang import language_of
from alchemist.testsets.user import infer_checks
from tests.helpers import write_jsonl


def test_every_kind_is_registered_and_scored():
    assert set(CHECKS) == set(CHECK_KINDS) and all(name == kind.name for name, kind in CHECK_KINDS.items())
    assert {b.checks for b in BENCHMARKS.values()} <= set(CHECK_KINDS)
    # the kinds the harness does not score are those of the other languages' benchmarks (languages.py)
    assert set(CHECK_KINDS) - set(harness.SCORERS) == {b.checks for b in BENCHMARKS.values() if language_of(b.name)}
    assert set(harness.SCORERS) <= set(CHECK_KINDS)


def test_an_unregistered_kind_is_refused():
    with pytest.raises(ValueError, match="unknown kind of checks 'nope'.*CHECK_KINDS"):
        Benchmark(name="b", title="b", load=lambda _: [], checks="nope")
    with pytest.raises(ValueError, match="no scorer for the kind of checks 'program'"):
        harness.scorer("program")


def test_the_first_kind_every_record_carries_is_inferred():
    he = Problem("b", "b/0", "def f(x):\n", "    return x\n", "def check(candidate):\n    assert candidate(1) == 1\n", "f")
    mbpp = Problem("b", "b/1", "Return x.", "def f(x):\n    return x\n", "assert f(1) == 1", "f")
    plus = Problem("b", "b/2", he.prompt, he.solution, he.tests, "f", base_inputs=[[1]], plus_inputs=[])
    assert [infer_checks(ps) for ps in ([plus], [he], [mbpp], [he, mbpp], [plus, he], [])] == [
        "differential", "check_function", "asserts", "asserts", "check_function", None]
    assert missing_checks("differential", he) == "has no base_input, entry_point and canonical_solution"


# A kind of checks of our own: asserts that may only call the entry point (their text names it)
ENTRY_ASSERTS = CheckKind(
    "entry_asserts", lambda p: None if p.entry_point and f"{p.entry_point}(" in p.tests else "has no assert on its entry point",
    test_code=lambda p: f"{p.tests}\n")


def test_a_registered_kind_is_honoured(tmp_path, monkeypatch):
    monkeypatch.setitem(CHECK_KINDS, ENTRY_ASSERTS.name, ENTRY_ASSERTS)
    monkeypatch.setitem(harness.SCORERS, ENTRY_ASSERTS.name, harness.checks_scorer(ENTRY_ASSERTS.name, harness.entry_point))
    problems = [Problem("mine", "mine/0", "Add a and b.", "def add(a, b):\n    return a + b\n",
                        "assert add(1, 2) == 3\nassert add(-1, 1) == 0", "add"),
                Problem("mine", "mine/1", "Negate x.", "def neg(x):\n    return -x\n", "assert neg(2) == -2", "neg")]
    bench = Benchmark(name="mine", title="Mine", load=lambda _: problems, checks="entry_asserts")
    assert bench.eval_problems() == problems
    assert program("entry_asserts", problems[0], "x = 1") == f"{harness.as_module('x = 1')}\n\n{problems[0].tests}\n"
    samples = write_jsonl(tmp_path / "s.jsonl", [
        {"task_id": "mine/0", "solution": "def add(a, b):\n    return a + b\n"},
        {"task_id": "mine/1", "solution": "def neg(x):\n    return x\n"}])
    results = score(bench, problems, samples, tmp_path / "o", workers=1)
    assert results["checks"] == "entry_asserts" and results["base_pass_at_k"] is None
    tasks = json.loads((tmp_path / "o" / "results.json").read_text())["tasks"]
    assert (tasks["mine/0"]["status"], tasks["mine/1"]["status"]) == ("passed", "failed")
    assert tasks["mine/0"]["checks"] == "outside"  # run in the checks' process, not the candidate's
    assert tasks["mine/1"]["samples"][0]["failure"]["test"] == "assert neg(2) == -2"
    broken = Benchmark(name="mine", title="Mine", load=lambda _: [problems[0], Problem("mine", "mine/2", "?", "", "", None)],
                       checks="entry_asserts")
    with pytest.raises(UserError, match=r"problem 2 \(mine/2\) has no assert on its entry point"):
        broken.eval_problems()


def test_few_shot_is_a_property_of_the_style():
    assert [name for name in STYLES if few_shot(name)] == ["mbpp-3shot"]
    assert not few_shot(None) and not few_shot("nope")
