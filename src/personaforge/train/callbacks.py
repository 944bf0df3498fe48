"""Trainer callbacks: live progress with a JSONL metrics log, epoch checkpoints, Ctrl-C, a deadline.

They plug into any transformers Trainer (TRL's SFTTrainer and DPOTrainer included),
so the hf and unsloth backends report the same way.
"""

from __future__ import annotations

import json
import resource
import signal
import sys
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from personaforge.ui import console, step_progress


def peak_memory_bytes() -> int:
    """Peak accelerator memory on CUDA, else the process's peak resident memory."""
    import torch

    if torch.cuda.is_available():
        return int(torch.cuda.max_memory_allocated())
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


class ProgressCallback(TrainerCallback):
    """Step of total, loss, eval loss, lr, tokens/s, ETA and peak memory; every log line to JSONL.

    The line shows the loss and learning rate logged *for the step it names*, or a dash
    when nothing was logged at that step: never an older step's numbers carried forward.
    (The Trainer calls on_step_end before it logs that step, so the log fills the dash in.)
    """

    def __init__(self, metrics_path: Path, show: bool = True, planned_s: float | None = None):
        self.metrics_path = metrics_path
        self.show = show
        self.planned_s = planned_s  # the plan's estimate of the training loop, shown beside the ETA
        self._progress_cm = None
        self._progress = None
        self._started = 0.0
        self._start_step = 0
        self._start_tokens = 0
        self.last_eval_loss: float | None = None
        self.history: list[dict[str, Any]] = []
        self._step_values: dict[str, Any] = {"loss": "-", "lr": "-"}

    def on_train_begin(self, args, state, control, **kwargs):
        self._started = time.monotonic()
        self._start_step = state.global_step  # non-zero when resuming
        self._start_tokens = int(getattr(state, "num_input_tokens_seen", 0) or 0)
        self._progress_cm = step_progress(state.max_steps, "train", enabled=self.show)
        self._progress = self._progress_cm.__enter__()

    def tokens_per_second(self, state) -> float:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        return (int(getattr(state, "num_input_tokens_seen", 0) or 0) - self._start_tokens) / elapsed

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = dict(logs or {})
        if "eval_loss" in logs:
            self.last_eval_loss = float(logs["eval_loss"])
        record = {
            "step": state.global_step,
            "max_steps": state.max_steps,  # lets a reader (the dashboard) show progress and ETA
            "epoch": round(state.epoch or 0.0, 4),
            "time": round(time.monotonic() - self._started, 3),
            "tokens_seen": int(getattr(state, "num_input_tokens_seen", 0) or 0),
            "tokens_per_second": round(self.tokens_per_second(state), 1),
            "peak_memory_bytes": peak_memory_bytes(),
            **logs,
        }
        self.history.append(record)
        with self.metrics_path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        if "loss" in logs:
            self._step_values = {"loss": logs["loss"], "lr": logs.get("learning_rate", "-")}
            self._show(state)

    def on_step_end(self, args, state, control, **kwargs):
        self._step_values = {"loss": "-", "lr": "-"}  # this step has not been logged yet
        if self._progress is not None and self._progress.is_live:
            self._show(state)

    def _show(self, state) -> None:
        if self._progress is None:
            return
        metrics: dict[str, Any] = dict(self._step_values)
        if self.last_eval_loss is not None:
            metrics["eval_loss"] = self.last_eval_loss
        metrics["tok/s"] = round(self.tokens_per_second(state))
        metrics["mem"] = f"{peak_memory_bytes() / 2**30:.2f}G"
        if self.planned_s is not None:  # the estimate at the start; the ETA beside it corrects it
            metrics["plan"] = f"{self.planned_s / 60:.1f}m"
        self._progress.update(state.global_step, **metrics)

    def on_train_end(self, args, state, control, **kwargs):
        if self._progress_cm is not None:
            self._progress_cm.__exit__(None, None, None)
            self._progress_cm = self._progress = None


class EpochCheckpointCallback(TrainerCallback):
    """A checkpoint and an eval at every epoch end, besides the every-N-steps ones.

    Not when that step's checkpoint is already written: the trainer saves a step again into
    the same folder, file by file, and a kill in that second save left the first save's
    trainer_state.json (what marks a checkpoint whole) beside a truncated optimizer.pt.
    """

    def __init__(self):
        self.saved_step: int | None = None
        self.evaluated_step: int | None = None

    def on_save(self, args, state, control, **kwargs):
        self.saved_step = state.global_step

    def on_evaluate(self, args, state, control, **kwargs):
        self.evaluated_step = state.global_step

    def on_epoch_end(self, args, state, control, **kwargs):
        if state.global_step != self.saved_step:
            control.should_save = True
        if args.eval_strategy != "no" and state.global_step != self.evaluated_step:
            control.should_evaluate = True
        return control


class InterruptCallback(TrainerCallback):
    """Ctrl-C: finish the current step, save a checkpoint, stop; a second Ctrl-C aborts."""

    def __init__(self):
        self.interrupted = False
        self._previous = None

    def _handler(self, signum, frame):
        if self.interrupted:  # impatient second press
            raise KeyboardInterrupt
        self.interrupted = True
        console.print(
            "\n[yellow]interrupt[/]: saving a checkpoint after this step (Ctrl-C again to abort)"
        )

    def on_train_begin(self, args, state, control, **kwargs):
        try:
            self._previous = signal.signal(signal.SIGINT, self._handler)
        except (
            ValueError
        ):  # not the main thread (e.g. inside a server); Ctrl-C is not ours to catch
            self._previous = None

    def on_step_end(self, args, state, control, **kwargs):
        if self.interrupted:
            control.should_save = True
            control.should_training_stop = True
        return control

    def on_train_end(self, args, state, control, **kwargs):
        self.restore()

    def restore(self) -> None:
        """Put the previous handler back. The trainer calls on_train_end only when training
        ends normally; after an exception (a full disk, a bad batch) the caller does it, or
        the next Ctrl-C in this process would be swallowed by a callback long gone."""
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


class StopAfterStepsCallback(TrainerCallback):
    """Stop (with a checkpoint) after a number of steps: how tests and benchmarks simulate a crash."""

    def __init__(self, steps: int):
        self.steps = steps

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.steps:
            control.should_save = True
            control.should_training_stop = True
        return control


class DeadlineCallback(TrainerCallback):
    """Stop training when the next step would end past the time budget.

    `deadline` is a time.monotonic() value; `reserve_s` is what must still fit after the
    last step (the final evaluation and saving). The step time is the mean so far, so a
    run slowed by a busy machine stops a step early rather than a step late.
    """

    def __init__(self, deadline: float, reserve_s: float):
        self.deadline = deadline
        self.reserve_s = reserve_s
        self.stopped_at: int | None = None
        self._started = 0.0
        self._first_step = 0

    def on_train_begin(self, args, state, control, **kwargs):
        self._started = time.monotonic()
        self._first_step = state.global_step

    def on_step_end(self, args, state, control, **kwargs):
        done = state.global_step - self._first_step
        step_s = (time.monotonic() - self._started) / max(done, 1)
        if state.global_step < state.max_steps and (
            time.monotonic() + step_s + self.reserve_s >= self.deadline
        ):
            self.stopped_at = state.global_step
            control.should_training_stop = True
        return control
