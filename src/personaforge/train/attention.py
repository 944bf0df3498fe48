"""Attention over a padding-free row, one example at a time.

A padding-free batch (trainers.use_padding_free) is one row of every example joined,
with position ids restarting at each example. Without flash attention, transformers
turns those position ids into a block-diagonal mask over the whole row, and sdpa
computes every one of its n² scores with that mask (its math path, not the fused
causal kernel), though only the blocks on the diagonal count. In a batch of 8 of the
sample person's examples (2,533 tokens) that is 6.4M scores per head where the
examples' own blocks hold 0.9M.

So, while training, attention runs per example: TRL's collator passes each example's
bounds (`cu_seq_lens_q`, the cumulative lengths flash attention reads), and each slice
goes through sdpa as causal with no mask. The result is the same attention (a test
holds logits equal to the masked row's and to each example run alone), at the cost of
the examples' own blocks. Any other call (a padded batch with an attention mask, the
anchor's, or generation with a cache) goes to transformers' sdpa unchanged.
"""

from __future__ import annotations

import itertools

SEGMENTS = "personaforge_segments"  # the attention implementation's registered name


def segment_attention(
    module, query, key, value, attention_mask, dropout=0.0, scaling=None, **kwargs
):
    """transformers' attention signature: query/key/value are [batch, heads, tokens, dim]."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    bounds = kwargs.get("cu_seq_lens_q")
    joined_row = bounds is not None and query.shape[0] == 1 and query.shape[2] == key.shape[2]
    if not joined_row:
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout, scaling, **kwargs
        )
    pieces = [
        sdpa_attention_forward(
            module,
            query[:, :, start:end],
            key[:, :, start:end],
            value[:, :, start:end],
            None,
            dropout,
            scaling,
            is_causal=True,
        )[0]
        for start, end in itertools.pairwise(bounds.tolist())
    ]
    return torch.cat(pieces, dim=1), None  # sdpa's output is [batch, tokens, heads, dim]


def use_segment_attention(model) -> None:
    """Make `model` (a transformers model, or PEFT's wrapper of one) attend per example."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(SEGMENTS, segment_attention)
    # The mask is sdpa's, for the calls that fall back to it; a joined row ignores it.
    AttentionMaskInterface.register(SEGMENTS, sdpa_mask)
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    base.set_attn_implementation(SEGMENTS)
