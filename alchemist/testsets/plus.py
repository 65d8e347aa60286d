"""EvalPlus (Liu et al., 2023): HumanEval+ and MBPP+, the same problems with many more inputs on
which the candidate must agree with the reference solution (differential testing)."""

from __future__ import annotations

from alchemist.testsets.base import Benchmark, download, file_loader
from alchemist.testsets.mbpp import SHOTS

_HE = "https://github.com/evalplus/humanevalplus_release/releases/download/v0.1.10/HumanEvalPlus.jsonl.gz"
_MBPP = "https://github.com/evalplus/mbppplus_release/releases/download/v0.2.0/MbppPlus.jsonl.gz"

HUMANEVAL_PLUS = Benchmark(
    name="humaneval_plus", title="HumanEval+",
    load=file_loader("humaneval_plus", lambda: download(_HE, "HumanEvalPlus-v0.1.10.jsonl.gz", "HumanEval+", "humaneval_plus")),
    checks="differential", decontaminate_as="humaneval", source=_HE)

MBPP_PLUS = Benchmark(
    name="mbpp_plus", title="MBPP+",
    load=file_loader("mbpp_plus", lambda: download(_MBPP, "MbppPlus-v0.2.0.jsonl.gz", "MBPP+", "mbpp_plus")),
    checks="differential", decontaminate_as="mbpp", shots=SHOTS, shots_from="mbpp", source=_MBPP)
