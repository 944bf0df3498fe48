"""How fast this machine trains a base: a few real steps, measured once and cached.

    speed = cached_speed(paths, key) or measure_speed(paths, ref, settings, plan, key, rows, evals)

The time a run will take (train/budget.py) is its tokens times the seconds per
token measured here, plus loading and evaluation measured the same way. A
formula from parameter counts cannot know how busy the cores are, which kernels
torch picked or what TRL does per step; a probe of the real trainer on the
person's own rows does. What it runs:

1. loads the base exactly as training will (backend, precision, 4-bit) and times it;
2. generates the base's rehearsal answers when they are not cached yet, as the
   first training on this base would (cached per base, so training skips it);
3. trains WARMUP_STEPS + MEASURED_STEPS steps of the real SFT trainer on rows
   sampled from the dataset, at train.batch_size without accumulation (seconds
   per token do not depend on it); the warm-up step pays for lazy initialisation
   and is not counted;
4. evaluates EVAL_ROWS held-out rows (forward only) and times that;
5. generates GENERATE_TOKENS tokens for GENERATE_CHATS chats in one batch, as the
   gate generates its probes and memorisation checks, and times that.

For smollm2-135m on 2 cores that is about a minute and a half; for tiny, seconds.
The result is cached in the machine's shared cache under a key of everything
that changes it (SpeedKey): the base's weights, the device, the thread count, the
plan and the settings that shape a step, and the library versions. It does not
know how busy the machine will be later; the running ETA corrects for that.
"""

from __future__ import annotations

import gc
import hashlib
import json
import random
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from personaforge.atomic import atomic_write_text
from personaforge.bases import BaseRef
from personaforge.config import Settings
from personaforge.paths import Paths
from personaforge.train.plan import Accelerator, TrainingPlan
from personaforge.ui import console

# Bump when what the probe measures changes; old measurements are then ignored.
PROBE_VERSION = 2
WARMUP_STEPS = 1
# Three steps of 4 rows of ~260 tokens is ~3k tokens: about a minute on smollm2-135m. Per-step
# time varies with row length, not at random, so more steps buy little once rows are sampled.
MEASURED_STEPS = 3
EVAL_ROWS = 8
# The gate generates in batches of 16 (evaluate/measure.py GENERATION_BATCH): time one such batch.
GENERATE_CHATS = 16
GENERATE_TOKENS = 24
# Train settings that change the time of one step (epochs, learning rate and the like do not).
STEP_SHAPE = (
    "batch_size",
    "max_seq_length",
    "lora_rank",
    "target_modules",
    "packing",
    "padding_free",
    "loss_head",
    "gradient_checkpointing",
    "liger_kernel",
    "quantization",
    "backend",
)


@dataclass(frozen=True)
class Speed:
    """One probe's measurements."""

    train_seconds_per_token: float
    eval_seconds_per_token: float
    generate_seconds_per_token: float  # per generated token, in a batch of GENERATE_CHATS
    load_seconds: float
    peak_memory_bytes: int
    tokens_measured: int  # training tokens behind train_seconds_per_token
    steps_measured: int
    measured_at: str
    key: dict[str, Any]

    @property
    def train_tokens_per_second(self) -> float:
        return 1 / self.train_seconds_per_token


def speed_key(
    base_fingerprint: str, accel: Accelerator, plan: TrainingPlan, settings: Settings
) -> dict[str, Any]:
    """Everything the measured speed depends on; a change in any of it means a new probe."""
    import torch
    import transformers
    import trl

    train = settings.train.model_dump()
    return {
        "probe": PROBE_VERSION,
        "base": base_fingerprint,
        "device": accel.device,
        "device_name": accel.name,
        "cpu_cores": accel.cpu_cores,
        "threads": torch.get_num_threads(),
        "plan": [plan.backend, plan.precision, plan.quantization, plan.gradient_checkpointing],
        "train": {name: train[name] for name in STEP_SHAPE},
        "versions": [torch.__version__, transformers.__version__, trl.__version__],
    }


def _file(paths: Paths, key: dict[str, Any]) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return paths.probes / f"{digest}.json"


def cached_speed(paths: Paths, key: dict[str, Any]) -> Speed | None:
    path = _file(paths, key)
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return Speed(**data) if data.get("key") == key else None


def _sample(rows: list[dict], count: int, seed: int) -> list[dict]:
    """`count` rows drawn without replacement while they last (a tiny dataset repeats)."""
    rng = random.Random(seed)
    drawn: list[dict] = []
    while len(drawn) < count and rows:
        drawn += rng.sample(rows, min(len(rows), count - len(drawn)))
    return drawn


