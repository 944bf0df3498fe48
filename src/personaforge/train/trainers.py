"""The trainers `personaforge train` runs: TRL's SFTTrainer and DPOTrainer, built from our settings.

    trainer = TRAINERS["sft"](loaded, settings, plan, run_dir, train_rows, eval_rows, callbacks)

What differs between methods is a Recipe (learning rate, epochs, logging); the
arguments both share come from one place (_common_args). SFT trains on the
assistant tokens only, padding-free on CPU; DPO refines an adapter on
preference pairs with the SFT parent as its reference.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from personaforge.config import Settings
from personaforge.dataset.examples import CONTEXT_TURN
from personaforge.train.attention import use_segment_attention
from personaforge.train.plan import TrainingPlan

GENERATION_TAG = re.compile(r"\{%-?\s*generation\s*-?%\}")


@dataclass(frozen=True)
class Recipe:
    """What differs between methods: DPO's pairs are few and its updates gentle."""

    learning_rate: float
    epochs: int
    logging_steps: int  # DPO logs every step: with a dozen steps, every-5 shows one line


def recipe(method: str, settings: Settings) -> Recipe:
    train = settings.train
    if method == "dpo":
        return Recipe(train.dpo_learning_rate, train.dpo_epochs, 1)
    return Recipe(train.learning_rate, train.epochs, train.logging_steps)


def warmup_steps(steps_total: int, ratio: float) -> int:
    """Rounded down: HF's warm-up runs its first step at learning rate 0, so a 10-step run
    with ratio 0.03 would spend a tenth of its budget learning nothing if rounded up."""
    return math.floor(steps_total * ratio)


def _common_args(
    settings: Settings,
    plan: TrainingPlan,
    run_dir: Path,
    steps_total: int,
    has_eval: bool,
    method: Recipe,
):
    train = settings.train
    return {
        "output_dir": str(run_dir),
        "per_device_train_batch_size": train.batch_size,
        "per_device_eval_batch_size": train.batch_size,
        "gradient_accumulation_steps": train.grad_accum,
        "learning_rate": method.learning_rate,
        "num_train_epochs": method.epochs,
        "max_steps": train.max_steps,
        "lr_scheduler_type": train.lr_scheduler,
        "warmup_steps": warmup_steps(steps_total, train.warmup_ratio),
        "logging_steps": method.logging_steps,
        "logging_first_step": True,
        "eval_strategy": "steps" if has_eval else "no",
        "eval_steps": train.eval_steps,
        "save_strategy": "steps",
        "save_steps": train.save_steps,
        "save_total_limit": 3,
        "seed": train.seed,
        "data_seed": train.seed,
        "use_cpu": plan.device == "cpu",
        "bf16": plan.precision == "bf16",
        "fp16": plan.precision == "fp16",
        "gradient_checkpointing": plan.gradient_checkpointing,
        **checkpointing_kwargs(plan),
        # TRL applies Liger's layer kernels only: its own chunked LM head stays (sft_trainer).
        "use_liger_kernel": plan.liger_kernel,
        "report_to": "none",
        "disable_tqdm": True,
        "include_num_input_tokens_seen": True,
        "dataloader_num_workers": 0,
        "max_length": train.max_seq_length,
    }


def checkpointing_kwargs(plan: TrainingPlan) -> dict:
    """transformers' offloaded checkpointing: each layer's saved input goes to pinned host
    memory (the plan checked that this transformers has it). Unsloth offloads with its own
    checkpointing (backends.py), so it gets none."""
    if plan.checkpointing != "offload" or plan.backend == "unsloth":
        return {}
    return {"gradient_checkpointing_kwargs": {"offload": True}}


def steps_for(rows: int, settings: Settings, epochs: int | None = None) -> int:
    import os

    world = int(os.environ.get("WORLD_SIZE", "1"))
    per_epoch = math.ceil(rows / (settings.train.batch_size * settings.train.grad_accum * world))
    total = per_epoch * (epochs or settings.train.epochs)
    return min(total, settings.train.max_steps) if settings.train.max_steps > 0 else total


