"""What every benchmark shares: the Problem record, the Benchmark record, reading benchmark files."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from alchemist.errors import UserError
from alchemist.paths import cache_dir
from alchemist.schema import Problem  # the benchmark record; testsets loads and checks it

# How a benchmark's checks run against a candidate program (evaluate/score.py builds the program):
# - check_function: HumanEval's `def check(candidate)`, called with the entry point
# - asserts: MBPP's plain `assert` lines, run after the candidate
# - differential: evalplus' format, the candidate must match the reference solution on base + plus inputs
Checks = Literal["check_function", "asserts", "differential"]
CHECKS = ("check_function", "asserts", "differential")


def take_all(problems: list[Problem]) -> list[Problem]:
    return problems


@dataclass(frozen=True)
class Benchmark:
    """A benchmark: where its problems come from and how they are checked and prompted."""

    name: str
    title: str  # shown on the leaderboard
    load: Callable[[Path | None], list[Problem]]  # every problem; a path replaces the built-in file
    checks: Checks
    select: Callable[[list[Problem]], list[Problem]] = take_all  # the problems it is scored on
    # Problem fields whose text is searched for in training data (curate's decontamination)
    decontaminate: tuple[str, ...] = ("prompt", "solution", "tests")
    # without a file of its own, decontamination uses this benchmark's problems instead (a plus
    # set has the same prompts and solutions as its base set, which needs no download)
    decontaminate_as: str | None = None
    shots: tuple[str, ...] = ()  # task ids of the few-shot examples (prompt style mbpp-3shot)
    shots_from: str | None = None  # the benchmark whose problems hold them (default: this one)
    style: str = "instruct"  # default prompt style
    source: str = ""  # where the built-in data comes from, for messages

    def problems(self, path: str | Path | None = None) -> list[Problem]:
        """Every problem (for decontamination); an error when there are none."""
        problems = self.load(Path(path) if path is not None else None)
        if not problems:
            raise UserError(f"benchmark '{self.name}' ({path or 'built in'}) holds no problems")
        return problems

    def eval_problems(self, path: str | Path | None = None) -> list[Problem]:
        """The problems it is scored on, each checked to carry what its kind of checks needs."""
        problems = self.select(self.problems(path))
        where = str(path) if path is not None else f"the built-in {self.title} data"
        for i, p in enumerate(problems):
            reason = missing_checks(self.checks, p)
            if reason is None:
                continue
            if self.checks == "differential":
                raise UserError(f"{self.name} needs evalplus' data file (fields base_input, plus_input, canonical_solution, "
                                f"entry_point), not {where}: {p.task_id} {reason}")
            raise UserError(f"{where}: problem {i + 1} ({p.task_id}) {reason}: a benchmark file needs tests "
                            f"(`test` or `test_list`) or `base_input` for every problem; instruction/output records are "
                            f"training data, not a benchmark")
        return problems

    def examples(self, path: str | Path | None = None) -> list[Problem]:
        """The few-shot examples, in the order of `shots` (empty when the benchmark has none)."""
        if not self.shots:
            return []
        if self.shots_from and self.shots_from != self.name:
            # the registry (testsets/__init__.py) is built of this module's Benchmark: importing it
            # at the top would be a circle
            from alchemist.testsets import get_benchmark

            pool = get_benchmark(self.shots_from).problems(None)
        else:
            pool = self.problems(path)
        by_id = {p.task_id: p for p in pool}
        found = [by_id[t] for t in self.shots if t in by_id]
        if len(found) != len(self.shots):
            missing = [t for t in self.shots if t not in by_id]
            raise UserError(f"{self.name}: the few-shot examples {', '.join(missing)} are not in "
                            f"{path or 'the built-in data'}; give the original mbpp.jsonl with --data")
        return found


HUMANEVAL_CHECK = re.compile(r"^def check\(\s*candidate\b", re.M)  # HumanEval's tests: def check(candidate):


def missing_checks(checks: str, p: Problem) -> str | None:
    """Why a problem cannot be scored with `checks`, or None."""
    if checks == "differential":
        if p.base_inputs is None or not p.entry_point or not p.solution:
            return "has no base_input, entry_point and canonical_solution"
    elif checks == "check_function":
        if not p.entry_point or not HUMANEVAL_CHECK.search(p.tests):
            return "has no entry_point and `def check(candidate)` test"
    elif not p.tests.strip():
        return "has no tests"
    return None


def read_jsonl(path: Path) -> list[dict]:
    """Records of a benchmark file: JSON lines (optionally gzipped) or one JSON array."""
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
    setup = "\n".join(part for part in (_first(record, "test_imports"), _first(record, "test_setup_code")) if part)
    entry_point = record.get("entry_point") or called_function(solution or "", tests)
    return Problem(benchmark, task_id, prompt or "", solution or "", tests, entry_point,
                   base_inputs=record.get("base_input") if plus else None,
                   plus_inputs=record.get("plus_input") if plus else None,
                   atol=float(record.get("atol") or 0.0), setup=setup)


def called_function(solution: str, tests: str) -> str | None:
    """MBPP names no entry point: the first function the tests call that the solution defines."""
    import ast

    try:
        defined = {n.name for n in ast.parse(solution).body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        calls = [n.func.id for n in ast.walk(ast.parse(tests)) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    except (SyntaxError, ValueError):
        return None
    return next((name for name in calls if name in defined), None)


def read_problems(name: str, path: Path) -> list[Problem]:
    return [problem_from_record(name, r, i) for i, r in enumerate(read_jsonl(path))]


def file_loader(name: str, default: Callable[[], Path]) -> Callable[[Path | None], list[Problem]]:
    """A loader reading `path`, or the benchmark's built-in/downloaded file when path is None."""

    def load(path: Path | None) -> list[Problem]:
        return read_problems(name, path if path is not None else default())

    return load


def relabel(problems: list[Problem], name: str) -> list[Problem]:
    return [replace(p, benchmark=name) for p in problems]


def download(url: str, filename: str, title: str, name: str) -> Path:
    """A benchmark file, downloaded once into the cache (where there is a network)."""
    target = cache_dir() / filename
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=20) as r, open(tmp, "wb") as out:
            out.write(r.read())
    except OSError as e:
        raise UserError(
            f"{title} is not available offline and the download failed ({e}). Download {url.rsplit('/', 1)[1]} from "
            f"{url.rsplit('/', 1)[0]} and give its path (e.g. `benchmarks: [{{name: {name}, path: FILE}}]` in a recipe, "
            f"or --data FILE)."
        ) from None
    tmp.rename(target)
    return target


def fingerprint(problems: list[Problem]) -> str:
    h = hashlib.blake2b(digest_size=12)
    for p in problems:
        h.update(json.dumps([p.task_id, p.prompt, p.solution, p.tests] + ([p.setup] if p.setup else [])).encode())
    return h.hexdigest()
