"""The Benchmark registry: records, selection, few-shot examples, user files, refusing training data."""

import dataclasses

import pytest

from alchemist.errors import UserError
from alchemist.testsets import BENCHMARKS, KNOWN_BENCHMARKS, Benchmark, eval_problems, get_benchmark, load_benchmark
from tests.helpers import write_jsonl


def _mbpp_records(n=974):
    return [{"task_id": i, "text": f"Write a function f{i} that returns {i}.", "code": f"def f{i}():\n    return {i}",
             "test_list": [f"assert f{i}() == {i}"], "test_setup_code": "", "challenge_test_list": []} for i in range(1, n + 1)]


def test_registry_records():
    languages = {f"{b}/{lang}" for b in ("humaneval_x", "multipl_e") for lang in ("cpp", "go", "java", "js", "rust")}
    languages.add("humaneval_x")  # every language at once, for decontamination
    assert set(KNOWN_BENCHMARKS) == {"humaneval", "humaneval_plus", "mbpp", "mbpp_sanitized", "mbpp_plus", *languages}
    assert all(isinstance(b, Benchmark) and b.name == name for name, b in BENCHMARKS.items())
    assert {n: b.checks for n, b in BENCHMARKS.items()} == {
        "humaneval": "check_function", "humaneval_plus": "differential", "mbpp": "asserts", "mbpp_sanitized": "asserts",
        "mbpp_plus": "differential", **{name: "program" for name in languages}}
    assert BENCHMARKS["humaneval_plus"].title == "HumanEval+" and BENCHMARKS["mbpp"].shots == ("mbpp/2", "mbpp/3", "mbpp/4")
    with pytest.raises(dataclasses.FrozenInstanceError):
        BENCHMARKS["mbpp"].checks = "differential"
    with pytest.raises(UserError, match="did you mean 'humaneval'"):
        get_benchmark("humanevel")


def test_humaneval_is_real_and_plus_decontaminates_as_its_base():
    problems = eval_problems("humaneval")
    assert len(problems) == 164 and problems[0].task_id == "HumanEval/0" and "def check(" in problems[0].tests
    plus = load_benchmark("humaneval_plus")  # no download: the same prompts and solutions
    assert [p.task_id for p in plus] == [p.task_id for p in problems] and plus[0].benchmark == "humaneval_plus"


def test_mbpp_test_split_and_shots(tmp_path):
    data = write_jsonl(tmp_path / "mbpp.jsonl", _mbpp_records())
    bench = BENCHMARKS["mbpp"]
    scored = bench.eval_problems(data)
    assert len(scored) == 500 and scored[0].task_id == "mbpp/11" and scored[-1].task_id == "mbpp/510"
    assert [p.task_id for p in bench.examples(data)] == ["mbpp/2", "mbpp/3", "mbpp/4"]
    assert len(load_benchmark("mbpp", data)) == 974  # decontamination sees every problem


def test_user_file_gets_a_benchmark_from_its_records(tmp_path):
    he = load_benchmark("humaneval")[:2]
    style_he = write_jsonl(tmp_path / "mine.jsonl", [{"task_id": p.task_id, "prompt": p.prompt, "canonical_solution": p.solution,
                                                      "test": p.tests, "entry_point": p.entry_point} for p in he])
    assert get_benchmark("private", style_he).checks == "check_function"
    asserts = write_jsonl(tmp_path / "asserts.jsonl", _mbpp_records(3))
    bench = get_benchmark("private", asserts)
    assert bench.checks == "asserts" and bench.title == "private" and len(bench.eval_problems(asserts)) == 3


@pytest.mark.parametrize("name", ["mbpp", "humaneval", "private"])
def test_training_data_is_not_a_benchmark(tmp_path, name):
    alpaca = write_jsonl(tmp_path / "alpaca.jsonl", [{"instruction": "Write a function that adds two numbers.", "input": "",
                                                      "output": "def add(a, b):\n    return a + b"}])
    with pytest.raises(UserError, match=r"alpaca\.jsonl.*(needs tests|no tests|has no entry_point)") as e:
        eval_problems(name, alpaca)
    assert "training data" in str(e.value) and "base_input" in str(e.value)
