"""Generate benchmark answers through alchemist's LLM client (and its cache), write samples.jsonl."""

from __future__ import annotations

import json
import time
from pathlib import Path

from alchemist.evaluate.prompts import make_prompt
from alchemist.llm import ChatRequest, LLMClient, Sampling
from alchemist.testsets import Problem


def sample_lines(problem: Problem, kind: str, result, n: int) -> list[dict]:
    """The n samples of one request. A failed request, or a response with fewer choices than n,
    gives `generation_failed` samples (counted, never scored as wrong answers); an answer cut at
    max_tokens (`finish_reason: length`) is scored as it is and marked `truncated`."""
    if not result.ok:
        return [{"task_id": problem.task_id, kind: "", "generation_failed": True, "error": result.error}] * n
    lines = []
    for i in range(n):
        if i >= len(result.texts):
            lines.append({"task_id": problem.task_id, kind: "", "generation_failed": True,
                          "error": f"the response had {len(result.texts)} of {n} choices"})
            continue
        line = {"task_id": problem.task_id, kind: result.texts[i]}
        reason = result.finish_reasons[i] if i < len(result.finish_reasons) else None
        if reason == "length":
            line["truncated"] = True
        lines.append(line)
    return lines


def generate_samples(client: LLMClient, problems: list[Problem], style: str, out: Path, *, n: int = 1,
                     temperature: float = 0.0, max_tokens: int = 512, shots: list[Problem] | None = None) -> Path:
    """One line per (task, sample): task_id plus `solution` or `completion`. Greedy by default."""
    prompts = [make_prompt(p, style, shots) for p in problems]
    requests = [ChatRequest(pr.messages or [], Sampling(max_tokens=max_tokens, temperature=temperature, n=n, stop=pr.stop),
                            prompt=pr.text) for pr in prompts]
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    usage = getattr(client, "usage", None)  # a client of the protocol need not count tokens
    start, first = time.monotonic(), usage.completion_tokens if usage else 0

    def advance(k: int) -> None:
        # tokens/s of the answers generated now (cached answers cost no tokens)
        rate = f"{(usage.completion_tokens - first) / max(time.monotonic() - start, 1e-9):.1f} tok/s" if usage else ""
        bar.update(task, advance=k, rate=rate)

    with Progress(TextColumn(f"generate {out.parent.name}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[rate]}"), console=Console(stderr=True)) as bar:
        task = bar.add_task("generate", total=len(requests), rate="")
        results = client.generate(requests, progress=advance)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")  # a killed run leaves no half file that looks whole
    with open(tmp, "w", encoding="utf-8") as fh:
        for problem, prompt, result in zip(problems, prompts, results):
            for line in sample_lines(problem, prompt.kind, result, n):
                fh.write(json.dumps(line) + "\n")
    tmp.replace(out)
    return out
