"""`personaforge train`: LoRA SFT or DPO with live progress."""

from __future__ import annotations

from typing import Annotated

import typer

from personaforge.cli.app import app, examples, get_state
from personaforge.ui import console, stdout


@app.command(
    epilog=examples(
        "personaforge train",
        "personaforge train --dry-run   # examples, steps, time on this machine, memory, disk",
        "personaforge --set train.time_budget=2h train",
        "personaforge train --base tiny --epochs 1",
        "personaforge train --fresh --rank 32 --alpha 64 --lr 1e-4",
        "personaforge train --method dpo",
        "personaforge train --resume",
        "personaforge train --dashboard   # watch loss, speed and ETA in the browser",
        "accelerate launch -m personaforge train   # several GPUs (DDP/FSDP)",
    )
)
def train(
    ctx: typer.Context,
    dataset: Annotated[str | None, typer.Option(help="Dataset id; default: the latest.")] = None,
    base: Annotated[
        str | None, typer.Option(help="Base model (HF id, folder or 'tiny'); default: model.base.")
    ] = None,
    from_version: Annotated[
        str | None, typer.Option(help="Continue from this adapter version (vN).")
    ] = None,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Start from the base, not the current adapter.")
    ] = False,
    method: Annotated[
        str, typer.Option(help="sft (examples) or dpo (preference pairs, on an SFT adapter).")
    ] = "sft",
    epochs: Annotated[int | None, typer.Option(help="Override train.epochs.")] = None,
    lr: Annotated[float | None, typer.Option(help="Override train.learning_rate.")] = None,
    rank: Annotated[int | None, typer.Option(help="Override train.lora_rank.")] = None,
    alpha: Annotated[int | None, typer.Option(help="Override train.lora_alpha.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Override train.batch_size.")] = None,
    grad_accum: Annotated[int | None, typer.Option(help="Override train.grad_accum.")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Override train.max_steps.")] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Require a checkpoint to continue from.")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Print the plan and its time estimate (measuring this machine once); train nothing.",
        ),
    ] = False,
    dashboard: Annotated[
        bool, typer.Option("--dashboard", help="Serve the dashboard alongside; prints its URL.")
    ] = False,
    dashboard_port: Annotated[
        int, typer.Option(help="Port for --dashboard; 0 picks a free one.")
    ] = 7374,
) -> None:
    """Train a LoRA adapter (SFT or DPO) on a dataset; resumable, with live progress.

    Re-running the same command after a crash or Ctrl-C resumes from the last
    checkpoint. The adapter is saved as the next version under adapters/.
    Training fits train.time_budget (auto: 30 minutes without CUDA); --dry-run
    shows the estimate and what the budget would change.
    """
    from personaforge.train.run import TrainRequest
    from personaforge.train.run import train as run_training

    state = get_state(ctx)
    overrides = {
        "epochs": epochs,
        "learning_rate": lr,
        "lora_rank": rank,
        "lora_alpha": alpha,
        "batch_size": batch_size,
        "grad_accum": grad_accum,
        "max_steps": max_steps,
    }
    settings = with_train_overrides(state.loaded.settings, overrides)
    request = TrainRequest(method, dataset, base, from_version, fresh, resume, dry_run=dry_run)
    if dry_run:
        result = run_training(state.paths, settings, request)
        print_estimate(result.plan, result.estimate, result.skipped)
        return
    from personaforge.dashboard import start_alongside

    watcher = start_alongside(state.paths, dashboard_port, console.print) if dashboard else None
    try:
        result = run_training(state.paths, settings, request)
    finally:
        if watcher is not None:
            watcher.stop()
    if result.skipped:
        console.print(f"[yellow]{result.skipped}[/]")
        raise typer.Exit(1)
    if result.interrupted:
        console.print(
            f"[yellow]stopped at step {result.steps}[/]: checkpoint kept in {result.run_dir}; "
            "run the same command to resume"
        )
        raise typer.Exit(130)
    print_training(result.card, result.folder)


