"""A pull toward the base on general prompts: each SFT step also adds the KL divergence from
the base's next-token distribution to the adapter's, on the base's own answers to the
rehearsal prompts (`train.anchor_weight`).

Rehearsal rows (rehearsal.py) teach the base's greedy answers as hard labels. On smollm2-135m a
growing share of them kept the probes but sharpened the model toward its likeliest words, and
general-text perplexity climbed to 1.09x the base by month 3 (bench/RESULTS.md). The anchor
keeps the whole distribution instead: where no system prompt names her, the adapter should
answer as the base would, with the base's own uncertainty. The base is the same weights with
the adapters switched off, so it costs one forward pass without gradients, and no memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from personaforge.evaluate.measure import padded, reply_tokens

# Anchor rows scored per micro-batch. The rehearsal answers are short (<= 64 tokens), so two
# rows add about a fifth of a demo micro-batch's tokens (4 replies of ~150), and 24 steps
# cycle through 48 of the 64 prompts.
ROWS_PER_STEP = 2


@dataclass
class Anchor:
    """The rehearsal rows as (ids, labels), handed out a few per step in a fixed cycle."""

    sequences: list[tuple[list[int], list[int]]]
    weight: float
    cursor: int = 0
    seen: list[float] = field(default_factory=list)  # KL per step since the last log line

    @classmethod
    def from_rows(cls, rows: list[dict[str, Any]], tokenizer, weight: float, max_length: int):
        sequences = [reply_tokens(tokenizer, row["messages"], max_length) for row in rows]
        return cls([s for s in sequences if any(t != -100 for t in s[1][1:])], weight)

    def next_batch(self) -> list[tuple[list[int], list[int]]]:
        take = min(ROWS_PER_STEP, len(self.sequences))
        batch = [self.sequences[(self.cursor + i) % len(self.sequences)] for i in range(take)]
        self.cursor = (self.cursor + take) % len(self.sequences)
        return batch

    def mean_since_log(self) -> float | None:
        if not self.seen:
            return None
        mean = sum(self.seen) / len(self.seen)
        self.seen.clear()
        return mean


def kl_to_base(model, sequences: list[tuple[list[int], list[int]]]):
    """Mean over answer positions of KL(base || adapter) on the next token.

    `model` is the PeftModel being trained: with its adapters disabled it is the base.
    """
    import torch
    import torch.nn.functional as F

    disable = getattr(model, "disable_adapter", None)
    if disable is None:
        raise TypeError("train.anchor_weight needs a PEFT model: the base is the adapter off")
    ids, mask, labels = padded(sequences)
    device = next(model.parameters()).device
    ids, mask = ids.to(device), mask.to(device)
    answer = (labels[:, 1:] != -100).to(device)  # position t predicts the label at t + 1
    with torch.no_grad(), disable():
        base = model(input_ids=ids, attention_mask=mask).logits[:, :-1][answer].float()
    student = model(input_ids=ids, attention_mask=mask).logits[:, :-1][answer].float()
    return F.kl_div(
        F.log_softmax(student, dim=-1),
        F.log_softmax(base, dim=-1),
        log_target=True,
        reduction="batchmean",  # summed over the vocabulary, averaged over positions
    )


def anchored(trainer_class: type, anchor: Anchor) -> type:
    """`trainer_class` whose training loss adds `anchor.weight` x the KL to the base."""

    class AnchoredTrainer(trainer_class):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            result = super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            if not model.training or anchor.weight <= 0:
                return result  # evaluation losses stay comparable with unanchored runs
            kl = kl_to_base(model, anchor.next_batch())
            anchor.seen.append(float(kl.detach()))
            # The Trainer divides a micro-batch's loss by the accumulation steps unless the
            # loss was already normalised over the whole accumulated batch; the anchor is a
            # per-micro-batch mean, so it takes that division itself in the second case.
            if self._loss_scaled_for_accumulation(num_items_in_batch):
                kl = kl / self.current_gradient_accumulation_steps
            if return_outputs:
                loss, outputs = result
                return loss + anchor.weight * kl, outputs
            return result + anchor.weight * kl

        def _loss_scaled_for_accumulation(self, num_items_in_batch) -> bool:
            if getattr(self, "loss_is_scaled_for_ga", None) is not None:
                return bool(self.loss_is_scaled_for_ga)
            return bool(
                (self.model_accepts_loss_kwargs and num_items_in_batch is not None)
                or self.compute_loss_func is not None
            )

        def log(self, logs: dict[str, float], *args, **kwargs) -> None:
            mean = anchor.mean_since_log()
            if mean is not None and "loss" in logs:
                logs = {**logs, "anchor_kl": round(mean, 4)}
            super().log(logs, *args, **kwargs)

    AnchoredTrainer.__name__ = f"Anchored{trainer_class.__name__}"
    return AnchoredTrainer
