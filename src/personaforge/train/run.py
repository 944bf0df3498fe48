"""`personaforge train`: preflight, load, train (SFT or DPO), checkpoint, save a version.

    result = train(paths, settings, TrainRequest(method="sft"))

1. The dataset (latest unless named) and the base resolve; the parent adapter is
   the one named by --from-version, else the registry's current version, else
   none (--fresh forces none). A local or built-in base sends every library
   offline first, so nothing waits on hub retries.
2. Preflight: the training plan (backend, precision, 4-bit, checkpointing) is
   printed with its reasons; a configuration that will not fit stops here with
   the fix, before any weights load. DPO with too few preference pairs stops
   here too, with the reason, instead of running a no-op.
3. The estimate (train/estimate.py): examples, tokens, steps, the wall time from
   a probe of this machine's speed, memory and disk; under a time budget
   (train.time_budget) the plan fits it (train/budget.py). `--dry-run` stops here.
   The run stops at the budget if the machine turns out slower than the probe
   said, and the version's card records the estimate, the budget and what it bound.
4. The run folder is named by what it trains (method, dataset, base, parent,
   hyperparameters), so re-running the same command after a crash or Ctrl-C
   finds its checkpoints and resumes with the same data order and optimizer state
   (and the same budgeted sample, kept in the folder).
5. SFT mixes in rehearsal rows: the base's own answers to general prompts
   (rehearsal.py), so the adapter keeps what the base could already do.
6. The adapter is saved in PEFT's format under the name the registry gives it
   (`adapters/vN`), with the tokenizer and a personaforge.json card (lineage,
   data, settings, metrics), and registered.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from personaforge.atomic import atomic_directory, atomic_write_text
from personaforge.bases import (
    OFFLINE_FIX,
    BaseRef,
    available_locally,
    base_fingerprint,
    describe_base,
    go_offline_if_possible,
    quiet_libraries,
    resolve_base,
)
from personaforge.config import Settings
from personaforge.dataset.mix import capped_eval_rows
from personaforge.diskfull import writing
from personaforge.errors import UserError, require
from personaforge.paths import Paths
from personaforge.registry import Registry, read_card
from personaforge.train.budget import Shape
from personaforge.train.defaults import current_base, with_base_for_machine
from personaforge.train.estimate import RunEstimate, describe_estimate, estimate_run
from personaforge.train.lock import device_key, hold_accelerator
from personaforge.train.plan import TrainingPlan, detect_accelerator, plan_training
from personaforge.train.trainers import TRAINERS
from personaforge.ui import console

CARD = "personaforge.json"
RUN_STATE = "run.json"
METRICS = "metrics.jsonl"


@dataclass
class TrainRequest:
    method: str = "sft"  # sft or dpo
    dataset_id: str | None = None
    base: str | None = None
    from_version: str | None = None
    fresh: bool = False
    resume: bool = False
    show_progress: bool = True
    stop_after_steps: int | None = None  # simulate a crash (tests, benchmarks)
    dry_run: bool = False  # plan and estimate (probing the machine if needed), train nothing
    # Whether the gate after this training will also measure a current version (for its time
    # estimate); None: whether this home has one. A dry run in a scratch home passes it.
    gate_has_current: bool | None = None


@dataclass
class TrainResult:
    run_dir: Path
    plan: TrainingPlan
    interrupted: bool
    resumed_from_step: int | None
    steps: int
    history: list[dict[str, Any]]
    version: str | None = None
    folder: Path | None = None
    card: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None  # why nothing was trained (DPO with too few pairs)
    estimate: RunEstimate | None = None


# -- inputs ------------------------------------------------------------------------------------


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def load_rows(
    paths: Paths, dataset_id: str | None, method: str
) -> tuple[dict, list[dict], list[dict]]:
    from personaforge.dataset.build import load_manifest

    manifest = load_manifest(paths, dataset_id)
    folder = paths.datasets / manifest["id"]
    names = (
        ("preference.jsonl", "preference_eval.jsonl")
        if method == "dpo"
        else ("train.jsonl", "eval.jsonl")
    )
    train_rows, eval_rows = (_read_jsonl(folder / name) for name in names)
    if not train_rows:
        what = "preference pairs (corrections)" if method == "dpo" else "training examples"
        raise UserError(
            f"dataset {manifest['id']} has no {what}; build one with `personaforge dataset build`"
        )
    return manifest, train_rows, eval_rows


def resolve_parent(registry: Registry, request: TrainRequest) -> str | None:
    if request.fresh:
        if request.from_version:
            raise UserError("--fresh and --from-version exclude each other")
        return None
    if request.from_version:
        registry.get(request.from_version)  # an unknown name is a UserError listing the known ones
        if not (registry.folder(request.from_version) / "adapter_model.safetensors").exists():
            raise UserError(f"{request.from_version} has no adapter weights (pruned?)")
        return request.from_version
    current = registry.current()
    if current:
        return current
    if request.method == "dpo":  # DPO refines an SFT adapter: the newest one, when none is promoted
        sft = [v.name for v in registry.versions() if v.method == "sft"]
        if not sft:
            raise UserError(
                "DPO builds on an SFT adapter and there is none yet; run `personaforge train` first"
            )
        return sft[-1]
    return None


# -- preflight -------------------------------------------------------------------------------------


def preflight(ref: BaseRef, settings: Settings) -> TrainingPlan:
    info = describe_base(ref)
    architecture = (info.config or {}).get("architectures", [None])[0] if info.config else None
    plan = plan_training(settings.train, detect_accelerator(), info, architecture)
    if plan.problems:
        numbered = "; ".join(f"({i}) {p}" for i, p in enumerate(plan.problems, start=1))
        raise UserError(f"training would not run: {numbered}")
    return plan


def run_key(
    method: str, manifest: dict, ref: BaseRef, parent: str | None, settings: Settings
) -> str:
    fingerprint = {
        "method": method,
        "dataset": manifest["id"],
        "base": base_fingerprint(ref),
        "parent": parent,
        "train": settings.train.model_dump(),
        "seed": settings.train.seed,
    }
    return hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()[:10]


def _trainable(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def last_checkpoint(run_dir: Path) -> Path | None:
    checkpoints = [
        p
        for p in run_dir.glob("checkpoint-*")
        if p.is_dir() and (p / "trainer_state.json").exists()
    ]
    return max(checkpoints, key=lambda p: int(p.name.split("-")[1]), default=None)


def prepare_run_dir(paths: Paths, key: str, method: str, resume: bool) -> tuple[Path, Path | None]:
    run_dir = paths.runs / f"{method}-{key}"
    state_path = run_dir / RUN_STATE
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    if state.get("status") == "finished":  # the same training again: start it over
        shutil.rmtree(run_dir)
        state = {}
    checkpoint = last_checkpoint(run_dir) if run_dir.exists() else None
    if resume and checkpoint is None:
        raise UserError(f"nothing to resume: no checkpoint for this training in {run_dir}")
    run_dir.mkdir(parents=True, exist_ok=True)
    if checkpoint is None and (run_dir / METRICS).exists():
        (run_dir / METRICS).unlink()  # a run that died before its first checkpoint starts clean
    atomic_write_text(state_path, json.dumps({**state, "status": "running"}))
    return run_dir, checkpoint


# -- the whole run --------------------------------------------------------------------------------------


def describe_plan(plan: TrainingPlan) -> list[str]:
    memory = f", about {plan.memory.total / 2**30:.1f} GiB" if plan.memory else ""
    head = (
        f"plan: {plan.backend} backend on {plan.device}, {plan.precision}, "
        f"{'4-bit QLoRA' if plan.quantization == '4bit' else 'LoRA'}, gradient checkpointing "
        f"{plan.checkpointing}{memory}"
    )
    return [head, *[f"  - {reason}" for reason in plan.reasons]]


def too_few_pairs(method: str, rows: list[dict], settings: Settings) -> str | None:
    """Why DPO would learn nothing from these pairs, or None when there are enough."""
    if method != "dpo" or len(rows) >= settings.train.dpo_min_pairs:
        return None
    return (
        f"DPO skipped: {len(rows)} training preference pairs, at least "
        f"{settings.train.dpo_min_pairs} are needed (train.dpo_min_pairs); add corrections "
        "(feedback/*.jsonl with prompt, chosen, rejected) and rebuild the dataset"
    )


def train(paths: Paths, settings: Settings, request: TrainRequest) -> TrainResult:
    if request.method not in TRAINERS:
        raise UserError(f"unknown method '{request.method}'; choose sft or dpo")
    require("trl", extra="train", feature="training")
    manifest, train_rows, eval_rows = load_rows(paths, request.dataset_id, request.method)
    if request.method == "sft":
        # The held-out loss before and after is read on the rows the gate measures: the
        # whole split grows with the store (12 rows in the first month of the continual
        # bench, 30 by the sixth), and a cycle's cost should not.
        eval_rows = capped_eval_rows(eval_rows, settings.gate.max_eval_examples)
    if request.base is None:
        settings, chosen = with_base_for_machine(paths, settings)
        if chosen:
            console.print(chosen, markup=False, soft_wrap=True)
    ref = resolve_base(request.base or settings.model.base, paths, settings.model.revision)
    offline = go_offline_if_possible(ref)
    if offline:
        console.print(offline)
        if not describe_base(ref).available_locally:
            raise UserError(
                f"base '{ref.name}' is not on this machine and the hub does not answer; "
                f"bases available here: {', '.join(available_locally(paths))}; fix: {OFFLINE_FIX}"
            )
    with Registry.open(paths) as registry:
        parent = resolve_parent(registry, request)
    if parent:
        parent_base = read_card(paths.adapters / parent)["base"]["fingerprint"]
        if parent_base != base_fingerprint(ref):
            raise UserError(
                f"adapter {parent} was trained on another base; use --fresh or --base to match it"
            )
    plan = preflight(ref, settings)
    skipped = too_few_pairs(request.method, train_rows, settings)
    if skipped:
        return TrainResult(paths.runs, plan, False, None, 0, [], skipped=skipped)
    # The trainer runs the plan's micro-batch; the card and the run key keep the settings.
    planned = settings.model_copy(update={"train": plan.applied(settings.train)})
    has_current = request.gate_has_current
    if has_current is None:
        has_current = current_base(paths) is not None
    # The gate measures the base (cached after the first SFT gate on a dataset), the
    # candidate and the current version; DPO's gate finds the base and its SFT parent cached.
    gate_models = 1 if request.method == "dpo" else 2 + has_current
    what = (paths, planned, ref, plan, request.method, train_rows, eval_rows, base_fingerprint(ref))
    if request.dry_run:  # the caller prints; a probe is short: no lock, no run folder
        timing = estimate_run(*what, measure=True, gate_models=gate_models)
        return TrainResult(paths.runs, plan, False, None, 0, [], estimate=timing)
    for line in describe_plan(plan):
        console.print(line)
    with hold_accelerator(paths.locks, device_key(plan.device)):
        timing = estimate_run(*what, gate_models=gate_models)
        for line in describe_estimate(timing):
            console.print(line, soft_wrap=True, markup=False)
        key = run_key(request.method, manifest, ref, parent, settings)
        run_dir, checkpoint = prepare_run_dir(paths, key, request.method, request.resume)
        shape = _run_shape(run_dir, checkpoint, timing)
        if checkpoint is not None:
            console.print(f"resuming from {checkpoint.name} in {run_dir}")
        inputs = TrainInputs(
            manifest, train_rows, eval_rows, ref, parent, plan, run_dir, checkpoint, timing, shape
        )
        return _train_locked(paths, settings, request, inputs)


def _run_shape(run_dir: Path, checkpoint: Path | None, timing: RunEstimate) -> Shape | None:
    """What this run trains under its budget; a resumed run keeps the one it started with."""
    state_path = run_dir / RUN_STATE
    state = json.loads(state_path.read_text())
    if checkpoint is not None and "shape" in state:
        return Shape(**state["shape"])
    shape = timing.fit.shape if timing.fit is not None and timing.fit.bound else None
    if shape is not None:
        atomic_write_text(state_path, json.dumps({**state, "shape": asdict(shape)}))
    return shape


@dataclass
class TrainInputs:
    """What `train` resolved before the accelerator is taken."""

    manifest: dict[str, Any]
    train_rows: list[dict[str, Any]]
    eval_rows: list[dict[str, Any]]
    ref: BaseRef
    parent: str | None
    plan: TrainingPlan
    run_dir: Path
    checkpoint: Path | None
    estimate: RunEstimate
    shape: Shape | None  # what the budget left to train; None: everything, as set


def _rehearsal_rows(paths: Paths, settings: Settings, ref: BaseRef, loaded) -> list[dict]:
    """The base's answers to the rehearsal prompts when SFT mixes them in or anchors on them."""
    from personaforge.train.rehearsal import base_answers

    if settings.train.rehearsal_share <= 0 and settings.train.anchor_weight <= 0:
        return []
    return base_answers(
        loaded.model,
        loaded.tokenizer,
        paths.rehearsal_cache,
        base_fingerprint(ref),
        also=(paths.models / "rehearsal",),
    )


