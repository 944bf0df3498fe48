"""`personaforge provenance`: which datasets and versions learned from a note."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from personaforge.cli.app import app, examples, get_state, open_store
from personaforge.ui import stdout


@app.command(
    epilog=examples(
        "personaforge provenance ~/Obsidian/Vault/People/Ingrid.md",
        "personaforge provenance 3f9a2c1b",
        'personaforge provenance --search "sourdough starter"',
        "personaforge provenance ~/Obsidian/Vault/Journal/2026/06 --json",
    )
)
def provenance(
    ctx: typer.Context,
    target: Annotated[
        str | None,
        typer.Argument(metavar="[PATH|MEMORY_ID]", help="A note, a folder, or a memory id."),
    ] = None,
    search: Annotated[
        str | None, typer.Option(help="Full-text search instead of a path or id.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Which memories match, which datasets hold examples of them, which versions learned them."""
    from personaforge.provenance import match_memories
    from personaforge.provenance import provenance as trace

    paths = get_state(ctx).paths
    with open_store(ctx) as store:
        memories = match_memories(store, target, search)
    found = trace(paths, [m.id for m in memories])
    if as_json:
        stdout.print_json(json.dumps(found.as_dict()))
        return
    stdout.print(f"[bold]{len(memories)} memories[/]")
    for memory in memories[:20]:
        stdout.print(f"  {memory.id[:10]} {memory.source:<11} {escape(memory.locator)}")
    if len(memories) > 20:
        stdout.print(f"  … and {len(memories) - 20} more (--json)")
    table = Table(box=None, title="datasets", title_justify="left")
    for column in ("dataset", "examples trained on", "examples only measured"):
        table.add_column(column)
    for use in found.datasets:
        table.add_row(use.dataset, str(use.trained_count), str(len(use.measured)))
    stdout.print(table if found.datasets else "datasets: none hold an example of them")
    if found.versions:
        stdout.print("[bold]versions that learned from them[/]")
        for version, how in found.versions.items():
            stdout.print(f"  {version}  {how}")
    else:
        stdout.print("versions: none learned from them")
