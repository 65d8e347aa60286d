"""LLM client: one interface (`LLMClient.generate`), three backends (OpenAI-compatible HTTP,
vLLM offline, transformers), one persistent cache."""

from alchemist.llm.client import LLMClient, Usage
from alchemist.llm.types import Backend, ChatRequest, ChatResult, Sampling

__all__ = ["Backend", "ChatRequest", "ChatResult", "LLMClient", "Sampling", "Usage"]
