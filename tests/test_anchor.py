"""The KL anchor toward the base (train/anchor.py): real PEFT runs on the micro base."""

from __future__ import annotations

import json

import pytest

from personaforge.train.run import TrainRequest, train
from tests.helpers import micro_home, micro_settings


@pytest.fixture
def home(tmp_path, micro_models_dir, sample_data):
    return micro_home(tmp_path, micro_models_dir, sample_data)


def _rehearsal_sequences(home, tokenizer):
    from personaforge.evaluate.measure import reply_tokens
    from personaforge.train.rehearsal import rehearsal_prompts

    # Any short general question and answer will do to read the KL: the anchor's own rows
    # come from the base's cache, these check that the two models differ where it pulled.
    rows = [
        [{"role": "user", "content": p}, {"role": "assistant", "content": "It is a fine day."}]
        for p in rehearsal_prompts()[:16]
    ]
    return [reply_tokens(tokenizer, messages, 256) for messages in rows]


def _kl_of(home, version: str) -> float:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from personaforge.bases import resolve_base
    from personaforge.train.anchor import kl_to_base

    ref = resolve_base(micro_settings().model.base, home)
    tokenizer = AutoTokenizer.from_pretrained(ref.location)
    base = AutoModelForCausalLM.from_pretrained(ref.location)
    model = PeftModel.from_pretrained(base, home.adapters / version).eval()
    with torch.no_grad():
        return float(kl_to_base(model, _rehearsal_sequences(home, tokenizer)))


def test_the_kl_is_zero_for_an_untrained_adapter_and_its_gradient_reaches_only_lora(home):
    import torch
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from personaforge.bases import resolve_base
    from personaforge.train.anchor import kl_to_base
    from personaforge.train.backends import lora_config

    settings = micro_settings()
    ref = resolve_base(settings.model.base, home)
    tokenizer = AutoTokenizer.from_pretrained(ref.location)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(ref.location), lora_config(settings)
    )
    sequences = _rehearsal_sequences(home, tokenizer)[:3]
    assert kl_to_base(model, sequences).item() == pytest.approx(0.0, abs=1e-6)  # B starts at 0
    torch.manual_seed(0)
    for name, param in model.named_parameters():
        if "lora_B" in name:
            param.data.normal_(0, 0.05)
    kl = kl_to_base(model, sequences)
    kl.backward()
    assert kl.item() > 1e-4
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    assert grads and all("lora_" in n for n in grads)  # the base side ran without gradients


def test_the_anchor_keeps_the_adapter_closer_to_the_base_and_logs_its_kl(home):
    """Same data, steps and seed, a learning rate high enough to move far: the anchored
    adapter must end nearer the base on general questions than the free one."""
    common = {"max_steps": 12, "learning_rate": 2e-2, "rehearsal_share": 0.0}
    free = train(home, micro_settings(**common), TrainRequest(show_progress=False))
    anchored = train(
        home, micro_settings(**common, anchor_weight=5.0), TrainRequest(show_progress=False)
    )
    kl_free, kl_anchored = _kl_of(home, free.version), _kl_of(home, anchored.version)
    assert kl_anchored < 0.7 * kl_free, (kl_anchored, kl_free)
    logged = [
        json.loads(line) for line in (anchored.folder / "metrics.jsonl").read_text().splitlines()
    ]
    assert any("anchor_kl" in entry for entry in logged)
    assert anchored.card["hyperparameters"]["anchor_weight"] == 5.0
