"""`personaforge ingest`: read sources into the memory store, and the summary it prints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from personaforge.cli.app import app, display_path, examples, get_state
from personaforge.ui import console, stdout


@app.command(
    epilog=examples(
        "personaforge ingest ~/Obsidian/Vault",
        "personaforge ingest ~/Downloads/chatgpt-export/conversations.json --source chatgpt",
        "personaforge ingest ~/.claude/projects",
        "personaforge ingest ~/vault ~/exports --json",
        'personaforge config set identity.names "Maren Holt"; personaforge ingest ~/Downloads/WhatsApp',
        "personaforge ingest ~/Takeout/Mail --set ingest.max_file_mb=2000",
    )
)
def ingest(
    ctx: typer.Context,
    paths: Annotated[
        list[Path], typer.Argument(help="Files or folders to read.", show_default=False)
    ],
    source: Annotated[
        str,
        typer.Option(
            help=(
                "auto (detect per file), vault, chatgpt, claude, claude-code, whatsapp, telegram, "
                "discord, messenger, signal, mail, episodic, jsonl or feedback."
            )
        ),
    ] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Read notes, AI-chat transcripts, chats, mail, episodic memories and corrections into the store.

    In chats and mail your messages are the ones identity.names / emails / ids
    match (or that the export marks as yours); everyone else's are kept as
    context. Without them, an export that does not say who you are stops the
    run with the likely owner named.

    Incremental: unchanged files are not read again, edited files replace their
    memories, deleted files mark theirs deleted. Unreadable files are skipped
    with a reason; the run exits 0 unless nothing at all could be read.
    """
    from personaforge.ingest import ingest as run_ingest
    from personaforge.store import MemoryStore

    state = get_state(ctx)
    settings = state.loaded.settings.ingest
    with MemoryStore.open(state.paths.memory_store) as store:
        summary = run_ingest(
            paths,
            store,
            settings,
            source=source,
            show_progress=not as_json,
            identity=state.loaded.settings.identity,
        )
        total = store.count()
    if as_json:
        stdout.print_json(json.dumps({**summary.to_dict(), "memories_in_store": total}))
    else:
        print_ingest_summary(summary, total)
    if summary.interrupted:
        console.print(
            "[yellow]interrupted[/]: finished files are kept; run the same command to continue"
        )
        raise typer.Exit(130)
    if summary.nothing_readable:
        console.print(
            "[red]error:[/] nothing could be read from " + ", ".join(str(p) for p in paths)
        )
        raise typer.Exit(1)


def print_ingest_summary(summary, total: int, limit: int = 10) -> None:
    files = Table(title="files", box=None, title_justify="left")
    memories = Table(title="memories", box=None, title_justify="left")
    for table, row in (
        (
            files,
            {
                "new": summary.files_new,
                "changed": summary.files_changed,
                "unchanged": summary.files_unchanged,
                "deleted": summary.files_deleted,
                "skipped": len(summary.skipped),
                "excluded": summary.excluded,
                "unrecognised": len(summary.unrecognised),
            },
        ),
        (memories, {**vars(summary.memories), "in store": total}),
    ):
        for column in row:
            table.add_column(column, justify="right")
        table.add_row(*(f"{value:,}" for value in row.values()))
        stdout.print(table)
    if summary.files_by_source:
        read = ", ".join(
            f"{name} {count}" for name, count in sorted(summary.files_by_source.items())
        )
        stdout.print(f"read: {read}  ({summary.seconds:.1f} s)")
    for title, rows in (
        ("skipped", [f"{display_path(path)}: {reason}" for path, reason in summary.skipped]),
        (
            "bad records (skipped, the rest of the file kept)",
            [
                f"{display_path(path)}: {count} ({first})"
                for path, count, first in summary.bad_records
            ],
        ),
        ("warnings", [f"{display_path(path)}: {warning}" for path, warning in summary.warnings]),
    ):
        if rows:
            stdout.print(f"[yellow]{title}[/]")
            for row in rows[:limit]:
                stdout.print(f"  {row}", markup=False, soft_wrap=True)
            if len(rows) > limit:
                stdout.print(f"  … and {len(rows) - limit} more (see --json)")
