"""train/attention.py: a joined row attends per example, exactly as each example alone."""

from __future__ import annotations

import itertools

import pytest

torch = pytest.importorskip("torch")


@pytest.fixture
def micro(micro_base):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(micro_base, dtype=torch.float32).eval()
    model.config.use_cache = False  # as in training: a cache would turn packing detection off
    return model


def test_a_joined_row_attends_per_example(micro):
    from personaforge.train.attention import SEGMENTS, use_segment_attention

    lengths = [9, 4, 13, 1, 6]
    torch.manual_seed(0)
    examples = [torch.randint(5, 200, (n,)) for n in lengths]
    ids = torch.cat(examples)[None]
    positions = torch.cat([torch.arange(n) for n in lengths])[None]
    bounds = torch.tensor([0, *itertools.accumulate(lengths)], dtype=torch.int32)
    with torch.no_grad():
        alone = torch.cat([micro(input_ids=e[None]).logits for e in examples], dim=1)
        masked = micro(input_ids=ids, position_ids=positions).logits  # sdpa's block mask
        use_segment_attention(micro)
        assert micro.config._attn_implementation == SEGMENTS
        segments = micro(input_ids=ids, position_ids=positions, cu_seq_lens_q=bounds).logits
        # Bounds that join two examples must change the answer: the bounds are what is read.
        wrong = bounds[[0, 2, 3, 4, 5]]
        crossed = micro(input_ids=ids, position_ids=positions, cu_seq_lens_q=wrong).logits
    assert torch.allclose(masked, alone, atol=1e-5)
    assert torch.allclose(segments, alone, atol=1e-5)
    assert not torch.allclose(crossed, alone, atol=1e-3)


def test_other_calls_keep_sdpa(micro):
    """A padded batch with an attention mask (the anchor's, evaluation's) is sdpa's."""
    from personaforge.train.attention import use_segment_attention

    ids = torch.tensor([[5, 9, 14, 22], [7, 31, 1, 1]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    with torch.no_grad():
        before = micro(input_ids=ids, attention_mask=mask).logits
        use_segment_attention(micro)
        after = micro(input_ids=ids, attention_mask=mask).logits
    assert torch.allclose(before, after, atol=1e-6)
