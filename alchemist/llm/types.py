"""What every LLM backend takes and returns."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Protocol


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
    finish_reasons: list[str] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None  # set when every attempt failed
    cached: bool = False
    attempts: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def text(self) -> str:
        return self.texts[0] if self.texts else ""

    def to_json(self) -> str:
        d = asdict(self)
        d.pop("cached")
        d.pop("attempts")
        return json.dumps(d, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "ChatResult":
        return cls(**json.loads(text), cached=True)


def request_key(model: str, request: ChatRequest) -> str:
    """Cache key: the backend's model id, the conversation (or prompt) and the sampling params."""
    payload = json.dumps([model, request.messages, request.prompt, asdict(request.sampling)], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


class Backend(Protocol):
    """One LLM behind one interface. `generate` answers every request, in order; a request that
    failed for good has `error` set instead of raising."""

    model_id: str

    def generate(self, requests: list[ChatRequest], progress=None) -> list[ChatResult]: ...

    def preflight(self) -> None:
        """Raise UserError with one clear line if the backend cannot serve (endpoint, model, key)."""
