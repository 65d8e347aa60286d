"""transformers `generate` with batching: CPU runs and tests, no server needed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alchemist.errors import UserError
from alchemist.llm.types import ChatRequest, ChatResult, files_digest


@dataclass
class HFConfig:
    model: str  # a local directory or hub id
    batch_size: int = 8
    device: str = "cpu"
    dtype: str = "float32"


def finish_reason(row: list[int], max_new_tokens: int, eos_id: int | None, pad_id: int | None) -> str:
    """"length" when max_new_tokens were generated without an EOS, else "stop". `row` is the new
    tokens of one sequence, right-padded to its batch's longest (with pad, which may be EOS)."""
    if eos_id is not None and eos_id in row:
        return "stop"
    generated = len(row)
    while generated and row[generated - 1] == pad_id:  # a sequence that ended before its batch's longest
        generated -= 1
    return "length" if generated >= max_new_tokens else "stop"


class HFBackend:
    def __init__(self, config: HFConfig):
        self.config = config
        self.model_id = f"hf:{config.model}"
        self._model = None
        self._tok = None

    def preflight(self) -> None:
        self._load()

    def identity(self) -> dict:
        """The model files' digest (names, sizes, mtimes: retrained weights at the same path are
        another model) and the dtype. A hub id is found in the local hub cache, its snapshot
        (commit) digested the same way; only a model not downloaded yet is loaded first."""
        path = self.config.model if Path(self.config.model).is_dir() else self._hub_snapshot()
        if path is None:
            self._load()  # generate will need it anyway: nothing of it could be cached
            path = self._hub_snapshot()
        ident = {"dtype": self.config.dtype}
        if path is not None:
            ident["files"] = f"{Path(path).name}:{files_digest(path)}"
        return ident

    def _hub_snapshot(self) -> str | None:
        try:
            from huggingface_hub import try_to_load_from_cache

            found = try_to_load_from_cache(self.config.model, "config.json")
        except (ImportError, ValueError):  # no hub library, or not a repo id: no files to digest
            return None
        return str(Path(found).parent) if isinstance(found, str) else None

    def close(self) -> None:
        self._model = self._tok = None

    def _load(self):
        if self._model is not None:
            return
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            self._tok = AutoTokenizer.from_pretrained(self.config.model)
            self._model = AutoModelForCausalLM.from_pretrained(self.config.model, dtype=getattr(torch, self.config.dtype))
        except (OSError, ValueError) as e:
            raise UserError(f"cannot load model '{self.config.model}' with transformers: {str(e).splitlines()[0]}") from None
        self._model.to(self.config.device).eval()
        self._tok.padding_side = "left"  # decoder-only batches are padded on the left
        if self._tok.pad_token is None:
            self._tok.pad_token = self._tok.eos_token

    def _prompt(self, request: ChatRequest) -> str:
        if request.prompt is not None:
            return request.prompt
        if not self._tok.chat_template:
            raise UserError(f"model '{self.config.model}' has no chat template; use completion prompts or add one")
        return self._tok.apply_chat_template(request.messages, tokenize=False, add_generation_prompt=True)

    def generate(self, requests: list[ChatRequest], on_result=None) -> list[ChatResult]:
        import torch

        self._load()
        tok, model = self._tok, self._model
        results: list[ChatResult | None] = [None] * len(requests)
        # group by sampling parameters: one generate call serves one setting
        groups: dict = {}
        for i, r in enumerate(requests):
            groups.setdefault(r.sampling, []).append(i)
        for sampling, idxs in groups.items():
            for start in range(0, len(idxs), self.config.batch_size):
                batch = idxs[start : start + self.config.batch_size]
                prompts = [self._prompt(requests[i]) for i in batch]
                enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.config.device)
                kwargs = dict(max_new_tokens=sampling.max_tokens, num_return_sequences=sampling.n,
                              pad_token_id=tok.pad_token_id, do_sample=sampling.temperature > 0)
                if sampling.temperature > 0:
                    kwargs.update(temperature=sampling.temperature, top_p=sampling.top_p)
                if sampling.stop:
                    kwargs.update(stop_strings=list(sampling.stop), tokenizer=tok)
                if sampling.seed is not None:
                    torch.manual_seed(sampling.seed)
                with torch.no_grad():
                    out = model.generate(**enc, **kwargs)
                new = out[:, enc["input_ids"].shape[1]:]
                for k, i in enumerate(batch):
                    rows = new[k * sampling.n : (k + 1) * sampling.n]
                    texts, reasons = [], []
                    for row in rows:
                        text = tok.decode(row, skip_special_tokens=True)
                        stopped = False
                        for stop in sampling.stop:  # generation halts after the stop string; cut it
                            if stop in text:
                                text, stopped = text[: text.index(stop)], True
                        texts.append(text)
                        reasons.append("stop" if stopped else finish_reason(row.tolist(), sampling.max_tokens,
                                                                            tok.eos_token_id, tok.pad_token_id))
                    n_prompt = int(enc["attention_mask"][k].sum())
                    result = ChatResult(texts=texts, finish_reasons=reasons, prompt_tokens=n_prompt,
                                        completion_tokens=int((rows != tok.pad_token_id).sum()), attempts=1)
                    results[i] = result
                    if on_result is not None:
                        on_result(i, result)
        return results  # type: ignore[return-value]