def print_estimate(plan, estimate, skipped: str | None = None) -> None:
    """The training plan and its numbers (train/estimate.py), or why there are none."""
    from personaforge.train.estimate import describe_estimate
    from personaforge.train.run import describe_plan

    if skipped:
        stdout.print(f"  {skipped}", markup=False)
        return
    for line in describe_plan(plan) + describe_estimate(estimate):
        style = "yellow" if line.startswith("warning") else None
        stdout.print(line, style=style, markup=False, soft_wrap=True)


def with_train_overrides(settings, overrides: dict):
    """Settings with the command's flags applied to the train section (validated like --set)."""
    from personaforge.config import ConfigError, TrainSettings

    chosen = {key: value for key, value in overrides.items() if value is not None}
    if not chosen:
        return settings
    try:
        train = TrainSettings(**{**settings.train.model_dump(), **chosen})
    except ValueError as exc:
        first = str(exc).splitlines()
        raise ConfigError(
            f"invalid training option: {first[1] if len(first) > 1 else first[0]}"
        ) from None
    return settings.model_copy(update={"train": train})


def _fmt(value, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


# TRL's reward accuracy counts a pair right when its margin is above zero, however little:
# a DPO run at lr 1e-9 on the demo printed "accuracy 0% -> 88%" with margins of +0.000.
STILL_MARGIN = 5e-4  # below what the summary's three decimals show


def dpo_moved(dpo: dict) -> bool:
    """Did DPO move the adapter off its reference by more than rounding (card metrics.dpo)?"""
    margins = (dpo.get("reward_margin_last_epoch"), dpo.get("heldout_margin_after"))
    return any(m is not None and abs(m) >= STILL_MARGIN for m in margins)


def print_training(card: dict, folder) -> None:
    metrics = card["metrics"]
    stdout.print(
        f"[bold]{card['version']}[/] ({card['method']}, parent {card['parent'] or 'base'}) in {folder}"
    )
    stdout.print(
        f"  base {card['base']['name']}, dataset {card['dataset']['id']}, {card['backend']} on "
        f"{card['device_name']}, {card['precision']}"
        + (", 4-bit" if card["quantization"] == "4bit" else "")
    )
    stdout.print(
        f"  train loss {_fmt(metrics['train_loss_first'])} -> {_fmt(metrics['train_loss_last'])}; "
        f"held-out loss {_fmt(metrics['eval_loss_before'])} -> {_fmt(metrics['eval_loss_after'])}"
    )
    if metrics.get("rehearsal_rows"):
        stdout.print(
            f"  {card['dataset']['train_examples']} of the person's examples + "
            f"{metrics['rehearsal_rows']} rehearsal rows (the base's own answers)"
        )
    dpo = metrics.get("dpo")
    if dpo and not dpo_moved(dpo):
        stdout.print(
            "  [yellow]DPO barely moved the adapter[/]: every margin rounds to zero, so the "
            "accuracies below count rounding, not preferences"
        )
    if dpo:
        stdout.print(
            "  DPO, training pairs: reward accuracy "
            f"{_fmt(dpo['reward_accuracy_first'], '.0%')} -> {_fmt(dpo['reward_accuracy_last_epoch'], '.0%')} "
            f"(last epoch), margin {_fmt(dpo['reward_margin_first'], '+.3f')} -> "
            f"{_fmt(dpo['reward_margin_last_epoch'], '+.3f')}"
        )
        stdout.print(
            "  DPO, held-out pairs: accuracy "
            f"{_fmt(dpo['heldout_accuracy_before'], '.0%')} -> {_fmt(dpo['heldout_accuracy_after'], '.0%')}, "
            f"margin {_fmt(dpo['heldout_margin_before'], '+.3f')} -> {_fmt(dpo['heldout_margin_after'], '+.3f')}"
        )
    stdout.print(
        f"  {metrics['steps']} steps, {metrics['tokens_seen'] or 0:,} tokens, "
        f"{metrics['tokens_per_second'] or 0:,.0f} tokens/s, peak memory "
        f"{metrics['peak_memory_bytes'] / 2**30:.2f} GiB, {metrics['seconds_this_session']:.0f} s"
    )
