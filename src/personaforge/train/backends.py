"""Load a base (and optionally a parent adapter) ready for LoRA training, per backend.

- hf, no quantization: transformers + PEFT; fp32 on CPU, bf16/fp16 on CUDA;
- hf, 4-bit: bitsandbytes NF4 with double quantization (QLoRA), compute in bf16;
- unsloth: FastLanguageModel (CUDA only, imported here and nowhere else, so a
  CPU install never needs it).

A parent adapter (continual learning) is loaded trainable on top of the base;
its LoRA shape wins over the settings, since the weights must line up. With
`parent_scale` < 1 its change from the base is shrunk first (`shrink_adapter`):
the start is a weighted average of the parent and the base.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from personaforge.bases import BaseRef
from personaforge.bases.load import _hub_failure
from personaforge.config import Settings
from personaforge.train.plan import TrainingPlan
from personaforge.ui import console

DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


@dataclass
class Loaded:
    model: Any  # a PeftModel when a parent adapter was loaded, else the bare base
    tokenizer: Any
    peft_config: Any | None  # pass to the trainer when the model has no adapter yet


def lora_config(settings: Settings):
    from peft import LoraConfig

    train = settings.train
    return LoraConfig(
        r=train.lora_rank,
        lora_alpha=train.lora_alpha,
        lora_dropout=train.lora_dropout,
        target_modules=list(train.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )


def _load_tokenizer(ref: BaseRef, settings: Settings):
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(
            ref.location, revision=ref.revision, trust_remote_code=settings.model.trust_remote_code
        )
    except OSError as exc:
        raise _hub_failure(ref, exc) from None
    if tokenizer.pad_token is None:  # many bases ship without one; padding is masked out anyway
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def rank_device() -> int:
    """This process's GPU: LOCAL_RANK under `accelerate launch`/`torchrun`, else GPU 0.

    A 4-bit model must be placed when it loads (it cannot be moved afterwards), before
    any Accelerator exists to set the current device, so `torch.cuda.current_device()`
    would put every rank's copy on GPU 0.
    """
    import os

    return int(os.environ.get("LOCAL_RANK", "0"))


def load_kwargs(ref: BaseRef, settings: Settings, plan: TrainingPlan) -> dict[str, Any]:
    """from_pretrained's arguments for this plan: dtype, and for QLoRA the 4-bit config and GPU."""
    import torch

    kwargs: dict[str, Any] = {
        "dtype": getattr(torch, DTYPES[plan.precision]),
        "trust_remote_code": settings.model.trust_remote_code,
        "revision": ref.revision,
    }
    if plan.quantization == "4bit":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16 if plan.precision == "bf16" else torch.float16,
        )
        if plan.device == "cuda":
            kwargs["device_map"] = {"": rank_device()}
    return kwargs


def load_hf(ref: BaseRef, settings: Settings, plan: TrainingPlan, parent: Path | None) -> Loaded:
    from transformers import AutoModelForCausalLM

    kwargs = load_kwargs(ref, settings, plan)
    try:
        model = AutoModelForCausalLM.from_pretrained(ref.location, **kwargs)
    except OSError as exc:
        raise _hub_failure(ref, exc) from None
    if plan.quantization == "4bit":
        prepare_quantized_for_lora(model, plan.gradient_checkpointing)
    tokenizer = _load_tokenizer(ref, settings)
    return _with_parent(model, tokenizer, settings, parent)


def prepare_quantized_for_lora(model, checkpointing: bool) -> None:
    """Freeze the 4-bit base for LoRA, keeping its 16-bit parts (embeddings, norms, head) 16-bit.

    peft's prepare_model_for_kbit_training also casts every weight that is not 4-bit
    to fp32, and an fp32 embedding makes the whole residual stream fp32. On an
    8B-shaped Llama at batch 8 x 512 that peaked at 55.4 GB against 17.9 GB for
    Unsloth (H100, bench/RESULTS.md). RMSNorm already computes in fp32 inside, so
    bf16 storage costs no stability.
    """
    for param in model.parameters():
        param.requires_grad = False
    if checkpointing:
        # Re-entrant checkpointing only re-runs a segment whose input requires grad.
        model.enable_input_require_grads()


def shrink_adapter(model, scale: float) -> int:
    """Scale every LoRA update B·A by `scale` (B is scaled), in place; returns the tensors scaled.

    W + s·(B·A) becomes W + s·scale·(B·A): exactly the weight average
    scale·(parent) + (1 - scale)·(base) for each adapted projection, so a version that
    drifted from the base starts its next month partly back at it.
    """
    import torch

    scaled = 0
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.mul_(scale)
                scaled += 1
    return scaled


def _with_parent(model, tokenizer, settings: Settings, parent: Path | None) -> Loaded:
    if parent is None:
        return Loaded(model, tokenizer, lora_config(settings))
    from peft import PeftModel

    peft_model = PeftModel.from_pretrained(model, str(parent), is_trainable=True)
    rank = peft_model.peft_config["default"].r
    if rank != settings.train.lora_rank:
        console.print(
            f"note: continuing adapter {parent.name} keeps its rank {rank} "
            f"(train.lora_rank={settings.train.lora_rank} applies to fresh adapters)"
        )
    return Loaded(peft_model, tokenizer, None)


def load_unsloth(
    ref: BaseRef, settings: Settings, plan: TrainingPlan, parent: Path | None
) -> Loaded:
    from unsloth import FastLanguageModel  # CUDA only; never imported on CPU

    model, tokenizer = FastLanguageModel.from_pretrained(
        model_name=str(parent or ref.location),
        max_seq_length=settings.train.max_seq_length,
        load_in_4bit=plan.quantization == "4bit",
        dtype=None,
    )
    if parent is None:
        train = settings.train
        model = FastLanguageModel.get_peft_model(
            model,
            r=train.lora_rank,
            lora_alpha=train.lora_alpha,
            lora_dropout=0.0,
            target_modules=list(train.target_modules),
            bias="none",
            use_gradient_checkpointing="unsloth" if plan.gradient_checkpointing else False,
            random_state=train.seed,
        )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return Loaded(model, tokenizer, None)


BACKENDS = {"hf": load_hf, "unsloth": load_unsloth}


def load_for_training(
    ref: BaseRef,
    settings: Settings,
    plan: TrainingPlan,
    parent: Path | None,
    parent_scale: float = 1.0,
) -> Loaded:
    loaded = BACKENDS[plan.backend](ref, settings, plan, parent)
    if parent is not None and parent_scale != 1.0:
        if not shrink_adapter(loaded.model, parent_scale):
            raise RuntimeError(f"no LoRA weights found in {parent} to scale")
        console.print(
            f"{parent.name} averaged with the base: its change scaled by {parent_scale:g}"
        )
    return loaded
