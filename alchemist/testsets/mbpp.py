"""MBPP (Austin et al., 2021): prose tasks checked by plain asserts. It ships in no package: it is
downloaded once where there is a network and cached, or read from a local path (--data)."""

from __future__ import annotations

from alchemist.testsets.base import Benchmark, Problem, download, file_loader

_BASE = "https://raw.githubusercontent.com/google-research/google-research/master/mbpp"
TEST_IDS = range(11, 511)  # the evaluation split of the original 974 problems
SHOTS = ("mbpp/2", "mbpp/3", "mbpp/4")  # the prompt split's examples of the 3-shot format


def test_split(problems: list[Problem]) -> list[Problem]:
    """The original 974-problem file is cut to its test split (task ids 11-510); other files
    (a test split already, a subset) are taken whole."""
    if len(problems) != 974:
        return problems
    return [p for p in problems if int(p.task_id.split("/")[-1]) in TEST_IDS]


MBPP = Benchmark(name="mbpp", title="MBPP", load=file_loader("mbpp", lambda: download(f"{_BASE}/mbpp.jsonl", "mbpp.jsonl", "MBPP", "mbpp")),
                 checks="asserts", select=test_split, shots=SHOTS, source=f"{_BASE}/mbpp.jsonl")

MBPP_SANITIZED = Benchmark(
    name="mbpp_sanitized", title="MBPP (sanitized)",
    load=file_loader("mbpp_sanitized", lambda: download(f"{_BASE}/sanitized-mbpp.json", "sanitized-mbpp.json",
                                                        "sanitized MBPP", "mbpp_sanitized")),
    checks="asserts", shots=SHOTS, shots_from="mbpp", source=f"{_BASE}/sanitized-mbpp.json")
