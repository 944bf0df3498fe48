"""`personaforge forget`: take a note out of every version that learned it, and prove it is gone."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Annotated

import typer
from rich.table import Table

from personaforge.cli.app import app, examples, get_state, open_store
from personaforge.errors import UserError
from personaforge.ui import stdout


@app.command(
    epilog=examples(
        "personaforge forget ~/Obsidian/Vault/People/Ingrid.md --dry-run",
        "personaforge forget ~/Obsidian/Vault/People/Ingrid.md",
        'personaforge forget --search "old flat address"',
        "personaforge forget 3f9a2c1b --no-retrain",
    )
)
def forget(
    ctx: typer.Context,
    target: Annotated[
        str | None,
        typer.Argument(metavar="[PATH|MEMORY_ID]", help="A note, a folder, or a memory id."),
    ] = None,
    search: Annotated[
        str | None, typer.Option(help="Forget what this full-text search finds.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be forgotten; change nothing.")
    ] = False,
    retrain: Annotated[
        bool,
        typer.Option(
            "--retrain/--no-retrain", help="Retrain without it now (the default) and verify."
        ),
    ] = True,
) -> None:
    """Take memories out of the store, the datasets and every model, retrain, and prove it.

    Memories are deleted and tombstoned (re-ingest never brings them back),
    examples removed from every dataset, versions that learned them flagged and
    moved off `current`, a new version retrained from the last one that never
    saw them, and the old and new versions compared: regurgitation and a
    membership test. docs/forget.md says what is and is not guaranteed.
    """
    from personaforge.cli.run import StageReporter
    from personaforge.forget import ForgetRequest, finish_interrupted
    from personaforge.forget import forget as run_forget
    from personaforge.provenance import match_memories
    from personaforge.runs import run_lock

    state = get_state(ctx)
    settings = state.loaded.settings
    # The whole forget holds the run lock: a `run` beside it would train on memories this
    # forget is taking out, or flag a version that run is promoting (refused, never interleaved).
    with run_lock(state.paths, "forget") if not dry_run else nullcontext():
        finished = [] if dry_run else finish_interrupted(state.paths, settings, StageReporter())
        for report in finished:
            stdout.print(f"finishing forget {report.forget_id}, interrupted before it was done")
            print_forget(report)
        try:
            with open_store(ctx) as store:
                memories = match_memories(store, target, search)
        except UserError:
            if finished:  # what was named went with the interrupted forget: nothing more to do
                return
            # The same forget again (after a kill that came once it was done): not an error.
            done = already_forgotten(ctx, target) if target else None
            if done is None:
                raise
            stdout.print(f"{target}: already forgotten (forget {done}); nothing left to do")
            return
        request = ForgetRequest(target if target else "search", dry_run, retrain)
        report = run_forget(state.paths, settings, memories, request, StageReporter())
    print_forget(report)
    if report.proven is False or any(r.proven is False for r in finished):
        raise typer.Exit(1)


def already_forgotten(ctx: typer.Context, target: str) -> int | None:
    """The forget that took out what `target` names (a memory id, a file, a folder), if any."""
    from pathlib import Path

    path = Path(target).expanduser()
    key = str(path.resolve()) if path.exists() else target
    with open_store(ctx) as store:
        return store.forgotten_by(key)


def print_forget(report) -> None:
    verb = "would forget" if report.dry_run else "forgot"
    sources = ", ".join(f"{s} {n}" for s, n in report.sources.items())
    stdout.rule("[bold]forget[/]", align="left")
    stdout.print(f"{verb} {report.memories} memories ({sources})")
    stdout.print(
        f"  examples {'to remove' if report.dry_run else 'removed'}: {report.examples_removed}"
        + (f" from {', '.join(report.datasets_changed)}" if report.datasets_changed else "")
    )
    flagged = ", ".join(f"{v} ({how})" for v, how in report.versions_flagged.items()) or "none"
    stdout.print(f"  versions that learned them: {flagged}")
    if report.dry_run:
        return
    if report.still_held:
        held = ", ".join(f"{what} {count}" for what, count in report.still_held.items())
        mark = "[red]✗ still held[/]" if any(report.still_held.values()) else "[green]✓ gone[/]"
        stdout.print(f"  {mark} from the home, checked: {held}")
    stdout.print(
        f"  current: {report.current_before or 'base'} -> {report.current_after or 'base'}"
    )
    if report.exports_removed:
        stdout.print(f"  exports removed: {', '.join(report.exports_removed)}")
    if report.new_version:
        stdout.print(f"  retrained: {report.new_version} (run {report.run_status})")
    elif report.run_status:
        stdout.print(f"  retrained: no new version was promoted (run {report.run_status})")
    elif report.versions_flagged and report.current_before not in report.versions_flagged:
        stdout.print(
            f"  retrained: not needed, {report.current_before or 'the base'} never saw them"
        )
    elif report.versions_flagged:
        stdout.print("  retrained: not yet (--no-retrain); `personaforge run` retrains")
    if report.verification:
        table = Table(box=None, title="verification", title_justify="left")
        for column in ("version", "on", "repeats", "forgotten", "held-out", "gap", "noise", ""):
            table.add_column(column)
        for v in report.verification:
            table.add_row(
                v.version,
                v.kind,
                f"{v.reproduced}/{v.prompts}",
                f"{v.forgotten_gain:+.3f}",
                f"{v.heldout_gain:+.3f}",
                f"{v.gap:+.3f}",
                f"{v.noise:.3f}",
                "separated" if v.separated else "within noise",
            )
        stdout.print(table)
        reference = report.verification[0].reference
        stdout.print(
            "  repeats: answers to prompts built from the forgotten examples that share a run of"
            " 8 tokens with words only the forgotten memories held\n"
            f"  forgotten, held-out: mean gain over {reference} (which never saw them), nats per"
            " token for replies, log p(chosen) - log p(rejected) for pairs\n"
            "  gap: forgotten - held-out; noise: two standard errors of the gap",
            soft_wrap=True,
        )
        color = {True: "green", False: "red"}.get(report.proven, "yellow")
        stdout.print(f"  [{color}]{report.verdict}[/] (audit record {report.forget_id})")