def sft_rows(
    rows: list[dict], tokenizer, eval_rows: list[dict] = ()
) -> tuple[list[dict], list[dict], bool]:
    """TRL rows for training and evaluation, and whether TRL masks by {% generation %} markers.

    With markers, whole conversations train on every assistant turn only, except turns
    flagged as context (dataset/examples.py CONTEXT_TURN: her facts recalled as earlier
    answers, composed, not written by her). When any row holds one, every row is tokenized
    here, those turns masked out, and TRL builds the labels from the masks given (it takes
    `assistant_only_loss` for conversational rows only). Without markers (a template TRL
    does not know), prompt/completion rows make TRL train on the completion (the final
    reply) only. Either way no prompt token carries loss.
    """
    both = [*rows, *eval_rows]
    if GENERATION_TAG.search(tokenizer.chat_template or ""):
        if any(m.get(CONTEXT_TURN) for row in both for m in row["messages"]):
            tokenized = [context_masked(row["messages"], tokenizer) for row in both]
            return tokenized[: len(rows)], tokenized[len(rows) :], False
        conversations = [{"messages": row["messages"]} for row in both]
        return conversations[: len(rows)], conversations[len(rows) :], True
    pairs = [{"prompt": row["messages"][:-1], "completion": row["messages"][-1:]} for row in both]
    return pairs[: len(rows)], pairs[len(rows) :], False


