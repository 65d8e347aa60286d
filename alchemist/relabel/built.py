"""The relabel tasks that make their samples themselves from a `TaskContext` (registry.py's
`BuiltTask`s): EvolCode answers to other tasks' output, OSS-Instruct pairs checked in the sandbox,
data-filtering questions from rejected samples without an LLM."""

from __future__ import annotations

from collections import defaultdict

import pyarrow.parquet as pq

from alchemist.llm import ChatRequest
from alchemist.relabel import oss_instruct as oss
from alchemist.relabel import tasks
from alchemist.relabel.context import TaskContext, truncated
from alchemist.relabel.select import stratified
from alchemist.relabel.templates import load
from alchemist.relabel.validate import Validator
from alchemist.schema import Sample


def evol_codegen(tc: TaskContext) -> list[Sample]:
    """EvolCode: the evolved instructions of instruction_evolution answered, admitted like any
    generated pair; the ones a quality filter rejects go to `tc.filtered` (data_filtering's)."""
    evolved = [(i, s.meta["evolved"]) for _, i, s in tc.answered if "evolved" in s.meta]
    limit = tc.spec.comprehension.evol_codegen
    evolved = evolved if limit is None else evolved[:limit]
    answers = tc.generate([ChatRequest(tasks.evol_answer_request(text), tc.sampling) for _, text in evolved],
                          "evolved instruction answers")
    candidates, kept = [], []
    for (i, text), result in zip(evolved, answers):
        origin = tc.samples[i]
        if not result.ok:
            tc.tally.reject("evol_codegen", "llm_failed", origin.id, result.error or "")
        elif truncated(result):
            tc.tally.reject("evol_codegen", "truncated", origin.id, result.text)
        else:
            candidates.append(Sample(
                source=origin.source, messages=[{"role": "user", "content": text}, {"role": "assistant", "content": result.text}],
                task="codegen", language=origin.language,
                meta={**tc.meta, "origin": origin.id, "generated": "evol_codegen", "template": load("evol_answer").id}))
    for s, reason in zip(candidates, tc.check.admit(candidates)):
        if reason is None:
            kept.append(s)
            continue
        tc.tally.reject("evol_codegen", reason, s.meta["origin"], s.response)
        if reason in tasks.FILTER_LETTERS:
            tc.filtered.append((s, reason))
    return kept


def data_filtering(tc: TaskContext) -> list[Sample]:
    """Rejected samples (the curate stage's, then `tc.filtered`) as multiple-choice questions; the
    letter follows the reason."""
    wanted = tc.spec.comprehension.data_filtering
    rejected = [(Sample.from_row(r), r["reason"]) for r in pq.read_table(tc.rejected).to_pylist()
                if r["reason"] in tasks.FILTER_LETTERS and r["task"] == "codegen"] + tc.filtered
    picks = stratified([s.source for s, _ in rejected], list(range(len(rejected))), wanted, tc.seed, "data_filtering")
    if wanted > len(picks):
        tc.say(f"relabel: only {len(picks)} rejected samples can become data-filtering tasks ({wanted} asked)")
    return [tasks.filtering_task(s, reason, {"template": load("data_filtering").id})
            for s, reason in (rejected[j] for j in picks)]


def oss_instruct(tc: TaskContext) -> list[Sample]:
    """OSS-Instruct: each picked snippet asks for `candidates` (problem, solution, tests); for
    Python with validate: tests a candidate must pass its own asserts in the sandbox. The first
    candidate that passes and is admitted by the curation rules (`tc.check`) is kept; every other
    candidate is counted by reason."""
    gen, samples = tc.spec.generate, tc.samples
    seeds = [i for i, s in enumerate(samples) if oss.is_seed(s)]
    strata = [f"{s.language}|{s.source}" for s in samples]  # stratified by language and source
    picks = stratified(strata, seeds, gen.count(len(seeds)), tc.seed, "oss_instruct")
    if not picks:
        return []
    jobs = [(i, k, gen.language or samples[i].language or "python") for i in picks for k in range(gen.candidates)]
    tc.say(f"relabel: {len(picks)} oss_instruct seeds x {gen.candidates} candidates")
    results = tc.generate([ChatRequest(oss.request(samples[i], target, k), tc.sampling) for i, k, target in jobs],
                          "oss_instruct")
    by_seed: dict[int, list] = defaultdict(list)
    for (i, _k, target), result in zip(jobs, results):
        by_seed[i].append((target, result))
    kept, validator = [], Validator(tc.work, gen.timeout, gen.workers)

    def judged(target, result) -> tuple:
        """(parsed, reject reason or None, validated) of one candidate, before curation."""
        if not result.ok:
            return None, "llm_failed", False
        found, why = oss.parse(result.text, target)
        if truncated(result) and (why or not found[2]):  # cut before its solution and tests were whole
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
                    tc.tally.reject("oss_instruct", "superseded", origin.id, result.text)
                    continue
                found, why, validated = early[i][k] if k < len(early[i]) else judged(target, result)
                if not why:
                    problem, solution, tests = found
                    # its tests travel with the pair; the candidates loop is the regeneration
                    # (up to `candidates` tries), so `attempts` is how many it took
                    s = oss.pair(origin, problem, solution, target, validated, tc.meta, tests=tests, attempts=k + 1)
                    why = tc.check.admit([s])[0]
                if why:
                    tc.tally.reject("oss_instruct", why, origin.id, (result.error or "") if why == "llm_failed" else result.text)
                    continue
                kept.append(s)
                done = True  # the first passing candidate is kept
    finally:
        validator.close()
    if validator.reused:
        tc.say(f"relabel: {validator.reused} sandbox verdicts read back from the previous attempt")
    return kept
