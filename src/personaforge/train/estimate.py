"""The numbers a user sees before training: examples, tokens, steps, time, memory, disk.

    timing = estimate_run(paths, settings, ref, plan, "sft", train_rows, eval_rows, fingerprint)
    for line in describe_estimate(timing): print(line)

`train --dry-run`, `run --dry-run` and the start of every training print the
same lines from the same numbers. The time comes from the probe (train/probe.py):
measured now when no probe for this base, device and settings is cached, which a
budget needs (it decides what trains); without a budget an uncached probe is not
worth a second model load (an 8B model takes minutes), so the run says so and
shows its running ETA only. DPO is timed from the SFT probe: each pair runs the
chosen and the rejected reply forward and backward (both counted in its tokens)
and once more forward through the reference (the adapter switched off), so a
token costs about DPO_TOKEN_COST of an SFT token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from personaforge.bases import BaseRef, builtin, describe_base, read_builtin_card
from personaforge.config import Settings
from personaforge.paths import Paths
from personaforge.train.budget import (
    BudgetFit,
    Workload,
    budget_seconds,
    disk_estimate,
    fit_budget,
    human_seconds,
    row_tokens,
    stratum,
)
from personaforge.train.plan import GiB, TrainingPlan, detect_accelerator, lora_parameter_count
from personaforge.train.probe import Speed, cached_speed, measure_speed, speed_key
from personaforge.ui import human_bytes

# Forward+backward costs about 3 forwards; the reference adds one forward: (3 + 1) / 3.
DPO_TOKEN_COST = 4 / 3


@dataclass(frozen=True)
class GateEstimate:
    """The gate after training: each model it measures reads and generates the same tokens."""

    models: int  # the base and the candidate, and the current version when there is one
    read_tokens: int  # held-out replies (up to gate.max_eval_examples) and general text
    generated_tokens: int  # probes, memorisation prompts and showcase, gate.max_new_tokens each
    seconds: float


@dataclass
class RunEstimate:
    """Everything the plan printed, kept for the version's card and the run record."""

    method: str
    examples: int
    eval_examples: int
    tokens_per_epoch: int  # the person's rows only
    speed: Speed | None
    speed_cached: bool
    fit: BudgetFit | None  # None without a speed
    budget: tuple[float | None, str]
    memory_estimate_bytes: int | None
    work: Workload
    disk: dict[str, int] = field(default_factory=dict)
    gate: GateEstimate | None = None

    @property
    def seconds(self) -> float | None:
        return self.fit.fitted.total_s if self.fit else None

    def record(self) -> dict[str, Any]:
        """What the version's card keeps, to compare with what the run took."""
        record: dict[str, Any] = {
            "budget_seconds": self.budget[0],
            "budget_source": self.budget[1],
        }
        if self.fit is not None and self.speed is not None:
            record.update(self.fit.describe())
            record["probe_tokens_per_second"] = round(self.speed.train_tokens_per_second, 1)
            record["probe_measured_at"] = self.speed.measured_at
        return record


def _rehearsal_tokens(paths: Paths, tokenizer, fingerprint: str, max_length: int) -> list[int]:
    """Token counts of the base's rehearsal rows: the cached ones, else the prompts plus a full
    answer each (what generation would make at most)."""
    from personaforge.train.rehearsal import ANSWER_TOKENS, cache_path, rehearsal_prompts

    for place in (paths.models / "rehearsal", paths.rehearsal_cache):
        path = cache_path(place, fingerprint)
        if path.exists():
            rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            return row_tokens(tokenizer, rows, max_length)
    prompts = [
        {"messages": [{"role": "user", "content": p}, {"role": "assistant", "content": ""}]}
        for p in rehearsal_prompts()
    ]
    return [n + ANSWER_TOKENS for n in row_tokens(tokenizer, prompts, max_length)]


def workload(
    paths: Paths,
    settings: Settings,
    tokenizer,
    method: str,
    rows: list[dict],
    eval_rows: list[dict],
    fingerprint: str,
) -> Workload:
    max_length = settings.train.max_seq_length
    rehearsal: list[int] = []
    if method == "sft" and settings.train.rehearsal_share > 0:
        rehearsal = _rehearsal_tokens(paths, tokenizer, fingerprint, max_length)
    return Workload(
        row_tokens=row_tokens(tokenizer, rows, max_length),
        strata=[stratum(row) for row in rows],
        rehearsal_tokens=rehearsal,
        eval_tokens=row_tokens(tokenizer, eval_rows, max_length),
    )


