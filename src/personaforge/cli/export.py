"""`personaforge export`: adapter, merged, GGUF, LoRA-GGUF, Ollama."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from personaforge.cli.app import app, examples, get_state
from personaforge.ui import human_bytes, stdout


@app.command(
    epilog=examples(
        "personaforge export --format merged",
        "personaforge export v3 --format gguf --quant q8_0",
        "personaforge export --format lora-gguf",
        "personaforge export --format ollama --name maren",
        "personaforge export v3 --format adapter --out ./v3-adapter",
    )
)
def export(
    ctx: typer.Context,
    version: Annotated[
        str | None, typer.Argument(metavar="[VERSION]", help="Default: the current version.")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="adapter, merged, gguf, lora-gguf or ollama.")
    ] = "merged",
    quant: Annotated[str, typer.Option(help="GGUF type: f32, f16, bf16 or q8_0.")] = "f16",
    out: Annotated[
        Path | None, typer.Option(help="Output folder; default: exports/<version>-<format>.")
    ] = None,
    name: Annotated[str, typer.Option(help="Model name for `ollama create`.")] = "persona",
    allow_forgotten: Annotated[
        bool,
        typer.Option(
            "--allow-forgotten", help="Export a version that learned from forgotten memories."
        ),
    ] = False,
) -> None:
    """Export a version for other runtimes; every export verifies itself before it is kept."""
    from personaforge.export import export_version

    result = export_version(get_state(ctx).paths, version, fmt, quant, out, name, allow_forgotten)
    print_export(result)


def print_export(result) -> None:
    stdout.print(f"[bold]{result.format}[/] -> {result.path} ({human_bytes(result.size)})")
    for file, size in result.files.items():
        stdout.print(f"  {file:<32} {human_bytes(size):>10}", markup=False)
    for check in result.checks:
        stdout.print(f"  [green]✓[/] {escape(check)}")
    for line in result.unchecked:
        stdout.print(f"  [yellow]? unchecked:[/] {escape(line)}")
    if result.command:
        stdout.print(f"  run: {result.command}", markup=False, soft_wrap=True)
