"""Training throughput against the baseline a user would pick instead: the train stage's own path
(alchemist.train.trainer.train: BFD packed rows, per-sample SDPA on CPU) against a plain HF
`Trainer` with transformers' `DataCollatorWithFlattening` (padding-free batches, SDPA), on the
same tiny model, the same tokenized samples (ids and labels from the stage's own tokenization),
one epoch each, the same learning rate.

Runs alternate (ours, baseline, baseline, ours, ...) in one process, several repeats; the result
is each side's median tokens/s over the trained tokens and the wall time of `Trainer.train`
(model loading and tokenization are outside both). The baseline's batch holds as many samples as
one of our packed rows holds on average, so both take about as many tokens per optimizer step.

    python benchmarks/train_throughput.py [--samples 240] [--seq 1024] [--repeats 5] [--threads 1]

Writes benchmarks/results/train_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def subset(data: Path, n: int, where: Path) -> Path:
    import pyarrow.parquet as pq

    path = where / "subset.parquet"
    pq.write_table(pq.read_table(data).slice(0, n), path)
    return path


def spec(seq: int, micro: int = 1):
    from alchemist.train.spec import TrainSpec

    return TrainSpec(model="builtin:tiny", chat_template="chatml", max_seq_len=seq, packing=True,
                     micro_batch_size=micro, grad_accum=1, epochs=1, lr=1e-3, warmup_ratio=0.0, scheduler="linear",
                     eval_fraction=0.0, save_steps=100_000, logging_steps=1000, report_to=[])


def ours(data: Path, work: Path, seq: int, micro: int, n: int) -> dict:
    from alchemist.train.trainer import train

    stats = train(spec(seq, micro), data, work / f"out-ours-{n}", work / f"work-ours-{n}", seed=0, say=lambda m: None)
    return {"tokens": stats["tokens"], "seconds": stats["seconds"], "steps": stats["steps"], "loss": stats["loss"]}


def tokenized(data: Path, work: Path, seq: int):
    """The samples as the stage tokenizes them (ids, labels), and the tokenizer and model dir."""
    from transformers import AutoTokenizer

    from alchemist.train import data as tokdata
    from alchemist.train.templates import apply_format
    from alchemist.train.trainer import model_source

    source = model_source(spec(seq), work)
    tok = AutoTokenizer.from_pretrained(source)
    apply_format(tok, "chatml")
    done = tokdata.tokenize(data, tok, max_seq_len=seq, overlong="truncate", train_on_prompt=False, eval_fraction=0.0,
                            eval_max_samples=1, seed=0, cache_dir=work / "baseline-tokenized")
    return done.train.remove_columns("task"), source


def baseline(train_set, source: str, work: Path, batch: int, n: int) -> dict:
    """What a user writes with transformers alone: Trainer + DataCollatorWithFlattening, sdpa."""
    from transformers import AutoModelForCausalLM, DataCollatorWithFlattening, Trainer, TrainingArguments, set_seed

    set_seed(0)
    model = AutoModelForCausalLM.from_pretrained(source, attn_implementation="sdpa")
    model.config.use_cache = False
    args = TrainingArguments(output_dir=str(work / f"baseline-{n}"), per_device_train_batch_size=batch,
                             num_train_epochs=1, learning_rate=1e-3, warmup_steps=0, lr_scheduler_type="linear",
                             logging_steps=1000, save_strategy="no", report_to="none", use_cpu=True, bf16=False,
                             seed=0, data_seed=0, disable_tqdm=True, include_num_input_tokens_seen="non_padding",
                             dataloader_num_workers=0)
    trainer = Trainer(model=model, args=args, train_dataset=train_set,
                      data_collator=DataCollatorWithFlattening(return_position_ids=True))
    started = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - started
    return {"tokens": int(trainer.state.num_input_tokens_seen), "seconds": round(seconds, 2),
            "steps": trainer.state.global_step, "loss": result.training_loss}


def main() -> None:
    import torch

    from benchmarks.train_packing import sample_corpus

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="a train.parquet (default: the tiny recipe's sample corpus)")
    ap.add_argument("--samples", type=int, default=240)
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--micro", type=int, default=1, help="our packed rows per pass (the tiny recipe's 1)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0,
                    help="torch threads for both sides (0: torch's default). On a machine shared with other jobs, 1: "
                         "more threads than free cores spend their time waiting on each other")
    ap.add_argument("--note", default="", help="what else ran on the machine meanwhile")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "train_throughput.json"))
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    runs: dict[str, list[dict]] = {"ours": [], "baseline": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = subset(Path(args.data) if args.data else sample_corpus(), args.samples, work)
        train_set, source = tokenized(data, work, args.seq)
        ours(data, work, args.seq, args.micro, -1)  # warm-up: the tokenization cache and first-call costs
        rows = None
        for n in range(args.repeats):
            order = ("ours", "baseline") if n % 2 == 0 else ("baseline", "ours")
            for who in order:
                if who == "ours":
                    r = ours(data, work, args.seq, args.micro, n)
                    rows = r["steps"] * args.micro
                else:
                    batch = max(1, round(len(train_set) / rows)) if rows else 4
                    r = {"batch": batch, **baseline(train_set, source, work, batch, n)}
                r["tokens_per_s"] = round(r["tokens"] / r["seconds"], 1)
                runs[who].append(r)
                print(who, json.dumps(r), flush=True)
    med = {k: statistics.median(r["tokens_per_s"] for r in v) for k, v in runs.items()}
    ratio = med["ours"] / med["baseline"]
    result = {
        "benchmark": "train_throughput",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
                   f"{torch.get_num_threads()} threads" + (f"; {args.note}" if args.note else ""),
        "model": "builtin:tiny (2-layer Llama, hidden 64, vocab 2048), fp32",
        "samples": args.samples, "seq": args.seq, "repeats": args.repeats,
        "ours": {"what": f"alchemist train: BFD packed rows of {args.seq}, micro batch {args.micro}, sdpa_varlen",
                 "median_tokens_per_s": med["ours"], "runs": runs["ours"]},
        "baseline": {"what": "transformers Trainer + DataCollatorWithFlattening (padding-free), sdpa",
                     "median_tokens_per_s": med["baseline"], "runs": runs["baseline"]},
        "ratio": round(ratio, 2), "goal": "ours >= 1.2x the baseline's tokens/s on CPU", "met": ratio >= 1.2,
    }
    print(json.dumps({k: v for k, v in result.items() if k not in ("ours", "baseline")}, indent=2))
    print(f"ours {med['ours']:.0f} tok/s, baseline {med['baseline']:.0f} tok/s: {ratio:.2f}x")
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