def context_masked(messages: list[dict], tokenizer) -> dict[str, list[int]]:
    """input_ids and assistant_masks (what TRL tokenizes a conversation into), with the
    tokens of context turns taken out of the mask.

    The template marks each assistant turn as one run of mask bits, in order, so the k-th
    run is the k-th assistant message. A template that renders them otherwise trains on
    the last run only: its context turns must never become targets.
    """
    out = tokenizer.apply_chat_template(
        messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    mask = list(out["assistant_masks"])
    runs = _runs_of_ones(mask)
    replies = [m for m in messages if m["role"] == "assistant"]
    trained = (
        [not m.get(CONTEXT_TURN) for m in replies]
        if len(runs) == len(replies)
        else [i == len(runs) - 1 for i in range(len(runs))]
    )
    for (start, end), keep in zip(runs, trained, strict=True):
        if not keep:
            mask[start:end] = [0] * (end - start)
    return {"input_ids": list(out["input_ids"]), "assistant_masks": mask}


def _runs_of_ones(mask: list[int]) -> list[tuple[int, int]]:
    runs, start = [], None
    for i, bit in enumerate([*mask, 0]):
        if bit and start is None:
            start = i
        elif not bit and start is not None:
            runs.append((start, i))
            start = None
    return runs


def flash_attention(model) -> bool:
    implementation = getattr(getattr(model, "config", None), "_attn_implementation", "") or ""
    return implementation.startswith("flash_attention")


def use_packing(settings: Settings, model) -> bool:
    if settings.train.packing != "auto":
        return settings.train.packing == "on"
    return flash_attention(model)


def use_padding_free(settings: Settings, plan, model, packing: bool) -> bool:
    """Whether batches are joined into one row with position ids (see TrainSettings.padding_free).

    Flash attention reads the examples' bounds directly; otherwise attention runs per
    example (train/attention.py), so no example sees another. auto keeps padding on CUDA
    without flash attention: the per-example path is measured on CPU only.
    """
    if packing or settings.train.batch_size * settings.train.grad_accum < 2:
        return False
    if settings.train.padding_free != "auto":
        return settings.train.padding_free == "on"
    return plan.backend == "hf" and (plan.device == "cpu" or flash_attention(model))


def use_compact_loss(settings: Settings, plan) -> bool:
    """Whether the SFT loss scores only labelled positions in one pass (TrainSettings.loss_head)."""
    if settings.train.loss_head != "auto":
        return settings.train.loss_head == "compact"
    return plan.backend == "hf" and plan.device == "cpu"


def compact_nll(model, inputs: dict, num_items_in_batch=None):
    """Mean negative log-likelihood of the labelled tokens, with logits only where a label is.

    The hidden state at position t predicts token t+1, so the positions kept are those whose
    next label is not -100 (in any row of the batch); `logits_to_keep` makes the model project
    only those through the LM head. A padding-free batch is one row, so nothing else is kept.
    """
    import torch
    import torch.nn.functional as F

    next_labels = inputs["labels"][:, 1:]
    keep = (next_labels != -100).any(dim=0).nonzero().squeeze(-1)
    forward = {key: value for key, value in inputs.items() if key != "labels"}
    logits = model(**forward, logits_to_keep=keep).logits
    targets = next_labels[:, keep]
    total = F.cross_entropy(
        logits.float().flatten(0, 1), targets.flatten(), ignore_index=-100, reduction="sum"
    )
    count = (targets != -100).sum() if num_items_in_batch is None else num_items_in_batch
    return total / torch.as_tensor(count, device=total.device).clamp(min=1)


def _compact_sft_trainer():
    from trl import SFTTrainer

    class CompactLossSFTTrainer(SFTTrainer):
        """SFTTrainer whose training loss is `compact_nll`; evaluation stays TRL's.

        TRL 1.16 computes every training loss through its chunked LM head, which also scores
        entropy and top-1 accuracy over the whole vocabulary and projects again in backward.
        On CPU, smollm2-135m trained at 42.7 tokens/s through it and at 54.6 through this,
        with a peak of 6.33 GiB instead of 7.12 (bench/RESULTS.md).
        """

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            plain_nll = self.args.loss_type == "nll" and self.label_smoother is None
            if return_outputs or not plain_nll or self.compute_loss_func is not None:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            loss = compact_nll(model, inputs, num_items_in_batch)
            if self.args.average_tokens_across_devices and num_items_in_batch is not None:
                loss = loss * self.accelerator.num_processes  # as Trainer: DDP averages grads
            return loss

    return CompactLossSFTTrainer


def build_sft_trainer(
    loaded, settings, plan, run_dir, train_rows, eval_rows, callbacks, anchor_rows=()
):
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    rows, evals, markers = sft_rows(train_rows, loaded.tokenizer, eval_rows or ())
    evals = evals or None
    method = recipe("sft", settings)
    steps = steps_for(len(rows), settings, method.epochs)
    packing = use_packing(settings, loaded.model)
    config = SFTConfig(
        **_common_args(settings, plan, run_dir, steps, bool(evals), method),
        assistant_only_loss=markers,
        packing=packing,
    )
    # TRL's own padding_free flag refuses max_length without packing, so the truncating
    # dataset preparation stays TRL's and only the collator joins the batch.
    padding_free = use_padding_free(settings, plan, loaded.model, packing)
    collator = (
        DataCollatorForLanguageModeling(
            pad_token_id=loaded.tokenizer.pad_token_id, padding_free=True
        )
        if padding_free
        else None
    )
    if padding_free and not flash_attention(loaded.model):
        use_segment_attention(loaded.model)  # the joined row attends per example
    # tokens_seen counts the person's tokens, never padding: a joined row holds none, and a
    # padded batch is counted through its attention mask (pad is often eos, so not by id).
    config.include_num_input_tokens_seen = "all" if padding_free or packing else "non_padding"
    trainer_class = _compact_sft_trainer() if use_compact_loss(settings, plan) else SFTTrainer
    if settings.train.anchor_weight > 0 and anchor_rows:
        from personaforge.train.anchor import Anchor, anchored

        anchor = Anchor.from_rows(
            list(anchor_rows),
            loaded.tokenizer,
            settings.train.anchor_weight,
            settings.train.max_seq_length,
        )
        trainer_class = anchored(trainer_class, anchor)
    return trainer_class(
        model=loaded.model,
        args=config,
        data_collator=collator,
        train_dataset=Dataset.from_list(rows),
        eval_dataset=Dataset.from_list(evals) if evals else None,
        processing_class=loaded.tokenizer,
        peft_config=loaded.peft_config,
        callbacks=callbacks,
    )


def build_dpo_trainer(loaded, settings, plan, run_dir, train_rows, eval_rows, callbacks):
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    def convert(rows):
        return [
            {
                "prompt": r["prompt"],
                "chosen": [{"role": "assistant", "content": r["chosen"]}],
                "rejected": [{"role": "assistant", "content": r["rejected"]}],
            }
            for r in rows
        ]

    method = recipe("dpo", settings)
    steps = steps_for(len(train_rows), settings, method.epochs)
    args = _common_args(settings, plan, run_dir, steps, bool(eval_rows), method)
    # train.max_steps caps DPO, it does not set it: passed as is it would override
    # dpo_epochs (the demo ran 24 DPO steps for 12 pairs at 4 epochs of 3 steps).
    args["max_steps"] = steps
    config = DPOConfig(**args, beta=settings.train.dpo_beta)
    return DPOTrainer(
        model=loaded.model,
        args=config,
        train_dataset=Dataset.from_list(convert(train_rows)),
        eval_dataset=Dataset.from_list(convert(eval_rows)) if eval_rows else None,
        processing_class=loaded.tokenizer,
        peft_config=loaded.peft_config,
        callbacks=callbacks,
    )


TRAINERS = {"sft": build_sft_trainer, "dpo": build_dpo_trainer}
