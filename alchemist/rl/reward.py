"""The reward: the share of a sample's tests a completion passes in the sandbox.

The checks' process decides (`rl.checks`); everything else is 0: a completion cut at the length
limit, one without parsable Python code (a format failure), a run that timed out or crashed, a
sandbox worker that failed. Every verdict is appended to a log in the stage's work directory, so
a report (and a test) can tie each reward to the run that produced it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from alchemist.code import fenced_blocks
from alchemist.execution import Limits, SandboxPool
from alchemist.execution.sandbox import WORKER_FAILED
from alchemist.rl.checks import Suite, candidate_code, count_passed, suite_from_json

LOGGED_CHARS = 4000  # of each completion, in the reward log


@dataclass(frozen=True)
class Verdict:
    reward: float
    passed: int
    total: int
    status: str  # passed | failed | timeout | truncated | format | sandbox_failed

    @property
    def solved(self) -> bool:
        return self.total > 0 and self.passed == self.total


def text_of(completion) -> str:
    """A TRL completion: plain text, or (conversational) a list of messages, the last the answer."""
    if isinstance(completion, str):
        return completion
    return "".join(m.get("content") or "" for m in completion if m.get("role") == "assistant")


class SandboxReward:
    """Scores completions against their tests in the sandbox, on `workers` threads (one sandbox
    worker each). TRL calls it with the batch and the dataset's columns (`suite`, `sample_id`)."""

    __name__ = "tests_passed"  # the name TRL logs the reward under

    def __init__(self, limits: Limits, call_timeout: float, workers: int = 4, stop_ids: tuple[int, ...] = (),
                 log_path: Path | None = None, pool: SandboxPool | None = None):
        self.limits = limits
        self.call_timeout = call_timeout
        self.workers = max(1, workers)
        self.stop_ids = set(stop_ids)
        self.log_path = log_path
        self._own_pool = pool is None
        self.pool = pool or SandboxPool()
        self._lock = threading.Lock()
        self.counts = {"scored": 0, "solved": 0, "truncated": 0, "format": 0, "timeout": 0, "sandbox_failed": 0}

    def score(self, completion: str, suite: Suite, truncated: bool = False) -> Verdict:
        """The verdict of one completion against one suite."""
        if truncated:
            return Verdict(0.0, 0, suite.total, "truncated")
        code = candidate_code(completion)
        if code is None:
            return Verdict(0.0, 0, suite.total, "format")
        checks, nonce = suite.checks(self.call_timeout)
        for _ in range(2):  # a worker that died (not the program) is replaced and the program run again
            outcome = self.pool.run(code, self.limits, checks)
            if not (outcome.returncode is None and outcome.stderr == WORKER_FAILED):
                break
        else:
            return Verdict(0.0, 0, suite.total, "sandbox_failed")
        if outcome.status != "passed":  # the driver did not run to its end: the whole run timed out or broke
            return Verdict(0.0, 0, suite.total, outcome.status)
        passed = count_passed(outcome.checks_stdout, nonce, suite.total)
        return Verdict(passed / suite.total, passed, suite.total, "passed" if passed == suite.total else "failed")

    def truncated(self, ids) -> bool:
        return ids is not None and self.stop_ids and (len(ids) == 0 or int(ids[-1]) not in self.stop_ids)

    def __call__(self, prompts, completions, completion_ids=None, suite=None, sample_id=None,
                 trainer_state=None, log_metric=None, **_) -> list[float]:
        texts = [text_of(c) for c in completions]
        suites = [suite_from_json(s) for s in suite]
        cut = [self.truncated(completion_ids[i]) if completion_ids is not None else False for i in range(len(texts))]

        def one(i: int) -> Verdict:
            return self.score(texts[i], suites[i], cut[i])

        if self.workers == 1 or len(texts) < 2:
            verdicts = [one(i) for i in range(len(texts))]
        else:
            with ThreadPoolExecutor(min(self.workers, len(texts))) as threads:
                verdicts = list(threads.map(one, range(len(texts))))
        step = trainer_state.global_step if trainer_state is not None else None
        self._record(verdicts, texts, sample_id or [None] * len(texts), step)
        if log_metric is not None and verdicts:
            log_metric("pass_rate", sum(v.solved for v in verdicts) / len(verdicts))
            for status in ("truncated", "format", "timeout"):
                log_metric(f"{status}_rate", sum(v.status == status for v in verdicts) / len(verdicts))
        return [v.reward for v in verdicts]

    def _record(self, verdicts: list[Verdict], texts: list[str], ids: list, step: int | None) -> None:
        with self._lock:
            for v in verdicts:
                self.counts["scored"] += 1
                self.counts["solved"] += v.solved
                if v.status in self.counts:
                    self.counts[v.status] += 1
            if self.log_path is None:
                return
            with self.log_path.open("a", encoding="utf-8") as log:
                for v, text, sid in zip(verdicts, texts, ids):
                    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
                    log.write(json.dumps({"step": step, "sample_id": sid, "digest": digest, **asdict(v),
                                          "completion": text[:LOGGED_CHARS]}, ensure_ascii=False) + "\n")

    def close(self) -> None:
        if self._own_pool:
            self.pool.close()


def format_reward(completions, **_) -> list[float]:
    """1 for an answer whose code is one fenced Python block that parses, else 0 (optional)."""
    out = []
    for c in completions:
        text = text_of(c)
        closed, _ = fenced_blocks(text)
        py = [body for tag, body in closed if tag.lower() in ("python", "py", "python3")]
        out.append(1.0 if len(py) == 1 and candidate_code(text) is not None else 0.0)
    return out
