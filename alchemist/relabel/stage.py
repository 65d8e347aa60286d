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

from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

from alchemist.llm import ChatRequest, LLMClient, Sampling
from alchemist.llm.factory import build_client
from alchemist.relabel import tasks
from alchemist.relabel.context import Tally, TaskContext, truncated
from alchemist.relabel.registry import BUILT, TASKS, templates
from alchemist.relabel.select import stratified
from alchemist.relabel.templates import load
from alchemist.rundir import write_json_atomic
from alchemist.schema import Sample, rows_to_table


def cache_path(recipe) -> Path:
    spec = recipe.relabel
    return Path(spec.cache) if spec.cache else recipe.run_dir / "llm_cache.sqlite"


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


def _relabel(ctx, curated: Path, client: LLMClient, work: Path) -> tuple[list[Sample], Tally]:
    """Every registered task in turn: the RelabelTasks' requests in one batch, then each BuiltTask;
    every produced sample is decontaminated (a generated pair when it was admitted)."""
    # datatrove's MinHash steps (about half a second of imports), for runs that relabel
    from alchemist.relabel.curation import ProducedCuration

    spec = ctx.recipe.relabel
    seed = ctx.recipe.seed if spec.seed is None else spec.seed
    sampling = Sampling(max_tokens=spec.llm.max_tokens, temperature=spec.llm.temperature, seed=seed)
    samples = [Sample.from_row(r) for r in pq.read_table(curated / "samples.parquet").to_pylist()]
    tc = TaskContext(spec, seed, samples, curated / "rejected.parquet", client, sampling, {"llm": client.model_id},
                     work, Tally(), ctx.say, ctx.console)
    tc.answered = _answer(tc)
    made = [(name, s) for name, _, s in tc.answered]
    unchecked = [s for _, s in made]
    tc.check = ProducedCuration(ctx, samples, work)
    try:
        for task in BUILT.values():
            new = task.make(tc)
            made += [(task.name, s) for s in new]
            if not task.admitted:
                unchecked += new
        # every produced sample, whatever its task, is held to decontamination (pairs were, when admitted)
        dirty = {id(s) for s, bad in zip(unchecked, tc.check.contaminated(unchecked)) if bad}
    finally:
        tc.check.close()
    kept = []
    for name, s in made:
        if id(s) in dirty:
            tc.tally.reject(name, "contaminated", s.meta.get("origin", s.id))
        else:
            kept.append(s)
            tc.tally.produced[name] += 1
    return kept, tc.tally


def _answer(tc: TaskContext) -> list[tuple[str, int, Sample]]:
    """The RelabelTasks: one request per picked curated sample, every task's in one batch; (task,
    curated index, sample) of each answer kept, each other counted by reason."""
    sources = [s.source for s in tc.samples]
    jobs = []
    for task in TASKS.values():
        eligible = [i for i, s in enumerate(tc.samples) if task.eligible(s)]
        picks = stratified(sources, eligible, task.count(tc.spec, len(eligible)), tc.seed, task.name)
        jobs += [(task, i, task.request(tc.samples[i], tc.seed)) for i in picks]
    counts = Counter(task.name for task, _, _ in jobs)
    tc.say("relabel: " + ", ".join(f"{counts.get(name, 0)} {name}" for name in TASKS))
    continued = tc.spec.llm.backend == "hf"  # continues a pre-filled answer (relabel/templates.py)
    results = tc.generate([ChatRequest(m, tasks.task_sampling(task.name, tc.sampling, continued)) for task, _, m in jobs],
                          ", ".join(TASKS))
    answered = []
    for (task, i, _), result in zip(jobs, results):
        s = tc.samples[i]
        if not result.ok:
            tc.tally.reject(task.name, "llm_failed", s.id, result.error or "")
            continue
        if truncated(result):  # an answer cut at max_tokens is never a whole prompt, review or evolution
            tc.tally.reject(task.name, "truncated", s.id, result.text)
            continue
        new, why = task.accept(result.text, s, tc.spec, tc.seed, tc.meta)
        if why:
            tc.tally.reject(task.name, why, s.id, result.text)
            continue
        answered.append((task.name, i, new))
    return answered
