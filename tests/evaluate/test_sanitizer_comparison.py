"""Our sanitizer against evalplus' on raw chat answers built from correct HumanEval programs (a
subset; the full run is committed in benchmarks/results/sanitizer_comparison.json)."""

import pytest

from alchemist.testsets import BENCHMARKS
from benchmarks.sanitizer_comparison import compare


def test_ours_keeps_every_program_evalplus_keeps_and_more():
    pytest.importorskip("evalplus.sanitize")
    problems = BENCHMARKS["humaneval"].eval_problems()[:6]
    report = compare(problems)
    assert report["only_evalplus"] == 0, report["kept_by_evalplus_not_ours"]
    assert report["kept_ours"] == report["answers"] and report["only_ours"] > 0
