"""The optional LLM judge of decontamination (`curate.decontaminate.judge.llm`).

The LLM Decontaminator's method (Yang et al., 2023): the benchmark problems nearest a sample by
embedding are its candidates, and an LLM says whether the sample is one of them. Here the
candidates are the doubtful ones, those whose calibrated probability (or, with the embedding
signal off, whose signal's score) falls within `judge.margin` under the threshold; the top
`judge.max_candidates` of a sample by embedding similarity (statement or code) are shown to the
LLM with the benchmark problem, through the project's client (and so its persistent cache: a
rerun asks nothing again). A "yes" makes the sample contaminated, with the judge's reason in
the match; a "no" leaves it clean, the reason recorded among its near misses. The judge runs in
the process that holds the client (curate: after the screening workers; relabel: in the stage).
"""

from __future__ import annotations

import re

from alchemist.rules.hashing import sample_text

MAX_CHARS = 3000  # of the sample and of the problem shown to the judge
PROMPT = """You check training data for benchmark contamination.

Benchmark problem ({task_id}):
<<<
{problem}
>>>

Training sample:
<<<
{sample}
>>>

Are these the same problem, possibly rephrased, restructured or translated to another programming
language? Answer with one line "VERDICT: yes" or "VERDICT: no", then one line "REASON: ..."."""
_VERDICT = re.compile(r"VERDICT:\s*(yes|no)\b", re.I)
_REASON = re.compile(r"REASON:\s*(.+)", re.I)


def parse(text: str) -> tuple[bool | None, str]:
    """(same problem?, reason) from the judge's answer; None when it gave no verdict."""
    m = _VERDICT.search(text or "")
    reason = _REASON.search(text or "")
    why = (reason.group(1).strip() if reason else (text or "").strip())[:300]
    return (m.group(1).lower() == "yes" if m else None), why


def prompt(sample_text: str, problem) -> str:
    return PROMPT.format(task_id=problem.task_id, problem=(problem.prompt + problem.solution)[:MAX_CHARS],
                         sample=sample_text[:MAX_CHARS])


def _nearness(m: dict) -> float:
    """Candidates in the order the judge sees them: nearest by embedding first (statement or code
    similarity of the calibrated decision), else by the signal's score."""
    sc = m.get("scores") or {}
    if "statement" in sc or "code" in sc:
        return -max(float(sc.get("statement") or 0), float(sc.get("code") or 0))
    return -float(m["overlap"])


class Judge:
    # `client`: an LLMClient (its `ask`), passed in by the stage that holds it
    def __init__(self, client, spec):
        self.client = client
        self.spec = spec

    def decide(self, samples, found, doubtful, problems_by_id) -> None:
        """Moves every doubtful candidate the judge confirms into `found` (in place); annotates the
        others with the judge's "no" and reason."""
        jobs = []
        for i, cands in enumerate(doubtful):
            if found[i] or not cands:
                continue
            seen = []
            for m in sorted(cands, key=_nearness):
                if m["task_id"] not in seen and m["task_id"] in problems_by_id:
                    seen.append(m["task_id"])
            for task_id in seen[: self.spec.max_candidates]:
                jobs.append((i, task_id))
        if not jobs:
            return
        results = self.client.ask([prompt(sample_text(samples[i].messages), problems_by_id[t]) for i, t in jobs], max_tokens=128)
        for (i, task_id), result in zip(jobs, results):
            verdict, why = parse(result.texts[0] if result.ok and result.texts else "")
            if result.error:
                why = f"judge failed: {result.error}"[:300]
            cands = [m for m in doubtful[i] if m["task_id"] == task_id]
            best = max(cands, key=lambda m: m["overlap"])
            judged = {**best, "judge": {"verdict": "same" if verdict else "different" if verdict is False else "unclear",
                                        "reason": why}}
            if verdict:
                found[i].append({**judged, "signal": "judge", "field": f"judge ({best['signal']})"})
            for m in cands:
                m["judge"] = judged["judge"]


def judge_near_misses(samples: list, near_misses: list[list[dict]], problems: list, client, spec) -> list[dict | None]:
    """The judge as a pass of its own, in the process that holds the LLM client (rather than in
    the screening workers): `near_misses[i]` are sample i's doubtful candidates (a clean
    verdict's `detail["near_misses"]`). Returns, per sample, a contamination detail
    {"matches": [...]} when the judge confirms one, else None; the near misses are annotated
    with the judge's verdict and reason in place."""
    found: list[list[dict]] = [[] for _ in samples]
    Judge(client, spec).decide(samples, found, near_misses, {p.task_id: p for p in problems})
    return [{"matches": f} if f else None for f in found]
