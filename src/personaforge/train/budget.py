"""How long a training run will take, and what it trains when it must fit a time budget.

    fit = fit_budget(work, settings, speed, budget_seconds(settings.train, "cpu"))
    fit.fitted.total_s, fit.changes, fit.shape.rows

The time model, for the seconds `personaforge train` spends from loading the base
to its last evaluation (the `seconds_this_session` of a version's card):

    load + epochs x (person's tokens + rehearsal tokens) x train s/token
         + evaluations x held-out tokens x eval s/token

Tokens are the chat-templated rows the trainer sees (cut at max_seq_length);
the seconds per token come from a probe of the real trainer on this machine
(train/probe.py). Evaluations are the one before training, one every
train.eval_steps steps and at each epoch end, and the one after.

Fitting a budget gives up what matters least first:

1. evaluation during training: only at epoch ends, on a sample of the held-out
   rows that keeps it under EVAL_SHARE of the budget (the gate measures the
   version on the whole held-out set afterwards, so nothing is lost there);
2. epochs, down to one: more distinct rows teach a voice better than repeats;
3. rows: a sample that keeps the mix's shares (each kind, new vs replayed
   memories, stratum by stratum); rehearsal keeps its share because it is mixed
   in after the sample (train.rehearsal_share).

The plan aims at FIT_SHARE of the budget, leaving room for the machine being
busier than during the probe; a run that still overruns is stopped at the
budget by the trainer and saved as a complete version.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from personaforge.config import Settings, TrainSettings, parse_budget

AUTO_CPU_BUDGET_S = 30 * 60  # "auto" on a CPU (and Apple MPS): a first version within the hour
EVAL_SHARE = 0.10
MIN_EVAL_ROWS = 8  # fewer than this makes the eval loss a coin toss
# Aim a tenth below the budget: the machine may be busier than during the probe, and the
# trainer stops a run that overruns anyway (so the margin only spares a cut schedule).
FIT_SHARE = 0.90
# A step's fixed costs beyond its tokens (optimizer, logging) are inside the probe's seconds
# per token; checkpoints (a LoRA adapter and Adam's moments) are not modelled.


def budget_seconds(train: TrainSettings, device: str) -> tuple[float | None, str]:
    """(seconds or None, where it came from) for train.time_budget on this device."""
    value = parse_budget(train.time_budget)
    if value == "auto":
        if device == "cuda":
            return None, "auto: no budget on CUDA"
        return float(AUTO_CPU_BUDGET_S), f"auto: {AUTO_CPU_BUDGET_S // 60}m without CUDA"
    if value is None:
        return None, "train.time_budget = none"
    return value, f"train.time_budget = {train.time_budget}"


def human_seconds(seconds: float) -> str:
    """95 -> '1.6 min'; 5400 -> '1.5 h'; 40 -> '40 s'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def budget_note(numbers: dict[str, Any]) -> str:
    """' (the 30 min budget: 412 of 1,668 examples, 1 epoch)' when a budget bound the training."""
    time_record = numbers.get("time") or {}
    if not time_record.get("bound"):
        return ""
    budget = human_seconds(time_record["budget_seconds"])
    if "stopped_at_step" in time_record:
        what = f"stopped at step {time_record['stopped_at_step']} of {time_record['of_steps']}"
    else:
        epochs = time_record["epochs"]
        what = (
            f"{time_record['examples']:,} of {time_record['of_examples']:,} examples, "
            f"{epochs} epoch{'s' if epochs > 1 else ''}"
        )
    return f" (bound by the {budget} time budget: {what})"


# -- what a run would process -----------------------------------------------------------------


def _length(tokenizer, messages: list[dict[str, str]], **kwargs: Any) -> int:
    return len(tokenizer.apply_chat_template(messages, tokenize=True, return_dict=False, **kwargs))


