"""Full fine-tune steps of a 1-3B Llama-shaped model with BFD padding-free packing on one GPU:
tokens/s and MFU, and a check on the same GPU that packed per-sample losses equal unpacked ones.

Needs only torch and transformers (no network, no TRL, no DeepSpeed): random weights and
synthetic sample lengths (log-normal, like instruction data: median ~400 tokens, a long tail).
flash-attention 2 when flash-attn is installed (its varlen path, cu_seq_lens), SDPA otherwise.

    python benchmarks/gpu/train_mfu.py                 # 1.3B shape, seq 8192, on the GPU
    python benchmarks/gpu/train_mfu.py --size 3b
    python benchmarks/gpu/train_mfu.py --tiny          # CPU smoke run of the same code

MFU = tokens/s x (6 x params + 12 x layers x hidden x mean attended length) / device peak
(dense bf16). Writes benchmarks/results/train_mfu-<device>.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import random
import time
from pathlib import Path

SHAPES = {
    # hidden, layers, heads, kv heads, intermediate
    "tiny": (64, 2, 4, 4, 256),
    "1b": (2048, 22, 32, 4, 5632),     # TinyLlama-1.1B
    "1.3b": (2048, 24, 16, 16, 5504),  # deepseek-coder-1.3b
    "3b": (3200, 26, 32, 32, 8640),    # open_llama_3b
}
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "H800": 989.0, "GH200": 989.0, "B200": 2250.0, "A100": 312.0,
               "L40S": 362.0, "A10G": 125.0, "L4": 121.0}


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


def peak_tflops(device: str, override: float | None) -> tuple[float | None, str]:
    import torch

    if override:
        return override, "given"
    if device == "cuda":
        name = torch.cuda.get_device_name(0)
        return next((v for k, v in sorted(PEAK_TFLOPS.items(), key=lambda kv: -len(kv[0])) if k in name), None), name
    return None, platform.processor() or "cpu"


def main() -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=sorted(SHAPES), default="1.3b")
    ap.add_argument("--tiny", action="store_true", help="tiny shape, short rows: a CPU smoke run")
    ap.add_argument("--seq", type=int, default=8192)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--median", type=float, default=400.0, help="median sample length in tokens")
    ap.add_argument("--attn", choices=["auto", "flash_attention_2", "sdpa"], default="auto")
    ap.add_argument("--checkpointing", action="store_true", help="gradient checkpointing (MFU still counts model FLOPs)")
    ap.add_argument("--peak-tflops", type=float)
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.tiny:
        args.size, args.seq, args.steps, args.warmup, args.median = "tiny", 512, 3, 1, 80.0

    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    flash_ok = device == "cuda" and importlib.util.find_spec("flash_attn") is not None
    attn = args.attn if args.attn != "auto" else ("flash_attention_2" if flash_ok else "sdpa")
    hidden, layers, heads, kv, inter = SHAPES[args.size]
    vocab = 32256
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                         num_key_value_heads=kv, intermediate_size=inter, max_position_embeddings=max(args.seq, 4096),
                         rope_theta=100000.0, tie_word_embeddings=False, use_cache=False)
    config._attn_implementation = attn
    model = LlamaForCausalLM(config).to(device=device, dtype=dtype)
    if args.checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    n_params = sum(p.numel() for p in model.parameters())
    gen = torch.Generator().manual_seed(0)
    rng = random.Random(0)
    flash = attn == "flash_attention_2"

    # 1. Packed vs unpacked losses on this device, and proof the check would see a leak.
    model.eval()
    row = sample_lengths(4, args.seq // 4, rng, args.median)
    ids, labels, pos, extra = packed_batch(row, vocab, device, gen)
    alone = alone_losses(model, ids, labels, row)
    packed = per_sample_losses(model, ids, labels, pos, extra, row, flash)
    leak_pos = torch.arange(ids.shape[1], device=device)[None]  # one long sequence: samples see each other
    leaky = per_sample_losses(model, ids, labels, leak_pos, {}, row, False)
    diff = max(abs(a - b) for a, b in zip(packed, alone))
    leak = max(abs(a - b) for a, b in zip(leaky[1:], alone[1:]))
    tol = 2e-2 if dtype == torch.bfloat16 else 1e-4
    agree = diff <= tol and leak > diff

    # 2. Training steps on BFD-packed rows of --seq tokens, one row per step.
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=device == "cuda")
    lengths = sample_lengths(40 * (args.steps + args.warmup) * max(1, args.seq // 2048), args.seq, rng, args.median)
    rows = bfd(lengths, args.seq)[: args.steps + args.warmup]
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
    attn_len = attended / tokens
    flops_token = 6 * n_params + 12 * layers * hidden * attn_len
    peak, name = peak_tflops(device, args.peak_tflops)
    mfu = rate * flops_token / (peak * 1e12) if peak else None
    fill = tokens / (len(rows[args.warmup:]) * args.seq)
    result = {
        "benchmark": "train_mfu", "device": name, "torch": torch.__version__, "attention": attn,
        "shape": {"size": args.size, "params": n_params, "hidden": hidden, "layers": layers, "heads": heads,
                  "kv_heads": kv, "seq": args.seq}, "dtype": str(dtype).split(".")[-1],
        "gradient_checkpointing": args.checkpointing, "steps": len(losses), "row_fill": round(fill, 4),
        "tokens_per_s": round(rate, 1), "model_tflops_per_s": round(rate * flops_token / 1e12, 2),
        "peak_tflops": peak, "mfu": round(mfu, 4) if mfu else None, "goal_mfu": 0.55, "losses": losses,
        "packed_vs_alone": {"max_abs_diff": diff, "tolerance": tol, "leak_control_diff": leak, "agree": agree},
    }
    print(json.dumps(result, indent=2))
    tag = "cpu-tiny" if args.tiny else name.replace(" ", "_")
    out = Path(args.out) if args.out else Path(__file__).resolve().parents[1] / "results" / f"train_mfu-{tag}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    if not agree:
        raise SystemExit(f"packed and unpacked losses disagree (max diff {diff:.3g} > {tol:g}, leak control {leak:.3g})")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
