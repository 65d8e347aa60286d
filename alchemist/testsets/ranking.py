"""Eval results read and ranked: one board of our models beside the paper's published rows. The
leaderboard stage writes it; the report draws it when a run has no leaderboard of its own. Both
read eval's results.json files, never the evaluate stage's code."""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from pathlib import Path

from alchemist.errors import UserError
from alchemist.testsets import BENCHMARKS, title

# the paper's rows ship with the leaderboard stage's page template
REFERENCE = Path(__file__).parent / "reference.json"  # published scores of known models on these benchmarks


def find_results(paths: list[str]) -> list[Path]:
    """results.json files: given directly, or anywhere below given folders (e.g. a run directory).
    A file reached twice (a folder and a file inside it) counts once."""
    found: dict[Path, Path] = {}
    for text in paths:
        p = Path(text)
        if p.is_file():
            found.setdefault(p.resolve(), p)
        elif p.is_dir():
            for f in sorted(p.rglob("results.json")):
                found.setdefault(f.resolve(), f)
        else:
            raise UserError(f"{p}: no such results file or folder")
    if not found:
        raise UserError(f"no results.json under {', '.join(paths)}")
    return list(found.values())


def read_result(path: Path) -> dict:
    """One results.json, checked: a model name, a benchmark, pass@k values that are fractions."""
    try:
        r = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: not an alchemist results.json ({e})") from None
    if not isinstance(r, dict):
        raise UserError(f"{path}: not an alchemist results.json (a JSON object with model, benchmark and pass_at_k)")
    for key in ("model", "benchmark"):
        if not isinstance(r.get(key), str) or not r[key].strip():
            raise UserError(f"{path}: `{key}` must be a non-empty string, got {r.get(key)!r}")
    scores = r.get("pass_at_k")
    if not isinstance(scores, dict) or "pass@1" not in scores:
        raise UserError(f"{path}: no pass_at_k.pass@1; is this an alchemist results.json?")
    for k, v in scores.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 0 <= v <= 1:
            raise UserError(f"{path}: pass_at_k.{k} is {v!r}, not a number from 0 to 1")
    return r


def _run_dir(path: Path, benchmark: str) -> Path:
    """The run a results file belongs to: RUN/eval/BENCH/results.json -> RUN, DIR/results.json -> DIR."""
    d = path.resolve().parent
    if d.name == benchmark:
        d = d.parent
    if d.name == "eval":
        d = d.parent
    return d


def _labels(dirs: list[Path]) -> dict[Path, str]:
    """Shortest names that tell run folders apart: their paths below the common folder."""
    common = Path(os.path.commonpath([str(d) for d in dirs]))
    labels = {d: (str(d.relative_to(common)) if d != common else d.name) or str(d) for d in dirs}
    if len(set(labels.values())) < len(labels):
        labels = {d: str(d) for d in dirs}
    return labels


def _group(model: str, entries: list[tuple[Path, dict]], notes: list[str]) -> list[tuple[str, list[tuple[Path, dict]]]]:
    """One row per model, or, when a benchmark was scored more than once under this name, one row
    per run (never a run dropped): `name (run folder)`."""
    if len({r["benchmark"] for _, r in entries}) == len(entries):
        return [(model, entries)]
    by_run: dict[Path, list] = defaultdict(list)
    for path, r in entries:
        by_run[_run_dir(path, r["benchmark"])].append((path, r))
    if any(len({r["benchmark"] for _, r in es}) < len(es) for es in by_run.values()):
        by_run = defaultdict(list)  # two results of one benchmark in one run folder: one row per file
        for path, r in entries:
            by_run[path.resolve().parent].append((path, r))
    labels = _labels(list(by_run))
    names = [f"{model} ({labels[d]})" for d in by_run]
    notes.append(f"{len(by_run)} runs are named '{model}' and score the same benchmark: all are kept, as "
                 + ", ".join(f"'{n}'" for n in names) + "; give each run its own name (--name, eval.name) to rank them apart")
    return [(name, es) for name, es in zip(names, by_run.values())]


