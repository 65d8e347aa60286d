"""Checks of padding-free packing: the loss of each sample inside a packed row.

A packed row holds several samples back to back with position_ids restarting at 0 for each; no
attention mask is passed, and the attention kernel keeps samples apart from the position ids.
If it does not (a KV cache turned on, a mask of ones passed, a kernel that ignores position
ids), a sample sees the ones before it and its loss changes. These functions make that visible:
the per-sample losses of a packed row must equal those of the samples run alone.
"""

from __future__ import annotations

IGNORE = -100


def segments(position_ids) -> list[tuple[int, int]]:
    """(start, end) of each sample in a packed row, from position ids restarting at 0."""
    pos = position_ids.view(-1).tolist()
    starts = [i for i, p in enumerate(pos) if p == 0] + [len(pos)]
    return [(a, b) for a, b in zip(starts, starts[1:]) if b > a]


def sample_loss(logits, labels) -> float:
    """Mean next-token loss of one sample (logits [T, V], labels [T])."""
    import torch.nn.functional as F

    shift_logits, shift_labels = logits[:-1].float(), labels[1:]
    return F.cross_entropy(shift_logits, shift_labels, ignore_index=IGNORE).item()


def packed_losses(model, input_ids, labels, position_ids, **forward) -> list[float]:
    """Per-sample losses of one packed row ([1, T] tensors), in one forward pass."""
    import torch

    with torch.no_grad():
        logits = model(input_ids=input_ids, position_ids=position_ids, **forward).logits[0]
    return [sample_loss(logits[a:b], labels[0, a:b]) for a, b in segments(position_ids)]


def alone_losses(model, samples: list[tuple[list[int], list[int]]]) -> list[float]:
    """Per-sample losses, each sample in its own forward pass."""
    import torch

    out = []
    with torch.no_grad():
        for ids, labels in samples:
            x = torch.tensor([ids])
            logits = model(input_ids=x, use_cache=False).logits[0]
            out.append(sample_loss(logits, torch.tensor(labels)))
    return out


def pack_row(samples: list[tuple[list[int], list[int]]]):
    """One padding-free row of `samples` as TRL's collator builds it ([1, T] tensors)."""
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    collate = DataCollatorForLanguageModeling(pad_token_id=0, padding_free=True)
    batch = collate([{"input_ids": ids, "labels": labels} for ids, labels in samples])
    return batch["input_ids"], batch["labels"], batch["position_ids"]
