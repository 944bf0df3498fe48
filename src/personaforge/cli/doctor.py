"""`personaforge doctor`: can this machine train?"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from personaforge.cli.app import app, examples, get_state
from personaforge.ui import console, stdout

_STATUS_STYLE = {
    "ok": "[green]ok[/]",
    "note": "[cyan]note[/]",
    "warn": "[yellow]warn[/]",
    "problem": "[red]PROBLEM[/]",
}


def _print_doctor(report) -> None:
    sections: dict[str, list] = {}
    for check in report.checks:
        sections.setdefault(check.section, []).append(check)
    for section, checks in sections.items():
        table = Table(
            title=section, title_justify="left", show_header=False, box=None, pad_edge=False
        )
        table.add_column(width=8)
        table.add_column(style="bold")
        table.add_column()
        for check in checks:
            table.add_row(_STATUS_STYLE[check.status], check.label, check.value)
        stdout.print(table)
        stdout.print()
    if report.memory_table:
        table = Table(title="memory estimate by method (GiB)", title_justify="left")
        for column in (
            "method",
            "grad ckpt",
            "weights",
            "adapter+optim",
            "activations",
            "total",
            "fits",
        ):
            table.add_column(column, justify="left" if column == "method" else "right")
        for row in report.memory_table:
            table.add_row(
                row["method"],
                row["gradient_checkpointing"],
                f"{row['weights_gib']:.2f}",
                f"{row['adapter_optimizer_gib']:.3f}",
                f"{row['activations_gib']:.2f}",
                f"{row['total_gib']:.2f}",
                "[green]yes[/]" if row["fits"] else "[red]no[/]",
            )
        stdout.print(table)
        stdout.print()


@app.command(
    epilog=examples(
        "personaforge doctor",
        "personaforge doctor --set model.base=tiny",
        "personaforge doctor --json | jq .plan",
    )
)
def doctor(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check that this machine can train: packages, device, disk, base model, memory fit.

    Exits 1 with numbered problems when training would fail.
    """
    from personaforge.doctor import run_doctor

    state = get_state(ctx)
    report = run_doctor(state.loaded, state.paths)
    if as_json:
        stdout.print_json(json.dumps(report.to_dict()))
    else:
        _print_doctor(report)
    problems = report.problems
    if problems:
        console.print(
            f"[red]Not ready: {len(problems)} problem{'s' if len(problems) > 1 else ''}[/]"
        )
        for number, check in enumerate(problems, 1):
            console.print(
                f"  {number}. {check.section} / {check.label}: {check.value}"
                + (f"\n     fix: {check.fix}" if check.fix else ""),
                markup=False,
            )
        raise typer.Exit(1)
    console.print("[green]Ready to train.[/]")
