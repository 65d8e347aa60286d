"""transformers models on the local machine (CPU runs, tests, built-in models): no server needed.

Our own decoding loop rather than `model.generate`: generate keeps every row of a batch in the
forward pass until the longest one ends, so on a CPU a batch with one long answer costs as much as
if all were long. Here a row that ends (end-of-turn token, stop string, max_tokens) leaves the batch
and the KV cache at once, prompts are batched by length (little padding), and torch runs on a set
number of threads (one by default: on a shared or small machine, threads that fight over cores are
several times slower than one that does not)."""

from __future__ import annotations

import contextlib
import inspect
from dataclasses import dataclass
from pathlib import Path

from alchemist.errors import UserError
from alchemist.llm.types import ChatRequest, ChatResult, Sampling, files_digest


@dataclass
class HFConfig:
    model: str  # a local directory or hub id
    batch_size: int = 8
    device: str = "cpu"
    dtype: str = "float32"
    threads: int = 1  # torch threads while generating on a CPU; 0: torch's default (one per core)


def finish_reason(row: list[int], max_new_tokens: int, eos_id: int | None, pad_id: int | None) -> str:
    """"length" when max_new_tokens were generated without an EOS, else "stop". `row` is the new
    tokens of one sequence, right-padded to its batch's longest (with pad, which may be EOS)."""
    if eos_id is not None and eos_id in row:
        return "stop"
    generated = len(row)
    while generated and row[generated - 1] == pad_id:  # a sequence that ended before its batch's longest
        generated -= 1
    return "length" if generated >= max_new_tokens else "stop"


@contextlib.contextmanager
def torch_threads(n: int):
    """torch's intra-op thread count set to n (n > 0) for the block, restored after."""
    import torch

    before = torch.get_num_threads()
    if n > 0:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def length_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length (longest first: a memory error shows at once)."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    return [order[k : k + batch_size] for k in range(0, len(order), batch_size)]


