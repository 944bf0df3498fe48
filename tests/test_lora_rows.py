"""serve/lora_rows.py against PEFT's own per-row path, in logits.

PEFT's `adapter_names=` forward is the reference: it is what the engine ran before
its own layers. The adapters differ in rank, in the layers they adapt and in how
PEFT scales them (a per-layer rank and alpha, rsLoRA), so the concatenation of
unequal ranks, the masks of rows whose adapter leaves a layer alone, the prompt
pass's per-adapter products and serve/adapters.py's scaling are all exercised,
and every adapter's B is random (PEFT's default init makes B zero, which would
let any wiring pass).
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


@pytest.fixture
def two_adapters(micro_base):
    from peft import LoraConfig, PeftModel
    from transformers import AutoModelForCausalLM

    torch.manual_seed(3)
    base = AutoModelForCausalLM.from_pretrained(micro_base, dtype=torch.float32).eval()
    wide = LoraConfig(
        r=4,
        lora_alpha=8,
        target_modules="all-linear",
        rank_pattern={"v_proj": 2},
        alpha_pattern={"o_proj": 16},
        init_lora_weights=False,
    )
    narrow = LoraConfig(
        r=8, lora_alpha=4, target_modules=["q_proj"], use_rslora=True, init_lora_weights=False
    )
    model = PeftModel(base, wide, "wide")
    model.add_adapter("narrow", narrow)
    model.eval()
    return model


def served(model, micro_base):
    """A fresh base serving the PEFT model's adapters the way the engine does."""
    from peft import get_peft_model_state_dict
    from transformers import AutoModelForCausalLM

    from personaforge.serve.adapters import linear_shapes, lora_matrices, lora_pairs
    from personaforge.serve.lora_rows import RowAdapters

    base = AutoModelForCausalLM.from_pretrained(micro_base, dtype=torch.float32).eval()
    rows, shapes = RowAdapters(), linear_shapes(base)
    for name, config in model.peft_config.items():
        weights = get_peft_model_state_dict(model, adapter_name=name)
        rows.add(base, name, lora_pairs(name, config, lora_matrices(weights), shapes))
    return base, rows


def logits(model, ids, names):
    with torch.no_grad():
        return (
            model(input_ids=ids, adapter_names=names).logits
            if names
            else model(input_ids=ids).logits
        )


def test_rows_under_their_own_adapters_match_peft(two_adapters, micro_base):
    from personaforge.serve.lora_rows import BASE_ROW

    model = two_adapters
    prompt = torch.tensor([[5, 9, 14, 22, 7, 31]] * 3)
    step = torch.tensor([[4], [17], [4]])  # decode-shaped: one token per row
    batches = {
        "mixed": (prompt, ["wide", "narrow", BASE_ROW]),
        "shared": (prompt, ["wide"] * 3),
        "shared narrow": (prompt, ["narrow"] * 3),
        "base": (prompt, [BASE_ROW] * 3),
        "mixed again": (prompt, ["narrow", "wide", "narrow"]),
        "a step, the same rows": (step, ["narrow", "wide", "narrow"]),  # the kept mask
        # the same adapters in the batch, rows moved: a new mask over the kept concatenation
        "a step, rows moved": (step, ["narrow", "wide", "wide"]),
        "a step with a bare row": (step, ["wide", BASE_ROW, "narrow"]),
    }
    reference = {name: logits(model, ids, rows) for name, (ids, rows) in batches.items()}
    assert not torch.allclose(reference["mixed"][0], reference["mixed"][1], atol=1e-3)
    assert not torch.allclose(reference["mixed"][1], reference["mixed"][2], atol=1e-3)

    base, rows = served(model, micro_base)
    for name, (ids, names) in batches.items():
        rows.set(names)
        assert torch.allclose(logits(base, ids, None), reference[name], atol=1e-5), name


def test_a_step_with_no_adapted_row_leaves_the_base_alone(two_adapters, micro_base):
    from transformers import AutoModelForCausalLM

    from personaforge.serve.lora_rows import BASE_ROW

    base, rows = served(two_adapters, micro_base)
    rows.set([BASE_ROW, BASE_ROW])
    ids = torch.tensor([[5, 9, 14]] * 2)
    plain = AutoModelForCausalLM.from_pretrained(micro_base, dtype=torch.float32).eval()
    assert torch.allclose(logits(base, ids, None), logits(plain, ids, None), atol=1e-5)
