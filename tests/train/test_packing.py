"""Padding-free packing keeps samples apart: the loss of each sample in a packed row equals its
loss alone; and the check catches the bug where samples see each other."""

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from alchemist.train.packing import alone_losses, pack_row, packed_losses, segments
from alchemist.train.templates import apply_format


@pytest.fixture(scope="module")
def samples(tiny_model, rows):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    apply_format(tok, "chatml")
    out = []
    for row in rows[:6]:
        enc = tok.apply_chat_template(list(row["messages"]), tokenize=True, return_dict=True,
                                      return_assistant_tokens_mask=True)
        ids = enc["input_ids"][:120]
        labels = [t if m else -100 for t, m in zip(ids, enc["assistant_masks"][:120])]
        out.append((ids, labels))
    return out


def model(path, attn):
    if attn == "sdpa_varlen":
        from alchemist.train.varlen import register

        register()
    torch.manual_seed(0)
    m = AutoModelForCausalLM.from_pretrained(path, attn_implementation=attn, dtype=torch.float32)
    return m.eval()


@pytest.mark.parametrize("attn", ["sdpa", "eager", "sdpa_varlen"])
def test_packed_losses_equal_alone(tiny_model, samples, attn):
    m = model(tiny_model, attn)
    ids, labels, pos = pack_row(samples)
    assert len(segments(pos)) == len(samples)
    packed = packed_losses(m, ids, labels, pos, use_cache=False)
    alone = alone_losses(m, samples)
    assert packed == pytest.approx(alone, abs=1e-5)


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_check_catches_samples_seeing_each_other(tiny_model, samples, attn):
    m = model(tiny_model, attn)
    ids, labels, pos = pack_row(samples)
    alone = alone_losses(m, samples)
    # a mask of ones over the row: every sample attends to the ones before it
    leaky = packed_losses(m, ids, labels, pos, use_cache=False, attention_mask=torch.ones_like(ids))
    assert leaky[0] == pytest.approx(alone[0], abs=1e-5)  # the first sample has nothing before it
    assert max(abs(a - b) for a, b in zip(leaky[1:], alone[1:])) > 1e-3
    # the cache pitfall (ENVIRONMENT.md): with use_cache on, position ids no longer separate samples
    cached = packed_losses(m, ids, labels, pos, use_cache=True)
    assert max(abs(a - b) for a, b in zip(cached[1:], alone[1:])) > 1e-3


def test_collator_never_trains_across_a_boundary(samples):
    ids, labels, pos = pack_row(samples)
    for a, _ in segments(pos):
        assert labels[0, a] == -100  # the first token of a sample is never predicted from the one before
