"""The reward is the share of tests passed, decided in the checks' process: what a candidate
prints, patches, raises or how it exits never turns into a pass."""

import json

import pytest

from alchemist.execution import Limits
from alchemist.rl.checks import candidate_code, suite, suite_json
from alchemist.rl.reward import SandboxReward, format_reward
from alchemist.schema import make_tests

TESTS = make_tests("asserts", "import math\nassert add(1, 2) == 3\nassert add(-1, 1) == 0\n"
                              "assert math.isclose(add(0.5, 0.25), 0.75)\nassert math.pi > 3", "test")
REFERENCE = "def add(a, b):\n    return a + b\n"
SUITE = suite(TESTS, reference=REFERENCE)


def fenced(code: str) -> str:
    return f"Here it is:\n```python\n{code}\n```\n"


@pytest.fixture(scope="module")
def reward():
    # generous limits: a correct call never comes near them on a loaded machine
    r = SandboxReward(Limits(timeout=4), call_timeout=60, workers=2)
    yield r
    r.close()


def test_the_suite_counts_asserts_that_call_the_answer():
    assert SUITE.names == ("add",)
    assert SUITE.total == 3  # `assert math.pi > 3` runs but tests nothing of the answer
    assert SUITE.setup == "import math"


def test_reward_is_the_share_of_tests_passed(reward):
    assert reward.score(fenced(REFERENCE), SUITE).reward == 1.0
    half = reward.score(fenced("def add(a, b):\n    return 3 if a == 1 else a - b"), SUITE)
    assert (half.passed, half.total, half.status) == (1, 3, "failed") and half.reward == pytest.approx(1 / 3)
    raises = reward.score(fenced("def add(a, b):\n    if a < 0:\n        raise ValueError\n    return a + b"), SUITE)
    assert raises.passed == 2  # one test raised; the others still count
    assert reward.score(fenced("def plus(a, b):\n    return a + b"), SUITE).reward == 0.0


HACKS = {
    "exits 0 before its code": "import os\nos._exit(0)\ndef add(a, b):\n    return a + b",
    "sys.exit(0) in the function": "import sys\ndef add(a, b):\n    sys.exit(0)",
    "raises SystemExit at import": "raise SystemExit(0)\ndef add(a, b):\n    return a + b",
    "patches builtins": ("import builtins\nbuiltins.AssertionError = type('Never', (BaseException,), {})\n"
                         "builtins.print = lambda *a, **k: None\ndef add(a, b):\n    return None"),
    "returns an object equal to everything": ("class Any(int):\n    def __eq__(self, other):\n        return True\n"
                                              "    __hash__ = int.__hash__\ndef add(a, b):\n    return Any(0)"),
    "prints fake results": ("import sys\nfor line in ('3 3', 'ok', 'All 3 tests passed', '0123456789abcdef 3 3'):\n"
                            "    print(line); print(line, file=sys.stderr)\ndef add(a, b):\n    return None"),
    "prints from the function": "def add(a, b):\n    print('PASSED 3 3')\n    return 'PASSED'",
    "tries to read the checks": ("import glob\nfound = glob.glob('/**/checks*', recursive=True)\n"
                                 "def add(a, b):\n    return a + b if found else None"),
}


@pytest.mark.parametrize("name", list(HACKS))
def test_reward_hacks_get_zero(reward, name):
    verdict = reward.score(fenced(HACKS[name]), SUITE)
    assert verdict.reward == 0.0 and verdict.passed == 0, (name, verdict)


@pytest.mark.slow
def test_sleeping_past_the_limits_gets_zero():
    r = SandboxReward(Limits(timeout=2, wall_timeout=20), call_timeout=5, workers=1)
    try:
        in_call = r.score(fenced("import time\ndef add(a, b):\n    time.sleep(120)\n    return a + b"), SUITE)
        at_import = r.score(fenced("import time\ntime.sleep(120)\ndef add(a, b):\n    return a + b"), SUITE)
        spinning = r.score(fenced("def add(a, b):\n    while True:\n        pass"), SUITE)
    finally:
        r.close()
    for v in (in_call, at_import, spinning):
        assert v.reward == 0.0 and v.passed == 0, v


def test_cut_and_unparsable_answers_get_zero_without_running(reward):
    assert reward.score(fenced(REFERENCE), SUITE, truncated=True).status == "truncated"
    assert reward.score("The function adds its two arguments.", SUITE).status == "format"
    assert reward.score(fenced("def add(a, b)\n    return a + b"), SUITE).status == "format"
    assert candidate_code("```python\ndef add(a, b):\n    return a + b\n") is not None  # an unclosed fence still parses


def test_trl_call_scores_a_batch_logs_each_verdict_and_marks_cut_completions(tmp_path):
    log = tmp_path / "rewards.jsonl"
    r = SandboxReward(Limits(timeout=4), call_timeout=60, workers=2, stop_ids=(7,), log_path=log)
    metrics = {}
    try:
        completions = [[{"role": "assistant", "content": fenced(REFERENCE)}],
                       [{"role": "assistant", "content": fenced(REFERENCE)}],
                       [{"role": "assistant", "content": fenced(HACKS["prints fake results"])}]]
        rewards = r(prompts=["p"] * 3, completions=completions, completion_ids=[[1, 2, 7], [1, 2, 3], [4, 7]],
                    suite=[suite_json(SUITE)] * 3, sample_id=["a", "a", "b"],
                    log_metric=lambda k, v: metrics.setdefault(k, v))
    finally:
        r.close()
    assert rewards == [1.0, 0.0, 0.0]  # the second has no stop token: cut at the length limit
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert [x["status"] for x in lines] == ["passed", "truncated", "failed"]
    assert [x["reward"] for x in lines] == rewards and lines[0]["completion"] == fenced(REFERENCE)
    assert metrics["pass_rate"] == pytest.approx(1 / 3) and metrics["truncated_rate"] == pytest.approx(1 / 3)


def test_tests_without_a_reference_bind_the_names_they_call():
    listed = make_tests("test_list", "assert first_even([1, 2, 3]) == 2\nassert first_even([1]) is None\n"
                                     "xs = [4, 5]\nassert first_even(xs) == 4\nassert len(xs) == 2", "mbpp")
    s = suite(listed)
    assert s.names == ("first_even",) and s.total == 3
    assert suite(make_tests("doctest", ">>> f(1)\n2", "x")) is None  # printed output, not return values
    assert suite(make_tests("asserts", "assert 1 + 1 == 2", "x")) is None  # tests nothing


def test_format_reward_wants_one_python_block():
    assert format_reward([fenced(REFERENCE), REFERENCE, fenced(REFERENCE) + fenced(REFERENCE), fenced("def f(:")]) == \
        [1.0, 0.0, 0.0, 0.0]