def _probe_settings(settings: Settings) -> Settings:
    steps = WARMUP_STEPS + MEASURED_STEPS
    train = settings.train.model_copy(
        update={
            "grad_accum": 1,
            "max_steps": steps,
            "epochs": 1,
            "logging_steps": steps,
            "save_steps": 10 * steps,  # no checkpoint inside the probe
            "eval_steps": 10 * steps,  # evaluated once, by hand, below
            "warmup_ratio": 0.0,
        }
    )
    return settings.model_copy(update={"train": train})


def _timed_steps():
    from transformers import TrainerCallback

    class StepTimes(TrainerCallback):
        """Wall time and tokens from the end of the warm-up step to the end of the last."""

        def __init__(self):
            self.marks: list[tuple[float, int]] = []

        def on_step_end(self, args, state, control, **kwargs):
            self.marks.append((time.perf_counter(), int(state.num_input_tokens_seen or 0)))

    return StepTimes()


def _time_generation(loaded) -> float:
    """Seconds to generate GENERATE_TOKENS tokens for GENERATE_CHATS general prompts at once."""
    from personaforge.evaluate.measure import generate_many
    from personaforge.train.rehearsal import rehearsal_prompts

    chats = [[{"role": "user", "content": p}] for p in rehearsal_prompts()[:GENERATE_CHATS]]
    was_training = loaded.model.training
    loaded.model.eval()
    started = time.perf_counter()
    generate_many(loaded.model, loaded.tokenizer, chats, GENERATE_TOKENS, stop_at_eos=False)
    loaded.model.train(was_training)
    return time.perf_counter() - started


def measure_speed(
    paths: Paths,
    ref: BaseRef,
    settings: Settings,
    plan: TrainingPlan,
    key: dict[str, Any],
    rows: list[dict],
    eval_rows: list[dict],
    base_fingerprint: str,
) -> Speed:
    """Run the probe described in the module docstring, cache its result and return it."""
    from transformers.trainer_callback import PrinterCallback

    from personaforge.bases import quiet_libraries
    from personaforge.train.backends import load_for_training
    from personaforge.train.budget import row_tokens
    from personaforge.train.callbacks import peak_memory_bytes
    from personaforge.train.rehearsal import base_answers
    from personaforge.train.trainers import TRAINERS

    quiet_libraries()
    probe = _probe_settings(settings)
    console.print(
        f"measuring this machine's training speed: {MEASURED_STEPS} steps of {ref.name} on "
        "your rows (once per base, device and settings)",
        soft_wrap=True,
    )
    started = time.perf_counter()
    loaded = load_for_training(ref, probe, plan, None)
    load_seconds = time.perf_counter() - started
    if settings.train.rehearsal_share > 0:  # what the first training on this base would do
        base_answers(
            loaded.model,
            loaded.tokenizer,
            paths.rehearsal_cache,
            base_fingerprint,
            also=(paths.models / "rehearsal",),
        )
    generate_s = _time_generation(loaded)
    batch = settings.train.batch_size
    train_sample = _sample(rows, (WARMUP_STEPS + MEASURED_STEPS) * batch, settings.train.seed)
    eval_sample = _sample(eval_rows or rows, EVAL_ROWS, settings.train.seed + 1)
    timer = _timed_steps()
    with tempfile.TemporaryDirectory(prefix="probe-") as scratch:
        trainer = TRAINERS["sft"](
            loaded, probe, plan, Path(scratch), train_sample, eval_sample, [timer]
        )
        trainer.remove_callback(PrinterCallback)
        trainer.train()
        (start, tokens_start), (end, tokens_end) = timer.marks[WARMUP_STEPS - 1], timer.marks[-1]
        eval_started = time.perf_counter()
        trainer.evaluate()
        eval_seconds = time.perf_counter() - eval_started
    eval_tokens = sum(row_tokens(loaded.tokenizer, eval_sample, settings.train.max_seq_length))
    tokens = max(tokens_end - tokens_start, 1)
    speed = Speed(
        train_seconds_per_token=(end - start) / tokens,
        eval_seconds_per_token=eval_seconds / max(eval_tokens, 1),
        generate_seconds_per_token=generate_s / (GENERATE_CHATS * GENERATE_TOKENS),
        load_seconds=round(load_seconds, 2),
        peak_memory_bytes=peak_memory_bytes(),
        tokens_measured=tokens,
        steps_measured=len(timer.marks) - WARMUP_STEPS,
        measured_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        key=key,
    )
    del trainer, loaded
    gc.collect()  # the real training loads its own copy next
    atomic_write_text(_file(paths, key), json.dumps(asdict(speed), indent=2) + "\n")
    console.print(
        f"  {speed.train_tokens_per_second:,.0f} tokens/s training, "
        f"{1 / speed.eval_seconds_per_token:,.0f} evaluating, "
        f"{1 / speed.generate_seconds_per_token:,.0f} generating, loaded in "
        f"{speed.load_seconds:.0f} s; probe took {time.perf_counter() - started:.0f} s",
        soft_wrap=True,
    )
    return speed
