"""Packed attention without a mask where no flash-attention exists (CPU, or a GPU without
flash-attn): each sample of a padding-free row attends causally within itself, one SDPA call
per sample.

Plain `sdpa` on a packed row builds a block-diagonal row x row mask and computes attention over
the whole row, so its cost grows with the square of the row, not of the samples (on the tiny
model on CPU, a row of 1024 tokens costs twice a causal pass over it). Here the cost is
sum(len_i^2) and no mask is built, like flash-attention's varlen kernel.

Registered under the name `sdpa_varlen` in transformers' attention and mask interfaces; the
train stage uses it for packed training when flash-attention is not available.
"""

from __future__ import annotations

NAME = "sdpa_varlen"


def _attention(module, query, key, value, attention_mask, dropout: float = 0.0, scaling=None, **kwargs):
    import torch
    import torch.nn.functional as F
    from transformers.integrations.sdpa_attention import repeat_kv, sdpa_attention_forward

    position_ids = kwargs.get("position_ids")
    if attention_mask is None and position_ids is None and query.shape[0] == 1 and query.shape[2] > 1:
        # a packed row without position ids cannot be split: whole-row attention would let its
        # samples see each other, silently
        raise ValueError(f"sdpa_varlen: {type(module).__name__} passes no position_ids to its attention, so the "
                         "samples of a packed row cannot be kept apart; set train.attn_implementation: sdpa "
                         "(or install flash-attn on a GPU)")
    if attention_mask is not None or position_ids is None or query.shape[0] != 1 or query.shape[2] != key.shape[2]:
        if attention_mask is None and position_ids is not None and query.shape[0] == 1:
            raise ValueError("sdpa_varlen: a packed row longer than its keys (a KV cache) is not supported")
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    groups = getattr(module, "num_key_value_groups", 1)
    key, value = repeat_kv(key, groups), repeat_kv(value, groups)
    pos = position_ids.view(-1)
    starts = (pos == 0).nonzero().view(-1).tolist()
    if not starts or starts[0] != 0:
        starts = [0, *starts]
    bounds = [*starts, pos.numel()]
    p = dropout if module.training else 0.0
    parts = [F.scaled_dot_product_attention(query[:, :, a:b], key[:, :, a:b], value[:, :, a:b], dropout_p=p,
                                            is_causal=True, scale=scaling)
             for a, b in zip(bounds, bounds[1:]) if b > a]
    out = torch.cat(parts, dim=2) if len(parts) > 1 else parts[0]
    return out.transpose(1, 2).contiguous(), None


def _mask(*args, attention_mask=None, **kwargs):
    # no padding: no mask (the attention separates samples by position ids); padding: SDPA's mask
    from transformers.masking_utils import sdpa_mask

    if attention_mask is None:
        return None
    return sdpa_mask(*args, attention_mask=attention_mask, **kwargs)


def register() -> str:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface

    AttentionInterface.register(NAME, _attention)
    AttentionMaskInterface.register(NAME, _mask)
    return NAME
