"""What every LLM backend takes and returns."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Sampling:
    max_tokens: int = 1024
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    stop: tuple[str, ...] = ()
    seed: int | None = None


@dataclass(slots=True)
class ChatRequest:
    messages: list[dict]
    sampling: Sampling = field(default_factory=Sampling)
    # a completion-mode prompt (base models) instead of chat messages
    prompt: str | None = None


@dataclass(slots=True)
class ChatResult:
    texts: list[str] = field(default_factory=list)  # one per sample (n)
    # one per sample: "stop" (EOS or a stop string), "length" (max_tokens reached), or what the server said
    finish_reasons: list[str] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None  # set when every attempt failed
    model: str = ""  # the model the server says answered (a response's `model` field), where it says
    cached: bool = False
    attempts: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def text(self) -> str:
        return self.texts[0] if self.texts else ""

    @property
    def truncated(self) -> bool:
        """Some sample stopped at max_tokens: its text is cut off."""
        return "length" in self.finish_reasons

    def to_json(self) -> str:
        d = asdict(self)
        d.pop("cached")
        d.pop("attempts")
        return json.dumps(d, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> ChatResult:
        known = {f.name for f in fields(cls)} - {"cached", "attempts"}
        return cls(**{k: v for k, v in json.loads(text).items() if k in known}, cached=True)


def request_key(model: str, request: ChatRequest, identity: dict | None = None) -> str:
    """Cache key: the backend's model id, what else identifies its answers (`Backend.identity()`:
    extra request parameters, the served checkpoint), the conversation (or prompt) and the sampling
    params. An empty identity leaves the key as it was before identities existed."""
    parts = [model, request.messages, request.prompt, asdict(request.sampling)]
    if identity:
        parts.append(identity)
    payload = json.dumps(parts, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


def files_digest(path: str | Path) -> str | None:
    """A cheap digest of a local model directory: names, sizes and mtimes of its top-level files
    (config, tokenizer, weights), no reading. None when `path` is not a local directory (hub id)."""
    p = Path(path)
    if not p.is_dir():
        return None
    h = hashlib.sha256()
    for f in sorted(p.iterdir()):
        if f.name.startswith(".") or not f.is_file():
            continue
        st = f.stat()
        h.update(f"{f.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()[:16]


OnResult = Callable[[int, ChatResult], None]


@runtime_checkable
class Backend(Protocol):
    """One LLM behind one interface. `generate` answers every request, in order; a request that
    failed for good has `error` set instead of raising."""

    model_id: str  # shown in manifests and results ("openai:NAME", "hf:PATH", "vllm:PATH")

    def generate(self, requests: list[ChatRequest], on_result: OnResult | None = None) -> list[ChatResult]:
        """`on_result(i, result)` is called as the answer to `requests[i]` lands (the client caches it)."""

    def preflight(self) -> None:
        """Raise UserError with one clear line if the backend cannot serve (endpoint, model, key)."""

    def identity(self) -> dict:
        """What, besides model_id, decides the answers: extra request parameters, the checkpoint the
        server reports it serves, a local model's file digest. Folded into the cache key."""

    def close(self) -> None:
        """Release what the backend holds (a loaded model, GPU memory). Safe to call twice."""
