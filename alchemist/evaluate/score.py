"""Score generations made anywhere: `task_id` + `solution` (a whole program, possibly a raw chat
answer) or `completion` (the continuation of the benchmark prompt), as evalplus takes them.

Verdicts are decided outside the candidate's process (harness.py). results.json holds, besides
pass@k for every k all tasks support: `base_pass_at_k` (plus benchmarks), `pass_at_k_samples`
(the largest k and the tasks with fewer samples), `generation_failures` (counted, not scored),
`verdicts` (how many tasks were checked outside the program, and which were not), and per task
`n`, `passed`, `status`, `checks` and per sample `status`, `error` and `failure` (the first
failing input with expected and got, or the failing test line). records.py spells each record."""

from __future__ import annotations

import codecs
import gzip
import json
import os
import platform
import time
import zlib
from collections import defaultdict
from collections.abc import Collection, Iterator
from pathlib import Path

from alchemist import __version__
from alchemist.errors import UserError
from alchemist.evaluate import languages
from alchemist.evaluate.harness import as_module, score_all
from alchemist.evaluate.metrics import mean_pass_at_k, pass_at_k_coverage
from alchemist.evaluate.records import Results, SampleLine, TaskResult, Verdict
from alchemist.evaluate.sanitize import sanitize
from alchemist.execution import Limits, SandboxPool, isolation
from alchemist.execution.languages import LanguagePool
from alchemist.testsets import BENCHMARKS, Benchmark, Problem, check_kind, fingerprint
from alchemist.testsets.multilang import language_of
from alchemist.testsets.user import infer_checks

GZIP_MAGIC = b"\x1f\x8b"


def program(checks: str, problem: Problem, code: str) -> str:
    """The code under test followed by the benchmark's checks, for a test that runs in the
    candidate's own process (harness.py runs every test it can outside it)."""
    setup = f"\n\n{problem.setup}" if problem.setup else ""
    test_code = check_kind(checks).test_code
    if test_code is None:
        raise ValueError(f"checks {checks!r} are decided outside the program (evaluate/harness.py), never inside it")
    return f"{as_module(code)}{setup}\n\n{test_code(problem)}"


