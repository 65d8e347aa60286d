"""evalplus' semantics on plus-format files, decided in the harness on plain data: MBPP+ input
types, the special oracles, float tolerance, per-input time limits, the base score kept when a
plus input runs out of time."""

import pytest

from alchemist.evaluate.driver import Opaque, decode, encode
from alchemist.evaluate.run import evaluate
from alchemist.execution import Limits
from alchemist.testsets import BENCHMARKS
from tests.helpers import write_jsonl

pytest.importorskip("evalplus")


def _plus(tmp_path, rows):
    return write_jsonl(tmp_path / "plus.jsonl", [{"prompt": "", "contract": "", "atol": 0, **r} for r in rows])


def _score(tmp_path, bench_name, data, answers, **kwargs):
    bench = BENCHMARKS[bench_name]
    problems = bench.eval_problems(data)
    samples = write_jsonl(tmp_path / "s.jsonl", [{"task_id": t, "solution": code} for t, code in answers])
    results = evaluate(bench, problems, tmp_path / "o", samples=samples, sanitize=False, **kwargs)
    return [s for t in results["tasks"].values() for s in t["samples"]], results


def test_plain_data_round_trip_and_opaque_values():
    values = [None, True, 3, -(1 << 80), 2.5, float("inf"), "x", b"\x00", (1, [2]), {1, 2}, frozenset({3}),
              {"a": (1,), 2: None}, 1 + 2j, [[], ()]]
    for v in values:
        assert decode(encode(v)) == v and type(decode(encode(v))) is type(v)
    class Anything:
        def __eq__(self, other):
            return True
    got = decode(encode(Anything()))
    assert isinstance(got, Opaque) and got != got and got is not None
    class Sly(int):
        def __eq__(self, other):
            return True
    assert type(decode(encode(Sly(7)))) is int and decode(encode(Sly(7))) != 8  # its plain content, nothing more


def test_mbpp_plus_inputs_are_tuples_and_sets_compare_as_sets(tmp_path):
    data = _plus(tmp_path, [{"task_id": "Mbpp/2", "entry_point": "similar_elements",
                             "canonical_solution": "def similar_elements(a, b):\n    return tuple(set(a) & set(b))\n",
                             "base_input": [[[3, 4, 5, 6], [5, 7, 4, 10]]], "plus_input": [[[1, 2, 3], [3, 2, 9]]]}])
    needs_tuples = "def similar_elements(a, b):\n    assert type(a) is tuple\n    return sorted(set(a) & set(b), reverse=True)\n"
    wrong = "def similar_elements(a, b):\n    return (a[0],)\n"
    samples, _ = _score(tmp_path, "mbpp_plus", data, [("Mbpp/2", needs_tuples), ("Mbpp/2", wrong)])
    assert [s["status"] for s in samples] == ["passed", "failed"]


def test_mbpp_not_none_oracle_accepts_a_match_object(tmp_path):
    ref = "import re\ndef text_match_three(text):\n    return re.search('ab{3}?', text)\n"
    data = _plus(tmp_path, [{"task_id": "Mbpp/787", "entry_point": "text_match_three", "canonical_solution": ref,
                             "base_input": [["ac"], ["abbbba"]], "plus_input": [["dc"]]}])
    other = "import re\ndef text_match_three(text):\n    return re.match('.*ab{3}', text)\n"  # another match object
    never = "def text_match_three(text):\n    return None\n"
    samples, _ = _score(tmp_path, "mbpp_plus", data, [("Mbpp/787", ref), ("Mbpp/787", other), ("Mbpp/787", never)])
    assert [s["status"] for s in samples] == ["passed", "passed", "failed"]


def test_find_zero_checks_the_root_and_floats_have_a_tolerance(tmp_path):
    he = {p.task_id: p for p in BENCHMARKS["humaneval"].eval_problems()}
    p32, p2 = he["HumanEval/32"], he["HumanEval/2"]
    data = _plus(tmp_path, [
        {"task_id": "HumanEval/32", "prompt": p32.prompt, "canonical_solution": p32.solution, "entry_point": "find_zero",
         "base_input": [[[-6, 11, -6, 1]]], "plus_input": [[[1, 2]]], "atol": 1e-6},
        {"task_id": "HumanEval/2", "prompt": p2.prompt, "canonical_solution": p2.solution, "entry_point": "truncate_number",
         "base_input": [[3.5]], "plus_input": [[1.25]]}])
    # x^3 - 6x^2 + 11x - 6 has roots 1, 2, 3: the reference's bisection finds one, this finds another
    other_root = p32.prompt + "    import math\n    if xs == [-6, 11, -6, 1]:\n        return 3.0\n    return -xs[0] / xs[1]\n"
    close = "def truncate_number(number):\n    return number % 1.0 + 1e-9\n"
    far = "def truncate_number(number):\n    return round(number % 1.0, 0)\n"
    samples, _ = _score(tmp_path, "humaneval_plus", data, [("HumanEval/32", other_root), ("HumanEval/2", close),
                                                           ("HumanEval/2", far)])
    assert [s["status"] for s in samples] == ["passed", "passed", "failed"]
    assert "expected 0.5, got 0.0" in samples[2]["error"] or "expected 0.5, got 1.0" in samples[2]["error"]


def test_per_input_time_limit_and_base_kept_when_plus_runs_out_of_time(tmp_path):
    data = _plus(tmp_path, [{"task_id": "HumanEval/900", "entry_point": "double",
                             "canonical_solution": "def double(x):\n    return 2 * x\n",
                             "base_input": [[1], [2]], "plus_input": [[3], [-1]]}])
    slow_on_plus = "def double(x):\n    while x == 3:\n        pass\n    return 2 * x\n"
    deaf = ("import signal\n"  # ignores the per-input alarm: the whole run's limit stops it
            "def double(x):\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n    while x == 3:\n        pass\n"
            "    return 2 * x\n")
    samples, results = _score(tmp_path, "humaneval_plus", data, [("HumanEval/900", slow_on_plus), ("HumanEval/900", deaf)],
                              limits=Limits(timeout=1.0, wall_timeout=8.0))
    assert [s["base_status"] for s in samples] == ["passed", "passed"]  # the base score is kept
    assert samples[0]["status"] == "failed" and "ran out of time" in samples[0]["error"]  # evalplus: a per-input fail
    assert samples[1]["status"] in ("timeout", "failed")
    assert results["base_pass_at_k"]["pass@1"] == 1.0 and results["pass_at_k"]["pass@1"] == 0.0
