"""Packing efficiency: the share of real (non-padding) tokens in what the model computes on,
BFD padding-free packing (TRL's `bfd`, the train stage's path) against naive per-batch padding
(batches of --batch samples in data order, each padded to its longest), same tokens, same run.

Two corpora: the sample corpus the tiny recipe builds (data_sources/samples/ through
`alchemist data recipes/tiny.yaml`) and the synthetic benchmark corpus (benchmarks/corpus.py,
stdlib code with docstring instructions) at a size where rows of 8192 fill up.

Packed rows are padding-free (no pad token exists; a row is as long as what it holds), so the
"fill" reported for them also counts each row as if padded to the full sequence length: what a
static-shape kernel would compute on.

    python benchmarks/train_packing.py [--data train.parquet] [--synthetic 20000]

Writes benchmarks/results/train_packing.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def sample_corpus(cache: Path = Path(tempfile.gettempdir()) / "alchemist-bench-samples") -> Path:
    """data/final/train.parquet of the tiny recipe's data stages (built once)."""
    out = cache / "data" / "final" / "train.parquet"
    if not out.is_file():
        subprocess.run([sys.executable, "-m", "alchemist.cli", "data", str(ROOT / "recipes" / "tiny.yaml"),
                        "--set", f"output_dir={cache}"], cwd=ROOT, check=True, capture_output=True)
    return out


def synthetic_corpus(n: int, where: Path) -> Path:
    """n conversations of the benchmark corpus as a train.parquet."""
    import pyarrow.parquet as pq

    from alchemist.schema import Sample, rows_to_table
    from benchmarks.corpus import make_records

    rows = []
    for r in make_records(n):
        if not r["output"].strip():
            continue
        prompt = r["instruction"] + (f"\n{r['input']}" if r["input"] not in ("", "<noinput>") else "")
        rows.append(Sample(source="synthetic", messages=[{"role": "user", "content": prompt},
                                                         {"role": "assistant", "content": r["output"]}]).to_row())
    path = where / f"synthetic-{n}.parquet"
    pq.write_table(rows_to_table(rows), path)
    return path


def tokenizer(work: Path):
    from transformers import AutoTokenizer

    from alchemist.tiny_model import build_tiny_model
    from alchemist.train.templates import apply_format

    tok = AutoTokenizer.from_pretrained(build_tiny_model(work / "tiny"))
    apply_format(tok, "chatml")
    return tok


def lengths(data: Path, tok, seq_len: int, work: Path) -> list[int]:
    from alchemist.train.data import tokenize

    got = tokenize(data, tok, max_seq_len=seq_len, overlong="truncate", train_on_prompt=False, eval_fraction=0.0,
                   eval_max_samples=1, seed=0, cache_dir=work / "cache")
    return [len(x) for x in got.train["input_ids"]]


def packed(lens: list[int], seq_len: int) -> dict:
    from datasets import Dataset
    from trl.data_utils import pack_dataset

    ds = Dataset.from_dict({"input_ids": [[1] * n for n in lens]})
    start = time.perf_counter()
    rows = pack_dataset(ds, seq_len, "bfd")
    seconds = time.perf_counter() - start
    row_lens = [sum(s) for s in rows["seq_lengths"]]
    assert sum(row_lens) == sum(lens), "packing lost or duplicated tokens"
    return {"rows": len(row_lens), "real_tokens": sum(lens), "computed_tokens": sum(row_lens),
            "efficiency": sum(lens) / sum(row_lens), "fill_at_full_rows": sum(lens) / (len(row_lens) * seq_len),
            "pack_seconds": round(seconds, 3)}


def padded(lens: list[int], batch: int) -> dict:
    computed = sum(max(lens[i:i + batch]) * len(lens[i:i + batch]) for i in range(0, len(lens), batch))
    return {"batches": -(-len(lens) // batch), "real_tokens": sum(lens), "computed_tokens": computed,
            "efficiency": sum(lens) / computed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="a train.parquet (default: the tiny recipe's sample corpus)")
    ap.add_argument("--synthetic", type=int, default=20000, help="samples of the synthetic corpus (0: skip)")
    ap.add_argument("--batch", type=int, default=8, help="samples per padded batch")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "train_packing.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tok = tokenizer(work)
        corpora = {"samples": Path(args.data) if args.data else sample_corpus()}
        if args.synthetic:
            corpora[f"synthetic-{args.synthetic}"] = synthetic_corpus(args.synthetic, work)
        results = {}
        for name, path in corpora.items():
            for seq_len in (2048, 8192):
                lens = lengths(path, tok, seq_len, work)
                p, n = packed(lens, seq_len), padded(lens, args.batch)
                key = f"{name}@{seq_len}"
                results[key] = {"samples": len(lens), "mean_len": round(sum(lens) / len(lens), 1),
                                "packed_bfd": p, f"padded_batch{args.batch}": n,
                                "compute_saved": round(1 - p["computed_tokens"] / n["computed_tokens"], 4)}
                print(f"{key:>26}: {len(lens):6d} samples, packed {p['efficiency']:.2%} "
                      f"(rows filled {p['fill_at_full_rows']:.2%}), padded x{args.batch} {n['efficiency']:.2%}")
    ok = all(r["packed_bfd"]["efficiency"] >= 0.98 for r in results.values())
    result = {"benchmark": "train_packing", "machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "tokenizer": "builtin tiny BPE (2048 tokens), chatml", "goal": "packed efficiency >= 98% at 2048 and 8192",
              "met": ok, "results": results}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"goal met: {ok} -> {args.out}")


if __name__ == "__main__":
    main()
