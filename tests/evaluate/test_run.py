"""`evaluate()`: the one code path of `alchemist eval` and the recipe's eval stage, on the real
HumanEval data in the real sandbox; and the samples files users bring (encodings, gzip, mistakes)."""

import gzip
import json

import pytest

from alchemist.errors import UserError
from alchemist.evaluate.run import evaluate, limit_problems
from alchemist.evaluate.score import program
from alchemist.llm import ChatResult
from alchemist.llm.client import Usage
from alchemist.testsets import BENCHMARKS, Problem, get_benchmark
from tests.helpers import run_cli, write_jsonl

HUMANEVAL = BENCHMARKS["humaneval"]


@pytest.fixture(scope="module")
def problems():
    return HUMANEVAL.eval_problems()


class ReferenceClient:
    """An LLM that answers every prompt with the reference solution, as a chat model would: in a
    markdown fence, with prose around it (so sanitizing is exercised)."""

    model_id = "canned:reference-model"

    def __init__(self, problems):
        self.answers = {p.prompt: p.prompt + p.solution for p in problems}
        self.requests = []
        self.usage = Usage()  # what generation's progress reads (tokens/s)

    def generate(self, requests, progress=None):
        self.requests += requests
        out = []
        for r in requests:
            prompt = next(p for p in self.answers if p in r.messages[0]["content"])
            out.append(ChatResult(texts=[f"Here you go:\n```python\n{self.answers[prompt]}\n```\nHope it helps."] * r.sampling.n))
        return out


def _samples(problems, key="completion"):
    return [{"task_id": p.task_id, key: p.solution} for p in problems]


def test_generate_then_score_writes_the_three_files(tmp_path, problems):
    client = ReferenceClient(problems[:3])
    results = evaluate(HUMANEVAL, problems[:3], tmp_path / "eval" / "humaneval", client=client, model_name="ref")
    out = tmp_path / "eval" / "humaneval"
    assert sorted(f.name for f in out.iterdir()) == [".alchemist", "generations.jsonl", "results.json", "samples.jsonl"]  # and its record
    assert results == json.loads((out / "results.json").read_text())
    assert results["pass_at_k"] == {"pass@1": 1.0} and results["model"] == "ref" and results["checks"] == "check_function"
    assert results["generation"] == {"llm": "canned:reference-model", "prompt_style": "instruct", "n": 1,
                                     "temperature": 0.0, "max_tokens": 512}
    assert len(client.requests) == 3
    saved = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert saved[0]["raw"].startswith("Here you go") and saved[0]["sanitized"].startswith("from typing import List")


def test_exactly_one_source_of_answers(tmp_path, problems):
    with pytest.raises(UserError, match="exactly one"):
        evaluate(HUMANEVAL, problems, tmp_path / "o")


def test_gzipped_samples_are_read_with_or_without_the_suffix(tmp_path, problems):
    lines = "".join(json.dumps(s) + "\n" for s in _samples(problems[:4])).encode()
    for name in ("evalplus.jsonl.gz", "no-suffix.jsonl"):
        (tmp_path / name).write_bytes(gzip.compress(lines))
        results = evaluate(HUMANEVAL, problems, tmp_path / name.split(".")[0], samples=tmp_path / name)
        assert results["tasks_scored"] == 4 and results["pass_at_k"]["pass@1"] == 1.0
    assert results["model"] == "no-suffix"
    (tmp_path / "cut.jsonl.gz").write_bytes(gzip.compress(lines)[:-12])
    with pytest.raises(UserError, match=r"cut\.jsonl\.gz:\d+: the gzip data is damaged or cut off"):
        evaluate(HUMANEVAL, problems, tmp_path / "cut", samples=tmp_path / "cut.jsonl.gz")


def test_samples_that_are_not_utf8_name_the_line(tmp_path, problems):
    path = tmp_path / "latin1.jsonl"
    good = json.dumps(_samples(problems[:1])[0])
    path.write_bytes(good.encode() + b"\n" + '{"task_id": "HumanEval/1", "completion": "    # café"}\n'.encode("latin-1"))
    with pytest.raises(UserError, match=rf"{path}:2: not UTF-8 text \(byte 0xe9"):
        evaluate(HUMANEVAL, problems, tmp_path / "o", samples=path)
    r = run_cli("eval", "--benchmark", "humaneval", "--samples", path, "-o", tmp_path / "o")
    assert r.returncode == 2 and f"{path}:2: not UTF-8" in r.stderr and "Traceback" not in r.stderr
    utf16 = tmp_path / "utf16.jsonl"
    utf16.write_text(good + "\n", encoding="utf-16")  # with its byte-order mark: decoded, not refused
    assert evaluate(HUMANEVAL, problems, tmp_path / "u", samples=utf16)["tasks_scored"] == 1