def as_benchmark(benchmark: Benchmark | str, problems: list[Problem]) -> Benchmark:
    """A Benchmark for a name (callers that still pass one): registered, or read from the problems."""
    if isinstance(benchmark, Benchmark):
        return benchmark
    if benchmark in BENCHMARKS:
        return BENCHMARKS[benchmark]
    return Benchmark(name=benchmark, title=benchmark, load=lambda _: problems, checks=infer_checks(problems) or "asserts")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of a samples file: UTF-8 (a BOM is fine) or UTF-16 with a BOM, plain or
    gzipped (sniffed from the first bytes, whatever the suffix). A line that is not text ends in an
    error naming it."""
    lineno = 0
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
        fh = gzip.open(path, "rb") if head == GZIP_MAGIC else open(path, "rb")
        with fh:
            if fh.peek(2)[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
                try:
                    text = fh.read().decode("utf-16")
                except UnicodeDecodeError as e:
                    raise UserError(f"{path}: not UTF-16 text as its byte-order mark says ({e.reason}); "
                                    f"save the samples as UTF-8") from None
                yield from enumerate(text.splitlines(), 1)
                return
            for lineno, raw in enumerate(fh, 1):
                if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
                    raw = raw[len(codecs.BOM_UTF8):]
                try:
                    yield lineno, raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise UserError(f"{path}:{lineno}: not UTF-8 text (byte 0x{raw[e.start]:02x} at column {e.start + 1}); "
                                    f"save the samples as UTF-8, e.g. `iconv -f latin1 -t utf-8`") from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise UserError(f"{path}:{lineno + 1}: the gzip data is damaged or cut off after line {lineno} ({e}); "
                        f"write the file again") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read the samples file ({e.strerror or e})") from None


def task_aliases(problems: dict[str, Problem]) -> dict[str, str]:
    """Other harnesses' spellings of our task ids, lower-cased: `Mbpp/11` (evalplus) and `mbpp/11`,
    `11` and 11 (original MBPP), `HumanEval/0` and 0. A bare number counts only where it names
    one task."""
    aliases: dict[str, str] = {}
    numbers: dict[str, list[str]] = defaultdict(list)
    for task_id in problems:
        aliases[task_id.lower()] = task_id
        numbers[task_id.rsplit("/", 1)[-1].lower()].append(task_id)
    for number, ids in numbers.items():
        if len(ids) == 1:
            aliases.setdefault(number, ids[0])
    return aliases


def resolve_task_id(raw, problems: dict[str, Problem], aliases: dict[str, str]) -> str | None:
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        return None
    text = str(raw).strip()
    return text if text in problems else aliases.get(text.lower())


def read_samples(path: Path, problems: dict[str, Problem], excluded: Collection[str] = ()) -> tuple[list[dict], dict]:
    """Samples with their line numbers, and what was skipped: samples of tasks left out by --limit
    (`excluded`) are counted, not scored. A bad line is an error naming it. Task ids may be spelled
    as other harnesses do (`task_aliases`); `generation_failed`/`truncated` flags are kept."""
    if path.is_dir():
        raise UserError(f"{path}: is a folder; give the samples file (JSON lines: task_id + solution or completion)")
    if not path.is_file():
        raise UserError(f"{path}: samples file not found")
    out: list[dict] = []
    skipped = {"samples": 0, "tasks": set(), "first": None}
    aliases = task_aliases(problems)
    excluded_aliases = task_aliases(dict.fromkeys(excluded)) if excluded else {}
    for lineno, line in _lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as e:
            raise UserError(f"{path}:{lineno}: not valid JSON ({getattr(e, 'msg', e)})") from None
        if not isinstance(record, dict) or not isinstance(record.get("task_id"), (str, int)) \
                or isinstance(record.get("task_id"), bool):
            raise UserError(f"{path}:{lineno}: each line needs a task_id and a solution or completion")
        raw_id = record["task_id"]
        task_id = resolve_task_id(raw_id, problems, aliases)
        if task_id is None and excluded:
            gone = resolve_task_id(raw_id, dict.fromkeys(excluded), excluded_aliases)
            if gone is not None:
                skipped["samples"] += 1
                skipped["tasks"].add(gone)
                skipped["first"] = skipped["first"] or (lineno, gone)
                continue
        if task_id is None:
            raise UserError(f"{path}:{lineno}: task_id {raw_id!r} is not in this benchmark")
        solution, completion = record.get("solution"), record.get("completion")
        if solution is not None and completion is not None:
            raise UserError(f"{path}:{lineno}: both `solution` and `completion` given; keep one (solution: a whole "
                            f"program, completion: what follows the benchmark prompt)")
        code = solution if solution is not None else completion
        if not isinstance(code, str):
            raise UserError(f"{path}:{lineno}: give the code as `solution` (a program) or `completion` (after the prompt)")
        out.append({"task_id": task_id, "kind": "solution" if solution is not None else "completion", "text": code,
                    "line": lineno, "generation_failed": bool(record.get("generation_failed")),
                    "truncated": bool(record.get("truncated")), "generation_error": record.get("error")})
    if not out:
        if skipped["samples"]:
            lineno, task_id = skipped["first"]
            raise UserError(f"{path}:{lineno}: task {task_id} is beyond --limit {len(problems)}, and so is every other "
                            f"sample: raise --limit or leave it out")
        raise UserError(f"{path}: no samples")
    return out, skipped


def check_out_dir(out_dir: Path, flag: str = "-o") -> None:
    """An output folder that can be a folder: not an existing file, nor below one."""
    for p in (out_dir, *out_dir.parents):
        if p.exists():
            if not p.is_dir():
                raise UserError(f"{p}: exists and is a file; {flag} needs a folder"
                                + (f" (it would hold {out_dir.relative_to(p)})" if p != out_dir else ""))
            return


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _in_process(sandbox, checks: str, limits: Limits):
    """Score one sample with the checks in its own process (tests that cannot be replayed). Its
    pass is `unverified`, never counted: the candidate could have forged it (written to the
    completion pipe, returned an object equal to everything)."""
    def run(problem: Problem, code: str) -> Verdict:
        o = sandbox.run(program(checks, problem, code), limits)
        error = (o.stderr.strip().splitlines() or [""])[-1][:500] if o.status != "passed" else ""
        return Verdict("unverified" if o.status == "passed" else o.status, checked="in_process", seconds=o.seconds,
                       error=error)
    return run


def check_failure_rate(samples: list[dict], max_failure_rate: float | None, where: str) -> dict:
    """Generation failures counted; more than `max_failure_rate` of them is one error."""
    failed = [s for s in samples if s["generation_failed"]]
    counts = {"samples": len(samples), "generation_failed": len(failed),
              "truncated": sum(s["truncated"] for s in samples),
              "failure_rate": round(len(failed) / len(samples), 4) if samples else 0.0}
    if max_failure_rate is not None and samples and len(failed) / len(samples) > max_failure_rate:
        first = failed[0]
        raise UserError(f"{where}: {len(failed)} of {len(samples)} answers failed to generate "
                        f"({len(failed) / len(samples):.1%}, more than eval.max_failure_rate {max_failure_rate:.1%}); "
                        f"first: {first['task_id']} ({first.get('generation_error') or 'no answer'})")
    return counts


def score(benchmark: Benchmark | str, problems: list[Problem], samples_path: Path, out_dir: Path, *, do_sanitize: bool = True,
          limits: Limits = Limits(), workers: int = 0, model: str | None = None, generation: dict | None = None,
          excluded: Collection[str] = (), max_failure_rate: float | None = None, notes: list[str] | None = None,
          few_shot_excluded: Collection[str] = (), require_isolation: bool = False) -> dict:
    """Run every sample against its problem's checks; write results.json and samples.jsonl (records.py:
    `Results`, `SampleLine`) and return what results.json holds.
    `generation` (prompt style, sampling parameters, backend) is recorded when we generated;
    `excluded` are the benchmark's tasks left out of `problems` by --limit. Samples whose
    generation failed are counted, not scored (`max_failure_rate`: the share that is an error)."""
    bench = as_benchmark(benchmark, problems)
    check_out_dir(out_dir)
    by_id = {p.task_id: p for p in problems}
    excluded = set(excluded)
    samples, skipped = read_samples(samples_path, by_id, excluded)
    failures = check_failure_rate(samples, max_failure_rate, f"{bench.name}")
    lang = language_of(bench.name)  # HumanEval-X: a toolchain program (evaluate/languages.py)
    for s in samples:
        p = by_id[s["task_id"]]
        s["raw"] = s["text"]
        if lang:
            s["code"] = languages.code_of(p, s, do_sanitize)
        elif s["kind"] == "solution":
            s["code"] = sanitize(s["text"], p.entry_point, p.prompt) if do_sanitize else s["text"]
        else:
            s["code"] = p.prompt + s["text"]
    scored = [s for s in samples if not s["generation_failed"]]
    workers = workers or os.cpu_count() or 1
    start = time.perf_counter()
    if lang:
        with LanguagePool(require_isolation) as sandbox:
            verdicts, how = languages.score_all(lang, by_id, [(s["task_id"], s["code"]) for s in scored], sandbox,
                                                limits, workers)
    else:
        with SandboxPool(require_isolation=require_isolation) as sandbox:  # each program is its own process
            verdicts, how = score_all(bench.checks, by_id, [(s["task_id"], s["code"]) for s in scored], sandbox, limits,
                                      workers, _in_process(sandbox, bench.checks, limits))
    seconds = time.perf_counter() - start
    for s, v in zip(scored, verdicts):
        s["verdict"] = v
    for s in samples:
        if s["generation_failed"]:
            s["verdict"] = Verdict("generation_failed", error=s.get("generation_error") or "no answer")

    plus = bench.kind.base_and_plus
    tasks: dict[str, TaskResult] = defaultdict(TaskResult)
    for s in samples:
        tasks[s["task_id"]].add(s["verdict"], s["line"], s["truncated"], s["generation_failed"], plus)
    for task_id, t in tasks.items():
        t.settle(how.get(task_id, {}).get("checks", "outside"), how.get(task_id, {}).get("reason"))
    counted = {k: t for k, t in tasks.items() if t.n}
    counts = [(t.n, t.passed) for t in counted.values()]
    notes = list(notes or [])
    if skipped["samples"]:
        lineno, task_id = skipped["first"]
        notes.append(f"{skipped['samples']} samples of {len(skipped['tasks'])} tasks not scored: task {task_id} "
                     f"({samples_path}:{lineno}) and the others are beyond --limit {len(problems)}")
    if failures["generation_failed"]:
        notes.append(f"{failures['generation_failed']} answers failed to generate and are not scored"
                     + (f"; {len(tasks) - len(counted)} tasks have no answer at all" if len(counted) < len(tasks) else ""))
    k_info = pass_at_k_coverage({k: t.n for k, t in counted.items()})
    if k_info["tasks_with_fewer_samples"]:
        notes.append(f"pass@k up to k={k_info['max_k']}: {len(k_info['tasks_with_fewer_samples'])} tasks have fewer "
                     f"samples than the most ({k_info['most_samples']})")
    in_process = sorted(k for k, t in tasks.items() if t.checks == "in_process")
    results = Results(
        benchmark=bench.name,
        model=model or samples_path.name.removesuffix(".gz").removesuffix(".jsonl").removesuffix(".json"),
        pass_at_k=mean_pass_at_k(counts),
        base_pass_at_k=mean_pass_at_k([(t.n, t.base_passed) for t in counted.values()]) if plus else None,
        pass_at_k_samples=k_info,
        tasks_scored=len(counted), tasks_in_benchmark=len(problems) + len(excluded - set(by_id)),
        limit=len(problems) if excluded else None, samples=len(samples),
        samples_beyond_limit=skipped["samples"], generation_failures=failures, notes=notes,
        few_shot_excluded=sorted(few_shot_excluded),
        checks=bench.checks, verdicts={"outside_the_program": len(tasks) - len(in_process),
                                       "in_process": len(in_process), "in_process_tasks": in_process,
                                       "unverified_tasks": in_process},
        sanitized=do_sanitize, data_hash=fingerprint(problems),
        generation=generation or {"source": str(samples_path)},
        sandbox={**isolation(), "timeout_s": limits.timeout, "memory_mb": limits.memory_mb},
        seconds=round(seconds, 2), programs_per_s=round(len(scored) / seconds, 1) if seconds else 0.0,
        timestamp=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        versions={"alchemist": __version__, "python": platform.python_version()},
        tasks=dict(tasks),
    ).to_json()
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(out_dir / "samples.jsonl", "".join(
        json.dumps(SampleLine.of(s["task_id"], s["raw"], s["code"], s["verdict"], s["truncated"]).to_json()) + "\n"
        for s in samples))
    write_atomic(out_dir / "results.json", json.dumps(results, indent=2) + "\n")  # last: its presence means complete
    return results
