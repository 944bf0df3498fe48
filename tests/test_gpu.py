"""The CUDA paths: 16-bit LoRA, offloaded checkpointing, 4-bit QLoRA (bitsandbytes) and Unsloth,
on the micro base.

Marked gpu: skipped on machines where torch sees no CUDA device (CI, the dev box).
On a GPU machine, `pytest -m gpu` runs them; bench/RESULTS.md records where they ran.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from personaforge.train.plan import package_available
from personaforge.train.run import TrainRequest, train
from tests.helpers import MICRO_BASE, micro_home, micro_settings

pytestmark = pytest.mark.gpu


@pytest.fixture
def home(tmp_path, micro_models_dir, sample_data):
    return micro_home(tmp_path, micro_models_dir, sample_data)


def _assert_learned(result) -> None:
    metrics = result.card["metrics"]
    assert metrics["eval_loss_after"] < metrics["eval_loss_before"] - 0.1, metrics
    assert result.card["device"] == "cuda" and result.card["device_name"]


def test_auto_plan_on_cuda_is_16_bit_lora_in_bf16_and_learns(home):
    result = train(
        home, micro_settings(max_steps=30, backend="hf"), TrainRequest(show_progress=False)
    )
    assert (result.plan.device, result.plan.quantization) == ("cuda", "none")
    assert result.plan.precision in {"bf16", "fp16"}
    _assert_learned(result)


def test_offloaded_checkpointing_trains_and_learns(home):
    """transformers' offload (pinned host memory) under our trainer; its speed is a bench's."""
    settings = micro_settings(max_steps=30, backend="hf", gradient_checkpointing="offload")
    result = train(home, settings, TrainRequest(show_progress=False))
    assert result.plan.checkpointing == "offload" and not result.plan.problems
    _assert_learned(result)


@pytest.mark.skipif(not package_available("liger_kernel"), reason="needs liger-kernel")
def test_liger_kernels_patch_the_base_and_it_learns(home):
    settings = micro_settings(max_steps=30, backend="hf", liger_kernel=True)
    result = train(home, settings, TrainRequest(show_progress=False))
    assert result.plan.liger_kernel and not result.plan.problems
    _assert_learned(result)


@pytest.mark.skipif(not package_available("bitsandbytes"), reason="needs bitsandbytes")
def test_qlora_loads_the_base_in_4_bit_nf4_and_learns(home):
    import torch
    from bitsandbytes.nn import Linear4bit

    from personaforge.bases import resolve_base
    from personaforge.train.backends import load_for_training
    from personaforge.train.run import preflight

    settings = micro_settings(max_steps=30, backend="hf", quantization="4bit")
    ref = resolve_base(MICRO_BASE, home)
    plan = preflight(ref, settings)
    loaded = load_for_training(ref, settings, plan, None)
    quantized = [m for m in loaded.model.modules() if isinstance(m, Linear4bit)]
    assert quantized, "no Linear4bit layer: the base was not loaded in 4 bits"
    assert {m.weight.quant_type for m in quantized} == {"nf4"}
    assert all(m.weight.device.type == "cuda" for m in quantized)
    del loaded
    torch.cuda.empty_cache()

    result = train(home, settings, TrainRequest(show_progress=False))
    assert result.card["quantization"] == "4bit" and result.card["backend"] == "hf"
    _assert_learned(result)


@pytest.mark.skipif(not package_available("unsloth"), reason="needs unsloth (the gpu extra)")
def test_unsloth_backend_trains_an_adapter_plain_peft_can_load(home):
    """Through the CLI in its own process: unsloth patches transformers when imported."""
    env = {
        **os.environ,
        "PERSONAFORGE_HOME": str(home.home),
        "PERSONAFORGE_MODEL__BASE": MICRO_BASE,
        "PERSONAFORGE_TRAIN__BACKEND": "unsloth",
        "PERSONAFORGE_TRAIN__QUANTIZATION": "4bit",
        "PERSONAFORGE_TRAIN__MAX_STEPS": "30",
        "PERSONAFORGE_TRAIN__LEARNING_RATE": "5e-3",
        "PERSONAFORGE_TRAIN__LORA_RANK": "4",
        "PERSONAFORGE_TRAIN__LORA_ALPHA": "8",
        "PERSONAFORGE_TRAIN__MAX_SEQ_LENGTH": "256",
    }
    done = subprocess.run(
        [sys.executable, "-m", "personaforge", "train", "--fresh"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    card = json.loads((home.adapters / "v1" / "personaforge.json").read_text())
    assert (card["backend"], card["quantization"]) == ("unsloth", "4bit")
    metrics = card["metrics"]
    assert metrics["eval_loss_after"] < metrics["eval_loss_before"] - 0.1, metrics

    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from personaforge.bases import resolve_base

    base = AutoModelForCausalLM.from_pretrained(resolve_base(MICRO_BASE, home).location)
    model = PeftModel.from_pretrained(base, str(home.adapters / "v1"))
    assert sum("lora_" in name for name, _ in model.named_parameters()) > 0
