"""`personaforge runs`: the record of past `personaforge run`s: list, show."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from personaforge.cli.app import examples, get_state
from personaforge.cli.run import STATUS_MARKS, duration
from personaforge.ui import stdout

runs_app = typer.Typer(help="Past runs of `personaforge run`: list, show.", no_args_is_help=True)


@runs_app.command(
    "list", epilog=examples("personaforge runs list", "personaforge runs list --json")
)
def runs_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every recorded run: when, who started it, how it ended, the version it made."""
    from personaforge.runs import list_runs

    runs = list_runs(get_state(ctx).paths, limit)
    if as_json:
        stdout.print_json(json.dumps(runs))
        return
    if not runs:
        stdout.print("no runs yet (`personaforge run`)")
        return
    table = Table(box=None)
    for column in ("run", "started", "trigger", "status", "stages", "version"):
        table.add_column(column)
    for entry in runs:
        stages = " ".join(STATUS_MARKS.get(s["status"], "?") + s["name"] for s in entry["stages"])
        table.add_row(
            str(entry["id"]),
            entry["started_at"][:16].replace("T", " "),
            entry["trigger"],
            entry["status"],
            stages,
            entry["version"] or "-",
        )
    stdout.print(table)


@runs_app.command("show", epilog=examples("personaforge runs show 3"))
def runs_show(
    ctx: typer.Context,
    run_id: Annotated[int, typer.Argument(metavar="ID", help="A run number (`runs list`).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """One run: each stage's status, time, numbers and result line."""
    from personaforge.runs import get_run

    entry = get_run(get_state(ctx).paths, run_id)
    if as_json:
        stdout.print_json(json.dumps(entry))
        return
    stdout.print(
        f"[bold]run {entry['id']}[/] ({entry['trigger']}) {entry['status']}: "
        f"{entry['started_at']} -> {entry['finished_at'] or '…'}"
    )
    for stage in entry["stages"]:
        mark = STATUS_MARKS.get(stage["status"], stage["status"])
        stdout.print(
            f"  {mark} {stage['name']:<9} {duration(stage['seconds']):>8}  {escape(stage['summary'])}"
        )
        numbers = {k: v for k, v in stage["numbers"].items() if k != "store_state"}
        if numbers:
            stdout.print(f"      {escape(json.dumps(numbers, default=str))}", soft_wrap=True)
    if entry["error"]:
        stdout.print(f"  [red]error[/]: {escape(entry['error'])}")
