"""The one LLM interface the relabeler and the evaluator use: a backend behind a persistent cache,
with counts of requests, cache hits, failures, truncated answers and tokens."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from alchemist.llm.cache import ResultCache
from alchemist.llm.types import Backend, ChatRequest, ChatResult, Sampling, request_key


@dataclass
class Usage:
    requests: int = 0  # sent to the backend (not answered from the cache)
    cache_hits: int = 0
    failed: int = 0
    truncated: int = 0  # answered, but some sample stopped at max_tokens
    prompt_tokens: int = 0
    completion_tokens: int = 0
    errors: list[str] = field(default_factory=list)  # the first few, for the report

    def as_dict(self) -> dict:
        return {"llm_requests": self.requests, "cache_hits": self.cache_hits, "failed": self.failed,
                "truncated": self.truncated, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens}


class LLMClient:
    def __init__(self, backend: Backend, cache_path: Path | None):
        self.backend = backend
        self.cache = ResultCache(cache_path) if cache_path else None
        self.usage = Usage()

    @property
    def model_id(self) -> str:
        return self.backend.model_id

    def preflight(self) -> None:
        self.backend.preflight()

    def named(self, base_url: str, api_key_env: str) -> LLMClient:
        """Say how the user named the endpoint settings (recipe keys, or flags such as --base-url):
        errors about them name what was typed. Backends without endpoints have nothing to name."""
        config = getattr(self.backend, "config", None)
        if isinstance(getattr(config, "names", None), dict):
            config.names = {"base_url": base_url, "api_key_env": api_key_env}
        return self

    def ask(self, prompts: list[str], max_tokens: int, temperature: float = 0.0) -> list[ChatResult]:
        """One user message per prompt, answered in order (`generate`): what callers below the llm
        package (the curation rules' judge) ask without building requests."""
        sampling = Sampling(max_tokens=max_tokens, temperature=temperature)
        return self.generate([ChatRequest([{"role": "user", "content": p}], sampling) for p in prompts])

    def generate(self, requests: list[ChatRequest], progress=None) -> list[ChatResult]:
        """Answers in order. Cached answers are returned without a request; new answers are cached
        as each one lands, so a killed run resends nothing that was answered."""
        results, served = self._generate(requests, progress)
        # A live answer says which model served it (OpenAI's dated snapshot behind an alias): cached
        # answers recorded from another one are stale, resent once and replaced in the cache.
        stale = [i for i, r in enumerate(results) if served and r.cached and r.model and r.model not in served]
        if stale:
            fresh, _ = self._generate([requests[i] for i in stale], None, use_cache=False)
            self.usage.cache_hits -= len(stale)
            for i, r in zip(stale, fresh):
                results[i] = r
        return results

    def _generate(self, requests: list[ChatRequest], progress, use_cache: bool = True) -> tuple[list[ChatResult], set[str]]:
        identity = self.backend.identity()
        keys = [request_key(self.backend.model_id, r, identity) for r in requests]
        cached = self.cache.get_many(list(set(keys))) if self.cache is not None and use_cache else {}
        results: list[ChatResult | None] = [cached.get(k) for k in keys]
        todo = [i for i, r in enumerate(results) if r is None]
        # identical requests in one call are sent once
        first_of: dict[str, int] = {}
        send = []
        for i in todo:
            if keys[i] not in first_of:
                first_of[keys[i]] = i
                send.append(i)
        self.usage.cache_hits += len(requests) - len(send)  # cached, or a repeat within this call
        if progress:
            progress(len(requests) - len(send))
        served: set[str] = set()

        def landed(j: int, result: ChatResult) -> None:
            i = send[j]
            self.usage.requests += 1
            if result.ok:
                self.usage.prompt_tokens += result.prompt_tokens
                self.usage.completion_tokens += result.completion_tokens
                self.usage.truncated += result.truncated
                if result.model:
                    served.add(result.model)
                if self.cache is not None:
                    self.cache.put(keys[i], self.backend.model_id, result)
            else:
                self.usage.failed += 1
                if len(self.usage.errors) < 5:
                    self.usage.errors.append(result.error or "")
            if progress:
                progress(1)

        if send:
            answers = self.backend.generate([requests[i] for i in send], on_result=landed)
            for j, i in enumerate(send):
                results[i] = answers[j]
        for i in todo:
            if results[i] is None:
                results[i] = results[first_of[keys[i]]]
        return results, served  # type: ignore[return-value]

    def close(self) -> None:
        self.backend.close()
        if self.cache is not None:
            self.cache.close()