def _train_locked(
    paths: Paths, settings: Settings, request: TrainRequest, inputs: TrainInputs
) -> TrainResult:
    from transformers.trainer_callback import PrinterCallback

    from personaforge.train.backends import load_for_training
    from personaforge.train.callbacks import (
        EpochCheckpointCallback,
        InterruptCallback,
        ProgressCallback,
        StopAfterStepsCallback,
    )

    run_dir, checkpoint, parent = inputs.run_dir, inputs.checkpoint, inputs.parent
    quiet_libraries()
    started = time.monotonic()
    # DPO refines its SFT parent as it is; only SFT may start from a shrunk parent.
    scale = settings.train.parent_scale if request.method == "sft" else 1.0
    loaded = load_for_training(
        inputs.ref, settings, inputs.plan, paths.adapters / parent if parent else None, scale
    )
    person_rows, eval_rows, shaped = _shaped(settings, inputs)
    train_rows, extra = person_rows, {}
    if request.method == "sft":
        from personaforge.train.rehearsal import mix_in

        rehearsal = _rehearsal_rows(paths, settings, inputs.ref, loaded)
        train_rows = mix_in(person_rows, rehearsal, settings.train.rehearsal_share)
        extra["anchor_rows"] = rehearsal
    timing = inputs.estimate
    progress = ProgressCallback(
        run_dir / METRICS, show=request.show_progress, planned_s=timing.seconds
    )
    interrupt = InterruptCallback()
    callbacks = [progress, EpochCheckpointCallback(), interrupt]
    deadline = _deadline(started, timing, eval_rows)
    if deadline is not None:
        callbacks.append(deadline)
    if request.stop_after_steps:
        callbacks.append(StopAfterStepsCallback(request.stop_after_steps))
    trainer = TRAINERS[request.method](
        loaded, shaped, inputs.plan, run_dir, train_rows, eval_rows, callbacks, **extra
    )
    trainer.remove_callback(PrinterCallback)  # our ProgressCallback shows and logs the same numbers
    if eval_rows and checkpoint is None:
        before = trainer.evaluate()
        progress.on_log(trainer.args, trainer.state, trainer.control, logs=before)
    # A checkpoint is the adapter in fp32 and Adam's two moments: 3 x the adapter's bytes
    # (train/budget.py disk_estimate); the trainer writes one at each save step.
    try:
        with writing(run_dir, 3 * 4 * _trainable(trainer.model)):
            trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    finally:
        interrupt.restore()
    state = trainer.state
    stopped = deadline.stopped_at if deadline is not None else None
    finished = (state.global_step >= state.max_steps or stopped is not None) and not (
        interrupt.interrupted
    )
    result = TrainResult(
        run_dir,
        inputs.plan,
        not finished,
        _step_of(checkpoint),
        state.global_step,
        progress.history,
        estimate=timing,
    )
    if not finished:
        atomic_write_text(
            run_dir / RUN_STATE, json.dumps({"status": "interrupted", "step": state.global_step})
        )
        return result
    after = trainer.evaluate() if eval_rows else {}
    metrics = summarize(run_dir, after, time.monotonic() - started)
    metrics["rehearsal_rows"] = len(train_rows) - len(person_rows)
    metrics["time"] = _time_record(timing, inputs.shape, stopped, state.max_steps)
    trained = replace(inputs, train_rows=person_rows, eval_rows=eval_rows)  # what the card counts
    version, folder, card = save_version(
        paths, trainer, loaded.tokenizer, settings, request, trained, metrics
    )
    atomic_write_text(run_dir / RUN_STATE, json.dumps({"status": "finished", "version": version}))
    result.version, result.folder, result.card = version, folder, card
    return result


