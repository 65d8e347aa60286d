"""The records of a scored run (evaluate/records.py) write exactly the JSON score.py wrote as
dicts: the same keys, in the same order, present in the same cases; and they read back what
they wrote. Other readers (report/collect.py, testsets/ranking.py, `--show`) rely on the files."""

import itertools
import json

import pytest

from alchemist.errors import UserError
from alchemist.evaluate.records import Results, SampleLine, SampleResult, TaskResult, Verdict
from alchemist.evaluate.run import evaluate
from alchemist.testsets import BENCHMARKS
from tests.helpers import write_jsonl

HUMANEVAL = BENCHMARKS["humaneval"]

# The expressions score.py wrote the files with before the records (verdicts as dicts), kept here
# as the reference the records must match byte for byte.


def dict_sample_entry(v: dict, s: dict, plus: bool) -> dict:
    return {"line": s["line"], "status": v["status"], "seconds": v.get("seconds", 0.0),
            **({"base_status": v["base_status"]} if plus and "base_status" in v else {}),
            "error": v.get("error", "") if v["status"] != "passed" else "",
            **({"failure": v["failure"]} if v.get("failure") else {}),
            **({"truncated": True} if s["truncated"] else {})}


def dict_samples_line(v: dict, s: dict) -> dict:
    return {"task_id": s["task_id"], "raw": s["raw"], "sanitized": s["code"], "status": v["status"],
            **({"failure": v["failure"]} if v.get("failure") else {}),
            **({"error": v["error"]} if v.get("error") else {}),
            **({"truncated": True} if s["truncated"] else {})}


def as_dict(v: Verdict) -> dict:
    """A verdict as the harness made it as a dict: base_status only on plus verdicts."""
    d = {"status": v.status, "seconds": v.seconds, "error": v.error, "failure": v.failure}
    return d | ({"base_status": v.base_status} if v.base_status is not None else {})


VERDICTS = [
    Verdict("passed", checked="outside", seconds=0.25),
    Verdict("passed", base_status="passed", checked="outside", seconds=1.5),
    Verdict("failed", base_status="passed", checked="outside", seconds=0.5,
            failure={"input": "[10, -3]", "expected": "7", "got": "0"}, error="input [10, -3]: expected 7, got 0"),
    Verdict("timeout", base_status="timeout", checked="outside", seconds=10.0,
            failure={"input": "[1]", "error": "ran out of time (1.0 s for this input)"}, error="input [1]: ran out"),
    Verdict("failed", checked="outside", seconds=0.1, failure={"test": "assert candidate(1) == 2", "error": "AssertionError"},
            error="AssertionError"),
    Verdict("failed", base_status="failed", checked="outside", error="the reference solution fails on 1 inputs: x"),
    Verdict("unverified", checked="in_process", seconds=0.3),
    Verdict("failed", checked="in_process", seconds=0.3, error="AssertionError"),
    Verdict("failed", seconds=0.4, error="compile: main.cpp:18:5: error"),
    Verdict("generation_failed", error="HTTP 503"),
]


@pytest.mark.parametrize("verdict, plus, truncated", list(itertools.product(VERDICTS, [False, True], [False, True])))
def test_records_write_what_the_dicts_wrote(verdict, plus, truncated):
    sample = {"task_id": "HumanEval/0", "line": 7, "truncated": truncated, "raw": "x", "code": "def f():\n    pass\n"}
    entry = SampleResult.of(verdict, sample["line"], truncated, plus)
    assert json.dumps(entry.to_json()) == json.dumps(dict_sample_entry(as_dict(verdict), sample, plus))
    assert SampleResult.from_json(json.loads(json.dumps(entry.to_json()))) == entry
    line = SampleLine.of(sample["task_id"], sample["raw"], sample["code"], verdict, truncated)
    assert json.dumps(line.to_json()) == json.dumps(dict_samples_line(as_dict(verdict), sample))
    assert SampleLine.from_json(json.loads(json.dumps(line.to_json()))) == line


