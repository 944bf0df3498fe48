"""`personaforge eval`: measure a version against the base and the current one, and gate it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from personaforge.cli.app import app, examples, get_state, open_registry
from personaforge.errors import UserError
from personaforge.ui import stdout


@app.command(
    "eval",
    epilog=examples(
        "personaforge eval",
        "personaforge eval v3",
        "personaforge eval v3 --no-apply",
        "personaforge eval v3 --force   # promote even if the gate rejects it (recorded)",
    ),
)
def eval_command(
    ctx: typer.Context,
    version: Annotated[
        str | None, typer.Argument(metavar="[VERSION]", help="Default: the newest version.")
    ] = None,
    apply: Annotated[
        bool | None,
        typer.Option(
            "--apply/--no-apply", help="Promote or reject by the verdict (gate.auto_apply)."
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Promote even when the gate rejects it; the registry records it."
        ),
    ] = False,
) -> None:
    """Check a version against the base and the current one: style, forgetting, memorisation, leakage.

    Writes report.md, report.html, loss.png and evaluation.json into the version's folder.
    """
    from personaforge.evaluate import evaluate_and_apply

    state = get_state(ctx)
    with open_registry(ctx) as registry:
        name = version or (registry.latest().name if registry.latest() else None)
    if name is None:
        raise UserError("no adapter versions yet; run `personaforge train` first")
    report = evaluate_and_apply(state.paths, state.loaded.settings, name, apply, force)
    print_evaluation(report)


def print_evaluation(report) -> None:
    from personaforge.evaluate import metric_rows
    from personaforge.evaluate.report import check_rows

    header, rows = metric_rows(report)
    table = Table(box=None)
    for column in header:
        table.add_column(column, justify="left" if column == "metric" else "right")
    for row in rows:
        table.add_row(*row)
    stdout.print(table)
    colour = "green" if report.verdict["decision"] == "promote" else "red"
    stdout.print(f"[bold {colour}]{report.version}: {report.verdict['decision']}[/]")
    colours = {"✓": "green", "✗": "red", "–": "dim"}
    for mark, line in check_rows(report):
        stdout.print(f"  [{colours[mark]}]{mark}[/] {escape(line)}")
    if report.verdict.get("forced"):
        stdout.print(f"  [yellow]promoted anyway[/]: {escape(report.verdict['forced'])}")
    stdout.print(f"  report: {report.folder / 'report.html'}")
