"""Full fine-tune steps of a 1-3B Llama-shaped model with BFD padding-free packing on one GPU:
tokens/s and MFU, and a check on the same GPU that packed per-sample losses equal unpacked ones.

Needs torch, transformers and this checkout (no network, no TRL, no DeepSpeed): random weights
and synthetic sample lengths (log-normal, like instruction data: median ~400 tokens, a long
tail). The attention is the train stage's own choice: flash-attention 2's varlen path
(cu_seq_lens) when flash-attn is installed on a GPU, else alchemist's per-sample SDPA
(`sdpa_varlen`), never the dense row x row mask the stage does not use. FLOPs per token and the
device's peak come from alchemist.train.metrics, as in the stage's training_report.json.

    python benchmarks/gpu/train_mfu.py                          # 1.3B shape, seq 8192, on the GPU
    python benchmarks/gpu/train_mfu.py --configs 1.3b:8192,3b:8192,3b:8192:ckpt
    python benchmarks/gpu/train_mfu.py --tiny                   # CPU smoke run of the same code

Prints one line per configuration; writes train_mfu-<device>.json into $OUT when set, else
benchmarks/results/ (or --out).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

SHAPES = {
    # hidden, layers, heads, kv heads, intermediate
    "tiny": (64, 2, 4, 4, 256),
    "1b": (2048, 22, 32, 4, 5632),     # TinyLlama-1.1B
    "1.3b": (2048, 24, 16, 16, 5504),  # deepseek-coder-1.3b
    "3b": (3200, 26, 32, 32, 8640),    # open_llama_3b
}


def bfd(lengths: list[int], capacity: int) -> list[list[int]]:
    """Best-fit decreasing: each sample, longest first, into the row it fills best."""
    rows: list[list[int]] = []
    free: list[int] = []
    for n in sorted(lengths, reverse=True):
        best = min((i for i, f in enumerate(free) if f >= n), key=lambda i: free[i], default=None)
        if best is None:
            rows.append([n])
            free.append(capacity - n)
        else:
            rows[best].append(n)
            free[best] -= n
    return rows


def sample_lengths(n: int, seq: int, rng: random.Random, median: float) -> list[int]:
    return [max(16, min(seq, int(rng.lognormvariate(math.log(median), 0.8)))) for _ in range(n)]


def packed_batch(row: list[int], vocab: int, device, gen):
    import torch

    total = sum(row)
    ids = torch.randint(3, vocab, (1, total), generator=gen).to(device)
    pos = torch.cat([torch.arange(n) for n in row])[None].to(device)
    labels = ids.clone()
    starts = torch.tensor([0, *list(__import__("itertools").accumulate(row))[:-1]])
    labels[0, starts] = -100  # never predict a sample's first token from the one before it
    cu = torch.tensor([0, *__import__("itertools").accumulate(row)], dtype=torch.int32, device=device)
    extra = {"cu_seq_lens_q": cu, "cu_seq_lens_k": cu, "max_length_q": max(row), "max_length_k": max(row)}
    return ids, labels, pos, extra


def per_sample_losses(model, ids, labels, pos, extra, row, flash: bool) -> list[float]:
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        kw = extra if flash else {}
        logits = model(input_ids=ids, position_ids=pos, use_cache=False, **kw).logits[0].float()
    out, a = [], 0
    for n in row:
        out.append(F.cross_entropy(logits[a:a + n - 1], labels[0, a + 1:a + n].clamp(min=0)).item())
        a += n
    return out


def alone_losses(model, ids, labels, row) -> list[float]:
    import torch
    import torch.nn.functional as F

    out, a = [], 0
    with torch.no_grad():
        for n in row:
            x = ids[:, a:a + n]
            logits = model(input_ids=x, use_cache=False).logits[0].float()
            out.append(F.cross_entropy(logits[:-1], x[0, 1:]).item())
            a += n
    return out


def attention(device: str, asked: str) -> str:
    """The train stage's kernel for packed rows (alchemist.train.trainer.pick_device)."""
    if asked != "auto":
        return asked
    if device == "cuda" and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    from alchemist.train.varlen import register

    return register()


