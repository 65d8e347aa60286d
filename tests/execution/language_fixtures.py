"""The repository's HumanEval-X and MultiPL-E fixtures (tests/testsets/data), shared by the
language tests: problems in the benchmark's own fields plus each record's canonical and wrong
solution (extra fields the loaders ignore)."""

import json
from pathlib import Path

from alchemist.testsets import get_benchmark

DATA = Path(__file__).parents[1] / "testsets" / "data"


def load(suite: str, lang: str) -> tuple[Path, list, list[dict]]:
    """(file, problems, records) of `suite` (humaneval_x or multipl_e) in `lang`."""
    path = DATA / f"{suite}_{lang}.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return path, get_benchmark(f"{suite}/{lang}").eval_problems(path), records
