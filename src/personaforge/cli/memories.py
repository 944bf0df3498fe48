"""`personaforge memories`: browse and search the memory store (`ingest` fills it)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from personaforge.cli.app import examples, open_store
from personaforge.ui import console, stdout

memories_app = typer.Typer(help="Browse and search the memory store.", no_args_is_help=True)


def _preview(text: str, width: int = 70) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@memories_app.command(
    "list",
    epilog=examples(
        "personaforge memories list",
        "personaforge memories list --source vault --mode reflection --limit 50",
        "personaforge memories list --since 2026-10-01",
    ),
)
def memories_list(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    mode: Annotated[
        str | None, typer.Option(help="Only this mode (reflection, conversation, ...).")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only memories on or after this date (YYYY-MM-DD).")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 20,
    deleted: Annotated[
        bool, typer.Option("--deleted", help="Include memories marked deleted.")
    ] = False,
) -> None:
    """List memories, newest first."""
    with open_store(ctx) as store:
        rows = store.memories(
            source=source,
            mode=mode,
            since=since,
            include_deleted=deleted,
            limit=limit,
            newest_first=True,
        )
    width = max(stdout.width, 60)
    for memory in rows:
        mark = "†" if memory.deleted_at else " "
        head = f"{memory.id[:10]}{mark} {memory.created_at[:10]}  {memory.source:<11} {memory.mode:<12} "
        line = head + _preview(
            f"{memory.title}: {memory.text}" if memory.title else memory.text, width - len(head)
        )
        stdout.print(line, markup=False, soft_wrap=True)


@memories_app.command(
    "search",
    epilog=examples(
        'personaforge memories search "sourdough starter"',
        "personaforge memories search 'tide OR slack' --limit 5",
    ),
)
def memories_search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help='Words, "phrases", OR, prefix* (SQLite FTS5).')],
    limit: Annotated[int, typer.Option(help="At most this many, best first.")] = 10,
) -> None:
    """Full-text search over the live memories."""
    with open_store(ctx) as store:
        hits = store.search(query, limit=limit)
    if not hits:
        console.print(f"no memory matches {query!r}")
        raise typer.Exit(1)
    for memory, snippet in hits:
        stdout.print(
            f"[bold]{memory.id[:10]}[/] {memory.created_at[:10]} {memory.source}/{memory.mode} "
            f"[dim]{escape(memory.title)}[/]"
        )
        stdout.print(f"  {escape(' '.join(snippet.split()))}", soft_wrap=True)


@memories_app.command("show", epilog=examples("personaforge memories show 3f9a2c1b"))
def memories_show(
    ctx: typer.Context,
    memory_id: Annotated[
        str, typer.Argument(metavar="ID", help="A memory id or a unique prefix of it.")
    ],
) -> None:
    """Show one memory in full, with where it came from."""
    with open_store(ctx) as store:
        memory = store.get(memory_id)
    stdout.print(f"[bold]{memory.title or memory.id}[/]")
    for label, value in (
        ("id", memory.id),
        ("source", memory.source),
        ("locator", memory.locator),
        ("date", memory.created_at),
        ("mode", memory.mode),
        ("speaker", memory.speaker),
        ("tags", ", ".join(memory.tags) or "-"),
        ("added", memory.added_at),
        ("updated", memory.updated_at),
        ("deleted", memory.deleted_at or "-"),
    ):
        stdout.print(f"  {label:<8} {escape(str(value))}", soft_wrap=True)
    stdout.print()
    stdout.print(memory.text, markup=False, soft_wrap=True)
    stdout.print()
    stdout.print_json(json.dumps(memory.meta, ensure_ascii=False))


@memories_app.command(
    "stats", epilog=examples("personaforge memories stats", "personaforge memories stats --json")
)
def memories_stats(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Counts by source, mode and month, file states and the last ingest run."""
    with open_store(ctx) as store:
        stats = store.stats()
    if as_json:
        stdout.print_json(json.dumps(stats))
        return
    print_memory_stats(stats)


def print_memory_stats(stats: dict) -> None:
    stdout.print(
        f"[bold]{stats['memories']:,}[/] memories ({stats['deleted']:,} marked deleted); files: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(stats["files"].items()))
    )
    grids = Table.grid(padding=(0, 4))
    tables = []
    for key, title in (("by_source", "source"), ("by_mode", "mode"), ("by_month", "month")):
        table = Table(box=None)
        table.add_column(title)
        table.add_column("memories", justify="right")
        for name, count in stats[key].items():
            table.add_row(str(name), f"{count:,}")
        tables.append(table)
    grids.add_row(*tables)
    stdout.print(grids)
    if stats["last_ingest"]:
        stdout.print(
            f"last ingest: {stats['last_ingest']['started_at']} ({stats['last_ingest']['status']})"
        )