def measure(size: str, seq: int, checkpointing: bool, args, device: str, peak: float | None) -> dict:
    """Packed-vs-alone losses on this device, then timed optimizer steps on BFD-packed rows."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from alchemist.train.metrics import flops_per_token

    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    attn = attention(device, args.attn)
    hidden, layers, heads, kv, inter = SHAPES[size]
    vocab = 32256
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                         num_key_value_heads=kv, intermediate_size=inter, max_position_embeddings=max(seq, 4096),
                         rope_theta=100000.0, tie_word_embeddings=False, use_cache=False)
    model = LlamaForCausalLM._from_config(config, attn_implementation=attn).to(device=device, dtype=dtype)
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    n_params = sum(p.numel() for p in model.parameters())
    gen = torch.Generator().manual_seed(0)
    rng = random.Random(0)
    flash = attn == "flash_attention_2"

    # 1. Packed vs unpacked losses on this device, and proof the check would see a leak.
    model.eval()
    row = sample_lengths(4, seq // 4, rng, args.median)
    ids, labels, pos, extra = packed_batch(row, vocab, device, gen)
    alone = alone_losses(model, ids, labels, row)
    packed = per_sample_losses(model, ids, labels, pos, extra, row, flash)
    leak_pos = torch.arange(ids.shape[1], device=device)[None]  # one long sequence: samples see each other
    leaky = per_sample_losses(model, ids, labels, leak_pos, {}, row, False)
    diff = max(abs(a - b) for a, b in zip(packed, alone))
    leak = max(abs(a - b) for a, b in zip(leaky[1:], alone[1:]))
    tol = 2e-2 if dtype == torch.bfloat16 else 1e-4
    agree = diff <= tol and leak > diff

    # 2. Training steps on BFD-packed rows of `seq` tokens, one row per step.
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=device == "cuda")
    lengths = sample_lengths(40 * (args.steps + args.warmup) * max(1, seq // 2048), seq, rng, args.median)
    rows = bfd(lengths, seq)[: args.steps + args.warmup]
    tokens = attended = 0
    seconds = 0.0
    losses = []
    for i, row in enumerate(rows):
        ids, labels, pos, extra = packed_batch(row, vocab, device, gen)
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = model(input_ids=ids, position_ids=pos, labels=labels, use_cache=False, **(extra if flash else {}))
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()
        if i >= args.warmup:
            seconds += time.perf_counter() - start
            tokens += sum(row)
            attended += sum(n * n for n in row)
            losses.append(round(out.loss.item(), 4))
    rate = tokens / seconds
    flops_token = flops_per_token(n_params, layers, hidden, attended / tokens)
    mfu = rate * flops_token / (peak * 1e12) if peak else None
    memory = round(torch.cuda.max_memory_allocated() / 2**30, 1) if device == "cuda" else None
    del model, opt
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    return {
        "attention": attn, "dtype": str(dtype).split(".")[-1],
        "shape": {"size": size, "params": n_params, "hidden": hidden, "layers": layers, "heads": heads,
                  "kv_heads": kv, "seq": seq},
        "gradient_checkpointing": checkpointing, "steps": len(losses),
        "row_fill": round(tokens / (len(rows[args.warmup:]) * seq), 4),
        "tokens_per_s": round(rate, 1), "model_tflops_per_s": round(rate * flops_token / 1e12, 2),
        "mfu": round(mfu, 4) if mfu else None, "peak_memory_gib": memory, "losses": losses,
        "packed_vs_alone": {"max_abs_diff": diff, "tolerance": tol, "leak_control_diff": leak, "agree": agree},
    }


def parse_configs(text: str) -> list[tuple[str, int, bool]]:
    """`SIZE:SEQ[:ckpt],...` -> (size, seq, gradient checkpointing) per configuration."""
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        bits = part.split(":")
        if bits[0] not in SHAPES or len(bits) < 2 or not bits[1].isdigit() or bits[2:] not in ([], ["ckpt"]):
            raise SystemExit(f"--configs: {part!r} is not SIZE:SEQ[:ckpt] with SIZE one of {', '.join(SHAPES)}")
        out.append((bits[0], int(bits[1]), bits[2:] == ["ckpt"]))
    return out


def main() -> None:
    import torch

    from alchemist.train.metrics import peak_for

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default="1.3b:8192", help="SIZE:SEQ[:ckpt],... (sizes: %s)" % ", ".join(SHAPES))
    ap.add_argument("--tiny", action="store_true", help="tiny shapes, short rows: a CPU smoke run")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--median", type=float, default=400.0, help="median sample length in tokens")
    ap.add_argument("--attn", choices=["auto", "flash_attention_2", "sdpa_varlen", "sdpa"], default="auto")
    ap.add_argument("--peak-tflops", type=float)
    ap.add_argument("--out", help="result file (default: $OUT/train_mfu-<device>.json, else benchmarks/results/)")
    args = ap.parse_args()
    if args.tiny:
        args.configs, args.steps, args.warmup, args.median = "tiny:512,tiny:256:ckpt", 3, 1, 80.0
    configs = parse_configs(args.configs)

    device = "cuda" if torch.cuda.is_available() else "cpu"
    name = torch.cuda.get_device_name(0) if device == "cuda" else platform.processor() or "cpu"
    peak = args.peak_tflops or (peak_for(name) if device == "cuda" else None)
    results = []
    for size, seq, ckpt in configs:
        r = measure(size, seq, ckpt, args, device, peak)
        results.append(r)
        mfu = f"{r['mfu']:.1%}" if r["mfu"] else "n/a"
        print(f"{size} seq {seq}{' ckpt' if ckpt else ''} {r['attention']}: {r['tokens_per_s']:,.0f} tok/s, "
              f"{r['model_tflops_per_s']} TFLOPS, MFU {mfu}, row fill {r['row_fill']:.0%}, "
              f"packed=alone {'yes' if r['packed_vs_alone']['agree'] else 'NO'} "
              f"(diff {r['packed_vs_alone']['max_abs_diff']:.2g})", flush=True)
    result = {"benchmark": "train_mfu", "device": name, "torch": torch.__version__, "peak_tflops": peak,
              "goal_mfu": 0.55, "configs": results}
    tag = "cpu-tiny" if args.tiny else name.replace(" ", "_")
    if args.out:
        out = Path(args.out)
    elif os.environ.get("OUT"):
        out = Path(os.environ["OUT"]) / f"train_mfu-{tag}.json"
    else:
        out = ROOT / "benchmarks" / "results" / f"train_mfu-{tag}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"-> {out}")
    bad = [r for r in results if not r["packed_vs_alone"]["agree"]]
    if bad:
        raise SystemExit(f"packed and unpacked losses disagree in {len(bad)} configuration(s)")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
