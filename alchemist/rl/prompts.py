"""Prompts for GRPO: the samples that carry tests, a held-out split kept aside, and (optionally)
only those whose own answer passes its tests in the sandbox, so a reward of 1 is reachable."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from alchemist.rl.checks import Suite, candidate_code, suite, suite_json
from alchemist.schema import Sample

SHOWN = "Your code should pass tests like these:"


@dataclass
class Prompts:
    train: list[dict] = field(default_factory=list)  # {"prompt", "suite", "sample_id"}
    held_out: list[dict] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)


def held_out(sample_id: str, share: float, seed: int) -> bool:
    """A stable split by sample id: the same sample is held out in every run with this seed."""
    h = hashlib.blake2b(f"{seed}\0{sample_id}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64 < share


def prompt_text(sample: Sample, s: Suite, shown: int) -> str:
    text = sample.instruction.strip()
    examples = [src for counted, src in s.statements if counted][:shown]
    if examples:
        text += f"\n\n{SHOWN}\n```python\n" + "\n".join(examples) + "\n```"
    return text


def read_samples(path: Path) -> list[Sample]:
    return [Sample.from_row(r) for r in pq.read_table(path).to_pylist()]


def select(samples: list[Sample], share: float, seed: int, shown: int, max_prompts: int | None,
           conversational: bool) -> Prompts:
    """Samples with tests that run as rewards -> training and held-out prompts; the others are
    counted by reason."""
    out = Prompts()
    seen = set()
    for sample in samples:
        out.counts["read"] += 1
        if not sample.tests:
            out.counts["no_tests"] += 1
            continue
        if sample.id in seen:
            out.counts["duplicate"] += 1
            continue
        seen.add(sample.id)
        s = suite(sample.tests, reference=candidate_code(sample.response))
        if s is None:
            out.counts["tests_not_runnable"] += 1  # doctests, or asserts that call nothing the answer defines
            continue
        text = prompt_text(sample, s, shown)
        system = [m for m in sample.messages if m["role"] == "system"]
        row = {"prompt": [*system, {"role": "user", "content": text}] if conversational else text,
               "suite": suite_json(s),
               "sample_id": sample.id, "reference": sample.response}
        if held_out(sample.id, share, seed):
            out.held_out.append(row)
        else:
            out.train.append(row)
    if max_prompts is not None and len(out.train) > max_prompts:
        out.counts["over_max_prompts"] += len(out.train) - max_prompts
        out.train = out.train[:max_prompts]
    return out
