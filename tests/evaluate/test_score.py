"""`alchemist eval --samples` on the real HumanEval data and an MBPP-format fixture."""

import json

import pytest

from alchemist.evaluate.metrics import mean_pass_at_k, pass_at_k
from alchemist.evaluate.sanitize import sanitize
from alchemist.testsets import load_benchmark
from tests.helpers import run_cli, write_jsonl


@pytest.fixture(scope="module")
def humaneval():
    return load_benchmark("humaneval")


def test_canonical_solutions_pass_and_planted_bugs_fail(tmp_path, humaneval):
    canon = write_jsonl(tmp_path / "canon.jsonl", [{"task_id": p.task_id, "completion": p.solution} for p in humaneval])
    r = run_cli("eval", "--benchmark", "humaneval", "--samples", canon, "-o", tmp_path / "c")
    assert r.returncode == 0, r.stderr
    results = json.loads((tmp_path / "c" / "results.json").read_text())
    assert results["pass_at_k"] == {"pass@1": 1.0} and results["tasks_scored"] == 164
    bug = write_jsonl(tmp_path / "bug.jsonl", [
        {"task_id": p.task_id, "solution": f"```python\ndef {p.entry_point}(*args, **kwargs):\n    return None\n```"}
        for p in humaneval])
    r = run_cli("eval", "--benchmark", "humaneval", "--samples", bug, "-o", tmp_path / "b")
    assert r.returncode == 0, r.stderr
    results = json.loads((tmp_path / "b" / "results.json").read_text())
    assert results["pass_at_k"]["pass@1"] == 0.0
    assert all(t["status"] == "failed" for t in results["tasks"].values())
    saved = [json.loads(line) for line in (tmp_path / "b" / "samples.jsonl").read_text().splitlines()]
    assert saved[0]["raw"].startswith("```python") and not saved[0]["sanitized"].startswith("```")


def test_subset_and_bad_lines(tmp_path, humaneval):
    subset = write_jsonl(tmp_path / "s.jsonl", [{"task_id": p.task_id, "completion": p.solution} for p in humaneval[:5]])
    r = run_cli("eval", "--benchmark", "humaneval", "--samples", subset, "-o", tmp_path / "o")
    results = json.loads((tmp_path / "o" / "results.json").read_text())
    assert (results["tasks_scored"], results["tasks_in_benchmark"]) == (5, 164)
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"task_id": "HumanEval/0", "completion": "x"}, {"task_id": "Nope/1", "solution": "x"}])
    r = run_cli("eval", "--benchmark", "humaneval", "--samples", bad)
    assert r.returncode == 2 and f"{bad}:2: task_id 'Nope/1' is not in this benchmark" in r.stderr
    assert "Traceback" not in r.stderr


def test_mbpp_format_fixture(tmp_path):
    data = write_jsonl(tmp_path / "mbpp.jsonl", [
        {"task_id": 11, "text": "Write a python function to remove first and last occurrence of a given character from the string.",
         "code": "def remove_Occ(s, ch):\n    s = s.replace(ch, '', 1)\n    return s[::-1].replace(ch, '', 1)[::-1]",
         "test_list": ['assert remove_Occ("hello","l") == "heo"', 'assert remove_Occ("abcda","a") == "bcd"'],
         "test_setup_code": "", "challenge_test_list": []},
        {"task_id": 12, "text": "Write a function to sort a given matrix in ascending order according to the sum of its rows.",
         "code": "def sort_matrix(M):\n    return sorted(M, key=sum)",
         "test_list": ["assert sort_matrix([[1, 2, 3], [2, 4, 5], [1, 1, 1]]) == [[1, 1, 1], [1, 2, 3], [2, 4, 5]]"],
         "test_setup_code": "", "challenge_test_list": []}])
    samples = write_jsonl(tmp_path / "s.jsonl", [
        {"task_id": "mbpp/11", "solution": "def remove_Occ(s, ch):\n    s = s.replace(ch, '', 1)\n    return s[::-1].replace(ch, '', 1)[::-1]"},
        {"task_id": "mbpp/12", "solution": "def sort_matrix(M):\n    return M"}])
    r = run_cli("eval", "--benchmark", "mbpp", "--data", data, "--samples", samples, "-o", tmp_path / "o")
    assert r.returncode == 0, r.stderr
    tasks = json.loads((tmp_path / "o" / "results.json").read_text())["tasks"]
    assert tasks["mbpp/11"]["status"] == "passed" and tasks["mbpp/12"]["status"] == "failed"