def eos_ids_of(tok, model) -> set[int]:
    """Every token that ends a turn: the tokenizer's EOS and the generation config's (which may list several)."""
    ids = {tok.eos_token_id} if tok.eos_token_id is not None else set()
    cfg = getattr(model, "generation_config", None)
    eos = getattr(cfg, "eos_token_id", None)
    ids.update(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    return ids


def _picker(sampling: Sampling):
    """Next-token choice: argmax when greedy, else temperature and nucleus sampling (seeded when asked)."""
    import torch

    if sampling.temperature <= 0:
        return lambda logits: logits.argmax(-1)
    gen = torch.Generator().manual_seed(sampling.seed) if sampling.seed is not None else None

    def pick(logits):
        probs = torch.softmax(logits.float() / sampling.temperature, -1)
        if sampling.top_p < 1:
            sorted_p, idx = probs.sort(-1, descending=True)
            drop = sorted_p.cumsum(-1) - sorted_p > sampling.top_p  # keep the smallest set reaching top_p
            sorted_p[drop] = 0
            probs = torch.zeros_like(probs).scatter(-1, idx, sorted_p)
        return torch.multinomial(probs, 1, generator=gen).squeeze(-1)

    return pick


def decode(model, prompts: list[list[int]], sampling: Sampling, eos_ids: set[int], pad_id: int,
           stopped=None) -> tuple[list[list[int]], list[str]]:
    """New tokens and finish reason ("stop" or "length") for each prompt (token ids). `stopped(row,
    tokens)` says when a row's text reached a stop string. Finished rows leave the batch at once."""
    import torch
    from transformers import DynamicCache

    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, p in enumerate(prompts):  # left padding: every row's next token is in the last column
        ids[i, width - len(p):] = torch.tensor(p, dtype=torch.long)
        mask[i, width - len(p):] = 1
    ids, mask = ids.to(model.device), mask.to(model.device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    cache = DynamicCache(config=model.config)
    # transformers 5.x names the cache argument `cache` (`past_key_values` is deprecated); 4.x knows only the old name
    cache_kw = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    pick = _picker(sampling)
    new: list[list[int]] = [[] for _ in prompts]
    reasons = ["length"] * len(prompts)
    alive = list(range(len(prompts)))  # the prompt of each row still in the batch
    with torch.inference_mode():
        logits = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1,
                       **{cache_kw: cache}).logits[:, -1]
        next_pos = positions[:, -1] + 1
        while alive:
            tokens = pick(logits)
            keep = []
            for j, t in enumerate(tokens.tolist()):
                r = alive[j]
                if t in eos_ids:
                    reasons[r] = "stop"
                    continue
                new[r].append(t)
                if stopped is not None and stopped(r, new[r]):
                    reasons[r] = "stop"
                elif len(new[r]) < sampling.max_tokens:
                    keep.append(j)
            if not keep:
                break
            if len(keep) < len(alive):
                idx = torch.tensor(keep, device=ids.device)
                cache.batch_select_indices(idx)
                mask, next_pos, tokens = mask[idx], next_pos[idx], tokens[idx]
                alive = [alive[j] for j in keep]
            mask = torch.cat([mask, mask.new_ones((len(alive), 1))], dim=1)
            logits = model(input_ids=tokens[:, None], attention_mask=mask, position_ids=next_pos[:, None],
                           use_cache=True, **{cache_kw: cache}).logits[:, -1]
            next_pos = next_pos + 1
    return new, reasons


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
        if self._tok.pad_token is None:
            self._tok.pad_token = self._tok.eos_token

    def _prompt(self, request: ChatRequest) -> str:
        if request.prompt is not None:
            return request.prompt
        if not self._tok.chat_template:
            raise UserError(f"model '{self.config.model}' has no chat template; use completion prompts or add one")
        if request.messages and request.messages[-1]["role"] == "assistant":  # a pre-filled answer: continue it
            return self._tok.apply_chat_template(request.messages, tokenize=False, continue_final_message=True)
        return self._tok.apply_chat_template(request.messages, tokenize=False, add_generation_prompt=True)

    def _stop_check(self, stops: tuple[str, ...]):
        """A row stops once its text holds a stop string after its leading whitespace: a model that
        opens with a newline (many do after a pre-filled tag) has not answered yet, so a newline
        stop string must not end it there."""
        if not stops:
            return None
        tok = self._tok
        return lambda r, tokens: any(s in tok.decode(tokens, skip_special_tokens=True).lstrip() for s in stops)

    def generate(self, requests: list[ChatRequest], on_result=None) -> list[ChatResult]:
        self._load()
        tok, model = self._tok, self._model
        eos = eos_ids_of(tok, model)
        results: list[ChatResult | None] = [None] * len(requests)
        groups: dict = {}  # one sampling setting per decode call
        for i, r in enumerate(requests):
            groups.setdefault(r.sampling, []).append(i)
        threads = self.config.threads if self.config.device == "cpu" else 0
        with torch_threads(threads):
            for sampling, idxs in groups.items():
                encoded = [tok(self._prompt(requests[i]), add_special_tokens=False)["input_ids"] for i in idxs]
                for batch in length_batches([len(e) for e in encoded], self.config.batch_size):
                    prompts = [encoded[b] for b in batch for _ in range(sampling.n)]
                    new, reasons = decode(model, prompts, sampling, eos, tok.pad_token_id, self._stop_check(sampling.stop))
                    for k, b in enumerate(batch):
                        rows = range(k * sampling.n, (k + 1) * sampling.n)
                        texts = [self._cut(tok.decode(new[j], skip_special_tokens=True), sampling.stop) for j in rows]
                        result = ChatResult(texts=texts, finish_reasons=[reasons[j] for j in rows],
                                            prompt_tokens=len(encoded[b]),
                                            completion_tokens=sum(len(new[j]) for j in rows), attempts=1)
                        results[idxs[b]] = result
                        if on_result is not None:
                            on_result(idxs[b], result)
        return results  # type: ignore[return-value]

    @staticmethod
    def _cut(text: str, stops: tuple[str, ...]) -> str:
        """The text before the first stop string after its leading whitespace (generation halts
        once one is written)."""
        lead = len(text) - len(text.lstrip())
        for stop in stops:
            if stop in text[lead:]:
                text = text[: lead + text[lead:].index(stop)]
        return text
