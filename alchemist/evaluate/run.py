"""One benchmark, evaluated: generate answers (given an LLM client) or read a samples file, score
them in the sandbox, write `generations.jsonl` (when generated), `samples.jsonl` and
`results.json` into the benchmark's folder. `alchemist eval` and the recipe's eval stage both
call `evaluate()`; they load the problems once and build (and close) the client."""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Callable, Collection
from pathlib import Path

from alchemist.errors import UserError
from alchemist.evaluate.generate import generate_samples
from alchemist.evaluate.prompts import few_shot
from alchemist.evaluate.score import check_out_dir, score
from alchemist.execution import Limits
from alchemist.rundir import write_text_atomic
from alchemist.rundir.ownership import Owned
from alchemist.testsets import Benchmark, Problem

ARRAY_LINES = "samples.input.jsonl"  # a samples file given as one JSON array, as JSON lines
SAMPLES_FORMAT = "JSON lines (one {task_id, solution or completion} per line) or one JSON array of such objects"
# What evaluate() writes in its folder (score's temporary files included); nothing else there is replaced.
WRITES = ("generations.jsonl", "samples.jsonl", "results.json", ".samples.jsonl.tmp", ".results.json.tmp", ARRAY_LINES)

# More generation failures than this share of the answers (requests failed after retries, fewer
# choices than n) is an error, not a score: `eval.max_failure_rate`.
MAX_FAILURE_RATE = 0.05


def claim_eval_dir(out_dir: Path, what: str = "-o") -> Owned:
    """The eval folder, made alchemist's; refused when it holds files alchemist did not write
    under the names evaluate writes."""
    owned = Owned(out_dir, what).claim()
    owned.check(*WRITES)
    return owned


def array_as_lines(path: Path, dest: Path) -> Path:
    """`path` itself when it is JSON lines; else, when it is unambiguous, its samples as JSON lines
    in `dest` (sample N on line N): one JSON array (pretty-printed or on one line), plain or
    gzipped, or JSON objects each spread over several lines. Anything else that is not JSON lines
    is an error that says what the format is."""
    try:
        with open(path, "rb") as fh:
            gz = fh.read(2) == b"\x1f\x8b"
        with gzip.open(path, "rb") if gz else open(path, "rb") as fh:
            data = fh.read(1 << 20)
            text = data.lstrip(b"\xef\xbb\xbf \t\r\n")
            first, newline, _ = text.partition(b"\n")
            if not text.startswith(b"[") and not (text.startswith(b"{") and newline and not _is_json(first)):
                return path  # JSON lines (or not JSON at all: the reader names the line)
            data += fh.read()
    except (OSError, EOFError, zlib.error):
        return path  # the reader names what is wrong with the file
    try:
        items = _json_values(data.decode("utf-8-sig"))
    except (ValueError, RecursionError) as e:
        where = f":{e.lineno}" if isinstance(e, json.JSONDecodeError) else ""
        raise UserError(f"{path}{where}: not JSON lines, nor one valid JSON array ({getattr(e, 'msg', e)}); "
                        f"give {SAMPLES_FORMAT}") from None
    if len(items) == 1 and isinstance(items[0], list):
        items = items[0]
    for i, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise UserError(f"{path}: item {i} is {type(item).__name__}, not an object; give {SAMPLES_FORMAT}")
    write_text_atomic(dest, "".join(json.dumps(item) + "\n" for item in items))
    return dest


def _is_json(line: bytes) -> bool:
    try:
        json.loads(line)
        return True
    except (ValueError, RecursionError):
        return False


def _json_values(text: str) -> list:
    """Every JSON value of a text, one after another (whitespace between them)."""
    decoder, values, pos = json.JSONDecoder(), [], 0
    while True:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if pos == len(text):
            return values
        value, pos = decoder.raw_decode(text, pos)
        values.append(value)


def limit_problems(problems: list[Problem], limit: int) -> tuple[list[Problem], set[str]]:
    """The first `limit` problems (0: all) and the task ids left out, for `evaluate(excluded=...)`."""
    if limit < 0:
        raise UserError(f"--limit must be 0 (every task) or more, got {limit}")
    if not limit or limit >= len(problems):
        return problems, set()
    return problems[:limit], {p.task_id for p in problems[limit:]}


def without_shots(problems: list[Problem], shots: list[Problem] | None) -> tuple[list[Problem], list[str]]:
    """The problems that are not also few-shot examples (MBPP+ holds MBPP's shots 2-4; a shot's
    answer is in the prompt), and the task ids left out for that."""
    if not shots:
        return problems, []
    numbers = {s.task_id.rsplit("/", 1)[-1] for s in shots}
    kept = [p for p in problems if p.task_id.rsplit("/", 1)[-1] not in numbers]
    return kept, [p.task_id for p in problems if p not in kept]