def row_tokens(tokenizer, rows: list[dict[str, Any]], max_length: int) -> list[int]:
    """Tokens of each row as the trainer sees it: the chat template applied, cut at max_length.

    A chat cut before its first assistant turn has nothing left to learn from (every
    assistant turn trains, through the template's generation markers), and TRL drops
    it: it counts 0. Preference rows count the prompt with the chosen reply and with the
    rejected one (DPO runs both).
    """
    counts = []
    for row in rows:
        if "messages" in row:
            messages = row["messages"]
            length = _length(tokenizer, messages)
            if length > max_length:
                first = next(i for i, m in enumerate(messages) if m["role"] == "assistant")
                before = _length(tokenizer, messages[:first], add_generation_prompt=True)
                length = 0 if before >= max_length else max_length
            counts.append(length)
            continue
        replies = (row["chosen"], row["rejected"])
        chats = [[*row["prompt"], {"role": "assistant", "content": reply}] for reply in replies]
        counts.append(sum(min(_length(tokenizer, chat), max_length) for chat in chats))
    return counts


def stratum(row: dict[str, Any]) -> str:
    """The share a row belongs to: its kind, and whether its memory is new to the current version."""
    meta = row.get("meta", {})
    return f"{meta.get('kind', '?')}/{'new' if meta.get('new') else 'old'}"


@dataclass(frozen=True)
class Workload:
    """Token counts of everything a run would process, in dataset order."""

    row_tokens: list[int]  # the person's training rows
    strata: list[str]  # stratum(row) of each
    rehearsal_tokens: list[int]  # the base's rehearsal rows (mixed in first to last)
    eval_tokens: list[int]  # held-out rows


@dataclass(frozen=True)
class Shape:
    """What a run trains: how many passes, over which rows, evaluated how."""

    epochs: int
    rows: list[int]  # indices into Workload.row_tokens
    eval_rows: list[int]  # indices into Workload.eval_tokens used during training
    eval_steps: int | None  # None: only before, at epoch ends and after


@dataclass(frozen=True)
class TimeEstimate:
    examples: int  # the person's rows
    rehearsal_rows: int
    tokens: int  # tokens trained on, all epochs
    epochs: int
    steps: int
    evaluations: int
    load_s: float
    train_s: float
    eval_s: float

    @property
    def total_s(self) -> float:
        return self.load_s + self.train_s + self.eval_s


def rehearsal_count(rows: int, available: int, share: float) -> int:
    """How many rehearsal rows train.rehearsal.mix_in adds to `rows` of the person's."""
    if share <= 0 or available == 0:
        return 0
    return min(math.ceil(rows * share / (1 - share)), available)


def _steps(rows: int, train: TrainSettings, epochs: int) -> tuple[int, int]:
    """(steps per epoch, steps) as the trainer counts them (trainers.steps_for)."""
    per_epoch = max(math.ceil(rows / (train.batch_size * train.grad_accum)), 1)
    total = per_epoch * epochs
    return per_epoch, min(total, train.max_steps) if train.max_steps > 0 else total


def evaluations(steps: int, per_epoch: int, epochs: int, eval_steps: int | None) -> int:
    """Evaluations a run makes: before, at eval_steps and epoch ends (once where they meet), after."""
    points = {min(e * per_epoch, steps) for e in range(1, epochs + 1)}
    if eval_steps:
        points |= set(range(eval_steps, steps + 1, eval_steps))
    return 2 + len(points)


