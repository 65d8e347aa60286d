"""LLM client throughput against a local OpenAI-compatible server with simulated latency.

    python benchmarks/llm_client_throughput.py --latency 0.05 --concurrency 64 --requests 4000

The server runs in its own process (alchemist.llm.fake_server). Goals: throughput at concurrency
64 >= 80% of the ideal (concurrency / latency); client CPU per request < 1 ms; a rerun of 10k
requests on a warm cache in < 5 s. Results go to benchmarks/results/llm_client_throughput.json.
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

from alchemist.llm import ChatRequest, LLMClient, Sampling
from alchemist.llm.openai_backend import OpenAIBackend, OpenAIConfig


def start_server(latency: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "alchemist.llm.fake_server", "--port", "0", "--latency", str(latency)],
                            stdout=subprocess.PIPE, text=True)
    url = proc.stdout.readline().strip()
    return proc, url


def requests(n: int, tag: str) -> list[ChatRequest]:
    return [ChatRequest([{"role": "user", "content": f"{tag} request {i}: write a function that adds {i}"}],
                        Sampling(max_tokens=64)) for i in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--requests", type=int, default=4000)
    ap.add_argument("--cache-requests", type=int, default=10_000)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "llm_client_throughput.json"))
    args = ap.parse_args()

    proc, url = start_server(args.latency)
    try:
        backend = OpenAIBackend(OpenAIConfig(model="fake-model", base_url=url, api_key_env=None, concurrency=args.concurrency))
        backend.generate(requests(args.concurrency, "warmup"))

        batch = requests(args.requests, "throughput")
        cpu0, t0 = time.process_time(), time.perf_counter()
        results = backend.generate(batch)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        assert all(r.ok for r in results)
        ideal = args.concurrency / args.latency
        throughput = args.requests / wall

        with tempfile.TemporaryDirectory() as d:
            cache = Path(d) / "cache.sqlite"
            fill = requests(args.cache_requests, "cached")
            client = LLMClient(backend, cache)
            t1 = time.perf_counter()
            client.generate(fill)
            fill_s = time.perf_counter() - t1
            client.close()
            warm = LLMClient(backend, cache)
            t2 = time.perf_counter()
            again = warm.generate(fill)
            warm_s = time.perf_counter() - t2
            assert warm.usage.requests == 0 and warm.usage.cache_hits == len(fill) and all(r.cached for r in again)
    finally:
        proc.terminate()
        proc.wait()

    result = {
        "benchmark": "llm_client_throughput",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "latency_s": args.latency, "concurrency": args.concurrency, "requests": args.requests,
        "throughput_req_per_s": round(throughput, 1), "ideal_req_per_s": round(ideal, 1),
        "share_of_ideal": round(throughput / ideal, 3), "goal_share_of_ideal": ">= 0.8",
        "client_cpu_ms_per_request": round(cpu / args.requests * 1000, 3), "goal_cpu_ms": "< 1",
        "cache_fill_s": round(fill_s, 2), "warm_cache_rerun_s": round(warm_s, 3),
        "warm_cache_requests": args.cache_requests, "goal_warm_rerun_s": "< 5",
    }
    print(json.dumps(result, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
