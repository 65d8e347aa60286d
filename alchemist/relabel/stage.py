"""The relabel stage: AlchemistPrompts and code-comprehension tasks from curated data.

Reads `curated/samples.parquet` and `curated/rejected.parquet`, writes `relabeled/samples.parquet`
(every new sample, its template version and LLM in `meta`) and `relabeled/stats.json` (counts,
rejects by reason with examples, LLM usage). Generated code pairs (EvolCode answers, OSS-Instruct
pairs) are admitted by the curate stage's rules (relabel/curation.py), every other produced sample
is decontaminated. Every LLM answer is cached as it lands and every sandbox verdict is logged in
the work directory, so a rerun after a kill sends only what was never answered and runs only
what was never run.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import pyarrow.parquet as pq

from alchemist.errors import UserError
from alchemist.llm import ChatRequest, LLMClient, Sampling
from alchemist.llm.factory import build_client
from alchemist.relabel import oss_instruct as oss
from alchemist.relabel import tasks
from alchemist.relabel.registry import TASKS, templates
from alchemist.relabel.select import stratified
from alchemist.relabel.templates import load
from alchemist.relabel.validate import Validator
from alchemist.rundir import write_json_atomic
from alchemist.schema import Sample, rows_to_table

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


def cache_path(recipe) -> Path:
    spec = recipe.relabel
    return Path(spec.cache) if spec.cache else recipe.run_dir / "llm_cache.sqlite"


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


class Relabel:
    name, version, reads = "relabel", 3, ("curate",)
    publishes: dict[str, str] = {}  # writes nothing outside its own folder

    def enabled(self, recipe) -> bool:
        return recipe.relabel is not None and recipe.relabel.enabled

    def config(self, recipe):
        # relabeled samples are held to the curation rules, so those settings count too
        return {"relabel": recipe.relabel, "seed": recipe.seed, "filters": recipe.curate.filters,
                "decontaminate": recipe.curate.decontaminate, "dedup": recipe.curate.dedup}

    def inputs(self, ctx) -> list:
        return [f"template:{load(t).id}" for t in templates()]

    def plan(self, ctx) -> str:
        spec, curated = ctx.recipe.relabel, ctx.output("curate") / "samples.parquet"
        code = "?"
        if curated.is_file():
            tasks_col = pq.read_table(curated, columns=["task"]).column("task").to_pylist()
            code = sum(t == "codegen" for t in tasks_col)
        c = spec.comprehension
        fixed = c.instruction_evolution + (c.evol_codegen if c.evol_codegen is not None else c.instruction_evolution) + c.code_review
        oss = spec.generate.oss_instruct
        fixed += (round(oss) if oss >= 1 else 0) * spec.generate.candidates
        ap = round(spec.alchemist_prompts.fraction * code) if isinstance(code, int) else f"{spec.alchemist_prompts.fraction:.0%} of the codegen samples"
        return f"~{ap} + {fixed} LLM requests ({spec.llm.backend}: {spec.llm.model})"

    def preflight(self, ctx) -> None:
        """An unreachable endpoint, an unknown model or a missing key stops the run before any
        work. (Local backends load their model when the stage starts.)"""
        llm = ctx.recipe.relabel.llm
        if llm.backend != "openai":
            return
        client = build_client(llm, None)
        ctx.say(f"relabel: checking {client.model_id} at {llm.base_url}")
        try:
            client.preflight()
        finally:
            client.close()

    def run(self, ctx, out: Path, work: Path) -> dict:
        recipe = ctx.recipe
        client = build_client(recipe.relabel.llm, cache_path(recipe))
        client.preflight()
        try:
            produced, tally = _relabel(ctx, ctx.output("curate"), client, work)
        finally:
            client.close()
        pq.write_table(rows_to_table([s.to_row() for s in produced]), out / "samples.parquet")
        replaced = [s.meta["origin"] for s in produced if s.task == "alchemist_prompt"] \
            if recipe.relabel.alchemist_prompts.mode == "replace" else []
        stats = {"produced": dict(tally.produced), "rejected": {k: dict(v) for k, v in tally.rejected.items()},
                 "examples": tally.examples, "usage": client.usage.as_dict(), "llm": client.model_id, "replaced": replaced}
        write_json_atomic(out / "stats.json", stats)
        return {"produced": len(produced), "rejected": sum(sum(v.values()) for v in tally.rejected.values()),
                "llm_requests": client.usage.as_dict().get("llm_requests", 0)}


def _truncated(result) -> bool:
    return any(r == "length" for r in result.finish_reasons)


def _relabel(ctx, curated: Path, client: LLMClient, work: Path) -> tuple[list[Sample], Tally]:
    # datatrove's MinHash steps (about half a second of imports), for runs that relabel
    from alchemist.relabel.curation import ProducedCuration

    recipe, say, console = ctx.recipe, ctx.say, ctx.console
    spec = recipe.relabel
    seed = recipe.seed if spec.seed is None else spec.seed
    sampling = Sampling(max_tokens=spec.llm.max_tokens, temperature=spec.llm.temperature, seed=seed)
    samples = [Sample.from_row(r) for r in pq.read_table(curated / "samples.parquet").to_pylist()]
    sources = [s.source for s in samples]
    tally, produced = Tally(), []
    meta = {"llm": client.model_id}

    jobs = []
    for task in TASKS.values():
        eligible = [i for i, s in enumerate(samples) if task.eligible(s)]
        picks = stratified(sources, eligible, task.count(spec, len(eligible)), seed, task.name)
        jobs += [(task, i, task.request(samples[i], seed)) for i in picks]
    counts = Counter(task.name for task, _, _ in jobs)
    say("relabel: " + ", ".join(f"{counts.get(name, 0)} {name}" for name in TASKS))
    continued = spec.llm.backend == "hf"  # continues a pre-filled answer (relabel/templates.py)
    results = generate(client, [ChatRequest(m, tasks.task_sampling(task.name, sampling, continued))
                                for task, _, m in jobs], ", ".join(TASKS), spec.max_failure_rate, console)

    evolved: list[tuple[int, str]] = []
    for (task, i, _), result in zip(jobs, results):
        s = samples[i]
        if not result.ok:
            tally.reject(task.name, "llm_failed", s.id, result.error or "")
            continue
        if _truncated(result):  # an answer cut at max_tokens is never a whole prompt, review or evolution
            tally.reject(task.name, "truncated", s.id, result.text)
            continue
        new, why = task.accept(result.text, s, spec, seed, meta)
        if why:
            tally.reject(task.name, why, s.id, result.text)
            continue
        produced.append(new)
        if "evolved" in new.meta:
            evolved.append((i, new.meta["evolved"]))

    # EvolCode: evolved instructions answered, then held to the same curation rules as any sample
    n_answers = len(evolved) if spec.comprehension.evol_codegen is None else min(spec.comprehension.evol_codegen, len(evolved))
    evolved = evolved[:n_answers]
    answers = generate(client, [ChatRequest(tasks.evol_answer_request(text), sampling) for _, text in evolved],
                       "evolved instruction answers", spec.max_failure_rate, console)
    check = ProducedCuration(ctx, samples, work)
    try:
        pairs, invalid = _evol_answers(evolved, answers, samples, meta, check, tally)
        pairs += _oss_instruct(ctx, samples, client, sampling, seed, meta, check, work, tally)
        filtering = _data_filtering(ctx, curated, invalid)
        # every produced sample, whatever its task, is held to decontamination (pairs were, when admitted)
        others = produced + filtering
        dirty = {id(s) for s, bad in zip(others, check.contaminated(others)) if bad}
    finally:
        check.close()
    kept = []
    for s in produced + pairs + filtering:
        if id(s) in dirty:
            tally.reject(_kind(s), "contaminated", s.meta.get("origin", s.id))
        else:
            kept.append(s)
            tally.produced[_kind(s)] += 1
    return kept, tally


def _evol_answers(evolved, answers, samples, meta, check, tally) -> tuple[list[Sample], list[tuple[Sample, str]]]:
    """EvolCode: answers to evolved instructions, admitted like any generated pair; the ones a
    quality filter rejects feed the data-filtering task."""
    candidates, kept, invalid = [], [], []
    for (i, text), result in zip(evolved, answers):
        origin = samples[i]
        if not result.ok:
            tally.reject("evol_codegen", "llm_failed", origin.id, result.error or "")
        elif _truncated(result):
            tally.reject("evol_codegen", "truncated", origin.id, result.text)
        else:
            candidates.append(Sample(
                source=origin.source, messages=[{"role": "user", "content": text}, {"role": "assistant", "content": result.text}],
                task="codegen", language=origin.language,
                meta={**meta, "origin": origin.id, "generated": "evol_codegen", "template": load("evol_answer").id}))
    for s, reason in zip(candidates, check.admit(candidates)):
        if reason is None:
            kept.append(s)
            continue
        tally.reject("evol_codegen", reason, s.meta["origin"], s.response)
        if reason in tasks.FILTER_LETTERS:
            invalid.append((s, reason))
    return kept, invalid


def _data_filtering(ctx, curated: Path, invalid: list[tuple[Sample, str]]) -> list[Sample]:
    """Rejected samples as multiple-choice questions; the letter follows the reason."""
    spec, seed = ctx.recipe.relabel, ctx.recipe.seed if ctx.recipe.relabel.seed is None else ctx.recipe.relabel.seed
    rejected = [(Sample.from_row(r), r["reason"]) for r in pq.read_table(curated / "rejected.parquet").to_pylist()
                if r["reason"] in tasks.FILTER_LETTERS and r["task"] == "codegen"] + invalid
    picks = stratified([s.source for s, _ in rejected], list(range(len(rejected))), spec.comprehension.data_filtering,
                       seed, "data_filtering")
    if spec.comprehension.data_filtering > len(picks):
        ctx.say(f"relabel: only {len(picks)} rejected samples can become data-filtering tasks "
                f"({spec.comprehension.data_filtering} asked)")
    return [tasks.filtering_task(s, reason, {"template": load("data_filtering").id})
            for s, reason in (rejected[j] for j in picks)]


def _oss_instruct(ctx, samples, client, sampling, seed, meta, check, work, tally) -> list[Sample]:
    """OSS-Instruct: each picked snippet asks for `candidates` (problem, solution, tests); for
    Python with validate: tests a candidate must pass its own asserts in the sandbox. The first
    candidate that passes and is admitted by the curation rules (`check`) is kept; every other
    candidate is counted by reason."""
    recipe, gen = ctx.recipe, ctx.recipe.relabel.generate
    seeds = [i for i, s in enumerate(samples) if oss.is_seed(s)]
    strata = [f"{s.language}|{s.source}" for s in samples]  # stratified by language and source
    picks = stratified(strata, seeds, gen.count(len(seeds)), seed, "oss_instruct")
    if not picks:
        return []
    jobs = [(i, k, gen.language or samples[i].language or "python") for i in picks for k in range(gen.candidates)]
    ctx.say(f"relabel: {len(picks)} oss_instruct seeds x {gen.candidates} candidates")
    results = generate(client, [ChatRequest(oss.request(samples[i], target, k), sampling) for i, k, target in jobs],
                       "oss_instruct", recipe.relabel.max_failure_rate, ctx.console)
    by_seed: dict[int, list] = defaultdict(list)
    for (i, _k, target), result in zip(jobs, results):
        by_seed[i].append((target, result))
    kept, validator = [], Validator(work, gen.timeout, gen.workers)

    def judged(target, result) -> tuple:
        """(parsed, reject reason or None, validated) of one candidate, before curation."""
        if not result.ok:
            return None, "llm_failed", False
        found, why = oss.parse(result.text, target)
        if _truncated(result) and (why or not found[2]):  # cut before its solution and tests were whole
            return None, "truncated", False
        if why or gen.validate_ != "tests":
            return found, why, False
        _, solution, tests = found
        if target != "python":  # C++, JavaScript, Java, Go, Rust: the toolchain sandbox
            return (found, *oss.language_verdict(target, solution, tests, validator.reason))
        why = oss.precheck(solution, tests) or validator.reason(oss.program(solution, tests))
        return found, why, why is None

    def until_first_pass(i) -> list:
        out = []
        for target, result in by_seed[i]:
            out.append(judged(target, result))
            if out[-1][1] is None:
                break
        return out

    try:
        # seeds are validated in parallel; the decisions below are taken in seed order, so the
        # dedup among pairs is the same as one at a time
        early = dict(zip(picks, validator.map(until_first_pass, picks)))
        for i in picks:
            origin = samples[i]
            done = False
            for k, (target, result) in enumerate(by_seed[i]):
                if done:  # the seed already has its pair: later candidates are counted, not judged
                    tally.reject("oss_instruct", "superseded", origin.id, result.text)
                    continue
                found, why, validated = early[i][k] if k < len(early[i]) else judged(target, result)
                if not why:
                    problem, solution, tests = found
                    # its tests travel with the pair; the candidates loop is the regeneration
                    # (up to `candidates` tries), so `attempts` is how many it took
                    s = oss.pair(origin, problem, solution, target, validated, meta, tests=tests, attempts=k + 1)
                    why = check.admit([s])[0]
                if why:
                    tally.reject("oss_instruct", why, origin.id, (result.error or "") if why == "llm_failed" else result.text)
                    continue
                kept.append(s)
                done = True  # the first passing candidate is kept
    finally:
        validator.close()
    if validator.reused:
        ctx.say(f"relabel: {validator.reused} sandbox verdicts read back from the previous attempt")
    return kept


def _kind(s: Sample) -> str:
    return s.meta.get("generated") if s.meta.get("generated") in ("evol_codegen", "oss_instruct") else s.task