def _dpo_speed(speed: Speed) -> Speed:
    return Speed(
        **{
            **speed.__dict__,
            "train_seconds_per_token": speed.train_seconds_per_token * DPO_TOKEN_COST,
            "eval_seconds_per_token": speed.eval_seconds_per_token * 2,  # policy and reference
        }
    )


def _dpo_settings(settings: Settings) -> Settings:
    """DPO's epochs in the places the time model reads them; DPO mixes in no rehearsal."""
    train = settings.train.model_copy(
        update={"epochs": settings.train.dpo_epochs, "rehearsal_share": 0.0}
    )
    return settings.model_copy(update={"train": train})


def gate_estimate(
    settings: Settings, ref: BaseRef, tokenizer, work: Workload, speed: Speed, models: int
) -> GateEstimate:
    """The gate's time (evaluate/measure.py `measure`, once per model it has not measured):
    forward over the held-out replies and the general text, greedy generation for the
    probes, the memorisation prompts and the showcase. Leak prompts (one per kind of secret
    in the store) and held-out preference pairs are few and left out."""
    from personaforge.evaluate.measure import PROBES, SHOWCASE, general_texts

    gate, max_length = settings.gate, settings.train.max_seq_length
    held_out = min(len(work.eval_tokens), gate.max_eval_examples)
    mean = sum(work.eval_tokens) / max(len(work.eval_tokens), 1)
    general = general_texts(ref.location, gate.general_texts)
    lengths = tokenizer(general, add_special_tokens=False)["input_ids"] if general else []
    read = round(mean * held_out) + sum(min(len(ids), max_length) for ids in lengths)
    chats = len(PROBES) + min(gate.memorisation_prompts, held_out) + len(SHOWCASE)
    generated = chats * gate.max_new_tokens
    per_model = read * speed.eval_seconds_per_token + generated * speed.generate_seconds_per_token
    return GateEstimate(models, read, generated, speed.load_seconds + models * per_model)


def _base_bytes_to_build(ref: BaseRef) -> int:
    """A built-in base not built yet costs its folder: the card's size, else 4 bytes a weight."""
    known = builtin(ref.name) if ref.kind == "builtin" else None
    if known is None or read_builtin_card(Path(ref.location)) is not None:
        return 0
    parameters = describe_base(ref).parameters or 0
    return parameters * 4


def estimate_run(
    paths: Paths,
    settings: Settings,
    ref: BaseRef,
    plan: TrainingPlan,
    method: str,
    rows: list[dict],
    eval_rows: list[dict],
    fingerprint: str,
    measure: bool | None = None,
    gate_models: int = 2,
) -> RunEstimate:
    """The run's numbers; `measure` forces (True) or forbids (False) a probe when none is
    cached; by default a probe runs only when a budget needs one. `gate_models`: how many
    models the gate will measure after this training (GateEstimate)."""
    from personaforge.train.backends import _load_tokenizer

    accel = detect_accelerator()
    budget = budget_seconds(settings.train, plan.device)
    tokenizer = _load_tokenizer(ref, settings)
    work = workload(paths, settings, tokenizer, method, rows, eval_rows, fingerprint)
    key = speed_key(fingerprint, accel, plan, settings)
    speed = cached_speed(paths, key)
    cached = speed is not None
    if speed is None and (measure if measure is not None else budget[0] is not None):
        sft_rows, sft_evals = (rows, eval_rows) if method == "sft" else (_as_sft(rows), [])
        speed = measure_speed(paths, ref, settings, plan, key, sft_rows, sft_evals, fingerprint)
        if method == "sft" and settings.train.rehearsal_share > 0:  # the probe cached them
            work = workload(paths, settings, tokenizer, method, rows, eval_rows, fingerprint)
    fit = None
    if speed is not None:
        if method == "dpo":  # pairs are few: timed and guarded by the budget, never sampled
            fit = fit_budget(work, _dpo_settings(settings), _dpo_speed(speed), (None, budget[1]))
            fit.budget_s = budget[0]
        else:
            fit = fit_budget(work, settings, speed, budget)
    info = describe_base(ref)
    lora = lora_parameter_count(info, settings.train.lora_rank, settings.train.target_modules)
    disk = disk_estimate(
        lora,
        info.parameters or 0,
        settings.run.export_formats,
        settings.run.export_quant,
        _base_bytes_to_build(ref),
    )
    gate = gate_estimate(settings, ref, tokenizer, work, speed, gate_models) if speed else None
    return RunEstimate(
        method,
        len(rows),
        len(eval_rows),
        sum(work.row_tokens),
        speed,
        cached,
        fit,
        budget,
        plan.memory.total if plan.memory else None,
        work,
        disk,
        gate,
    )