def estimate(work: Workload, shape: Shape, train: TrainSettings, speed) -> TimeEstimate:
    """The time model of the module docstring, for one shape of the run."""
    tokens = sum(work.row_tokens[i] for i in shape.rows)
    extra = rehearsal_count(len(shape.rows), len(work.rehearsal_tokens), train.rehearsal_share)
    tokens += sum(work.rehearsal_tokens[:extra])
    per_epoch, steps = _steps(len(shape.rows) + extra, train, shape.epochs)
    trained = tokens * shape.epochs * steps / max(per_epoch * shape.epochs, 1)  # max_steps cuts
    evals = evaluations(steps, per_epoch, shape.epochs, shape.eval_steps) if shape.eval_rows else 0
    eval_tokens = sum(work.eval_tokens[i] for i in shape.eval_rows)
    return TimeEstimate(
        examples=len(shape.rows),
        rehearsal_rows=extra,
        tokens=round(trained),
        epochs=shape.epochs,
        steps=steps,
        evaluations=evals,
        load_s=speed.load_seconds,
        train_s=trained * speed.train_seconds_per_token,
        eval_s=evals * eval_tokens * speed.eval_seconds_per_token,
    )


# -- sampling that keeps the shares ---------------------------------------------------------------


def stratified_sample(strata: list[str], count: int, seed: int) -> list[int]:
    """`count` row indices, each stratum's share kept (largest remainder), seeded, in row order."""
    groups: dict[str, list[int]] = {}
    for index, name in enumerate(strata):
        groups.setdefault(name, []).append(index)
    total = len(strata)
    exact = {name: count * len(members) / total for name, members in groups.items()}
    quota = {name: math.floor(value) for name, value in exact.items()}
    by_remainder = sorted(groups, key=lambda name: (-(exact[name] - quota[name]), name))
    for name in by_remainder[: count - sum(quota.values())]:
        quota[name] += 1
    rng = random.Random(seed)
    chosen = [i for name in sorted(groups) for i in rng.sample(groups[name], quota[name])]
    return sorted(chosen)


def shares(strata: list[str], rows: list[int]) -> dict[str, float]:
    counts: dict[str, int] = {}
    for index in rows:
        counts[strata[index]] = counts.get(strata[index], 0) + 1
    return {name: round(n / max(len(rows), 1), 3) for name, n in sorted(counts.items())}


# -- fitting -----------------------------------------------------------------------------------------


@dataclass
class BudgetFit:
    """What the run will train, its estimate, and what the budget changed."""

    budget_s: float | None
    source: str  # where the budget came from
    full: TimeEstimate  # the settings as they are
    fitted: TimeEstimate  # what will run
    shape: Shape
    changes: list[str] = field(default_factory=list)

    @property
    def bound(self) -> bool:
        """The budget changed what trains."""
        return bool(self.changes)

    @property
    def over(self) -> bool:
        """Even the smallest run the plan could make is estimated past the budget."""
        return self.budget_s is not None and self.fitted.total_s > self.budget_s

    def describe(self) -> dict[str, Any]:
        """The record a version's card and the run log keep."""
        return {
            "budget_seconds": self.budget_s,
            "source": self.source,
            "estimated_seconds": round(self.fitted.total_s, 1),
            "unbudgeted_seconds": round(self.full.total_s, 1),
            "epochs": self.fitted.epochs,
            "examples": self.fitted.examples,
            "of_examples": self.full.examples,
            "steps": self.fitted.steps,
            "bound": self.bound,
            "changes": self.changes,
        }


def eval_sample(work: Workload, budget_s: float, evals: int, speed, seed: int) -> list[int]:
    """Held-out rows whose `evals` evaluations fit EVAL_SHARE of the budget (at least a few)."""
    every = list(range(len(work.eval_tokens)))
    if not every:
        return []
    mean = sum(work.eval_tokens) / len(every)
    allowed = EVAL_SHARE * budget_s / max(evals * mean * speed.eval_seconds_per_token, 1e-9)
    count = min(len(every), max(MIN_EVAL_ROWS, math.floor(allowed)))
    return sorted(random.Random(seed).sample(every, count))


