"""The train stage's preprocessing on a rerun: tokenization (chat template, assistant labels,
over-long handling, held-out split) is cached in the stage's work directory under
(data digest, tokenizer, template, settings), so a second run, a resume and every rank but the
first only hash the data file and map the cache. Packing (TRL's BFD) runs every time; it is
timed too and counted in both runs.

    python benchmarks/train_tokenize_cache.py [--synthetic 20000]

Writes benchmarks/results/train_tokenize_cache.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def preprocess(data: Path, tok, cache: Path) -> dict:
    from trl.data_utils import pack_dataset

    from alchemist.train.data import tokenize

    start = time.perf_counter()
    got = tokenize(data, tok, max_seq_len=2048, overlong="truncate", train_on_prompt=False, eval_fraction=0.02,
                   eval_max_samples=512, seed=0, cache_dir=cache)
    tokenized = time.perf_counter() - start
    # as SFTTrainer does it on the cached columns
    pack_dataset(got.train.select_columns(["input_ids", "labels"]), 2048, "bfd")
    total = time.perf_counter() - start
    return {"cache_hit": got.cache_hit, "samples": got.stats.samples, "tokens": got.stats.tokens,
            "tokenize_seconds": round(tokenized, 3), "total_seconds": round(total, 3)}


def main() -> None:
    from benchmarks.train_packing import sample_corpus, synthetic_corpus, tokenizer

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--synthetic", type=int, default=20000)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "train_tokenize_cache.json"))
    args = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tok = tokenizer(work)
        corpora = {"samples": sample_corpus()}
        if args.synthetic:
            corpora[f"synthetic-{args.synthetic}"] = synthetic_corpus(args.synthetic, work)
        for name, data in corpora.items():
            cache = work / f"cache-{name}"
            first, second = preprocess(data, tok, cache), preprocess(data, tok, cache)
            assert not first["cache_hit"] and second["cache_hit"]
            share = second["total_seconds"] / first["total_seconds"]
            results[name] = {"first": first, "second": second, "second_over_first": round(share, 4)}
            print(f"{name:>16}: first {first['total_seconds']:.2f}s, second {second['total_seconds']:.3f}s "
                  f"({share:.1%})")
    ok = all(r["second_over_first"] < 0.05 for r in results.values())
    result = {"benchmark": "train_tokenize_cache", "machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "tokenizer": "builtin tiny BPE, chatml", "goal": "second run < 5% of the first", "met": ok,
              "results": results}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"goal met: {ok} -> {args.out}")


if __name__ == "__main__":
    main()