def _as_sft(rows: list[dict]) -> list[dict]:
    """Preference pairs as chats ending in the chosen reply: rows the SFT probe can time."""
    return [
        {"messages": [*row["prompt"], {"role": "assistant", "content": row["chosen"]}]}
        for row in rows
    ]


def describe_estimate(run: RunEstimate) -> list[str]:
    """The plan's lines, the same for --dry-run and the start of a run."""
    what = "preference pairs" if run.method == "dpo" else "examples"
    lines = []
    if run.fit is not None:
        full, fitted = run.fit.full, run.fit.fitted
        lines.append(
            f"data: {full.examples:,} {what} (+{full.rehearsal_rows} rehearsal rows), "
            f"{run.eval_examples:,} held out; {run.tokens_per_epoch:,} tokens per epoch"
        )
        lines.append(
            f"as set: {full.epochs} epochs, {full.steps:,} steps, {full.tokens:,} tokens: "
            f"about {human_seconds(full.total_s)}"
        )
        speed = run.speed
        assert speed is not None
        where = "cached probe" if run.speed_cached else "probe just now"
        lines.append(
            f"speed on this machine ({where}, {speed.measured_at[:16].replace('T', ' ')}): "
            f"{speed.train_tokens_per_second:,.0f} tokens/s training, "
            f"{1 / speed.eval_seconds_per_token:,.0f} evaluating, "
            f"{1 / speed.generate_seconds_per_token:,.0f} generating, "
            f"load {speed.load_seconds:.0f} s"
        )
    else:
        lines.append(
            f"data: {run.examples:,} {what}, {run.eval_examples:,} held out; "
            f"{run.tokens_per_epoch:,} tokens per epoch"
        )
        lines.append(
            "time: not estimated (no budget and no probe cached for this base, device and "
            "settings; `personaforge train --dry-run` measures one)"
        )
    budget_s, source = run.budget
    if budget_s is None:
        lines.append(f"budget: none ({source})")
    else:
        lines.append(f"budget: {human_seconds(budget_s)} ({source})")
    if run.fit is not None:
        fit = run.fit
        for change in fit.changes:
            lines.append(f"  to fit: {change}")
        fitted = fit.fitted
        lines.append(
            f"plan: {fitted.examples:,} {what}, {fitted.epochs} epoch"
            f"{'s' if fitted.epochs > 1 else ''}, {fitted.steps:,} steps, {fitted.tokens:,} "
            f"tokens: about {human_seconds(fitted.total_s)} (load {fitted.load_s:.0f} s, "
            f"training {human_seconds(fitted.train_s)}, {fitted.evaluations} evaluations "
            f"{human_seconds(fitted.eval_s)})"
        )
        if run.gate is not None:
            gate = run.gate
            who = {1: "this version", 2: "the base and this version"}.get(
                gate.models, "the base, this version and the current one"
            )
            lines.append(
                f"gate afterwards: about {human_seconds(gate.seconds)} ({who}: "
                f"{gate.read_tokens:,} tokens read and {gate.generated_tokens:,} generated each)"
            )
        if fit.over:
            lines.append(
                f"warning: about {human_seconds(fitted.total_s)} is more than the budget of "
                f"{human_seconds(budget_s or 0)} even at its smallest; training stops at the "
                "budget (raise train.time_budget, or lower train.max_seq_length)"
            )
    lines.append(_memory_line(run))
    lines.append(
        "disk: about "
        + human_bytes(sum(run.disk.values()))
        + " ("
        + ", ".join(f"{name} {human_bytes(size)}" for name, size in run.disk.items())
        + ")"
    )
    return lines


def _memory_line(run: RunEstimate) -> str:
    parts = []
    if run.speed is not None:
        parts.append(f"{run.speed.peak_memory_bytes / GiB:.1f} GiB measured by the probe")
    if run.memory_estimate_bytes:
        parts.append(f"{run.memory_estimate_bytes / GiB:.1f} GiB by the plan's formula (errs high)")
    return "peak memory: " + ("; ".join(parts) if parts else "unknown")
