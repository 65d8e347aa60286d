"""One task of a scored run, for a person: its prompt, each answer and its verdict (the first
failing input with expected and got, or the error line). `alchemist eval --show TASK -o DIR`."""

from __future__ import annotations

import json
from pathlib import Path

from alchemist.errors import UserError
from alchemist.evaluate.records import SampleLine, TaskResult
from alchemist.evaluate.score import resolve_task_id, task_aliases
from alchemist.testsets import BENCHMARKS, Problem

ANSWER_LINES = 60  # of each answer shown


def _prompt(results: dict, task_id: str, problems: list[Problem] | None) -> str | None:
    if problems is None:
        bench = BENCHMARKS.get(results.get("benchmark", ""))
        try:
            problems = bench.problems(None) if bench is not None else []
        except UserError:  # not available offline
            problems = []
    return next((p.prompt for p in problems if p.task_id == task_id), None)


def show_task(out_dir: Path, task: str, problems: list[Problem] | None = None) -> str:
    """The text `--show` prints. `task` may be spelled as in the samples file (`Mbpp/11`, `11`)."""
    out_dir = Path(out_dir)
    try:
        results = json.loads((out_dir / "results.json").read_text(encoding="utf-8"))
        samples = [json.loads(line) for line in (out_dir / "samples.jsonl").read_text(encoding="utf-8").splitlines() if line]
    except (OSError, ValueError) as e:
        raise UserError(f"{out_dir}: no scored run here (results.json and samples.jsonl: {e}); give the folder `alchemist "
                        f"eval -o` wrote") from None
    tasks = results.get("tasks", {})
    task_id = resolve_task_id(task, tasks, task_aliases(tasks))
    if task_id is None:
        raise UserError(f"{out_dir}: task {task!r} was not scored in this run ({len(tasks)} tasks, e.g. "
                        f"{', '.join(list(tasks)[:3])})")
    t = TaskResult.from_json(tasks[task_id], f"{out_dir / 'results.json'}: task {task_id}")
    read = (SampleLine.from_json(s, f"{out_dir / 'samples.jsonl'}:{i}") for i, s in enumerate(samples, 1))
    mine = [s for s in read if s.task_id == task_id]
    how = "outside the program" if t.checks == "outside" else "in the program's process"
    lines = [f"{task_id} ({results.get('benchmark')}): {t.status}, {t.passed} of {t.n} samples passed; "
             f"checks ran {how}" + (f" ({t.checks_reason})" if t.checks_reason else "")]
    prompt = _prompt(results, task_id, problems)
    lines += ["--- prompt", prompt.rstrip() if prompt is not None else "(not available: give the benchmark's --data)"]
    for i, (s, v) in enumerate(zip(mine, t.samples), 1):
        lines.append(f"--- sample {i} (samples file line {v.line}): {v.status}"
                     + (f", base {v.base_status}" if v.base_status else "") + (", truncated" if v.truncated else ""))
        failure = v.failure or {}
        for key in ("test", "input", "expected", "got"):
            if key in failure:
                lines.append(f"{key}: {failure[key]}")
        if v.error or failure.get("error"):
            lines.append(f"error: {failure.get('error') or v.error}")
        answer = (s.sanitized or s.raw).rstrip().splitlines()
        lines += ["answer:"] + [f"    {x}" for x in answer[:ANSWER_LINES]]
        if len(answer) > ANSWER_LINES:
            lines.append(f"    ... ({len(answer) - ANSWER_LINES} more lines in samples.jsonl)")
    return "\n".join(lines) + "\n"
