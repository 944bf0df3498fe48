"""The settings of learning: which base (`model`), how to fine-tune it (`train`), and what a
new version must show before it is promoted (`gate`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from personaforge.config.fields import _Section, parse_budget, split_comma_list

# Llama/Qwen/Mistral projection names; adapting all seven (not only q,v) is what
# QLoRA's paper found necessary to match full fine-tuning quality.
ALL_LINEAR_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class ModelSettings(_Section):
    """Which base model the adapters are trained on."""

    base: str = Field(
        "auto",
        description=(
            "Base model: a Hugging Face id (org/name), a local folder, a built-in base "
            "('smollm2-135m', the real 135M chat model; 'tiny' and 'tiny:micro', toys for "
            "tests), or auto: the current version's base, else one chosen for this machine "
            "(smollm2-135m on CPU, a 1.5B instruct model on a GPU under 12 GB, an 8B instruct "
            "model in 4-bit from 12 GB); `doctor` says which and why."
        ),
    )
    revision: str | None = Field(
        None,
        description="Git revision (branch, tag or commit) of a Hugging Face base; none = main.",
    )
    trust_remote_code: bool = Field(
        False,
        description="Allow a Hugging Face base to run its own Python code. Off: it runs arbitrary code.",
    )


class TrainSettings(_Section):
    """LoRA/QLoRA fine-tuning hyperparameters and hardware choices."""

    backend: Literal["auto", "hf", "unsloth"] = Field(
        "auto",
        description=(
            "Training backend. auto: Unsloth on CUDA when it imports, else transformers+PEFT (hf)."
        ),
    )
    quantization: Literal["auto", "none", "4bit"] = Field(
        "auto",
        description=(
            "Base weights during training. auto: 4-bit NF4 (QLoRA) on CUDA when 16-bit LoRA "
            "would not fit or the checkpoint is pre-quantized; none: 16/32-bit LoRA."
        ),
    )
    lora_rank: int = Field(16, ge=1, le=1024, description="LoRA rank r: capacity of the adapter.")
    lora_alpha: int = Field(
        32, ge=1, description="LoRA alpha; the update is scaled by alpha/r (2x rank is common)."
    )
    target_modules: list[str] = Field(
        default_factory=lambda: list(ALL_LINEAR_TARGETS),
        min_length=1,
        description="Module names that get LoRA matrices (comma-separated on the command line).",
    )
    learning_rate: float = Field(2e-4, gt=0, lt=1, description="Peak learning rate (AdamW).")
    epochs: int = Field(3, ge=1, le=100, description="Passes over the training set.")
    batch_size: int = Field(4, ge=1, description="Examples per device per step.")
    grad_accum: int = Field(
        4,
        ge=1,
        description="Steps accumulated per optimizer update (effective batch = batch x accum).",
    )
    max_seq_length: int = Field(
        2048, ge=16, description="Tokens per example; longer examples are split or dropped."
    )
    gradient_checkpointing: Literal["auto", "on", "off", "offload"] = Field(
        "auto",
        description=(
            "Recompute activations to save memory. offload: also keep each layer's saved "
            "input in host memory (CUDA only; the least GPU memory, a slower step). auto: on "
            "for CUDA when needed to fit, offload when only that fits, off on CPU (it makes "
            "every step much slower there)."
        ),
    )
    liger_kernel: bool = Field(
        False,
        description=(
            "Liger's Triton kernels for RMSNorm, RoPE and SwiGLU on the hf backend (CUDA, "
            "pip install liger-kernel). Off until measured on this project's recipe."
        ),
    )
    lora_dropout: float = Field(
        0.05, ge=0, lt=1, description="Dropout on the LoRA path during training."
    )
    warmup_ratio: float = Field(
        0.03, ge=0, lt=1, description="Share of steps spent warming the learning rate up."
    )
    lr_scheduler: Literal["cosine", "linear", "constant_with_warmup"] = Field(
        "cosine", description="Learning-rate schedule after warmup."
    )
    max_steps: int = Field(
        -1, ge=-1, description="Stop after this many optimizer steps (-1: run all epochs)."
    )
    time_budget: str = Field(
        "auto",
        description=(
            "Wall time one run's training may take, e.g. '30m', '2h', '1h30m', '90s'; 'none' "
            "for no limit; auto: 30m on CPU, none on CUDA. The plan measures this machine's "
            "speed with a short probe, then fits: fewer epochs first, then a sample of the "
            "examples that keeps the mix's shares (kinds, new vs replayed); a run that still "
            "overruns stops at the budget and is saved, gated and marked as bound by it."
        ),
    )
    save_steps: int = Field(
        50, ge=1, description="Checkpoint every this many optimizer steps (and at every epoch end)."
    )
    eval_steps: int = Field(
        25,
        ge=1,
        description="Held-out loss every this many optimizer steps (and at every epoch end).",
    )
    logging_steps: int = Field(
        5, ge=1, description="Log train loss, lr and tokens/s every this many steps."
    )
    seed: int = Field(
        42, description="Seed for initialisation and data order; a resumed run keeps it."
    )
    packing: Literal["auto", "on", "off"] = Field(
        "auto",
        description=(
            "Pack several examples into one sequence. auto: on only with a flash-attention "
            "implementation, which keeps packed examples from attending to each other."
        ),
    )
    padding_free: Literal["auto", "on", "off"] = Field(
        "auto",
        description=(
            "Join each batch's examples into one row with position ids instead of padding them "
            "to the longest: same examples per step, no compute spent on padding; attention "
            "runs per example. auto: on for the hf backend on CPU and with flash attention "
            "(the per-example path is measured on CPU only). Ignored when packing is on."
        ),
    )
    loss_head: Literal["auto", "compact", "chunked"] = Field(
        "auto",
        description=(
            "How the SFT loss projects through the LM head. compact: logits only at the "
            "positions that are scored (the person's tokens), in one pass, no per-step entropy "
            "or accuracy. chunked: TRL's fused LM head, which never holds the full logits and "
            "logs entropy and token accuracy, at the cost of a second projection in the "
            "backward pass. auto: compact on CPU, chunked on CUDA (large vocabularies)."
        ),
    )
    dpo_beta: float = Field(
        0.1, gt=0, description="DPO beta: how far the policy may move from the reference."
    )
    dpo_learning_rate: float = Field(
        5e-5,
        gt=0,
        lt=1,
        description="Peak learning rate for DPO (gentler than SFT: it refines an adapter).",
    )
    dpo_epochs: int = Field(
        4, ge=1, le=100, description="Passes over the preference pairs (they are few)."
    )
    dpo_min_pairs: int = Field(
        8,
        ge=1,
        description="Fewer training pairs than this: DPO is skipped with the reason, not run as a no-op.",
    )
    parent_scale: float = Field(
        1.0,
        ge=0,
        le=1,
        description=(
            "When continuing a version: scale its change from the base by this much before "
            "training (1 = continue it as it is; 0.5 = average it with the base). "
            "`run.strategy = blend` sets 0.5."
        ),
    )
    rehearsal_share: float = Field(
        0.2,
        ge=0,
        lt=1,
        description=(
            "Share of SFT rows that are the base's own answers to general prompts "
            "(self-synthesised rehearsal), so the adapter keeps what the base could do. 0: off."
        ),
    )

    anchor_weight: float = Field(
        0.0,
        ge=0,
        description=(
            "Weight of a KL pull toward the base on the rehearsal prompts' answers, added to "
            "every SFT step's loss (train/anchor.py), so the adapter answers general questions "
            "as the base would. 0: off."
        ),
    )

    _split_targets = field_validator("target_modules", mode="before")(split_comma_list)

    @field_validator("time_budget")
    @classmethod
    def _check_budget(cls, value: str) -> str:
        parse_budget(value)  # raises ValueError with what is accepted
        return value.strip().lower()


class GateSettings(_Section):
    """The verification gate: what an adapter must show before it is promoted."""

    max_general_ppl_increase: float = Field(
        0.10,
        ge=0,
        description="Forgetting: general-text perplexity may rise at most this much (0.10 = 10%).",
    )
    max_probe_drop: int = Field(
        1, ge=0, description="Forgetting: base-ability probes the adapter may lose."
    )
    max_memorised_share: float = Field(
        0.10,
        ge=0,
        le=1,
        description="Share of held-out generations allowed to repeat training text verbatim.",
    )
    memorised_ngram: int = Field(
        12, ge=4, description="Consecutive training tokens that count as parroting."
    )
    memorisation_prompts: int = Field(
        32, ge=1, description="Held-out prompts generated from for memorisation."
    )
    max_eval_examples: int = Field(
        200, ge=1, description="Held-out examples used for the style perplexity."
    )
    general_texts: int = Field(
        200, ge=1, description="General reference documents used for perplexity."
    )
    max_new_tokens: int = Field(
        48, ge=8, description="Tokens generated per prompt (probes use 24)."
    )
    canaries: list[str] = Field(
        default_factory=list,
        description="Strings that must never be generated (plant them in your notes to test leakage).",
    )
    voice_prompts: int = Field(
        40,
        ge=1,
        description=(
            "Held-out prompts the base and the candidate answer (decoded as serve decodes) for "
            "the looping check and the voice score."
        ),
    )
    max_loop_increase: float = Field(
        0.05,
        ge=0,
        le=1,
        description=(
            "Looping: the share of answers in which a word 4-gram occurs 3+ times may exceed "
            "the base's by at most this (0.05 = 5 points)."
        ),
    )
    min_voice_win_rate: float = Field(
        0.6,
        ge=0,
        le=1,
        description=(
            "Voice: share of held-out prompts whose answer an authorship classifier finds more "
            "like the person than the base's answer; blocks only with enough prompts and a "
            "classifier that tells the person apart (AUC >= 0.75)."
        ),
    )
    max_voice_p_value: float = Field(
        0.05,
        gt=0,
        le=1,
        description="Voice: the win rate's exact one-sided sign-test p-value must be below this.",
    )
    min_voice_prompts: int = Field(
        20,
        ge=1,
        description=(
            "Voice: with fewer held-out prompts than this the score is reported, not enforced "
            "(20 prompts at a 0.6 win rate are already p = 0.25)."
        ),
    )
    current_style_margin: float = Field(
        0.10,
        ge=0,
        description=(
            "A candidate whose style perplexity is worse than the current version's by more "
            "than this (0.10 = 10%) is not promoted; set from the spread between training seeds "
            'that bench/gate_noise.py measures (docs/evaluation.md, "Gate noise").'
        ),
    )
    auto_apply: bool = Field(
        True,
        description="`eval` promotes a passing candidate and rejects a failing one without asking.",
    )
    min_fact_accuracy: float | None = Field(
        None,
        ge=0,
        le=1,
        description=(
            "The `knows` check: the share of fact questions (from the profile) the persona must "
            "answer right with retrieval, and no superseded value stated. Empty: the check is "
            "informational (its numbers are reported, it never blocks a promotion)."
        ),
    )

    _split_canaries = field_validator("canaries", mode="before")(split_comma_list)