def collect(paths: list[Path], with_reference: bool = True, baseline: str | None = None) -> dict:
    """Rows of our results and the paper's. `baseline`: a model whose scores every other row of
    ours is compared with (`delta`: this row minus the baseline, per benchmark both have)."""
    by_model: dict[str, list[tuple[Path, dict]]] = defaultdict(list)
    for path in paths:
        r = read_result(path)
        by_model[r["model"]].append((path, r))
    notes: list[str] = []
    rows: dict[str, dict] = {}
    for model, entries in by_model.items():
        for name, group in _group(model, entries, notes):
            row = rows[name] = {"model": name, "name": model, "params": "", "reference": False, "scores": {}, "sources": {}}
            for path, r in group:
                bench = r["benchmark"]
                row["scores"][bench] = round(100 * r["pass_at_k"]["pass@1"], 1)
                row["sources"][bench] = str(path)
                if r.get("tasks_scored") != r.get("tasks_in_benchmark"):
                    row.setdefault("partial", {})[bench] = f"{r.get('tasks_scored')}/{r.get('tasks_in_benchmark')} tasks"
                unverified = (r.get("verdicts") or {}).get("unverified_tasks") or []
                if unverified:  # tests run inside the candidate's process: their passes are not counted
                    row.setdefault("unverified", {})[bench] = len(unverified)
                    notes.append(f"'{name}' on {title(bench)}: {len(unverified)} tasks unverified (their tests run in "
                                 f"the candidate's process, so no pass there is counted)")
    reference = json.loads(REFERENCE.read_text())
    if with_reference:
        for ref in reference["rows"]:
            name = ref["model"]
            if name in rows:
                notes.append(f"'{name}' is both one of ours and a reference row: the reference is shown as '{name} (paper)'")
                name = f"{name} (paper)"
            rows[name] = {"model": name, "name": ref["model"], "params": ref["params"], "reference": True,
                          "scores": dict(zip(reference["benchmarks"], ref["scores"])), "sources": {}}
    benchmarks = [b for b in BENCHMARKS if any(b in r["scores"] for r in rows.values())]
    benchmarks += sorted({b for r in rows.values() for b in r["scores"]} - set(benchmarks))
    # An average over fewer benchmarks is another number: a row's average exists only when it has
    # every benchmark of the board. Rows are ranked by their mean over the benchmarks all rows have.
    rank_by = [b for b in benchmarks if all(b in r["scores"] for r in rows.values())]
    for row in rows.values():
        row["average"] = _mean(row["scores"], benchmarks)
        row["rank_score"] = _mean(row["scores"], rank_by) if rank_by else row["average"]
    ordered = sorted(rows.values(), key=lambda r: (r["rank_score"] is None, -(r["rank_score"] or 0)))
    titles = {b: title(b) for b in benchmarks}
    if rank_by and rank_by != benchmarks:
        notes.append(f"ranked by {', '.join(titles[b] for b in rank_by)}, the benchmark{'s' if len(rank_by) > 1 else ''} "
                     f"every row has; an average is shown only for rows with all {len(benchmarks)} benchmarks")
    elif not rank_by and len(rows) > 1:
        notes.append(f"no benchmark is shared by every row: ranked by the average over all {len(benchmarks)} "
                     "benchmarks, rows without one last")
    if baseline is not None:
        base = rows.get(baseline)
        if base is None:
            notes.append(f"the baseline '{baseline}' has no row: no differences shown")
            baseline = None
        else:
            for row in rows.values():
                if row is not base and not row["reference"]:
                    row["delta"] = {b: round(v - base["scores"][b], 1) for b, v in row["scores"].items() if b in base["scores"]}
    return {"benchmarks": benchmarks, "titles": titles, "rows": ordered, "rank_by": rank_by, "baseline": baseline,
            "notes": notes, "reference_source": reference["source"]}


def _mean(scores: dict, benchmarks: list[str]) -> float | None:
    """The mean over `benchmarks`, or None when the row lacks one of them (or there are none)."""
    if not benchmarks or any(b not in scores for b in benchmarks):
        return None
    return round(sum(scores[b] for b in benchmarks) / len(benchmarks), 1)
