"""`personaforge run`: the whole cycle, stage by stage (`runs` lists what it recorded)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from personaforge.cli.app import app, examples, get_state
from personaforge.ui import console, stdout

STATUS_MARKS = {
    "done": "[green]✓[/]",
    "unchecked": "[yellow]?[/]",
    "skipped": "[dim]–[/]",
    "stopped": "[yellow]■[/]",
    "failed": "[red]✗[/]",
}


class StageReporter:
    """Prints a header when a stage starts and its result, with the stage's own printer, when it ends."""

    def __init__(self, memory_store_total: bool = True):
        self.memory_store_total = memory_store_total

    def stage_started(self, index: int, total: int, name: str, plan: str) -> None:
        stdout.rule(f"[bold]{index}/{total} {name}[/]: {escape(plan)}", align="left")

    def stage_finished(self, name: str, record: Any, payload: Any) -> None:
        if payload is not None and record.status != "failed":
            PRINTERS.get(name, _nothing)(payload, record.numbers)
        mark = STATUS_MARKS.get(record.status, record.status)
        stdout.print(
            f"{mark} {name} {record.status} in {duration(record.seconds)}: {escape(record.summary)}"
        )


def duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def _nothing(payload: Any, numbers: dict) -> None:
    return None


def _ingest(summary: Any, numbers: dict) -> None:
    from personaforge.cli.ingest import print_ingest_summary

    print_ingest_summary(summary, numbers.get("memories_in_store", 0), limit=4)


def _dataset(result: Any, numbers: dict) -> None:
    from personaforge.cli.dataset import print_dataset

    print_dataset(result.manifest, result.folder, findings_limit=6)


def _train(result: Any, numbers: dict) -> None:
    from personaforge.cli.train import print_training

    print_training(result.card, result.folder)


def _evaluate(report: Any, numbers: dict) -> None:
    from personaforge.cli.eval import print_evaluation

    print_evaluation(report)


def _dpo(payload: Any, numbers: dict) -> None:
    trained, report = payload
    if trained is not None:
        _train(trained, numbers)
    _evaluate(report, numbers)


def _export(results: Any, numbers: dict) -> None:
    from personaforge.cli.export import print_export

    for result in results:
        print_export(result)


PRINTERS = {
    "ingest": _ingest,
    "dataset": _dataset,
    "train": _train,
    "evaluate": _evaluate,
    "dpo": _dpo,
    "export": _export,
}


@app.command(
    epilog=examples(
        "personaforge config set run.sources ~/Obsidian/Vault,~/.claude/projects",
        "personaforge run",
        "personaforge run --dry-run   # the stages, then examples, steps, time, memory, disk",
        "personaforge run --until evaluate",
        "personaforge run --from export",
        "personaforge run --resume",
        "personaforge run --force   # train even when nothing new was written",
    )
)
def run(
    ctx: typer.Context,
    from_stage: Annotated[
        str | None, typer.Option("--from", metavar="STAGE", help="Start at this stage.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", metavar="STAGE", help="Stop after this stage.")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the last failed or killed run.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Run past 'nothing new to learn'.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would run and why; change nothing.")
    ] = False,
    trigger: Annotated[
        str, typer.Option(hidden=True, help="Who started it (the schedule passes 'schedule').")
    ] = "manual",
) -> None:
    """The cycle: ingest, dataset, train, evaluate, DPO, export, reload the server, profile.

    Stages: ingest, dataset, train, evaluate, dpo, export, reload, profile. The
    first run builds a foundation dataset; later ones a monthly update that
    continues from the current version. Every run is recorded (`runs list`).
    """
    from personaforge.forget import finish_interrupted
    from personaforge.pipeline import RunRequest, run_pipeline
    from personaforge.pipeline import dry_run as plan
    from personaforge.train.defaults import with_base_for_machine

    state = get_state(ctx)
    request = RunRequest(trigger, from_stage, until, resume, force, dry_run)
    settings, chosen = with_base_for_machine(state.paths, state.loaded.settings)
    if chosen:
        console.print(chosen, markup=False, soft_wrap=True)
    if dry_run:
        for name, line in plan(state.paths, settings, request):
            stdout.print(f"  {name:<9} {escape(line)}")
        if settings.run.sources and from_stage in (None, "ingest", "dataset", "train"):
            print_preview(state.paths, settings, request)
        return
    # A forget killed after its memories left the store still owes the scrub of the
    # datasets and the flags on versions: no run trains on top of that half-done state.
    record = run_pipeline(
        state.paths,
        settings,
        request,
        StageReporter(),
        first=lambda: finish_interrupted(state.paths, settings, retrain=False),
    )
    stdout.rule()
    finish_line(record)
    if record.status == "interrupted":
        raise typer.Exit(130)
    if record.status == "failed":
        raise typer.Exit(1)


def print_preview(paths, settings, request) -> None:
    """The numbers behind the plan: this run's ingest and dataset, built in a scratch copy."""
    from personaforge.cli.train import print_estimate
    from personaforge.dataset.code import code_share_line
    from personaforge.preview import preview_run

    console.print("measuring: ingest and dataset in a scratch copy (your home is not changed)")
    preview = preview_run(paths, settings, request)
    manifest = preview.dataset
    files = {
        name.removesuffix(".jsonl"): entry["examples"] for name, entry in manifest["files"].items()
    }
    stdout.rule("[bold]what this run would train[/]", align="left")
    stdout.print(
        f"  ingest: {preview.ingest.files_read:,} files read, {preview.memories:,} memories; "
        f"dataset: {files['train']:,} training examples, {files['eval']:,} held out, "
        f"{files['preference']:,} preference pairs",
        soft_wrap=True,
    )
    code = code_share_line(manifest)
    if code:
        stdout.print(f"  {code}", markup=False, soft_wrap=True)
    stdout.print("[bold]SFT[/]")
    print_estimate(preview.plan, preview.sft)
    if preview.dpo is not None or preview.dpo_skipped:
        stdout.print("[bold]DPO[/]")
        print_estimate(preview.plan, preview.dpo, preview.dpo_skipped)
    total = preview.total_s()
    if total is not None:
        from personaforge.train.budget import human_seconds

        stdout.print(
            f"[bold]this run[/]: about {human_seconds(total)} up to the gate's verdict "
            f"(ingest and dataset {human_seconds(preview.prepare_s)} just now, training and the "
            "gate as above), then export and profile",
            soft_wrap=True,
        )


def finish_line(record: Any) -> None:
    colour = {"finished": "green", "nothing new": "yellow"}.get(record.status, "red")
    made = f"; current version {record.version}" if record.version else ""
    stdout.print(f"[bold {colour}]run {record.id} {record.status}[/]{made}")
    for stage in record.stages:  # made, but a check could not run: never folded into "finished"
        if stage.status == "unchecked":
            stdout.print(f"  [yellow]? {stage.name} unchecked:[/] {escape(stage.summary)}")
    if record.error:
        console.print(f"  {escape(record.error)}")
