"""The LLM section every stage that asks a model shares (relabel.llm, eval.llm, the decontamination
judge, rl): one spec per backend, chosen by `backend:` (a discriminated union), so a key that
belongs to another backend is an unknown key at its line. The llm package builds clients from it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag

from alchemist.specs import Strict, local_path, volatile


class _Sampling(Strict):
    # a local path only where one exists (else a served model's name or a hub id); `train` (eval:
    # the model this run trains) is a word even beside a folder of that name
    model: str = local_path(
        must_exist=True, keep=("train",),
        description="Model name on the endpoint (openai), or a local path / hub id (vllm, hf); "
                    "`builtin:tiny-random` for the built-in offline model with random weights (hf), `builtin:smollm2-135m-instruct` for "
                    "a real 135M instruct model that installs offline (hf); in eval, `train` for the model this run trains.")
    temperature: float = Field(0.7, ge=0, le=2, description="Sampling temperature (0: greedy).")
    max_tokens: int = Field(1024, ge=1, description="Most new tokens per answer.")


class OpenAILLM(_Sampling):
    backend: Literal["openai"] = Field("openai", description="Which backend serves the model: openai (any OpenAI-compatible server), vllm (offline engine, GPU), hf (transformers).")
    base_url: str | list[str] = volatile("http://127.0.0.1:8000/v1", description="One endpoint or several (the load is spread, dead ones ejected).")
    api_key_env: str | None = volatile("OPENAI_API_KEY", description="Environment variable holding the key; null for servers without keys.")
    concurrency: int = volatile(32, ge=1, le=4096, description="Requests in flight at once.")
    timeout: float = volatile(300.0, gt=0, description="Seconds per request.")
    max_retries: int = volatile(6, ge=0, description="Retries on 429/5xx/timeouts, with backoff.")
    extra_body: dict[str, Any] = Field(default_factory=dict, description="Extra request fields sent to the server (e.g. vLLM's top_k).")


class VLLMLLM(_Sampling):
    backend: Literal["vllm"] = Field("vllm", description="Which backend serves the model: openai (any OpenAI-compatible server), vllm (offline engine, GPU), hf (transformers).")
    tensor_parallel_size: int = volatile(1, ge=1, description="GPUs one model is split over.")
    gpu_memory_utilization: float = volatile(0.9, gt=0, le=1, description="Share of GPU memory vLLM may take.")


class HFLLM(_Sampling):
    backend: Literal["hf"] = Field("hf", description="Which backend serves the model: openai (any OpenAI-compatible server), vllm (offline engine, GPU), hf (transformers).")
    batch_size: int = volatile(8, ge=1, description="Prompts decoded together (batched by length; a finished answer leaves its batch at once).")
    threads: int = volatile(1, ge=0, description="torch threads while generating on a CPU (0: one per core). One is fastest "
                                                 "where other work shares the cores; see benchmarks/README.md.")


def _backend_of(default: str):
    def pick(value: Any) -> str:
        if isinstance(value, dict):
            return str(value.get("backend", default))
        return getattr(value, "backend", default)
    return pick


def llm_spec(default_backend: str) -> Any:
    """The union type, with the backend a section assumes when `backend:` is not given."""
    return Annotated[
        Annotated[OpenAILLM, Tag("openai")] | Annotated[VLLMLLM, Tag("vllm")] | Annotated[HFLLM, Tag("hf")],
        Discriminator(_backend_of(default_backend), custom_error_type="unknown_backend",
                      custom_error_message="backend must be one of openai, vllm, hf"),
    ]


LLMSpec = OpenAILLM | VLLMLLM | HFLLM
BACKEND_TAGS = ("openai", "vllm", "hf")