def test_key_order_of_every_record():
    full = Verdict("failed", base_status="passed", seconds=1.0, error="e", failure={"input": "1", "error": "e"})
    assert list(SampleResult.of(full, 3, True, plus=True).to_json()) == [
        "line", "status", "seconds", "base_status", "error", "failure", "truncated"]
    assert list(SampleResult.of(Verdict("passed"), 3, False, plus=False).to_json()) == ["line", "status", "seconds", "error"]
    assert list(SampleLine.of("t", "raw", "code", full, True).to_json()) == [
        "task_id", "raw", "sanitized", "status", "failure", "error", "truncated"]
    assert list(SampleLine.of("t", "raw", "code", Verdict("passed"), False).to_json()) == [
        "task_id", "raw", "sanitized", "status"]
    task = TaskResult()
    task.add(Verdict("unverified"), 1, False, False, plus=False)
    task.add(Verdict("generation_failed", error="no answer"), 2, True, True, plus=False)
    task.settle("in_process", "the test passes or gets back values that are not plain data")
    assert list(task.to_json()) == ["n", "passed", "base_passed", "generation_failed", "truncated", "samples", "status",
                                    "checks", "unverified", "checks_reason"]
    assert (task.n, task.passed, task.generation_failed, task.truncated, task.unverified, task.status) == (
        1, 0, 1, 1, 1, "unverified")
    assert TaskResult.from_json(json.loads(json.dumps(task.to_json()))) == task


def test_task_status_and_base_counts():
    task = TaskResult()
    for v in (Verdict("passed", base_status="passed"), Verdict("failed", base_status="passed"),
              Verdict("failed", base_status="failed")):
        task.add(v, 1, False, False, plus=True)
    task.settle("outside", None)
    assert (task.n, task.passed, task.base_passed, task.status) == (3, 1, 2, "partial")
    assert list(task.to_json())[-2:] == ["status", "checks"]
    none = TaskResult()
    none.add(Verdict("generation_failed", error="no answer"), 1, False, True, plus=False)
    none.settle("in_process", "")  # no answer ran: nothing to call unverified
    assert none.status == "generation_failed" and none.unverified is None and "checks_reason" not in none.to_json()


# results.json's keys in the order score.py has always written them
RESULTS_KEYS = ["benchmark", "model", "pass_at_k", "base_pass_at_k", "pass_at_k_samples", "tasks_scored",
                "tasks_in_benchmark", "limit", "samples", "samples_beyond_limit", "generation_failures", "notes",
                "few_shot_excluded", "checks", "verdicts", "sanitized", "data_hash", "generation", "sandbox", "seconds",
                "programs_per_s", "timestamp", "versions", "tasks"]


def test_a_scored_run_reads_back_byte_for_byte(tmp_path):
    problems = HUMANEVAL.eval_problems()[:2]
    a, b = problems
    samples = write_jsonl(tmp_path / "s.jsonl", [
        {"task_id": a.task_id, "completion": a.solution},
        {"task_id": a.task_id, "completion": "    return None\n", "truncated": True},
        {"task_id": b.task_id, "completion": b.solution},
        {"task_id": b.task_id, "completion": "", "generation_failed": True, "error": "HTTP 503"}])
    returned = evaluate(HUMANEVAL, problems, tmp_path / "o", samples=samples, max_failure_rate=0.5)
    text = (tmp_path / "o" / "results.json").read_text()
    results = json.loads(text)
    assert results == returned and list(results) == RESULTS_KEYS
    assert json.dumps(Results.from_json(results).to_json(), indent=2) + "\n" == text
    for task in results["tasks"].values():
        assert json.dumps(TaskResult.from_json(task).to_json()) == json.dumps(task)
    statuses = [s["status"] for t in results["tasks"].values() for s in t["samples"]]
    assert statuses == ["passed", "failed", "passed", "generation_failed"]
    for text in (tmp_path / "o" / "samples.jsonl").read_text().splitlines():
        assert json.dumps(SampleLine.from_json(json.loads(text)).to_json()) == text


def test_a_damaged_file_is_an_error_naming_the_key():
    with pytest.raises(UserError, match=r"results.json sample 1: no 'status'"):
        TaskResult.from_json({"n": 1, "passed": 0, "status": "failed", "samples": [{"line": 1}]})
    with pytest.raises(UserError, match=r"samples.jsonl:3: 'status' is 1, not str"):
        SampleLine.from_json({"task_id": "t", "raw": "", "sanitized": "", "status": 1}, "samples.jsonl:3")
    with pytest.raises(UserError, match="is not an object"):
        SampleResult.from_json(["line", 1])
    with pytest.raises(UserError, match=r"o/results.json: no 'benchmark'"):
        Results.from_json({"model": "m"}, "o/results.json")
