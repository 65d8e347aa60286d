"""curate.verify end to end: answers that fail their own checks are dropped as fails_execution."""

import json

from tests.helpers import run_cli, write_jsonl

PASSES = {"instruction": "Write add(a, b) returning the sum.",
          "output": "```python\ndef add(a, b):\n    return a + b\n\nassert add(2, 3) == 5\n```"}
FAILS = {"instruction": "Write mul(a, b) returning the product.",
         "output": "```python\ndef mul(a, b):\n    return a + b\n\nassert mul(2, 3) == 6\n```"}


def test_failing_answers_are_dropped_with_their_error(tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", [PASSES, FAILS])
    p = tmp_path / "r.yaml"
    p.write_text(f"name: v\noutput_dir: {tmp_path / 'run'}\nsources: [{{name: a, adapter: alpaca, path: {data}}}]\n"
                 "curate: {decontaminate: {benchmarks: [humaneval]}, verify: {enabled: true}, executor: {workers: 1}}\n")
    r = run_cli("data", p)
    assert r.returncode == 0, r.stderr
    manifest = json.loads((tmp_path / "run" / "data" / "manifest.json").read_text())
    assert manifest["sources"]["a"]["kept"] == 1 and manifest["sources"]["a"]["dropped"] == {"malformed": 0, "fails_execution": 1}
    report = (tmp_path / "run" / "data" / "report.md").read_text()
    assert "fails_execution" in report and "AssertionError" in report