# Evaluation "only at epoch ends": an interval no run reaches (EpochCheckpointCallback
# still evaluates at each epoch end).
NEVER = 10**9


def _shaped(settings: Settings, inputs: TrainInputs) -> tuple[list[dict], list[dict], Settings]:
    """(the person's rows, held-out rows, settings) the trainer gets: the plan's micro-batch,
    and the budget's shape when it bound the run."""
    shape = inputs.shape
    train = inputs.plan.applied(settings.train)
    if shape is None:
        return inputs.train_rows, inputs.eval_rows, settings.model_copy(update={"train": train})
    train = train.model_copy(
        update={"epochs": shape.epochs, "eval_steps": shape.eval_steps or NEVER}
    )
    return (
        [inputs.train_rows[i] for i in shape.rows],
        [inputs.eval_rows[i] for i in shape.eval_rows],
        settings.model_copy(update={"train": train}),
    )


def _deadline(started: float, timing: RunEstimate, eval_rows: list[dict]):
    """A callback stopping at the budget, keeping time for the last evaluation; None without one."""
    from personaforge.train.callbacks import DeadlineCallback

    budget_s = timing.budget[0]
    if budget_s is None:
        return None
    reserve = DEADLINE_RESERVE_S
    held_out = timing.work.eval_tokens
    if timing.speed is not None and held_out and eval_rows:
        mean = sum(held_out) / len(held_out)
        reserve += len(eval_rows) * mean * timing.speed.eval_seconds_per_token
    return DeadlineCallback(started + budget_s, reserve)


