"""Full fine-tuning against LoRA on a CPU, for the demo's real model (builtin:smollm2-135m-instruct,
135M parameters): which `train.method` finishes an optimizer step sooner here.

Both sides run the train stage's own path (alchemist.train.trainer.train) on the same samples
(the tiny recipe's sample corpus), the same packed rows (max_seq_len, micro batch 1, grad_accum),
the same number of steps, gradient checkpointing on as in recipes/demo.yaml. Runs alternate (full,
lora, lora, full, ...) in one process; the result is each side's median seconds per optimizer step
(Trainer.train's wall time over its steps; loading the model and tokenizing are outside it) and
the ratio full / lora (> 1: LoRA is faster).

    python benchmarks/train_lora_vs_full.py [--seq 256] [--steps 2] [--grad-accum 2] [--repeats 2] [--threads 1]

Writes benchmarks/results/train_lora_vs_full.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODEL = "builtin:smollm2-135m-instruct"


def spec(method: str, seq: int, steps: int, accum: int):
    from alchemist.train.spec import TrainSpec

    return TrainSpec(model=MODEL, chat_template="chatml", max_seq_len=seq, packing=True, method=method,
                     micro_batch_size=1, grad_accum=accum, epochs=1, max_steps=steps, lr=1e-5, warmup_ratio=0.0,
                     gradient_checkpointing=True, bf16=False, eval_fraction=0.0, save_steps=100_000,
                     logging_steps=1, report_to=[])


def one(method: str, data: Path, work: Path, args, n: int) -> dict:
    from alchemist.train.trainer import train

    stats = train(spec(method, args.seq, args.steps, args.grad_accum), data, work / f"out-{method}-{n}",
                  work / f"work-{method}-{n}", seed=0, say=lambda m: None)
    return {"steps": stats["steps"], "seconds": stats["seconds"], "tokens_per_s": stats["tokens_per_s"],
            "seconds_per_step": round(stats["seconds"] / stats["steps"], 2), "loss": stats["loss"]}


def compare(runs: dict[str, list[dict]]) -> dict:
    """Medians of seconds per step, their ratio, and the ratio within each round (full and LoRA run
    back to back, so under about the same load: on a shared machine the steadier figure)."""
    med = {k: statistics.median(r["seconds_per_step"] for r in v) for k, v in runs.items()}
    paired = [round(f["seconds_per_step"] / lo["seconds_per_step"], 2) for f, lo in zip(runs["full"], runs["lora"])]
    ratio = med["full"] / med["lora"]
    return {"full": {"median_seconds_per_step": med["full"], "runs": runs["full"]},
            "lora": {"what": "LoRA r=16, alpha 32, all linear layers (the train stage's defaults)",
                     "median_seconds_per_step": med["lora"], "runs": runs["lora"]},
            "ratio_full_over_lora": round(ratio, 2), "ratio_per_round": paired,
            "faster": "lora" if ratio > 1 and min(paired) > 1 else "full" if ratio < 1 and max(paired) < 1 else "unclear"}


def main() -> None:
    import torch

    from benchmarks.train_packing import sample_corpus

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--grad-accum", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: the cores are shared with other jobs)")
    ap.add_argument("--note", default="", help="what else ran on the machine meanwhile")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "train_lora_vs_full.json"))
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    runs: dict[str, list[dict]] = {"full": [], "lora": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = sample_corpus()
        for n in range(args.repeats):
            for method in (("full", "lora") if n % 2 == 0 else ("lora", "full")):
                r = one(method, data, work, args, n)
                runs[method].append(r)
                print(method, json.dumps(r), flush=True)
    result = {
        "benchmark": "train_lora_vs_full",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
                   f"{torch.get_num_threads()} threads" + (f"; {args.note}" if args.note else ""),
        "model": f"{MODEL} (SmolLM2-135M-Instruct), fp32, gradient checkpointing",
        "rows_per_step": f"{args.grad_accum} packed rows of {args.seq} tokens", "steps": args.steps, "repeats": args.repeats,
        **compare(runs),
    }
    print(json.dumps({k: v for k, v in result.items() if k not in ("full", "lora")}, indent=2))
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
