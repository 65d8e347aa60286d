"""What every relabel task runs with: the LLM and its sampling, the curated samples, the reject
counters, the curation rules and what earlier tasks made (`TaskContext`)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from alchemist.errors import UserError
from alchemist.llm import ChatRequest, ChatResult, LLMClient, Sampling
from alchemist.relabel.spec import RelabelSpec
from alchemist.schema import Sample

if TYPE_CHECKING:  # curation.py imports datatrove, which the stage imports only when it runs
    from alchemist.relabel.curation import ProducedCuration

MAX_EXAMPLES = 3


class Tally:
    """Counts of produced samples and of rejects by task and reason, with a few examples."""

    def __init__(self):
        self.produced: Counter = Counter()
        self.rejected: dict[str, Counter] = defaultdict(Counter)
        self.examples: list[dict] = []
        self.per_reason: Counter = Counter()

    def reject(self, task: str, reason: str, origin: str, answer: str = "") -> None:
        self.rejected[task][reason] += 1
        if self.per_reason[(task, reason)] < MAX_EXAMPLES:
            self.per_reason[(task, reason)] += 1
            self.examples.append({"task": task, "reason": reason, "origin": origin, "answer": answer[:500]})


def generate(client: LLMClient, requests: list[ChatRequest], what: str, max_failure_rate: float, console=None):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    if not requests:
        return []
    failed_before = client.usage.failed
    with Progress(TextColumn(f"relabel {what}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as bar:
        task = bar.add_task(what, total=len(requests))
        results = client.generate(requests, progress=lambda k: bar.advance(task, k))
    failed = client.usage.failed - failed_before
    if failed and failed / len(requests) > max_failure_rate:
        first = client.usage.errors[0] if client.usage.errors else "unknown error"
        raise UserError(f"{failed} of {len(requests)} LLM requests for {what} failed (limit relabel.max_failure_rate="
                        f"{max_failure_rate:.0%}); first error: {first}. Answers received so far are cached: rerun to "
                        "retry only the rest.")
    return results


def truncated(result: ChatResult) -> bool:
    return any(r == "length" for r in result.finish_reasons)


@dataclass
class TaskContext:
    """The stage's state as the tasks run one after another: what they read (the spec, the
    curated samples, the LLM) and what they add to (the tally; `answered` and `filtered`, which
    later tasks build on)."""

    spec: RelabelSpec
    seed: int  # the sampling seed, also the seed of every selection
    samples: list[Sample]  # the curated samples
    rejected: Path  # the curate stage's rejected.parquet
    client: LLMClient
    sampling: Sampling
    meta: dict  # what every sample an LLM wrote carries in its meta (the LLM's name)
    work: Path  # the stage's work directory (sandbox verdicts survive a kill there)
    tally: Tally
    say: Callable[[str], None]
    console: object = None
    # the curation rules a generated pair is admitted by, built once the RelabelTasks are answered
    check: ProducedCuration | None = None
    # (task name, index of its curated sample, sample) of every RelabelTask answer kept, in request order
    answered: list[tuple[str, int, Sample]] = field(default_factory=list)
    # generated pairs a quality filter dropped, with its reason: rejected samples a task may teach from
    filtered: list[tuple[Sample, str]] = field(default_factory=list)

    def generate(self, requests: list[ChatRequest], what: str) -> list[ChatResult]:
        return generate(self.client, requests, what, self.spec.max_failure_rate, self.console)
