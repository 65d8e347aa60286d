"""Tests travel with their sample: written into the row only when present (rows without tests are
byte-identical), read back as `Sample.tests`, and turned into GRPO prompts with a held-out split."""

import pyarrow.parquet as pq

from alchemist.relabel.oss_instruct import pair
from alchemist.rl.prompts import held_out, read_samples, select
from alchemist.schema import Sample, difficulty, make_tests, rows_to_table
from tests.rl.conftest import samples

MESSAGES = [{"role": "user", "content": "Write f."}, {"role": "assistant", "content": "```python\ndef f():\n    return 1\n```"}]


def test_rows_without_tests_are_unchanged_and_tests_round_trip(tmp_path):
    plain = Sample("s", MESSAGES, language="python", meta={"where": "a.jsonl:1"})
    assert plain.to_row()["meta"] == '{"where": "a.jsonl:1"}'
    tests = make_tests("asserts", "assert f() == 1", "mapped", verdict="passed", passed=7, k=10)
    assert (tests["pass_rate"], tests["difficulty"]) == (0.7, "easy")
    with_tests = Sample("s", MESSAGES, language="python", meta={"where": "a.jsonl:1"}, tests=tests)
    assert with_tests.id == plain.id  # the same conversation is the same sample
    pq.write_table(rows_to_table([with_tests.to_row(), plain.to_row()]), tmp_path / "x.parquet")
    back = read_samples(tmp_path / "x.parquet")
    assert back[0].tests == tests and back[0].meta == {"where": "a.jsonl:1"} and back[1].tests is None
    assert [difficulty(r) for r in (None, 1.0, 2 / 3, 1 / 3, 0.0)] == [None, "easy", "medium", "medium", "hard"]


def test_oss_instruct_pairs_keep_their_tests():
    seed = Sample("snips", [{"role": "user", "content": "x"}, {"role": "assistant", "content": "def g(): pass"}],
                  task="code_snippet", language="python")
    kept = pair(seed, "Write f.", "def f():\n    return 1", "python", True, {}, tests="assert f() == 1", attempts=2)
    assert kept.tests == {"kind": "asserts", "code": "assert f() == 1", "origin": "oss_instruct", "verdict": "passed",
                          "attempts": 2}
    assert pair(seed, "Write f.", "fn f() {}", "rust", False, {}, tests="assert_eq!(f(), ())").tests is None
    assert pair(seed, "Write f.", "def f():\n    return 1", "python", True, {}).tests is None


def test_prompts_come_from_samples_with_runnable_tests_and_a_stable_held_out_split():
    rows = samples() + [Sample("s", MESSAGES, language="python"),
                        Sample("s", [MESSAGES[0], {"role": "assistant", "content": "```python\ndef g():\n    return 2\n```"}],
                               tests=make_tests("doctest", ">>> g()\n2", "curate.verify"))]
    picked = select(rows, 0.5, 0, 1, None, True)
    assert picked.counts == {"read": 5, "no_tests": 1, "tests_not_runnable": 1}
    assert len(picked.train) + len(picked.held_out) == 3
    assert {r["sample_id"] for r in picked.held_out} == {s.id for s in samples() if held_out(s.id, 0.5, 0)}
    first = picked.train[0]["prompt"][-1]["content"]
    assert "Your code should pass tests like these:" in first and "assert add(0) >= 0" in first
    assert select(rows, 0.0, 0, 0, 1, False).train[0]["prompt"] == samples()[0].instruction  # plain text, no tests shown


MBPP = [  # two records of MBPP's mbpp.jsonl, as the corpus ships them (CRLF code, test_list, test_setup_code)
    {"text": "Write a function to find the similar elements from the given two tuple lists.",
     "code": "def similar_elements(test_tup1, test_tup2):\r\n  res = tuple(set(test_tup1) & set(test_tup2))\r\n  return (res) ",
     "task_id": 2, "test_setup_code": "",
     "test_list": ["assert similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) == (4, 5)",
                   "assert similar_elements((1, 2, 3, 4),(5, 4, 3, 7)) == (3, 4)",
                   "assert similar_elements((11, 12, 14, 13),(17, 15, 14, 13)) == (13, 14)"],
     "challenge_test_list": []},
    {"text": "Write a python function to identify non-prime numbers.",
     "code": "import math\r\ndef is_not_prime(n):\r\n    result = False\r\n    for i in range(2,int(math.sqrt(n)) + 1):\r\n"
             "        if n % i == 0:\r\n            result = True\r\n    return result",
     "task_id": 3, "test_setup_code": "", "test_list": ["assert is_not_prime(2) == False", "assert is_not_prime(10) == True",
                                                         "assert is_not_prime(35) == True"],
     "challenge_test_list": []},
]
MBPP_FIELDS = {"instruction": "text", "response": "code", "tests": "test_list", "test_setup": "test_setup_code"}


def test_mbpp_records_ship_their_tests_through_the_mapped_adapter(tmp_path):
    import json

    from alchemist.rl.checks import suite
    from alchemist.sources import mapped
    from tests.helpers import write_jsonl

    path = write_jsonl(tmp_path / "mbpp.jsonl", MBPP)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    converted = [mapped.convert(r, {"fields": MBPP_FIELDS}) for r in records]
    assert converted[0].tests == make_tests("test_list", "\n".join(MBPP[0]["test_list"]), "mapped")
    assert "test_list" not in converted[0].extra and converted[0].extra["task_id"] == 2
    rows = [Sample("mbpp", c.messages, language=c.language, tests=c.tests) for c in converted]
    assert [suite(s.tests, reference=s.response).names for s in rows] == [("similar_elements",), ("is_not_prime",)]
    assert len(select(rows, 0.0, 0, 1, None, True).train) == 2
    plain = mapped.convert({**records[0], "test_list": []}, {"fields": MBPP_FIELDS})
    assert plain.tests is None  # a record without tests is a plain sample
    assert mapped.convert(records[0], {"fields": {"instruction": "text", "response": "code"}}).tests is None