def test_training_data_as_benchmark_data_is_refused(tmp_path):
    alpaca = write_jsonl(tmp_path / "alpaca.jsonl", [{"instruction": "Write a function that adds two numbers.",
                                                      "output": "def add(a, b):\n    return a + b"}])
    samples = write_jsonl(tmp_path / "s.jsonl", [{"task_id": "mbpp/0", "solution": "def add(a, b):\n    return a + b"}])
    r = run_cli("eval", "--benchmark", "mbpp", "--data", alpaca, "--samples", samples, "-o", tmp_path / "o")
    assert r.returncode == 2 and f"{alpaca}: problem 1 (mbpp/0) has no tests" in r.stderr and "training data" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "o").exists()


def test_pass_at_k_closed_form():
    assert pass_at_k(10, 0, 1) == 0.0 and pass_at_k(10, 10, 5) == 1.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(5, 2, 2) == pytest.approx(1 - (3 * 2) / (5 * 4))  # 1 - C(3,2)/C(5,2)
    assert mean_pass_at_k([(10, 3), (10, 0)], ks=(1, 10)) == {"pass@1": pytest.approx(0.15), "pass@10": pytest.approx(0.5)}
    assert list(mean_pass_at_k([(12, 3), (10, 0)])) == [f"pass@{k}" for k in range(1, 11)]  # every k all tasks support
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 5)


@pytest.mark.parametrize("raw, expected_start", [
    ("Sure!\n```python\nimport math\n\ndef f(x):\n    return math.sqrt(x)\n\nprint(f(4))\nassert f(4) == 2\n```\nDone.", "import math"),
    ("def f(x):\n    return x\n\nif __name__ == '__main__':\n    print(f(1))\n", "def f(x)"),
    ("Explanation first.\n```\ndef g():\n    pass\n```\n```python\ndef f(x):\n    return 2 * x\n```", "def f(x)"),
    ("```python\ndef f(x):\n    return x\n\ndef broken(:\n", "def f(x)"),
])
def test_sanitize_keeps_definitions_only(raw, expected_start):
    code = sanitize(raw, "f")
    assert code.startswith(expected_start)
    assert "print(" not in code and "assert" not in code and "__main__" not in code
    compile(code, "<sanitized>", "exec")


def test_plus_format_scores_base_and_plus(tmp_path, humaneval):
    """evalplus' format: the candidate must match the reference on base and extra inputs."""
    ps = humaneval[:3]
    base = {"HumanEval/0": [[[1.0, 2.0, 3.0], 0.5], [[1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3]],
            "HumanEval/1": [["(()()) ((())) () ((())()())"]], "HumanEval/2": [[3.5], [1.33]]}
    extra = {"HumanEval/0": [[[1.0, 1.05], 0.1], [[], 1.0]], "HumanEval/1": [["()"], ["((()))"]],
             "HumanEval/2": [[123.456], [0.0]]}
    data = write_jsonl(tmp_path / "plus.jsonl", [
        {"task_id": p.task_id, "prompt": p.prompt, "canonical_solution": p.solution, "entry_point": p.entry_point,
         "contract": "", "base_input": base[p.task_id], "plus_input": extra[p.task_id], "atol": 0} for p in ps])
    samples = write_jsonl(tmp_path / "s.jsonl", [{"task_id": p.task_id, "completion": p.solution} for p in ps[:2]] + [
        {"task_id": "HumanEval/2", "completion": "    return 0.0 if number > 100 else number % 1.0\n"}])
    r = run_cli("eval", "--benchmark", "humaneval_plus", "--data", data, "--samples", samples, "-o", tmp_path / "o")
    assert r.returncode == 0, r.stderr
    results = json.loads((tmp_path / "o" / "results.json").read_text())
    assert results["base_pass_at_k"]["pass@1"] == 1.0  # right on the original inputs
    assert results["pass_at_k"]["pass@1"] == pytest.approx(2 / 3)  # wrong on a plus input
    plain = write_jsonl(tmp_path / "plain.jsonl", [{"task_id": p.task_id, "prompt": p.prompt, "canonical_solution": p.solution,
                                                    "entry_point": p.entry_point, "test": p.tests} for p in ps])
    r = run_cli("eval", "--benchmark", "humaneval_plus", "--data", plain, "--samples", samples)
    assert r.returncode == 2 and "needs evalplus' data file" in r.stderr
