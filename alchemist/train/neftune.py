"""NEFTune (noisy embeddings) scaled per sample inside packed rows.

NEFTune adds uniform noise of magnitude alpha / sqrt(L x hidden) to the input embeddings, L being
the length of the sequence (Jain et al., 2023). transformers' hook takes L as the row's length:
with padding-free packing a row holds many samples, so the noise would be sqrt(row / sample)
times too weak (about 6x at 16k-token rows of ~450-token samples). Here L is each sample's own
length, read from the position ids restarting at 0 per sample, which the decoder receives for
every packed batch.

Written here rather than taken from transformers because its hook sees only the embedding
output, never where the samples of a row start.
"""

from __future__ import annotations


def token_lengths(position_ids):
    """For each token of [B, T] position ids, the length of the sample it belongs to (samples
    start where the position is 0)."""
    import torch

    out = torch.empty_like(position_ids)
    for b, row in enumerate(position_ids):
        starts = row == 0
        starts[0] = True
        seg = torch.cumsum(starts.long(), 0) - 1
        out[b] = torch.bincount(seg)[seg]
    return out


class NEFTune:
    """Forward hooks on a causal LM: the decoder's call tells where samples start, the input
    embeddings get noise scaled by each token's sample length. Training mode only."""

    def __init__(self, alpha: float):
        self.alpha = alpha
        self._position_ids = None
        self._handles: list = []

    def attach(self, model) -> NEFTune:
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        decoder = base.get_decoder()
        self._handles = [decoder.register_forward_pre_hook(self._remember, with_kwargs=True),
                         model.get_input_embeddings().register_forward_hook(self._noise)]
        return self

    def detach(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def _remember(self, module, args, kwargs):
        self._position_ids = kwargs.get("position_ids")

    def _noise(self, module, inputs, output):
        import torch

        if not module.training:
            return output
        rows, length, hidden = output.shape
        pos = self._position_ids
        self._position_ids = None
        if pos is None or pos.shape[-1] != length:
            # no position ids: one sample per row, as transformers' own hook assumes
            lengths = torch.full((rows, length), length, device=output.device)
        else:
            lengths = token_lengths(pos.expand(rows, length).to(output.device))
        magnitude = self.alpha / torch.sqrt(lengths.to(output.dtype) * hidden)
        return output + torch.zeros_like(output).uniform_(-1, 1) * magnitude.unsqueeze(-1)