def fit_budget(
    work: Workload, settings: Settings, speed, budget: tuple[float | None, str]
) -> BudgetFit:
    """The largest run (most epochs, then most rows) estimated to fit FIT_SHARE of the budget."""
    train = settings.train
    seconds, source = budget
    everything = list(range(len(work.row_tokens)))
    full_shape = Shape(
        train.epochs, everything, list(range(len(work.eval_tokens))), train.eval_steps
    )
    full = estimate(work, full_shape, train, speed)
    if seconds is None or full.total_s <= seconds * FIT_SHARE:
        return BudgetFit(seconds, source, full, full, full_shape)
    target = seconds * FIT_SHARE

    def shaped(epochs: int, rows: list[int]) -> tuple[Shape, TimeEstimate]:
        per_epoch, steps = _steps(len(rows), train, epochs)
        evals = evaluations(steps, per_epoch, epochs, None)
        shape = Shape(epochs, rows, eval_sample(work, seconds, evals, speed, train.seed), None)
        return shape, estimate(work, shape, train, speed)

    for epochs in range(train.epochs, 0, -1):  # 1 and 2: evaluation first, then epochs
        shape, fitted = shaped(epochs, everything)
        if fitted.total_s <= target:
            break
    else:  # 3: rows, by bisection on how many (time grows with the count)
        low, high = 1, len(everything)
        while low < high:
            middle = (low + high + 1) // 2
            _, trial = shaped(1, stratified_sample(work.strata, middle, train.seed))
            low, high = (middle, high) if trial.total_s <= target else (low, middle - 1)
        shape, fitted = shaped(1, stratified_sample(work.strata, low, train.seed))
    return BudgetFit(seconds, source, full, fitted, shape, _changes(work, full_shape, shape))


def _changes(work: Workload, full: Shape, fitted: Shape) -> list[str]:
    changes = []
    if fitted.eval_steps != full.eval_steps or len(fitted.eval_rows) < len(full.eval_rows):
        changes.append(
            f"evaluation during training at epoch ends only, on {len(fitted.eval_rows)} of "
            f"{len(full.eval_rows)} held-out rows (the gate still uses them all)"
        )
    if fitted.epochs < full.epochs:
        changes.append(f"epochs {full.epochs} -> {fitted.epochs}")
    if len(fitted.rows) < len(full.rows):
        changes.append(
            f"{len(fitted.rows):,} of {len(full.rows):,} examples, sampled keeping each kind's "
            f"and new/replayed share ({_share_line(work.strata, fitted.rows)})"
        )
    return changes


def _share_line(strata: list[str], rows: list[int]) -> str:
    return ", ".join(f"{name} {share:.0%}" for name, share in shares(strata, rows).items())


# -- disk ------------------------------------------------------------------------------------------

# Bytes per parameter of an exported model, by GGUF type (q8_0: 34 bytes per 32 weights).
GGUF_BYTES = {"f32": 4.0, "f16": 2.0, "bf16": 2.0, "q8_0": 34 / 32}


def disk_estimate(
    lora_parameters: int,
    base_parameters: int,
    export_formats: list[str],
    export_quant: str,
    base_bytes_to_build: int = 0,
) -> dict[str, int]:
    """Bytes a run writes, by what: checkpoints, the version, the exports, a base to build.

    Adapters are saved in fp32; a checkpoint adds Adam's two moments; the trainer keeps
    three checkpoints (trainers.py, save_total_limit). A merged export is fp32 (export.py
    merges in fp32 before converting), GGUF and Ollama exports are the whole model at
    run.export_quant.
    """
    adapter = lora_parameters * 4
    per_format = {
        "adapter": adapter,
        "lora-gguf": lora_parameters * 2,
        "merged": base_parameters * 4,
        "gguf": int(base_parameters * GGUF_BYTES.get(export_quant, 2.0)),
        "ollama": int(base_parameters * GGUF_BYTES.get(export_quant, 2.0)),
    }
    parts = {
        "checkpoints": 3 * 3 * adapter,
        "version": adapter,
        "exports": sum(per_format.get(fmt, 0) for fmt in export_formats),
    }
    if base_bytes_to_build:
        parts["base"] = base_bytes_to_build
    return parts
