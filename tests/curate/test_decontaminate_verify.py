"""curate.verify: answers run in the sandbox with their own asserts, doctest examples or a smoke
import; failures become fails_execution with the error, what is not the answer's fault is kept."""

import pytest

from alchemist.curate.spec import VerifySpec
from alchemist.curate.verify import program, verify
from alchemist.schema import Sample


def answer(code, task="codegen"):
    return Sample(source="t", task=task, messages=[{"role": "user", "content": "q"},
                                                    {"role": "assistant", "content": f"```python\n{code}\n```"}])


CASES = {
    "asserts pass": ("def f(x):\n    return x + 1\nassert f(1) == 2", None),
    "asserts fail": ("def f(x):\n    return x + 2\nassert f(1) == 2", "fails_execution"),
    "doctest pass": ('def f(x):\n    """\n    >>> f(1)\n    2\n    """\n    return x + 1', None),
    "doctest fail": ('def f(x):\n    """\n    >>> f(1)\n    3\n    """\n    return x + 1', "fails_execution"),
    "doctest needing its module": ('def f(x):\n    """\n    >>> helper(1)\n    3\n    """\n    return x', None),
    "smoke error": ("x = 1 / 0", "fails_execution"),
    "missing package": ("import not_installed_here\nprint(1)", None),
    "main block reads stdin": ("def g():\n    return 1\nif __name__ == '__main__':\n    print(input())", None),
}


@pytest.fixture(scope="module")
def verdicts():
    return dict(zip(CASES, verify([answer(code) for code, _ in CASES.values()], VerifySpec())))


@pytest.mark.parametrize("case", CASES)
def test_verdicts(verdicts, case):
    reason, detail = verdicts[case]
    assert reason == CASES[case][1], detail
    if reason:
        assert detail["error"] and detail["check"] in ("asserts", "doctest", "smoke")


def test_what_is_run():
    assert program(answer("assert 1")) [1] == "asserts"
    assert program(answer("print(1)", task="explain")) is None
    prose = Sample(source="t", task="codegen", messages=[{"role": "user", "content": "q"}, {"role": "assistant", "content": "No code."}])
    assert program(prose) is None
