"""curate.verify end to end: answers that fail their own checks are dropped as fails_execution."""

import json

import pyarrow.parquet as pq

from alchemist.schema import Sample, make_tests
from tests.helpers import run_cli, write_jsonl

PASSES = {"instruction": "Write add(a, b) returning the sum.",
          "output": "```python\ndef add(a, b):\n    return a + b\n\nassert add(2, 3) == 5\n```"}
FAILS = {"instruction": "Write mul(a, b) returning the product.",
         "output": "```python\ndef mul(a, b):\n    return a + b\n\nassert mul(2, 3) == 6\n```"}
DOCTESTED = {"instruction": "Write a function that squares a number, with a doctest.",
             "output": "```python\ndef square(x):\n    \"\"\"The square.\n\n    >>> square(3)\n    9\n    \"\"\"\n    return x * x\n```"}
PLAIN = {"instruction": "Write a greeting function for the console app.",
         "output": "```python\ndef greeting(name):\n    return f'Hello, {name}!'\n```"}


def test_failing_answers_are_dropped_with_their_error(tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", [PASSES, FAILS, DOCTESTED, PLAIN])
    p = tmp_path / "r.yaml"
    p.write_text(f"name: v\noutput_dir: {tmp_path / 'run'}\nsources: [{{name: a, adapter: alpaca, path: {data}}}]\n"
                 "curate: {decontaminate: {benchmarks: [humaneval]}, verify: {enabled: true}, executor: {workers: 1}}\n")
    r = run_cli("data", p)
    assert r.returncode == 0, r.stderr
    manifest = json.loads((tmp_path / "run" / "data" / "manifest.json").read_text())
    assert manifest["sources"]["a"]["kept"] == 3 and manifest["sources"]["a"]["dropped"] == {"malformed": 0, "fails_execution": 1}
    report = (tmp_path / "run" / "data" / "report.md").read_text()
    assert "fails_execution" in report and "AssertionError" in report
    # the checks that ran on a kept answer are recorded as its tests; a smoke run records none
    rows = [Sample.from_row(r) for r in pq.read_table(tmp_path / "run" / "data" / "curated" / "samples.parquet").to_pylist()]
    tests = {s.instruction: s.tests for s in rows}
    assert tests[PASSES["instruction"]] == make_tests("asserts", "assert add(2, 3) == 5", "curate.verify", verdict="passed")
    assert tests[DOCTESTED["instruction"]] == make_tests("doctest", ">>> square(3)\n9", "curate.verify", verdict="passed")
    assert tests[PLAIN["instruction"]] is None