def _check_settings(n: int, temperature: float, max_tokens: int, limits: Limits, workers: int,
                    max_failure_rate: float = 0.0) -> None:
    problems = [msg for bad, msg in (
        (not 0 <= max_failure_rate <= 1, f"max_failure_rate must be between 0 and 1, got {max_failure_rate}"),
        (n < 1, f"samples per task must be 1 or more, got {n}"),
        (temperature < 0, f"temperature must be 0 or more, got {temperature}"),
        (max_tokens < 1, f"max tokens must be 1 or more, got {max_tokens}"),
        (not limits.timeout > 0, f"the timeout per program must be more than 0 seconds, got {limits.timeout}"),
        (workers < 0, f"workers must be 0 (one per core) or more, got {workers}"),
    ) if bad]
    if problems:
        raise UserError("; ".join(problems))


def evaluate(benchmark: Benchmark, problems: list[Problem], out_dir: Path, *, client=None, samples: Path | None = None,
             style: str | None = None, n: int = 1, temperature: float = 0.0, max_tokens: int = 512,
             shots: list[Problem] | None = None, sanitize: bool = True, limits: Limits = Limits(), workers: int = 0,
             model_name: str | None = None, excluded: Collection[str] = (),
             say: Callable[[str], None] | None = None, max_failure_rate: float = MAX_FAILURE_RATE,
             require_isolation: bool = False, what: str = "-o") -> dict:
    """Score `problems` of `benchmark` and return the results dict (what results.json holds).

    Exactly one of `client` (an LLMClient: generate `n` answers per problem in `style`, default
    the benchmark's; the caller owns and closes it) or `samples` (a JSONL file, `.gz` or not, of
    task_id + solution/completion made elsewhere). `shots`: few-shot examples for a few-shot style,
    mbpp-3shot (default: `benchmark.examples()` from the built-in data). `excluded`: the benchmark's task ids
    the caller left out (--limit); samples of those are counted in the results, not scored.
    `max_failure_rate`: the share of answers whose generation may fail (a failed request, fewer
    choices than n) before this is an error; such answers are counted, never scored as wrong.
    With a few-shot style, tasks that are also few-shot examples are not scored (results.json lists them).
    `require_isolation`: a sandbox layer this machine cannot provide is an error, not a warning.
    `what`: how the user named `out_dir` (a flag), for errors about it. The folder must be new,
    empty or one alchemist made (`rundir.ownership`); only the files evaluate writes are replaced."""
    if (client is None) == (samples is None):
        raise UserError("evaluate: give exactly one of an LLM client (to generate with) or a samples file (to score)")
    _check_settings(n, temperature, max_tokens, limits, workers, max_failure_rate)
    out_dir = Path(out_dir)
    check_out_dir(out_dir, what)
    if not problems:
        raise UserError(f"{benchmark.name}: no problems to evaluate")
    owned = claim_eval_dir(out_dir, what)
    say = say or (lambda _msg: None)
    generation = None
    shot_ids: list[str] = []
    if client is not None:
        style = style or benchmark.style
        if few_shot(style) and shots is None:
            shots = benchmark.examples()
        if few_shot(style):
            problems, shot_ids = without_shots(problems, shots)
            if shot_ids:
                say(f"{benchmark.name}: {', '.join(shot_ids)} are the prompt's few-shot examples: not scored")
        say(f"{benchmark.name}: generating {len(problems) * n} answers with {client.model_id}")
        samples = generate_samples(client, problems, style, out_dir / "generations.jsonl", n=n, temperature=temperature,
                                   max_tokens=max_tokens, shots=shots)
        generation = {"llm": client.model_id, "prompt_style": style, "n": n, "temperature": temperature,
                      "max_tokens": max_tokens}
        model_name = model_name or Path(client.model_id.split(":", 1)[-1]).name
    owned.wrote(*WRITES)
    given = Path(samples)
    lines = array_as_lines(given, out_dir / ARRAY_LINES) if client is None else given
    if lines != given:
        model_name = model_name or given.name.removesuffix(".gz").removesuffix(".json")
        generation = {"source": str(given)}
    try:
        results = score(benchmark, problems, lines, out_dir, do_sanitize=sanitize, limits=limits, workers=workers,
                        model=model_name, generation=generation, excluded=excluded,
                        max_failure_rate=max_failure_rate, few_shot_excluded=shot_ids, require_isolation=require_isolation)
    except UserError as e:
        owned.abandon()
        if lines == given:
            raise
        # name the user's file and the array's item, not the converted lines
        raise UserError(re.sub(rf"^{re.escape(str(lines))}(?::(\d+))?",
                               lambda m: f"{given}: item {m[1]}" if m[1] else str(given), str(e))) from None
    for note in results["notes"]:
        say(f"{benchmark.name}: {note}")
    return results
