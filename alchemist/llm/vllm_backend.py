"""vLLM's offline engine, for GPU machines. Imported only when chosen."""

from __future__ import annotations

from dataclasses import dataclass, field

from alchemist.errors import UserError
from alchemist.llm.types import ChatRequest, ChatResult, files_digest


@dataclass
class VLLMConfig:
    model: str
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    max_model_len: int | None = None
    engine_args: dict = field(default_factory=dict)


def result_from_output(out) -> ChatResult:
    """A vLLM RequestOutput as a ChatResult; each completion's finish_reason is vLLM's own ("stop",
    "length", "abort"), "" where it gives none."""
    return ChatResult(texts=[c.text for c in out.outputs], finish_reasons=[str(c.finish_reason or "") for c in out.outputs],
                      prompt_tokens=len(out.prompt_token_ids or []),
                      completion_tokens=sum(len(c.token_ids) for c in out.outputs), attempts=1)


def prefilled(request: ChatRequest) -> bool:
    """The request ends with the start of the answer (an assistant message) for the model to continue."""
    return bool(request.messages) and request.messages[-1].get("role") == "assistant"


class VLLMBackend:
    def __init__(self, config: VLLMConfig):
        self.config = config
        self.model_id = f"vllm:{config.model}"
        self._llm = None

    def preflight(self) -> None:
        self._load()

    def identity(self) -> dict:
        """The local checkpoint's file digest and the engine settings that change answers."""
        ident: dict = {}
        digest = files_digest(self.config.model)
        if digest is not None:
            ident["files"] = digest
        if self.config.max_model_len is not None:
            ident["max_model_len"] = self.config.max_model_len
        if self.config.engine_args:  # dtype, quantization, revision, ...
            ident["engine_args"] = {k: str(v) for k, v in sorted(self.config.engine_args.items())}
        return ident

    def close(self) -> None:
        """Free the engine and its GPU memory."""
        if self._llm is None:
            return
        self._llm = None
        import gc

        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass

    def _load(self):
        if self._llm is not None:
            return
        try:
            from vllm import LLM
        except ImportError:
            raise UserError("the vllm backend needs vLLM on a GPU machine: pip install 'alchemist[gpu]'") from None
        self._llm = LLM(model=self.config.model, tensor_parallel_size=self.config.tensor_parallel_size,
                        gpu_memory_utilization=self.config.gpu_memory_utilization,
                        max_model_len=self.config.max_model_len, **self.config.engine_args)

    def generate(self, requests: list[ChatRequest], on_result=None) -> list[ChatResult]:
        from vllm import SamplingParams

        self._load()
        results: list[ChatResult | None] = [None] * len(requests)
        groups: dict = {}
        for i, r in enumerate(requests):
            groups.setdefault((r.sampling, r.prompt is None, prefilled(r)), []).append(i)
        for (s, chat, prefill), idxs in groups.items():
            params = SamplingParams(n=s.n, temperature=s.temperature, top_p=s.top_p, max_tokens=s.max_tokens,
                                    stop=list(s.stop) or None, seed=s.seed)
            if chat:  # a pre-filled answer (last message from the assistant) is continued, not answered anew
                outputs = self._llm.chat([requests[i].messages for i in idxs], params, use_tqdm=True,
                                         add_generation_prompt=not prefill, continue_final_message=prefill)
            else:
                outputs = self._llm.generate([requests[i].prompt for i in idxs], params, use_tqdm=True)
            for i, out in zip(idxs, outputs):
                result = result_from_output(out)
                results[i] = result
                if on_result is not None:
                    on_result(i, result)
        return results  # type: ignore[return-value]
