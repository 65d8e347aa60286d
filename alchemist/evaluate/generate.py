"""Generate benchmark answers through alchemist's LLM client (and its cache), write samples.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

from alchemist.evaluate.prompts import make_prompt
from alchemist.llm import ChatRequest, LLMClient, Sampling
from alchemist.testsets import Problem


def generate_samples(client: LLMClient, problems: list[Problem], style: str, out: Path, *, n: int = 1,
                     temperature: float = 0.0, max_tokens: int = 512, shots: list[Problem] | None = None) -> Path:
    """One line per (task, sample): task_id plus `solution` or `completion`. Greedy by default."""
    prompts = [make_prompt(p, style, shots) for p in problems]
    requests = [ChatRequest(pr.messages or [], Sampling(max_tokens=max_tokens, temperature=temperature, n=n, stop=pr.stop),
                            prompt=pr.text) for pr in prompts]
    results = client.generate(requests)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")  # a killed run leaves no half file that looks whole
    with open(tmp, "w", encoding="utf-8") as fh:
        for problem, prompt, result in zip(problems, prompts, results):
            texts = result.texts if result.ok else [""] * n  # a failed request scores as a failed sample
            for text in texts:
                fh.write(json.dumps({"task_id": problem.task_id, prompt.kind: text}) + "\n")
    tmp.replace(out)
    return out