def test_solution_and_completion_together_is_an_error(tmp_path, problems):
    p = problems[0]
    path = write_jsonl(tmp_path / "both.jsonl", [{"task_id": p.task_id, "completion": p.solution},
                                                 {"task_id": p.task_id, "completion": p.solution, "solution": p.prompt + p.solution}])
    with pytest.raises(UserError, match=rf"{path}:2: both `solution` and `completion`"):
        evaluate(HUMANEVAL, problems, tmp_path / "o", samples=path)


def test_tasks_beyond_the_limit_are_reported_as_such(tmp_path, problems):
    path = write_jsonl(tmp_path / "all.jsonl", _samples(problems[:8]))
    kept, excluded = limit_problems(problems, 5)
    assert kept == problems[:5] and len(excluded) == 159 and limit_problems(problems, 0) == (problems, set())
    said = []
    results = evaluate(HUMANEVAL, problems[:5], tmp_path / "o", samples=path, excluded=excluded, say=said.append)
    assert results["tasks_scored"] == 5 and results["samples_beyond_limit"] == 3 and results["limit"] == 5
    assert results["tasks_in_benchmark"] == 164  # a limited run is a partial one on the leaderboard
    assert "task HumanEval/5" in results["notes"][0] and "beyond --limit 5" in results["notes"][0] and said
    late = write_jsonl(tmp_path / "late.jsonl", _samples(problems[6:7]))
    with pytest.raises(UserError, match=r"late\.jsonl:1: task HumanEval/6 is beyond --limit 5"):
        evaluate(HUMANEVAL, problems[:5], tmp_path / "o2", samples=late, excluded=excluded)
    with pytest.raises(UserError, match="is not in this benchmark"):
        evaluate(HUMANEVAL, problems[:5], tmp_path / "o3", samples=write_jsonl(tmp_path / "x.jsonl", [{"task_id": "Nope/1", "completion": ""}]),
                 excluded=excluded)


def test_output_that_is_a_file_is_one_error(tmp_path, problems):
    path = write_jsonl(tmp_path / "s.jsonl", _samples(problems[:1]))
    taken = tmp_path / "taken"
    taken.write_text("not a folder")
    with pytest.raises(UserError, match="taken: exists and is a file; -o needs a folder"):
        evaluate(HUMANEVAL, problems, taken, samples=path)
    with pytest.raises(UserError, match="taken: exists and is a file"):
        evaluate(HUMANEVAL, problems, taken / "humaneval", samples=path)
    r = run_cli("eval", "--benchmark", "humaneval", "--samples", path, "-o", taken)
    assert r.returncode == 2 and "exists and is a file" in r.stderr and "Traceback" not in r.stderr


def test_bad_settings_are_refused_together(tmp_path, problems):
    from alchemist.execution import Limits

    path = write_jsonl(tmp_path / "s.jsonl", _samples(problems[:1]))
    with pytest.raises(UserError) as e:
        evaluate(HUMANEVAL, problems, tmp_path / "o", samples=path, workers=-3, limits=Limits(timeout=0))
    assert "workers must be 0 (one per core) or more, got -3" in str(e.value) and "timeout per program" in str(e.value)


def test_checks_come_from_the_benchmark_not_from_the_test_text(tmp_path):
    """MBPP-style asserts that happen to define a helper named check: no check(entry_point) call."""
    p = Problem("private", "private/1", "Write double.", "def double(x):\n    return 2 * x",
                "def check(value):\n    assert value == 4\ncheck(double(2))", entry_point="double")
    assert program("asserts", p, p.solution).rstrip().endswith("check(double(2))")
    data = write_jsonl(tmp_path / "private.jsonl", [{"task_id": "private/1", "text": p.prompt, "code": p.solution,
                                                     "test_list": p.tests.splitlines(), "entry_point": "double"}])
    path = write_jsonl(tmp_path / "s.jsonl", [{"task_id": "private/1", "solution": p.solution}])
    for bench in (BENCHMARKS["mbpp"], get_benchmark("private", data)):  # registered, and read from the user's records
        results = evaluate(bench, bench.eval_problems(data), tmp_path / bench.name, samples=path)
        assert results["checks"] == "asserts" and results["pass_at_k"]["pass@1"] == 1.0
