"""NEFTune inside packed rows: each sample's noise is scaled by its own length."""

import math

import torch
from transformers import AutoModelForCausalLM

from alchemist.train.neftune import NEFTune, token_lengths

ALPHA = 5.0


def test_token_lengths_follow_restarting_positions():
    pos = torch.tensor([[0, 1, 2, 0, 1, 0, 1, 2, 3, 4], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]])
    assert token_lengths(pos).tolist() == [[3, 3, 3, 2, 2, 5, 5, 5, 5, 5], [10] * 10]


def _noise_of(model, input_ids, position_ids):
    """The noise the embedding layer added in one training forward pass."""
    seen = []
    handle = model.get_input_embeddings().register_forward_hook(lambda m, i, o: seen.append(o.detach()))
    with torch.no_grad():
        model(input_ids=input_ids, position_ids=position_ids)
        clean = model.get_input_embeddings().weight[input_ids[0]]
    handle.remove()
    return seen[0][0] - clean


def test_each_packed_sample_gets_noise_scaled_by_its_own_length(tiny_model):
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    model.config.use_cache = False
    hidden = model.config.hidden_size
    lengths = (8, 120)  # a short sample packed before a long one
    ids = torch.randint(10, 1000, (1, sum(lengths)))
    pos = torch.cat([torch.arange(n) for n in lengths]).unsqueeze(0)
    neftune = NEFTune(ALPHA).attach(model)
    model.train()
    noise = _noise_of(model, ids, pos)
    start = 0
    for n in lengths:
        part = noise[start:start + n]
        bound = ALPHA / math.sqrt(n * hidden)
        # uniform in [-bound, bound]: the largest of n x hidden draws comes close to the bound
        assert part.abs().max() <= bound * 1.0001 and part.abs().max() > 0.95 * bound, (n, part.abs().max(), bound)
        start += n
    # the row-length scaling (transformers' hook) would give the short sample 4x less noise
    assert noise[:8].abs().max() > 3 * ALPHA / math.sqrt(sum(lengths) * hidden)

    model.eval()
    assert _noise_of(model, ids, pos).abs().max() == 0  # no noise outside training
    neftune.detach()
    model.train()
    assert _noise_of(model, ids, pos).abs().max() == 0


def test_noise_reaches_a_lora_model_with_trainable_token_rows(tiny_model):
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    base.config.use_cache = False
    model = get_peft_model(base, LoraConfig(r=2, target_modules="all-linear", task_type="CAUSAL_LM",
                                            trainable_token_indices=[5]))
    NEFTune(ALPHA).attach(model)
    model.train()
    ids = torch.randint(10, 1000, (1, 16))
    pos = torch.cat([torch.arange(4), torch.arange(12)]).unsqueeze(0)
    seen = []
    model.get_input_embeddings().register_forward_hook(lambda m, i, o: seen.append(o.detach()))
    with torch.no_grad():
        model(input_ids=ids, position_ids=pos)
    model.eval()
    with torch.no_grad():
        model(input_ids=ids, position_ids=pos)
    noise = seen[0][0] - seen[1][0]
    hidden = base.config.hidden_size
    assert ALPHA / math.sqrt(12 * hidden) < noise[:4].abs().max() <= ALPHA / math.sqrt(4 * hidden) * 1.0001
