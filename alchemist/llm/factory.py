"""Build the LLM client a recipe spec asks for. Each backend imports its heavy library (aiohttp,
vllm, torch) inside itself, only when it runs."""

from __future__ import annotations

from pathlib import Path

from alchemist.llm.builtin import is_builtin
from alchemist.llm.builtin import resolve as resolve_builtin
from alchemist.llm.client import LLMClient
from alchemist.llm.hf_backend import HFBackend, HFConfig
from alchemist.llm.openai_backend import OpenAIBackend, OpenAIConfig
from alchemist.llm.vllm_backend import VLLMBackend, VLLMConfig
from alchemist.paths import cache_dir
from alchemist.specs.llm import HFLLM, VLLMLLM, LLMSpec, OpenAILLM
from alchemist.tiny_model import build_tiny_model

TINY_RANDOM = "builtin:tiny-random"


def build_client(spec: LLMSpec, cache_path: Path | None) -> LLMClient:
    if isinstance(spec, OpenAILLM):
        backend = OpenAIBackend(OpenAIConfig(model=spec.model, base_url=spec.base_url, api_key_env=spec.api_key_env,
                                             concurrency=spec.concurrency, timeout=spec.timeout, max_retries=spec.max_retries,
                                             **({"extra_body": spec.extra_body} if spec.extra_body else {})))
    elif isinstance(spec, VLLMLLM):
        backend = VLLMBackend(VLLMConfig(model=spec.model, tensor_parallel_size=spec.tensor_parallel_size,
                                         gpu_memory_utilization=spec.gpu_memory_utilization))
    elif isinstance(spec, HFLLM):
        model = spec.model
        if model == TINY_RANDOM:  # built offline on first use: exercises the machinery, writes noise
            model = str(build_tiny_model(cache_dir() / "models" / "tiny-random-v2"))
        elif is_builtin(model):  # a real model shipped in a package, converted into the cache once
            model = str(resolve_builtin(model))
        backend = HFBackend(HFConfig(model=model, batch_size=spec.batch_size, threads=spec.threads))
    else:
        raise TypeError(f"not an LLM spec: {spec!r}")
    return LLMClient(backend, cache_path)