# Kept free at the end of a budget for saving the adapter and writing its card.
DEADLINE_RESERVE_S = 5.0


def _time_record(
    timing: RunEstimate, shape: Shape | None, stopped: int | None, max_steps: int
) -> dict[str, Any]:
    """The version card's account of time: the estimate, the budget, and what the budget did."""
    record = timing.record()
    record["bound"] = shape is not None or stopped is not None
    if stopped is not None:
        record["stopped_at_step"] = stopped
        record["of_steps"] = max_steps
    return record


def _step_of(checkpoint: Path | None) -> int | None:
    return int(checkpoint.name.split("-")[1]) if checkpoint else None


def _first(history: list[dict], key: str):
    return next((h[key] for h in history if key in h), None)


def _mean_of_last_epoch(history: list[dict], key: str) -> float | None:
    """The mean of a per-step number over the final epoch: one batch alone is noise."""
    rows = [h for h in history if key in h]
    if not rows:
        return None
    last_epoch = math.ceil(rows[-1]["epoch"]) - 1
    tail = [h[key] for h in rows if h["epoch"] > last_epoch] or [rows[-1][key]]
    return round(sum(tail) / len(tail), 4)


def summarize(run_dir: Path, eval_after: dict[str, float], seconds: float) -> dict[str, Any]:
    """Final metrics from the whole run's log (all sessions of a resumed run)."""
    history = _read_jsonl(run_dir / METRICS)
    losses = [h["loss"] for h in history if "loss" in h]
    last = history[-1] if history else {}
    metrics = {
        "train_loss_first": losses[0] if losses else None,
        "train_loss_last": losses[-1] if losses else None,
        "eval_loss_before": _first(history, "eval_loss"),
        "eval_loss_after": eval_after.get("eval_loss"),
        "steps": last.get("step"),
        "tokens_seen": last.get("tokens_seen"),
        "tokens_per_second": last.get("tokens_per_second"),
        "peak_memory_bytes": max((h.get("peak_memory_bytes", 0) for h in history), default=0),
        "seconds_this_session": round(seconds, 1),
    }
    if any("rewards/accuracies" in h for h in history):  # DPO
        metrics["dpo"] = {
            # Share of training pairs where the adapter prefers chosen over rejected, and by
            # how much (beta-scaled log-ratio vs the reference): first step, then the last epoch.
            "reward_accuracy_first": _first(history, "rewards/accuracies"),
            "reward_accuracy_last_epoch": _mean_of_last_epoch(history, "rewards/accuracies"),
            "reward_margin_first": _first(history, "rewards/margins"),
            "reward_margin_last_epoch": _mean_of_last_epoch(history, "rewards/margins"),
            # The same on held-out pairs it never trained on.
            "heldout_accuracy_before": _first(history, "eval_rewards/accuracies"),
            "heldout_accuracy_after": eval_after.get("eval_rewards/accuracies"),
            "heldout_margin_before": _first(history, "eval_rewards/margins"),
            "heldout_margin_after": eval_after.get("eval_rewards/margins"),
        }
    return metrics


