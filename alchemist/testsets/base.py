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

# A benchmark's kind of checks (`Benchmark.checks`) names a CheckKind in CHECK_KINDS below: what a
# problem must carry for it, whether a file's records carry it, the test code it runs. How
# evaluation scores each kind is evaluate/harness.py's SCORERS (the Python kinds) and
# evaluate/languages.py (`program`).
Checks = Literal["check_function", "asserts", "differential", "program"]


def take_all(problems: list[Problem]) -> list[Problem]:
    return problems


@dataclass(frozen=True)
class Benchmark:
    """A benchmark: where its problems come from and how they are checked and prompted."""

    name: str
    title: str  # shown on the leaderboard
    load: Callable[[Path | None], list[Problem]]  # every problem; a path replaces the built-in file
    checks: Checks  # a kind in CHECK_KINDS
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

    def __post_init__(self):
        check_kind(self.checks)  # a kind nothing registered is a mistake in the benchmark's module

    @property
    def kind(self) -> CheckKind:
        return CHECK_KINDS[self.checks]

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
            reason = self.kind.missing(p)
            if reason is None:
                continue
            if self.kind.data_file:
                raise UserError(f"{self.name} needs {self.kind.data_file}, not {where}: {p.task_id} {reason}")
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
    return check_kind(checks).missing(p)


def _missing_differential(p: Problem) -> str | None:
    if p.base_inputs is None or not p.entry_point or not p.solution:
        return "has no base_input, entry_point and canonical_solution"
    return None


def _missing_check_function(p: Problem) -> str | None:
    if not p.entry_point or not HUMANEVAL_CHECK.search(p.tests):
        return "has no entry_point and `def check(candidate)` test"
    return None


def _missing_tests(p: Problem) -> str | None:
    return None if p.tests.strip() else "has no tests"


def _never(p: Problem) -> bool:
    return False


@dataclass(frozen=True)
class CheckKind:
    """A kind of checks: what it asks of a problem and what its test looks like. Adding one is an
    entry in CHECK_KINDS and, for a Python kind, a Scorer in evaluate/harness.py's SCORERS. (The
    harness learns what a test calls by running the problem's `tests` in evaluate/driver.py, a
    program sent as text, which calls `check` itself for check_function: a new kind whose test
    code is more than its tests needs that taught too.)"""

    name: str
    missing: Callable[[Problem], str | None]  # why a problem cannot be scored with it, or None
    # whether a record carries this kind's checks: a user's file gets the first kind (in
    # CHECK_KINDS' order, most particular first) that every record carries (user.infer_checks)
    carried_by: Callable[[Problem], bool] = _never
    # the test code run after the candidate (HumanEval's test calls `check`); None: the kind's
    # verdict is not decided by test code (differential: outputs compared outside the program)
    test_code: Callable[[Problem], str] | None = None
    # scored on the base inputs, then the plus inputs (results.json reports base_pass_at_k)
    base_and_plus: bool = False
    # the file a problem without the kind's fields needs, named when one is refused
    data_file: str | None = None


CHECK_KINDS: dict[str, CheckKind] = {k.name: k for k in (
    # evalplus' format: the candidate must match the reference solution on base + plus inputs
    CheckKind("differential", _missing_differential, carried_by=lambda p: p.base_inputs is not None,
              base_and_plus=True,
              data_file="evalplus' data file (fields base_input, plus_input, canonical_solution, entry_point)"),
    # HumanEval's `def check(candidate)`, called with the entry point
    CheckKind("check_function", _missing_check_function,
              carried_by=lambda p: bool(p.entry_point and HUMANEVAL_CHECK.search(p.tests)),
              test_code=lambda p: f"{p.tests}\n\ncheck({p.entry_point})\n"),
    # MBPP's plain `assert` lines, run after the candidate
    CheckKind("asserts", _missing_tests, carried_by=lambda p: bool(p.tests.strip()), test_code=lambda p: f"{p.tests}\n"),
    # HumanEval-X, MultiPL-E: the candidate and the test are one program of another language,
    # built and run by its toolchain (testsets/multilang.py, evaluate/languages.py)
    CheckKind("program", _missing_tests),
)}
CHECKS = tuple(CHECK_KINDS)


def check_kind(checks: str) -> CheckKind:
    """The registered kind of checks `checks`."""
    if checks not in CHECK_KINDS:
        raise ValueError(f"unknown kind of checks {checks!r}: registered are {', '.join(CHECK_KINDS)} "
                         f"(alchemist/testsets/base.py CHECK_KINDS)")
    return CHECK_KINDS[checks]


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
