"""Read what a run directory holds, tolerantly: every file may be missing (a stage the recipe
disabled, a run killed half-way, an older run), and a missing or unreadable file becomes a reason
the page gives, never an exception.

Large runs stay cheap: parquet files are read column by column (only the columns a figure needs),
and token lengths come from a seeded sample of at most `TOKEN_SAMPLE` rows, counted by a regex
inside Arrow (words and punctuation marks), not by a model tokenizer.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from alchemist.rundir import RunLayout
from alchemist.testsets import ranking

TOKEN_SAMPLE = 200_000
SEED = 0
# A "token" here: a run of letters/digits/underscores, or one other non-space character.
TOKEN_REGEX = r"[\p{L}\p{N}_]+|[^\p{L}\p{N}_\s]"
TOKEN_RULE = "a run of letters, digits or underscores, or any other single non-space character"


def read_json(path: Path) -> tuple[dict | list | None, str | None]:
    """(the parsed file, None) or (None, why not)."""
    try:
        return json.loads(path.read_text(encoding="utf-8")), None
    except FileNotFoundError:
        return None, f"{path.name} not found"
    except (OSError, ValueError) as e:
        return None, f"{path.name} is unreadable ({type(e).__name__}: {str(e)[:120]})"


def as_dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def as_list(value) -> list:
    return value if isinstance(value, list) else []


def as_number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if value == value and abs(value) != float("inf") else None


@dataclass
class Run:
    """A run directory and its records. `enabled` (stage -> bool, from the pipeline) wins over
    run.json, which wins over the files found."""

    dir: Path
    enabled: dict[str, bool] | None = None
    record: dict = field(default_factory=dict)
    manifest: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, run_dir: Path, enabled: dict[str, bool] | None = None) -> Run:
        run = cls(Path(run_dir), enabled)
        record, why = read_json(run.layout.run_json)
        run.record = as_dict(record)
        if why and "not found" not in why:
            run.problems.append(why)
        manifest, why = read_json(run.layout.manifest)
        run.manifest = as_dict(manifest)
        if why and "not found" not in why:
            run.problems.append(why)
        return run

    @property
    def layout(self) -> RunLayout:
        return RunLayout(self.dir)

    @property
    def name(self) -> str:
        return str(self.record.get("recipe") or self.manifest.get("recipe") or self.dir.name)

    def stage(self, name: str) -> dict:
        return as_dict(as_dict(self.record.get("stages")).get(name))

    def status(self, name: str) -> str | None:
        """done | skipped | failed | running | disabled, or None when nothing says."""
        if self.enabled is not None and name in self.enabled and not self.enabled[name]:
            return "disabled"
        status = self.stage(name).get("status")
        if status == "disabled" and self.enabled and self.enabled.get(name):
            return None  # the pipeline knows better than a run.json of an earlier recipe
        return status if isinstance(status, str) else None

    def not_run(self, name: str, needed: Path, unusable: str = "nothing readable") -> str:
        """Why a section drawn from `needed` (a stage's output) could not be drawn; `unusable` when
        the file is there but holds nothing the section can use."""
        status = self.status(name)
        if status == "disabled":
            return f"not run: the recipe disables the {name} stage"
        if status == "failed":
            err = self.stage(name).get("error")
            return f"not run: the {name} stage failed" + (f" ({err})" if err else "")
        if status == "skipped" and self.stage(name).get("reason") not in (None, "unchanged"):
            if not needed.exists():
                return f"not run: the {name} stage was skipped ({self.stage(name).get('reason')})"
        where = needed.relative_to(self.dir) if needed.is_relative_to(self.dir) else needed
        if not needed.exists():
            return f"not run: {where} not found"
        return f"not run: {where} has {unusable}"


# -- parquet ---------------------------------------------------------------------------------------


def parquet_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.glob("*.parquet") if p.is_file()) if path.is_dir() else []


def count_rows(files: list[Path]) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def value_counts(files: list[Path], columns: tuple[str, ...]) -> Counter:
    """Counts of the value tuples of `columns` over every row (only those columns are read)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out: Counter = Counter()
    for f in files:
        pf = pq.ParquetFile(f)
        if not set(columns) <= set(pf.schema_arrow.names):
            continue
        for batch in pf.iter_batches(columns=list(columns), batch_size=1 << 20):
            counts = pa.Table.from_batches([batch]).group_by(list(columns)).aggregate([([], "count_all")])
            out.update(dict(zip(zip(*(counts.column(c).to_pylist() for c in columns)), counts.column("count_all").to_pylist())))
    return out


def _row_groups(files: list[Path]) -> list[tuple[Path, int, int]]:
    import pyarrow.parquet as pq

    groups = []
    for f in files:
        meta = pq.ParquetFile(f).metadata
        groups += [(f, i, meta.row_group(i).num_rows) for i in range(meta.num_row_groups)]
    return groups


def token_lengths(files: list[Path], cap: int = TOKEN_SAMPLE, seed: int = SEED) -> tuple[list[int], int]:
    """(token counts of every message of a row, summed per row, for at most `cap` rows; the
    rows there are in all). Above `cap`, whole row groups are drawn at random (seeded) until
    `cap` rows are in hand, then `cap` of those rows are drawn: the messages column of the rest
    is never read."""
    import numpy as np
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    groups = [g for g in _row_groups(files) if "messages" in pq.ParquetFile(g[0]).schema_arrow.names]
    total = sum(n for _, _, n in groups)
    rng = random.Random(seed)
    if total > cap:
        rng.shuffle(groups)
        chosen, rows = [], 0
        for g in groups:
            if rows >= cap:
                break
            chosen.append(g)
            rows += g[2]
        groups = chosen

    def count(group) -> list[np.ndarray]:
        f, i, _ = group
        col = pq.ParquetFile(f).read_row_group(i, columns=["messages"]).column("messages")
        out = []
        for chunk in col.chunks:
            if len(chunk) == 0:
                continue
            flat = pc.list_flatten(chunk)
            counts = pc.count_substring_regex(pc.struct_field(flat, "content"), TOKEN_REGEX).fill_null(0)
            parents = pc.list_parent_indices(chunk).to_numpy()
            out.append(np.bincount(parents, weights=counts.to_numpy(), minlength=len(chunk)).astype(np.int64))
        return out

    # Arrow releases the GIL: row groups are counted in parallel, results kept in group order
    with ThreadPoolExecutor(max_workers=max(1, min(8, os.cpu_count() or 1, len(groups)))) as pool:
        lengths = [a for part in pool.map(count, groups) for a in part]
    out = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
    if len(out) > cap:
        out = np.random.default_rng(seed).choice(out, size=cap, replace=False)
    return out.tolist(), total


def _text(messages, role: str) -> str:
    for m in messages or []:
        if isinstance(m, dict) and m.get("role") == role:
            return str(m.get("content") or "")
    return ""


def example_rows(path: Path, k: int = 5, seed: int = SEED) -> list[dict]:
    """`k` rows drawn at random (seeded) from one parquet file, reading only their row groups."""
    import pyarrow.parquet as pq

    if not path.is_file():
        return []
    pf = pq.ParquetFile(path)
    n = pf.metadata.num_rows
    if n == 0:
        return []
    return _rows_at(pf, sorted(random.Random(seed).sample(range(n), min(k, n))))


def one_row_per_task(path: Path, seed: int = SEED) -> list[dict]:
    """One row of each task in a parquet file (drawn at random, seeded), by task name: what each
    relabel task added to the training data, next to the plain code-generation rows."""
    import pyarrow.parquet as pq

    if not path.is_file():
        return []
    pf = pq.ParquetFile(path)
    if "task" not in pf.schema_arrow.names or pf.metadata.num_rows == 0:
        return []
    by_task: dict[str, list[int]] = defaultdict(list)
    for i, t in enumerate(pq.read_table(path, columns=["task"]).column("task").to_pylist()):
        by_task[str(t)].append(i)
    rng = random.Random(seed)
    rows = _rows_at(pf, sorted(rng.choice(ix) for _, ix in sorted(by_task.items())))
    return sorted(rows, key=lambda r: str(r["task"]))


def _rows_at(pf, picks: list[int]) -> list[dict]:
    """The rows at sorted indices `picks` of a ParquetFile, reading only their row groups."""
    cols = [c for c in ("id", "source", "task", "messages") if c in pf.schema_arrow.names]
    out, start = [], 0
    for g in range(pf.metadata.num_row_groups):
        size = pf.metadata.row_group(g).num_rows
        want = [p - start for p in picks if start <= p < start + size]
        if want:
            rows = pf.read_row_group(g, columns=cols).take(want).to_pylist()
            for r in rows:
                msgs = r.get("messages")
                out.append({"id": r.get("id"), "source": r.get("source"), "task": r.get("task"),
                            "system": _text(msgs, "system"), "user": _text(msgs, "user"), "assistant": _text(msgs, "assistant")})
        start += size
    return out


# -- sections' data --------------------------------------------------------------------------------


def composition(final: Path) -> dict:
    files = parquet_files(final)
    pairs = value_counts(files, ("source", "task"))
    cross: dict[str, Counter] = defaultdict(Counter)
    for (source, task), n in pairs.items():
        cross[str(source)][str(task)] += n
    by_source = Counter({s: sum(c.values()) for s, c in cross.items()})
    by_task: Counter = Counter()
    for c in cross.values():
        by_task.update(c)
    return {"rows": sum(by_source.values()), "by_source": by_source, "by_task": by_task, "cross": cross}


def contamination(run: Run, limit: int = 10_000) -> dict:
    """Every decontamination hit of curate/stats.json, with the start of the sample's instruction
    (from rejected.parquet, the contaminated rows only), and the near misses (kept samples whose
    best candidate came within the judge's margin of the decision)."""
    stats, why = read_json(run.layout.curate_stats)
    stats = as_dict(stats)
    hits = [h for h in as_list(stats.get("contamination")) if isinstance(h, dict)]
    prompts: dict[str, str] = {}
    rejected = run.layout.rejected
    if hits and rejected.is_file():
        import pyarrow.parquet as pq

        try:
            names = pq.ParquetFile(rejected).schema_arrow.names
            if {"id", "messages", "reason"} <= set(names):
                t = pq.read_table(rejected, columns=["id", "messages"], filters=[("reason", "==", "contaminated")])
                for rid, msgs in zip(t.column("id").to_pylist(), t.column("messages").to_pylist()):
                    prompts[str(rid)] = _text(msgs, "user")
        except Exception as e:  # a figure's data, not the run: say so and go on
            run.problems.append(f"rejected.parquet unreadable ({type(e).__name__}: {str(e)[:120]})")
    for h in hits:
        h["prompt"] = prompts.get(str(h.get("id")), "")
    near = [m for m in as_list(stats.get("near_misses")) if isinstance(m, dict)]
    return {"hits": hits[:limit], "total": len(hits), "benchmarks": as_list(stats.get("benchmarks")),
            "skipped": as_list(stats.get("benchmarks_skipped")), "found": why is None, "near_misses": near}


# what the rl section plots per GRPO step, under the names TRL logs them (rl/training_report.json)
RL_SERIES = {"reward": "reward", "pass_rate": "pass rate", "kl": "KL", "completions/mean_length": "response length"}


def rl_training(rl_dir: Path) -> dict | None:
    """Per-step reward, pass rate, KL and response length from rl/training_report.json, or None."""
    report, _ = read_json(rl_dir / "training_report.json")
    if report is None:
        return None
    report = as_dict(report)
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for row in as_list(report.get("per_step")):
        row = as_dict(row)
        step = as_number(row.get("step"))
        for key in RL_SERIES:
            if step is not None and (v := as_number(row.get(key))) is not None:
                series[key].append((step, v))
    summary = {k: v for k, v in report.items() if k not in ("history", "per_step", "title")}
    return {"series": dict(series), "summary": summary}


def training(model_dir: Path) -> dict | None:
    """Loss curves from model/training_report.json (HF Trainer log lines in `history`; held-out
    losses as `eval_TASK_loss` keys there, or an `eval_history` list), or None."""
    report, why = read_json(model_dir / "training_report.json")
    if report is None:
        png = model_dir / "loss.png"
        return {"summary": {}, "train": [], "lr": [], "tasks": {}, "png": png.read_bytes() if png.is_file() else None,
                "missing": why} if png.is_file() else None
    report = as_dict(report)
    train, lr, grad = [], [], []
    tasks: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for h in as_list(report.get("history")):
        h = as_dict(h)
        step = as_number(h.get("step"))
        if step is None:
            continue
        if (loss := as_number(h.get("loss"))) is not None:
            train.append((step, loss))
        rate = as_number(h.get("learning_rate", h.get("lr")))
        if rate is not None and "loss" in h:
            lr.append((step, rate))
        if (g := as_number(h.get("grad_norm"))) is not None:
            grad.append((step, g))
        for key, value in h.items():
            if key.startswith("eval_") and key.endswith("_loss") and (v := as_number(value)) is not None:
                tasks[key[5:-5] or "held-out"].append((step, v))
            elif key == "eval_loss" and (v := as_number(value)) is not None:
                tasks["all held-out"].append((step, v))
    for h in as_list(report.get("eval_history")):
        h = as_dict(h)
        step = as_number(h.get("step"))
        losses = as_dict(h.get("losses")) or {k: v for k, v in h.items() if k != "step"}
        for task, value in losses.items():
            if step is not None and (v := as_number(value)) is not None and (step, v) not in tasks[str(task)]:
                tasks[str(task)].append((step, v))
    summary = {k: v for k, v in report.items() if k not in ("history", "eval_history")}
    png = model_dir / "loss.png"
    mask, _ = read_json(model_dir / "loss_mask.json")
    return {"summary": summary, "train": train, "lr": lr, "grad": grad,
            "mask": [m for m in as_list(mask) if isinstance(m, dict)],
            "tasks": {t: sorted(p) for t, p in sorted(tasks.items())},
            "png": png.read_bytes() if png.is_file() and not train and not tasks else None, "missing": None}


def eval_results(eval_dir: Path) -> list[dict]:
    out = []
    for path in sorted(eval_dir.glob("*/results.json")) if eval_dir.is_dir() else []:
        r, _ = read_json(path)
        r = as_dict(r)
        ks = {k: as_number(v) for k, v in as_dict(r.get("pass_at_k")).items()}
        if not ks:
            continue
        out.append({"benchmark": str(r.get("benchmark") or path.parent.name), "model": str(r.get("model") or "?"),
                    "pass_at_k": ks, "tasks_scored": r.get("tasks_scored"), "tasks_in_benchmark": r.get("tasks_in_benchmark"),
                    "llm": as_dict(r.get("generation")).get("llm"), "seconds": r.get("seconds"),
                    "truncated": as_number(as_dict(r.get("generation_failures")).get("truncated")),
                    "samples": as_number(as_dict(r.get("generation_failures")).get("samples"))})
    return out


def board(run: Run) -> tuple[dict | None, str]:
    """The leaderboard (ours beside the paper's rows): leaderboard.json, else built from this
    run's eval results, ranked as the leaderboard ranks them."""
    data, _ = read_json(run.layout.leaderboard_json)
    if isinstance(data, dict) and isinstance(data.get("rows"), list) and run.status("leaderboard") != "disabled":
        return data, "leaderboard/leaderboard.json"
    eval_dir = run.layout.output("eval")
    if run.status("eval") == "disabled" or not any(eval_dir.glob("*/results.json")):
        return None, ""
    try:
        return ranking.collect(ranking.find_results([str(eval_dir)])), "eval/*/results.json (no leaderboard in this run)"
    except Exception as e:  # malformed results: the results table below still shows what is readable
        run.problems.append(f"eval results could not be ranked: {str(e)[:160]}")
        return None, ""


def compared(board: dict | None) -> list[dict]:
    """This run's models beside the baseline the leaderboard compares them with (its `baseline`,
    e.g. the base model a recipe fine-tunes), per benchmark: pass@1, the share of answers cut at
    max_tokens (a model that never stops writes until the cut), and the tasks each side passes
    that the other does not."""
    board = as_dict(board)
    rows = {str(r.get("model")): r for r in as_list(board.get("rows")) if isinstance(r, dict) and not r.get("reference")}
    base = rows.get(str(board.get("baseline")))
    if base is None:
        return []
    out = []
    for bench, path in as_dict(base.get("sources")).items():
        before = _task_outcomes(path)
        for name, row in rows.items():
            after = _task_outcomes(as_dict(row.get("sources")).get(bench))
            if row is base or before is None or after is None:
                continue
            both = before["tasks"] & after["tasks"]
            out.append({"benchmark": bench, "base": str(board["baseline"]), "model": name, "before": before, "after": after,
                        "gained": sorted(after["passed"] - before["passed"] & both, key=_task_key),
                        "lost": sorted(before["passed"] - after["passed"] & both, key=_task_key)})
    return out


def _task_key(task_id: str):
    tail = task_id.rsplit("/", 1)[-1]
    return (0, int(tail), task_id) if tail.isdigit() else (1, 0, task_id)


def _task_outcomes(path) -> dict | None:
    """pass@1, tasks passed, answers cut at max_tokens, from one results.json (None: unreadable)."""
    if not path:
        return None
    r, _ = read_json(Path(path))
    r = as_dict(r)
    tasks = {str(k): as_dict(t) for k, t in as_dict(r.get("tasks")).items()}
    if not tasks:
        return None
    counts = as_dict(r.get("generation_failures"))
    samples = as_number(counts.get("samples")) or sum(as_number(t.get("n")) or 0 for t in tasks.values())
    return {"pass1": as_number(as_dict(r.get("pass_at_k")).get("pass@1")), "tasks": set(tasks),
            "passed": {k for k, t in tasks.items() if t.get("status") == "passed"},
            "samples": int(samples or 0), "truncated": int(as_number(counts.get("truncated")) or 0)}
