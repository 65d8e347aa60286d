"""Training throughput on CPU, tiny model: BFD padding-free packing against per-batch padding,
the same samples, one epoch each, in the same run. Tokens/s counts real tokens only (padding is
work, not progress).

Both go through the train stage's own function (`alchemist.train.trainer.train`): packed rows of
--seq tokens one per pass (what the stage recommends on CPU; attention `auto` runs them through
per-sample SDPA, alchemist.train.varlen, since plain SDPA computes the whole row x row block
mask), against batches of --batch samples padded to their longest.

    python benchmarks/train_throughput.py [--samples 200] [--seq 1024] [--batch 8]

Writes benchmarks/results/train_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def subset(data: Path, n: int, where: Path) -> Path:
    import pyarrow.parquet as pq

    path = where / "subset.parquet"
    pq.write_table(pq.read_table(data).slice(0, n), path)
    return path


def run(data: Path, work: Path, *, packing: bool, batch: int, seq: int) -> dict:
    from alchemist.train.spec import TrainSpec
    from alchemist.train.trainer import train

    spec = TrainSpec(model="builtin:tiny", chat_template="chatml", max_seq_len=seq, packing=packing,
                     micro_batch_size=1 if packing else batch, grad_accum=1, epochs=1, lr=1e-3, warmup_ratio=0.0,
                     eval_fraction=0.0, save_steps=100_000, logging_steps=1000, report_to=[])
    tag = "packed" if packing else "padded"
    stats = train(spec, data, work / f"out-{tag}", work / f"work-{tag}", seed=0, say=lambda m: None)
    return {"tokens": stats["tokens"], "seconds": stats["seconds"], "steps": stats["steps"],
            "tokens_per_s": round(stats["tokens"] / stats["seconds"], 1), "loss": stats["loss"]}


def main() -> None:
    from benchmarks.train_packing import sample_corpus

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="a train.parquet (default: the tiny recipe's sample corpus)")
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "train_throughput.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = subset(Path(args.data) if args.data else sample_corpus(), args.samples, work)
        padded = run(data, work, packing=False, batch=args.batch, seq=args.seq)
        packed = run(data, work, packing=True, batch=args.batch, seq=args.seq)
    ratio = packed["tokens_per_s"] / padded["tokens_per_s"]
    import torch

    result = {"benchmark": "train_throughput", "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
              f"torch {torch.__version__}, {torch.get_num_threads()} threads",
              "model": "builtin:tiny (2-layer Llama, hidden 64)", "samples": args.samples, "seq": args.seq,
              "padded": {"batch": args.batch, **padded}, "packed": {"micro_batch": 1, **packed},
              "ratio": round(ratio, 2), "goal": "packed >= 1.5x padded tokens/s", "met": ratio >= 1.5}
    print(json.dumps(result, indent=2))
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
