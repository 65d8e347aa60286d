"""The relabel stage: AlchemistPrompts and code-comprehension tasks from curated data.

Reads `curated/samples.parquet` and `curated/rejected.parquet`, writes `relabeled/samples.parquet`
(every new sample, its template version and LLM in `meta`) and `relabeled/stats.json` (counts,
rejects by reason with examples, LLM usage). Every LLM answer is cached as it lands, so a rerun
after a kill sends only what was never answered.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow.parquet as pq

from alchemist.errors import UserError
from alchemist.llm import ChatRequest, LLMClient, Sampling
from alchemist.recipe import Recipe
from alchemist.relabel import tasks
from alchemist.relabel.select import stratified
from alchemist.relabel.templates import load
from alchemist.rundir import atomic_dir, file_digest, fingerprint, is_complete, write_json_atomic
from alchemist.schema import Sample, rows_to_table

TEMPLATES = ("alchemist_prompt", "instruction_evolution", "evol_answer", "code_review", "data_filtering",
             "code_review_task", "instruction_compare_task")
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


def cache_path(recipe: Recipe) -> Path:
    spec = recipe.relabel
    return Path(spec.cache) if spec.cache else recipe.run_dir / "llm_cache.sqlite"


def relabel_fingerprint(recipe: Recipe, curated: Path) -> str:
    spec = recipe.relabel
    llm = spec.llm.model_dump(exclude={"concurrency", "timeout", "max_retries", "base_url", "api_key_env", "batch_size"})
    return fingerprint("relabel-v1", llm, spec.model_dump(exclude={"llm", "cache", "max_failure_rate"}), recipe.seed,
                       [load(t).id for t in TEMPLATES], file_digest(curated / "samples.parquet"),
                       file_digest(curated / "rejected.parquet"), recipe.curate.filters.model_dump(),
                       recipe.curate.decontaminate.model_dump())


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


def run_relabel(recipe: Recipe, data_dir: Path, curated: Path, say=print, console=None) -> Path | None:
    spec = recipe.relabel
    if spec is None or not spec.enabled:
        return None
    out = data_dir / "relabeled"
    fp = relabel_fingerprint(recipe, curated)
    if is_complete(out, fp):
        say("relabel: inputs and settings unchanged, skipped")
        return out

    from alchemist.llm.factory import build_client

    client = build_client(spec.llm, cache_path(recipe))
    client.preflight()
    try:
        produced, tally = _relabel(recipe, curated, client, say, console)
    finally:
        client.close()
    with atomic_dir(out, fp) as tmp:
        pq.write_table(rows_to_table([s.to_row() for s in produced]), tmp / "samples.parquet")
        stats = {"produced": dict(tally.produced), "rejected": {k: dict(v) for k, v in tally.rejected.items()},
                 "examples": tally.examples, "usage": client.usage.as_dict(), "llm": client.model_id,
                 "replaced": [s.meta["origin"] for s in produced if s.task == "alchemist_prompt"] if spec.alchemist_prompts.mode == "replace" else []}
        write_json_atomic(tmp / "stats.json", stats)
    return out


def _relabel(recipe: Recipe, curated: Path, client: LLMClient, say, console) -> tuple[list[Sample], Tally]:
    from alchemist.curate import benchmark_problems
    from alchemist.curate.decontaminate import NgramIndex
    from alchemist.curate.exact import content_key
    from alchemist.curate.filters import quality_reason

    spec = recipe.relabel
    seed = recipe.seed if spec.seed is None else spec.seed
    sampling = Sampling(max_tokens=spec.llm.max_tokens, temperature=spec.llm.temperature, seed=seed)
    samples = [Sample.from_row(r) for r in pq.read_table(curated / "samples.parquet").to_pylist()]
    sources = [s.source for s in samples]
    code = [i for i, s in enumerate(samples) if s.task == "codegen"]
    tally, produced = Tally(), []
    meta = {"llm": client.model_id}

    ap = stratified(sources, code, round(spec.alchemist_prompts.fraction * len(code)), seed, "alchemist_prompt")
    ev = stratified(sources, code, spec.comprehension.instruction_evolution, seed, "instruction_evolution")
    rv = stratified(sources, code, spec.comprehension.code_review, seed, "code_review")
    ops = {i: tasks.pick_operation(samples[i].id, seed) for i in ev}
    jobs = ([("alchemist_prompt", i, tasks.alchemist_prompt_request(samples[i])) for i in ap]
            + [("instruction_evolution", i, tasks.evolution_request(samples[i], ops[i])) for i in ev]
            + [("code_review", i, tasks.review_request(samples[i])) for i in rv])
    say(f"relabel: {len(ap)} AlchemistPrompts, {len(ev)} instruction evolutions, {len(rv)} code reviews")
    results = generate(client, [ChatRequest(m, sampling) for _, _, m in jobs], "prompts, evolutions, reviews",
                       spec.max_failure_rate, console)

    evolved: list[tuple[int, str]] = []
    ap_spec = spec.alchemist_prompts
    for (task, i, _), result in zip(jobs, results):
        s = samples[i]
        if not result.ok:
            tally.reject(task, "llm_failed", s.id, result.error or "")
            continue
        answer = result.text
        if task == "alchemist_prompt":
            prompt, why = tasks.parse_alchemist_prompt(answer, s, ap_spec.min_words, ap_spec.max_words)
            if why:
                tally.reject(task, why, s.id, answer)
                continue
            produced.append(tasks.with_alchemist_prompt(s, prompt, {**meta, "template": load("alchemist_prompt").id}))
        elif task == "instruction_evolution":
            found, why = tasks.parse_evolution(answer, s.instruction)
            if why:
                tally.reject(task, why, s.id, answer)
                continue
            evolved_text, explanation = found
            produced.append(tasks.compare_task(s, evolved_text, explanation, {
                **meta, "operation": ops[i], "template": load("instruction_evolution").id,
                "task_template": load("instruction_compare_task").id}))
            evolved.append((i, evolved_text))
        else:
            review, why = tasks.parse_review(answer, s.language)
            if why:
                tally.reject(task, why, s.id, answer)
                continue
            produced.append(tasks.review_task(s, review, {**meta, "template": load("code_review").id,
                                                          "task_template": load("code_review_task").id}))

    # EvolCode: evolved instructions answered, then held to the same curation rules as any sample
    n_answers = len(evolved) if spec.comprehension.evol_codegen is None else min(spec.comprehension.evol_codegen, len(evolved))
    evolved = evolved[:n_answers]
    answers = generate(client, [ChatRequest(tasks.evol_answer_request(text), sampling) for _, text in evolved],
                       "evolved instruction answers", spec.max_failure_rate, console)
    problems = benchmark_problems(recipe)
    index = NgramIndex(problems, recipe.curate.decontaminate.ngram, recipe.curate.decontaminate.min_overlap) if problems else None
    seen = {content_key(s) for s in samples}
    invalid: list[tuple[Sample, str]] = []  # validation rejects feed the data-filtering task
    for (i, text), result in zip(evolved, answers):
        origin = samples[i]
        if not result.ok:
            tally.reject("evol_codegen", "llm_failed", origin.id, result.error or "")
            continue
        s = Sample(source=origin.source, messages=[{"role": "user", "content": text}, {"role": "assistant", "content": result.text}],
                   task="codegen", language=origin.language,
                   meta={**meta, "origin": origin.id, "generated": "evol_codegen", "template": load("evol_answer").id})
        reason = quality_reason(s, recipe.curate.filters)
        if reason is None and index is not None and index.hits(f"{s.instruction}\n{s.response}"):
            reason = "contaminated"
        if reason is None and content_key(s) in seen:
            reason = "exact_duplicate"
        if reason:
            tally.reject("evol_codegen", reason, origin.id, result.text)
            if reason in tasks.FILTER_LETTERS:
                invalid.append((s, reason))
            continue
        seen.add(content_key(s))
        produced.append(s)

    # data filtering: rejected samples as multiple-choice questions; the letter follows the reason
    rejected = [(Sample.from_row(r), r["reason"]) for r in pq.read_table(curated / "rejected.parquet").to_pylist()
                if r["reason"] in tasks.FILTER_LETTERS and r["task"] == "codegen"] + invalid
    picks = stratified([s.source for s, _ in rejected], list(range(len(rejected))), spec.comprehension.data_filtering,
                       seed, "data_filtering")
    for j in picks:
        s, reason = rejected[j]
        produced.append(tasks.filtering_task(s, reason, {"template": load("data_filtering").id}))
    if spec.comprehension.data_filtering > len(picks):
        say(f"relabel: only {len(picks)} rejected samples can become data-filtering tasks "
            f"({spec.comprehension.data_filtering} asked)")

    for s in produced:
        tally.produced["evol_codegen" if s.meta.get("generated") == "evol_codegen" else s.task] += 1
    return produced, tally


def relabel_manifest(out: Path | None) -> dict | None:
    if out is None:
        return None
    stats = json.loads((out / "stats.json").read_text())
    counts = {t: stats["produced"].get(t, 0) for t in
              ("alchemist_prompt", "instruction_evolution", "evol_codegen", "data_filtering", "code_review")}
    return {**counts, **stats["usage"], "rejected": stats["rejected"], "replaced": len(stats["replaced"]), "llm": stats["llm"]}
