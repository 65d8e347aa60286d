"""The records of a scored run: one answer's `Verdict` (what the harness decides), and what
score.py writes of it: `Results` (results.json) with a `TaskResult` per task and a `SampleResult`
per answer, and a `SampleLine` per answer in samples.jsonl.

The JSON is the contract: other readers (report/collect.py, testsets/ranking.py, `--show`) read
the files, not this module, so each `to_json` keeps the keys, their order and when they appear
exactly as results.json and samples.jsonl have always had them (tests/evaluate/test_records.py)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from alchemist.errors import UserError

# How a task's checks ran, per task (results.json `checks`): outside the program (harness.py), in
# the program's process (a test that cannot cross as plain data: passes are `unverified`), or in
# the program itself (HumanEval-X / MultiPL-E, as under the benchmark's executor).
CHECKS = ("outside", "in_process", "in_program")


@dataclass(frozen=True)
class Verdict:
    """One answer's verdict. `status`: the sandbox's (passed, failed, timeout), `unverified` (a
    pass in the program's own process, which it could have forged) or `generation_failed` (no
    answer to run)."""

    status: str
    seconds: float = 0.0  # the program's run; 0.0 where none ran
    error: str = ""  # why it failed, one line ("" when it passed)
    # the first failing input ({input, expected, got} or {input, error}) or test line ({test, error})
    failure: dict | None = None
    base_status: str | None = None  # plus benchmarks: the status on the base tests alone
    checked: str | None = None  # where the checks ran (CHECKS); None where nothing ran

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def base_passed(self) -> bool:
        """Passed the base tests (a plus benchmark's original ones; elsewhere: passed)."""
        return (self.base_status or self.status) == "passed"


def _field(record: dict, key: str, types: type | tuple, where: str, default=...):
    """`record[key]`, of `types` (a bool only where bool is named); a missing or mistyped key is an
    error naming `where` and the key."""
    types = types if isinstance(types, tuple) else (types,)
    if not isinstance(record, dict):
        raise UserError(f"{where}: {str(record)[:80]!r} is not an object; write the file again with `alchemist eval`")
    if key not in record:
        if default is not ...:
            return default
        raise UserError(f"{where}: no {key!r}; write the file again with `alchemist eval`")
    value = record[key]
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise UserError(f"{where}: {key!r} is {value!r}, not {' or '.join(t.__name__ for t in types)}; "
                        f"write the file again with `alchemist eval`")
    return value


@dataclass(frozen=True)
class SampleResult:
    """One answer in results.json (`tasks[task_id].samples`, in the samples file's order)."""

    line: int  # its line in the samples file
    status: str
    seconds: float
    error: str  # "" when it passed
    base_status: str | None = None  # plus benchmarks only
    failure: dict | None = None
    truncated: bool = False  # cut at max_tokens

    @classmethod
    def of(cls, verdict: Verdict, line: int, truncated: bool, plus: bool) -> SampleResult:
        return cls(line=line, status=verdict.status, seconds=verdict.seconds,
                   error=verdict.error if not verdict.passed else "",
                   base_status=verdict.base_status if plus else None, failure=verdict.failure or None,
                   truncated=truncated)

    def to_json(self) -> dict:
        return {"line": self.line, "status": self.status, "seconds": self.seconds,
                **({"base_status": self.base_status} if self.base_status is not None else {}),
                "error": self.error,
                **({"failure": self.failure} if self.failure else {}),
                **({"truncated": True} if self.truncated else {})}

    @classmethod
    def from_json(cls, record: dict, where: str = "results.json") -> SampleResult:
        return cls(line=_field(record, "line", int, where), status=_field(record, "status", str, where),
                   seconds=_field(record, "seconds", (int, float), where, 0.0), error=_field(record, "error", str, where, ""),
                   base_status=_field(record, "base_status", str, where, None),
                   failure=_field(record, "failure", dict, where, None),
                   truncated=_field(record, "truncated", bool, where, False))


@dataclass(frozen=True)
class SampleLine:
    """One answer in samples.jsonl: what was read, what ran and its verdict."""

    task_id: str
    raw: str  # the answer as the samples file gave it
    sanitized: str  # the program that ran (the prompt and a completion, or the sanitized solution)
    status: str
    failure: dict | None = None
    error: str = ""
    truncated: bool = False

    @classmethod
    def of(cls, task_id: str, raw: str, code: str, verdict: Verdict, truncated: bool) -> SampleLine:
        return cls(task_id=task_id, raw=raw, sanitized=code, status=verdict.status, failure=verdict.failure or None,
                   error=verdict.error, truncated=truncated)

    def to_json(self) -> dict:
        return {"task_id": self.task_id, "raw": self.raw, "sanitized": self.sanitized, "status": self.status,
                **({"failure": self.failure} if self.failure else {}),
                **({"error": self.error} if self.error else {}),
                **({"truncated": True} if self.truncated else {})}

    @classmethod
    def from_json(cls, record: dict, where: str = "samples.jsonl") -> SampleLine:
        return cls(task_id=_field(record, "task_id", str, where), raw=_field(record, "raw", str, where, ""),
                   sanitized=_field(record, "sanitized", str, where, ""), status=_field(record, "status", str, where),
                   failure=_field(record, "failure", dict, where, None), error=_field(record, "error", str, where, ""),
                   truncated=_field(record, "truncated", bool, where, False))


@dataclass
class TaskResult:
    """One task in results.json (`tasks[task_id]`): its answers counted as they are added, then
    its status once all are in (`settle`)."""

    n: int = 0  # answers scored (generation failures are not)
    passed: int = 0
    base_passed: int = 0  # plus benchmarks: answers that passed the base tests
    generation_failed: int = 0
    truncated: int = 0
    samples: list[SampleResult] = field(default_factory=list)
    status: str = ""  # passed | failed | partial | unverified | generation_failed
    checks: str = "outside"  # CHECKS
    unverified: int | None = None  # checks in the program's process: its passes, none counted
    checks_reason: str | None = None  # why the checks could not run outside the program

    def add(self, verdict: Verdict, line: int, truncated: bool, generation_failed: bool, plus: bool) -> None:
        self.generation_failed += generation_failed
        self.truncated += truncated
        if not generation_failed:
            self.n += 1
            self.passed += verdict.passed
            self.base_passed += verdict.base_passed
        self.samples.append(SampleResult.of(verdict, line, truncated, plus))

    def settle(self, checks: str, reason: str | None) -> None:
        """The task's status from its answers; `checks`, `reason`: how its checks ran and why."""
        self.status = ("generation_failed" if self.n == 0 else "passed" if self.passed == self.n
                       else "failed" if self.passed == 0 else "partial")
        self.checks = checks
        if checks == "in_process" and self.n:  # its passes could be forged: none counts
            self.unverified = sum(s.status == "unverified" for s in self.samples)
            self.status = "unverified"
        self.checks_reason = reason or None

    def to_json(self) -> dict:
        return {"n": self.n, "passed": self.passed, "base_passed": self.base_passed,
                "generation_failed": self.generation_failed, "truncated": self.truncated,
                "samples": [s.to_json() for s in self.samples], "status": self.status, "checks": self.checks,
                **({"unverified": self.unverified} if self.unverified is not None else {}),
                **({"checks_reason": self.checks_reason} if self.checks_reason else {})}

    @classmethod
    def from_json(cls, record: dict, where: str = "results.json") -> TaskResult:
        # the counters results.json gained over time read as 0 where an older file lacks them
        samples = _field(record, "samples", list, where)
        return cls(n=_field(record, "n", int, where), passed=_field(record, "passed", int, where),
                   base_passed=_field(record, "base_passed", int, where, 0),
                   generation_failed=_field(record, "generation_failed", int, where, 0),
                   truncated=_field(record, "truncated", int, where, 0),
                   samples=[SampleResult.from_json(s, f"{where} sample {i}") for i, s in enumerate(samples, 1)],
                   status=_field(record, "status", str, where), checks=_field(record, "checks", str, where, "outside"),
                   unverified=_field(record, "unverified", int, where, None),
                   checks_reason=_field(record, "checks_reason", str, where, None))



@dataclass
class Results:
    """results.json: a benchmark's scores, how they were made, and every task's detail. The key
    order is the fields' order."""

    benchmark: str
    model: str
    pass_at_k: dict[str, float]  # pass@k for every k that every scored task has samples for
    # plus benchmarks: the base score counts the original tests only, pass_at_k base + plus
    base_pass_at_k: dict[str, float] | None
    pass_at_k_samples: dict  # the largest k and the tasks that hold it back (metrics.pass_at_k_coverage)
    tasks_scored: int
    # counts the tasks --limit left out too, so a limited run reads as partial
    tasks_in_benchmark: int
    limit: int | None  # --limit, where it left tasks out
    samples: int
    samples_beyond_limit: int
    generation_failures: dict  # counted, not scored (score.check_failure_rate)
    notes: list[str]
    # tasks that are the prompt's few-shot examples (mbpp-3shot on MBPP+) are not scored
    few_shot_excluded: list[str]
    checks: str  # the benchmark's kind of checks
    # how many tasks were checked outside the program and which were not; the passes of those are
    # `unverified` and count as not passed
    verdicts: dict
    sanitized: bool
    data_hash: str
    generation: dict  # how the answers were made: the LLM and sampling, or the samples file
    sandbox: dict
    seconds: float
    programs_per_s: float
    timestamp: str
    versions: dict
    tasks: dict[str, TaskResult]

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)} | {
            "tasks": {task_id: t.to_json() for task_id, t in self.tasks.items()}}

    @classmethod
    def from_json(cls, record: dict, where: str = "results.json") -> Results:
        """Every key is required: a results.json that lacks one was written by an older alchemist."""
        types = {"benchmark": str, "model": str, "pass_at_k": dict, "base_pass_at_k": (dict, type(None)),
                 "pass_at_k_samples": dict, "tasks_scored": int, "tasks_in_benchmark": int, "limit": (int, type(None)),
                 "samples": int, "samples_beyond_limit": int, "generation_failures": dict, "notes": list,
                 "few_shot_excluded": list, "checks": str, "verdicts": dict, "sanitized": bool, "data_hash": str,
                 "generation": dict, "sandbox": dict, "seconds": (int, float), "programs_per_s": (int, float),
                 "timestamp": str, "versions": dict, "tasks": dict}
        values = {name: _field(record, name, t, where) for name, t in types.items()}
        values["tasks"] = {task_id: TaskResult.from_json(t, f"{where}: task {task_id}")
                           for task_id, t in values["tasks"].items()}
        return cls(**values)