def save_version(paths, trainer, tokenizer, settings, request, inputs: TrainInputs, metrics):
    """Write the adapter as the registry's next version, atomically, and register it."""
    import torch

    manifest, ref, plan = inputs.manifest, inputs.ref, inputs.plan
    dataset_manifest = paths.datasets / manifest["id"] / "manifest.json"
    with Registry.open(paths) as registry:
        version = registry.next_name()
        card = {
            "version": version,
            "method": request.method,
            "status": "candidate",
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "base": {
                "name": ref.name,
                "kind": ref.kind,
                "location": ref.location,
                "revision": ref.revision,
                "fingerprint": base_fingerprint(ref),
            },
            "parent": inputs.parent,
            "dataset": {
                "id": manifest["id"],
                "manifest_sha256": hashlib.sha256(dataset_manifest.read_bytes()).hexdigest(),
                "train_examples": len(inputs.train_rows),
                "eval_examples": len(inputs.eval_rows),
            },
            "hyperparameters": settings.train.model_dump(),
            "backend": plan.backend,
            "device": plan.device,
            "device_name": torch.cuda.get_device_name(0) if plan.device == "cuda" else "cpu",
            "precision": plan.precision,
            "quantization": plan.quantization,
            "metrics": metrics,
            "run_dir": str(inputs.run_dir),
        }
        folder = registry.folder(version)
        with atomic_directory(folder) as staging:
            trainer.model.save_pretrained(str(staging))  # PEFT: adapter_config.json + safetensors
            tokenizer.save_pretrained(str(staging))
            shutil.copy2(inputs.run_dir / METRICS, staging / METRICS)
            (staging / CARD).write_text(json.dumps(card, indent=2) + "\n")
        registry.register(version)
    return version, folder, card
