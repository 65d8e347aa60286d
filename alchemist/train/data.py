"""train.parquet -> token ids and labels, once.

Each sample is rendered with the chat format and tokenized; labels are its token ids where the
format marks assistant content ({% generation %}), -100 elsewhere (`train_on_prompt` labels every
token). Over-long samples are cut at `max_seq_len` or dropped, and counted. A slice stratified
by task is held out for the per-task loss.

The result is cached in the stage's work directory under a key of (data digest, tokenizer,
template, settings): a rerun, a resume and every rank but the first read it from disk.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from alchemist.errors import UserError
from alchemist.rundir import file_digest  # noqa: F401  (also used as tokdata.file_digest by the trainer)

IGNORE = -100
# Bump when the tokenized layout or the labeling rule changes, so old caches are not reused.
CACHE_VERSION = 1


@dataclass
class TokenStats:
    samples: int = 0
    kept: int = 0
    truncated: int = 0
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> count
    tokens: int = 0
    trainable_tokens: int = 0
    held_out: int = 0
    per_task: dict[str, int] = field(default_factory=dict)  # task -> kept samples (train split)
    # sum(len^2) / sum(len): the mean sequence length a token attends over (for attention FLOPs)
    attention_length: float = 0.0


@dataclass
class Tokenized:
    train: object  # datasets.Dataset: input_ids, labels, task
    eval: dict[str, object]  # task -> datasets.Dataset
    stats: TokenStats
    cache_hit: bool
    seconds: float



def tokenizer_digest(tokenizer) -> str:
    """What decides the ids: the vocabulary and merges, added tokens, the chat template."""
    h = hashlib.blake2b(digest_size=16)
    backend = getattr(tokenizer, "backend_tokenizer", None)
    h.update(backend.to_str().encode() if backend is not None else json.dumps(tokenizer.get_vocab(), sort_keys=True).encode())
    h.update(json.dumps(sorted(map(str, tokenizer.all_special_tokens))).encode())
    h.update(str(tokenizer.chat_template).encode())
    return h.hexdigest()


DROP_REASONS = ("overlong", "no_trainable_tokens")


def encode(messages: list[dict], tokenizer, max_seq_len: int, overlong: str, train_on_prompt: bool) -> tuple[list[int], list[int], str]:
    """(input_ids, labels, note) for one conversation; note is "", "truncated", or a drop reason
    (then the ids are empty)."""
    out = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    ids = list(out["input_ids"])
    mask = out["assistant_masks"]
    labels = ids[:] if train_on_prompt else [t if m else IGNORE for t, m in zip(ids, mask)]
    if len(ids) > max_seq_len:
        if overlong == "drop":
            return [], [], "overlong"
        ids, labels, note = ids[:max_seq_len], labels[:max_seq_len], "truncated"
    else:
        note = ""
    # the first label is never predicted (nothing comes before it); a sample needs one more
    if not any(t != IGNORE for t in labels[1:]):
        return [], [], "no_trainable_tokens"
    return ids, labels, note


def held_out_ids(rows: list[tuple[str, str]], fraction: float, cap: int, seed: int) -> set[str]:
    """Per task, the `fraction` of ids ranked first by a seeded hash (at least one from a task of
    two or more samples, at most `cap` in all): stable across reruns and machines."""
    if fraction <= 0:
        return set()
    by_task: dict[str, list[str]] = {}
    for sid, task in rows:
        by_task.setdefault(task, []).append(sid)
    rank = lambda sid: hashlib.blake2b(f"{seed}:{sid}".encode(), digest_size=8).digest()  # noqa: E731
    chosen: list[tuple[bytes, str]] = []
    for task in sorted(by_task):
        ids = sorted(set(by_task[task]), key=rank)
        n = max(1, round(len(ids) * fraction)) if len(ids) >= 2 else 0
        chosen.extend((rank(s), s) for s in ids[:n])
    return {s for _, s in sorted(chosen)[:cap]}


def cache_key(data_digest: str, tok_digest: str, settings: dict) -> str:
    payload = json.dumps({"v": CACHE_VERSION, "data": data_digest, "tok": tok_digest, **settings}, sort_keys=True)
    return hashlib.blake2b(payload.encode(), digest_size=12).hexdigest()


def tokenize(data_path: Path, tokenizer, *, max_seq_len: int, overlong: str, train_on_prompt: bool,
             eval_fraction: float, eval_max_samples: int, seed: int, cache_dir: Path, workers: int = 1) -> Tokenized:
    """Tokenize train.parquet (or read the cache), split off the held-out slice, count."""
    import time

    from datasets import Dataset, load_from_disk

    start = time.perf_counter()
    settings = {"max_seq_len": max_seq_len, "overlong": overlong, "train_on_prompt": train_on_prompt,
                "eval_fraction": eval_fraction, "eval_max_samples": eval_max_samples, "seed": seed}
    key = cache_key(file_digest(data_path), tokenizer_digest(tokenizer), settings)
    where = cache_dir / key
    hit = (where / "stats.json").is_file()
    if not hit:
        table = pq.read_table(data_path, columns=["id", "task", "messages"])
        raw = Dataset.from_dict({c: table.column(c).to_pylist() for c in ("id", "task", "messages")})
        held = held_out_ids(list(zip(raw["id"], raw["task"])), eval_fraction, eval_max_samples, seed)

        def _encode(batch):
            cols = {"input_ids": [], "labels": [], "drop": [], "truncated": []}
            for msgs in batch["messages"]:
                ids, labels, note = encode(msgs, tokenizer, max_seq_len, overlong, train_on_prompt)
                cols["input_ids"].append(ids)
                cols["labels"].append(labels)
                cols["drop"].append(note if note in DROP_REASONS else "")
                cols["truncated"].append(note == "truncated")
            return cols

        done = raw.map(_encode, batched=True, batch_size=256, num_proc=workers if workers > 1 else None,
                       remove_columns=["messages"], desc="Tokenizing")
        done = done.add_column("eval", [sid in held for sid in done["id"]])
        tmp = where.with_name(where.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        stats = _count(done)
        # saved already split, so a cache hit is only a memory map of what training reads
        kept = done.filter(lambda d: d == "", input_columns="drop")
        kept.filter(lambda e: not e, input_columns="eval").select_columns(["input_ids", "labels", "task"]) \
            .save_to_disk(str(tmp / "train"))
        held_rows = kept.filter(lambda e: e, input_columns="eval")
        for task in sorted(set(held_rows["task"])):
            held_rows.filter(lambda x, t=task: x == t, input_columns="task").select_columns(["input_ids", "labels"]) \
                .save_to_disk(str(tmp / "eval" / task))
        (tmp / "stats.json").write_text(json.dumps(asdict(stats), indent=1))
        shutil.rmtree(where, ignore_errors=True)
        tmp.rename(where)
    stats = TokenStats(**json.loads((where / "stats.json").read_text()))
    if stats.trainable_tokens == 0:
        raise UserError(f"train: {data_path} has no trainable tokens after tokenization "
                        f"(dropped: {stats.dropped}); check the data's assistant turns, train.max_seq_len "
                        "and train.overlong")
    train = load_from_disk(str(where / "train"))
    evals = {p.name: load_from_disk(str(p)) for p in sorted((where / "eval").glob("*"))} if (where / "eval").is_dir() else {}
    return Tokenized(train, evals, stats, hit, time.perf_counter() - start)


def _count(done) -> TokenStats:
    s = TokenStats(samples=len(done))
    drops = Counter(d for d in done["drop"] if d)
    s.dropped = dict(sorted(drops.items()))
    sq = 0
    per_task: Counter = Counter()
    for ids, labels, drop, trunc, is_eval, task in zip(done["input_ids"], done["labels"], done["drop"],
                                                        done["truncated"], done["eval"], done["task"]):
        if drop:
            continue
        s.kept += 1
        s.truncated += bool(trunc)
        if is_eval:
            s.held_out += 1
            continue
        per_task[task] += 1
        s.tokens += len(ids)
        s.trainable_tokens += sum(1 for t in labels[1:] if t != IGNORE)
        sq += len(ids) ** 2
    s.per_task = dict(sorted(per_task.items()))
    s.attention_length = sq / s.tokens if s.tokens else 0.0
    return s
