"""The personaforge command line: one Typer app, a subcommand per stage.

Global options (--home, --set) may appear anywhere on the line; `main` moves
--set to the front before parsing so `personaforge doctor --set model.base=tiny`
works as well as `personaforge --set model.base=tiny doctor`.

A UserError prints one line and exits 2; a usage error exits 2 with the usage;
Ctrl-C exits 130; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from personaforge import __version__
from personaforge.config import (
    LoadedSettings,
    load_settings,
    render_toml,
    set_in_file,
    unset_in_file,
)
from personaforge.errors import UserError
from personaforge.paths import Paths
from personaforge.ui import console, stdout

app = typer.Typer(
    name="personaforge",
    help="Turn your own writing into a local model that sounds like you.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
config_app = typer.Typer(help="Show and edit settings.", no_args_is_help=True)
base_app = typer.Typer(
    help="Base models: build the tiny base, inspect a base.", no_args_is_help=True
)
memories_app = typer.Typer(help="Browse and search the memory store.", no_args_is_help=True)
dataset_app = typer.Typer(help="Build and inspect training datasets.", no_args_is_help=True)
review_app = typer.Typer(help="Apply a reviewed dataset file.", no_args_is_help=True)
models_app = typer.Typer(
    help="Adapter versions: list, promote, reject, roll back, prune.", no_args_is_help=True
)
dataset_app.add_typer(review_app, name="review")
app.add_typer(config_app, name="config")
app.add_typer(base_app, name="base")
app.add_typer(memories_app, name="memories")
app.add_typer(dataset_app, name="dataset")
app.add_typer(models_app, name="models")


def examples(*lines: str) -> str:
    """An epilog listing example invocations, one per line."""
    return "[bold]Examples[/]\n\n" + "\n\n".join(f"  $ {line}" for line in lines)


@dataclass
class State:
    """What every command can reach: the home paths and the --set overrides."""

    paths: Paths
    overrides: list[str]
    _loaded: LoadedSettings | None = None

    @property
    def loaded(self) -> LoadedSettings:
        if self._loaded is None:
            self._loaded = load_settings(self.paths, self.overrides)
        return self._loaded


def _state(ctx: typer.Context) -> State:
    return ctx.find_root().obj


def _version_callback(value: bool) -> None:
    if value:
        stdout.print(f"personaforge {__version__}")
        raise typer.Exit()


@app.callback(
    epilog=examples(
        "personaforge doctor",
        "personaforge --set model.base=tiny doctor",
        "PERSONAFORGE_HOME=/tmp/pf personaforge demo",
    )
)
def root(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            help="State directory (default $PERSONAFORGE_HOME or ~/.personaforge).",
            show_default=False,
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="SECTION.KEY=VALUE",
            help="Override a setting for this run; repeatable; allowed anywhere on the line.",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version_callback,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Turn your own writing into a local model that sounds like you.

    Settings come from defaults < $PERSONAFORGE_HOME/config.toml < PERSONAFORGE_<SECTION>__<KEY>
    environment variables < --set. See `personaforge config show`.
    """
    ctx.obj = State(paths=Paths.from_env(home), overrides=list(set_ or []))


# ---------------------------------------------------------------------------
# config


@config_app.command(
    "show",
    epilog=examples(
        "personaforge config show",
        "personaforge config show --json",
        "personaforge --set train.lora_rank=8 config show",
    ),
)
def config_show(
    ctx: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of annotated TOML.")
    ] = False,
) -> None:
    """Print the effective settings and where each non-default value came from."""
    loaded = _state(ctx).loaded
    if as_json:
        stdout.print_json(
            json.dumps(
                {"settings": loaded.settings.model_dump(mode="json"), "origins": loaded.origins}
            )
        )
    else:
        stdout.print(render_toml(loaded), markup=False, end="", soft_wrap=True)


@config_app.command(
    "path", epilog=examples("personaforge config path", '$EDITOR "$(personaforge config path)"')
)
def config_path(ctx: typer.Context) -> None:
    """Print the path of the settings file (it may not exist yet)."""
    stdout.print(str(_state(ctx).paths.config_file), markup=False, soft_wrap=True)


@config_app.command(
    "set",
    epilog=examples(
        "personaforge config set model.base tiny",
        "personaforge config set train.lora_rank 32",
        "personaforge config set train.target_modules q_proj,v_proj",
    ),
)
def config_set(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Setting name, section.key.")],
    value: Annotated[str, typer.Argument(help="New value; checked against the setting's type.")],
) -> None:
    """Write one setting into config.toml (validated first; comments in the file are kept)."""
    state = _state(ctx)
    state.paths.ensure()
    typed = set_in_file(state.paths, key, value)
    console.print(f"set {key} = {typed!r} in {state.paths.config_file}")


@config_app.command("unset", epilog=examples("personaforge config unset train.lora_rank"))
def config_unset(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Setting name, section.key.")],
) -> None:
    """Remove one setting from config.toml, so its default (or env/--set) applies again."""
    state = _state(ctx)
    removed = unset_in_file(state.paths, key)
    console.print(f"{'removed' if removed else 'was not set:'} {key} ({state.paths.config_file})")


# ---------------------------------------------------------------------------
# doctor


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
                "on" if row["gradient_checkpointing"] else "off",
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

    state = _state(ctx)
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


# ---------------------------------------------------------------------------
# base


@base_app.command(
    "build-tiny",
    epilog=examples(
        "personaforge base build-tiny",
        "personaforge base build-tiny --preset micro",
        "personaforge base build-tiny --force",
    ),
)
def base_build_tiny(
    ctx: typer.Context,
    preset: Annotated[
        str, typer.Option(help="tiny (about 2.5 min on 2 cores) or micro (seconds, for tests).")
    ] = "tiny",
    force: Annotated[
        bool, typer.Option("--force", help="Rebuild even if a cached build exists.")
    ] = False,
) -> None:
    """Build the built-in tiny base offline (tokenizer, Llama weights, pretraining) and cache it."""
    from personaforge.tiny import ensure_tiny_base, read_card

    folder = ensure_tiny_base(_state(ctx).paths.models, preset, force=force)
    card = read_card(folder) or {}
    _print_card(folder, card)


def _print_card(folder: Path, card: dict) -> None:
    heldout = card.get("heldout", {})
    stdout.print(f"[bold]{card.get('name', folder.name)}[/] at {folder}")
    stdout.print(f"  parameters          {card.get('parameters', 0):,}")
    stdout.print(f"  vocabulary          {card.get('vocab_size', 0):,} tokens")
    stdout.print(
        f"  held-out perplexity {heldout.get('perplexity', float('nan')):.3f} "
        f"(uniform guessing: {heldout.get('uniform_perplexity')})"
    )
    stdout.print(
        f"  build time          {card.get('build_seconds', 0):.0f} s "
        f"({card.get('pretrain', {}).get('tokens_per_second', 0):,.0f} tokens/s pretraining)"
    )
    stdout.print(f"  weights sha256      {card.get('weights_sha256', '?')[:16]}…")


@base_app.command(
    "info",
    epilog=examples(
        "personaforge base info", "personaforge base info tiny", "personaforge base info ./my-model"
    ),
)
def base_info(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(help="Model to inspect; default: model.base.")
    ] = None,
) -> None:
    """Show what personaforge knows about a base model without loading its weights."""
    from personaforge.base import describe_base, resolve_base
    from personaforge.tiny import read_card

    state = _state(ctx)
    settings = state.loaded.settings.model
    ref = resolve_base(name or settings.base, state.paths, settings.revision, build=False)
    info = describe_base(ref)
    stdout.print(f"[bold]{ref.name}[/] ({ref.kind}) -> {ref.location}")
    parameters = f"{info.parameters:,}" if info.parameters else "unknown"
    stdout.print(f"  parameters  {parameters} (from {info.parameters_source})")
    stdout.print(f"  on disk     {'yes' if info.available_locally else 'no'}")
    card = read_card(Path(ref.location)) if ref.is_local else None
    if card:
        _print_card(Path(ref.location), card)


# ---------------------------------------------------------------------------
# ingest and memories


@app.command(
    epilog=examples(
        "personaforge ingest ~/Obsidian/Vault",
        "personaforge ingest ~/Downloads/chatgpt-export/conversations.json --source chatgpt",
        "personaforge ingest ~/.claude/projects",
        "personaforge ingest ~/vault ~/exports --json",
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
            help="auto (detect per file), vault, chatgpt, claude, claude-code, episodic, jsonl or feedback."
        ),
    ] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Read notes, chat transcripts, episodic memories and corrections into the memory store.

    Incremental: unchanged files are not read again, edited files replace their
    memories, deleted files mark theirs deleted. Unreadable files are skipped
    with a reason; the run exits 0 unless nothing at all could be read.
    """
    from personaforge.ingest import ingest as run_ingest
    from personaforge.store import MemoryStore

    state = _state(ctx)
    settings = state.loaded.settings.ingest
    with MemoryStore.open(state.paths.memory_store) as store:
        summary = run_ingest(paths, store, settings, source=source, show_progress=not as_json)
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


def _display_path(path: str) -> str:
    """A path relative to the working directory when it lies below it: shorter to read."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


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
        ("skipped", [f"{_display_path(path)}: {reason}" for path, reason in summary.skipped]),
        (
            "bad records (skipped, the rest of the file kept)",
            [
                f"{_display_path(path)}: {count} ({first})"
                for path, count, first in summary.bad_records
            ],
        ),
        ("warnings", [f"{_display_path(path)}: {warning}" for path, warning in summary.warnings]),
    ):
        if rows:
            stdout.print(f"[yellow]{title}[/]")
            for row in rows[:limit]:
                stdout.print(f"  {row}", markup=False, soft_wrap=True)
            if len(rows) > limit:
                stdout.print(f"  … and {len(rows) - limit} more (see --json)")


def _open_store(ctx: typer.Context):
    from personaforge.store import MemoryStore

    path = _state(ctx).paths.memory_store
    if not path.exists():
        raise UserError(f"no memory store yet at {path}; run `personaforge ingest PATH` first")
    return MemoryStore.open(path)


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
    with _open_store(ctx) as store:
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
    with _open_store(ctx) as store:
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
    with _open_store(ctx) as store:
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
    with _open_store(ctx) as store:
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


# ---------------------------------------------------------------------------
# dataset


@dataset_app.command(
    "build",
    epilog=examples(
        "personaforge dataset build",
        "personaforge dataset build --monthly",
        "personaforge dataset build --days-recent 14 --old-samples 500 --max 2000",
        "personaforge dataset build --kind voice,reflection --mode reflection --review",
        "personaforge dataset build --teacher http://localhost:11434/v1",
    ),
)
def dataset_build(
    ctx: typer.Context,
    foundation: Annotated[
        bool, typer.Option("--foundation", help="Every eligible memory (the default).")
    ] = False,
    monthly: Annotated[
        bool,
        typer.Option(
            "--monthly",
            help="Recent memories plus a sample of older ones (dataset.days_recent, "
            "dataset.old_samples).",
        ),
    ] = False,
    days_recent: Annotated[
        int | None, typer.Option(help="Monthly mix: memories of the last N days.")
    ] = None,
    old_samples: Annotated[
        int | None, typer.Option(help="Monthly mix: this many older memories, sampled.")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option(help="Monthly mix: count days back from this date (YYYY-MM-DD).")
    ] = None,
    max_memories: Annotated[
        int | None, typer.Option("--max", help="At most this many memories.")
    ] = None,
    mode: Annotated[str | None, typer.Option(help="Only memories of this mode.")] = None,
    kind: Annotated[
        str,
        typer.Option(
            help="Example kinds, comma-separated: voice,reflection,dialogue,knowledge,preference."
        ),
    ] = "voice,reflection,dialogue,knowledge,preference",
    teacher: Annotated[
        str | None,
        typer.Option(help="OpenAI-compatible endpoint for knowledge pairs (Ollama, vLLM, ...)."),
    ] = None,
    review: Annotated[
        bool, typer.Option("--review", help="Also write review.md to accept or reject examples.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON.")] = False,
) -> None:
    """Turn memories into curated, privacy-scrubbed training examples with an eval split."""
    from personaforge.dataset import DatasetRequest, MixPlan, build_dataset
    from personaforge.dataset.curate import counter_for_base

    if foundation and (monthly or days_recent or old_samples):
        raise UserError("--foundation and --monthly/--days-recent/--old-samples exclude each other")
    state = _state(ctx)
    settings = state.loaded.settings
    strategy = (
        "monthly" if monthly or days_recent is not None or old_samples is not None else "foundation"
    )
    plan = MixPlan(
        strategy,
        days_recent=days_recent if days_recent is not None else settings.dataset.days_recent,
        old_samples=old_samples if old_samples is not None else settings.dataset.old_samples,
        max_memories=max_memories,
        mode=mode,
        seed=settings.dataset.seed,
        as_of=as_of,
    )
    request = DatasetRequest(
        plan, [k.strip() for k in kind.split(",") if k.strip()], teacher, review
    )
    counter, tokenizer_name, problem = counter_for_base(
        settings.model.base, state.paths, settings.model.revision
    )
    if problem:
        console.print(f"[yellow]note:[/] token lengths estimated: {escape(problem)}")
    with _open_store(ctx) as store:
        result = build_dataset(
            store, settings, state.paths, request, counter, tokenizer_name if counter else None
        )
    if as_json:
        stdout.print_json(json.dumps(result.manifest))
        return
    print_dataset(result.manifest, result.folder)
    if result.reused:
        console.print("same memories and settings as an existing dataset: reused it")


@dataset_app.command(
    "show",
    epilog=examples("personaforge dataset show", "personaforge dataset show ds-1a2b3c4d5e6f"),
)
def dataset_show(
    ctx: typer.Context,
    dataset_id: Annotated[
        str | None, typer.Argument(metavar="[ID]", help="Dataset id; default: the latest.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON.")] = False,
) -> None:
    """Print a dataset's manifest: counts, quality metrics, privacy findings."""
    from personaforge.dataset.build import load_manifest

    paths = _state(ctx).paths
    manifest = load_manifest(paths, dataset_id)
    if as_json:
        stdout.print_json(json.dumps(manifest))
    else:
        print_dataset(manifest, paths.datasets / manifest["id"])


@dataset_app.command("list", epilog=examples("personaforge dataset list"))
def dataset_list(ctx: typer.Context) -> None:
    """Every built dataset, newest first."""
    from personaforge.dataset.build import latest_id, list_datasets

    paths = _state(ctx).paths
    latest = latest_id(paths)
    table = Table(box=None)
    for column in ("id", "created", "mix", "train", "eval", "preference", "parent"):
        table.add_column(column)
    for manifest in list_datasets(paths):
        mark = " (latest)" if manifest["id"] == latest else ""
        table.add_row(
            manifest["id"] + mark,
            manifest["created_at"][:16],
            manifest["parameters"]["mix"]["strategy"],
            str(manifest["files"]["train.jsonl"]["examples"]),
            str(manifest["files"]["eval.jsonl"]["examples"]),
            str(manifest["files"]["preference.jsonl"]["examples"]),
            manifest.get("parent", "-"),
        )
    stdout.print(table)


@review_app.command(
    "apply",
    epilog=examples("personaforge dataset review apply ~/.personaforge/datasets/ds-…/review.md"),
)
def dataset_review_apply(
    ctx: typer.Context,
    review_file: Annotated[
        Path, typer.Argument(metavar="FILE", help="The edited review.md of a dataset.")
    ],
) -> None:
    """Keep only the examples still ticked in a review file; writes a new dataset."""
    from personaforge.dataset.build import apply_review

    paths = _state(ctx).paths
    result = apply_review(paths, review_file)
    review = result.manifest.get("review", {})
    console.print(
        f"kept {review.get('accepted', 0)} examples, left out {review.get('rejected', 0)}"
    )
    print_dataset(result.manifest, result.folder)


def _finding_place(finding: dict) -> str:
    """Where to fix a finding: the file, plus the message for chats (their locator is an id)."""
    file = _display_path(finding.get("file", finding["locator"]))
    return (
        file
        if finding["locator"].startswith(finding.get("file", "\0"))
        else f"{file} ({finding['locator']})"
    )


def print_dataset(manifest: dict, folder: Path, findings_limit: int = 12) -> None:
    counts, metrics = manifest["counts"], manifest["metrics"]
    stdout.print(f"[bold]{manifest['id']}[/] in {folder}")
    selection = manifest["selection"]
    stdout.print(
        f"  mix {manifest['parameters']['mix']['strategy']}: {selection['memories']} memories "
        f"({selection['recent']} recent, {selection['old_sampled']} older sampled); "
        f"tokenizer {manifest['parameters']['tokenizer']}"
    )
    files = Table(box=None, title="files", title_justify="left")
    for name in manifest["files"]:
        files.add_column(name, justify="right")
    files.add_row(*(str(entry["examples"]) for entry in manifest["files"].values()))
    stdout.print(files)
    flow = Table(box=None, title="curation", title_justify="left")
    dropped = counts["dropped"]
    for column in ("candidates", *dropped, "split", "kept"):
        flow.add_column(
            column if column in ("candidates", "split", "kept") else f"- {column}", justify="right"
        )
    flow.add_row(
        str(counts["candidates"]),
        *(str(v) for v in dropped.values()),
        str(counts["split_over_length"]),
        str(counts["kept"]),
    )
    stdout.print(flow)
    quality = Table(box=None, title="quality", title_justify="left")
    for column in ("short <40w", "medium", "long >100w", "filler", "median tokens", "max tokens"):
        quality.add_column(column, justify="right")
    quality.add_row(
        f"{metrics['share_short_under_40_words']:.0%}",
        f"{metrics['share_medium_40_to_100_words']:.0%}",
        f"{metrics['share_long_over_100_words']:.0%}",
        f"{metrics['filler_rate']:.0%}",
        str(metrics["tokens"]["median"]),
        str(metrics["tokens"]["max"]),
    )
    stdout.print(quality)
    stdout.print("  kinds: " + ", ".join(f"{k} {v}" for k, v in metrics["by_kind"].items()))
    stdout.print("  modes: " + ", ".join(f"{k} {v}" for k, v in metrics["by_mode"].items()))
    stdout.print("  months: " + ", ".join(f"{k} {v}" for k, v in metrics["by_month"].items()))
    for warning in manifest["warnings"]:
        console.print(f"[yellow]warning:[/] {escape(warning)}")
    privacy = manifest["privacy"]
    stdout.print(
        f"[bold]privacy[/]: {privacy['findings']} findings in the selected memories; "
        f"{privacy['examples_dropped']} examples dropped, the rest redacted per policy"
    )
    for finding in privacy["list"][:findings_limit]:
        stdout.print(
            f"  {finding['kind']:<12} {finding['action']:<7} {finding['preview']:<20} "
            f"{_finding_place(finding)}",
            markup=False,
            soft_wrap=True,
        )
    if len(privacy["list"]) > findings_limit:
        stdout.print(
            f"  … and {len(privacy['list']) - findings_limit} more (`dataset show --json`)"
        )
    teacher = manifest.get("teacher")
    if teacher:
        stdout.print(
            f"teacher {teacher['endpoint']}: {teacher['pairs']} pairs, {teacher['requests']} requests, "
            f"{teacher['cached']} cached, {teacher['failed']} failed"
        )
        for problem in teacher["problems"][:3]:
            console.print(f"[yellow]teacher:[/] {escape(problem)}")


# ---------------------------------------------------------------------------
# train


@app.command(
    epilog=examples(
        "personaforge train",
        "personaforge train --base tiny --epochs 1",
        "personaforge train --fresh --rank 32 --alpha 64 --lr 1e-4",
        "personaforge train --method dpo",
        "personaforge train --resume",
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
) -> None:
    """Train a LoRA adapter (SFT or DPO) on a dataset; resumable, with live progress.

    Re-running the same command after a crash or Ctrl-C resumes from the last
    checkpoint. The adapter is saved as the next version under adapters/.
    """
    from personaforge.train.run import TrainRequest
    from personaforge.train.run import train as run_training

    state = _state(ctx)
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
    request = TrainRequest(method, dataset, base, from_version, fresh, resume)
    result = run_training(state.paths, settings, request)
    if result.interrupted:
        console.print(
            f"[yellow]stopped at step {result.steps}[/]: checkpoint kept in {result.run_dir}; "
            "run the same command to resume"
        )
        raise typer.Exit(130)
    print_training(result.card, result.folder)


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


def print_training(card: dict, folder) -> None:
    metrics = card["metrics"]

    def fmt(value):
        return "-" if value is None else f"{value:.3f}"

    stdout.print(
        f"[bold]{card['version']}[/] ({card['method']}, parent {card['parent'] or 'base'}) in {folder}"
    )
    stdout.print(
        f"  base {card['base']['name']}, dataset {card['dataset']['id']}, {card['backend']} on "
        f"{card['device_name']}, {card['precision']}"
        + (", 4-bit" if card["quantization"] == "4bit" else "")
    )
    stdout.print(
        f"  train loss {fmt(metrics['train_loss_first'])} -> {fmt(metrics['train_loss_last'])}; "
        f"held-out loss {fmt(metrics['eval_loss_before'])} -> {fmt(metrics['eval_loss_after'])}"
    )
    if metrics.get("reward_accuracy_last") is not None:
        stdout.print(
            f"  DPO reward accuracy (chosen preferred over rejected): {metrics['reward_accuracy_last']:.0%}"
        )
    stdout.print(
        f"  {metrics['steps']} steps, {metrics['tokens_seen'] or 0:,} tokens, "
        f"{metrics['tokens_per_second'] or 0:,.0f} tokens/s, peak memory "
        f"{metrics['peak_memory_bytes'] / 2**30:.2f} GiB"
    )


# ---------------------------------------------------------------------------
# eval, models, status


def _registry(ctx: typer.Context):
    from personaforge.registry import Registry

    return Registry.open(_state(ctx).paths)


@app.command(
    "eval",
    epilog=examples("personaforge eval", "personaforge eval v3", "personaforge eval v3 --no-apply"),
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
) -> None:
    """Check a version against the base and the current one: style, forgetting, memorisation, leakage.

    Writes report.md, report.html, loss.png and evaluation.json into the version's folder.
    """
    from personaforge.evaluate import evaluate_version

    state = _state(ctx)
    settings = state.loaded.settings
    with _registry(ctx) as registry:
        name = version or (registry.latest().name if registry.latest() else None)
        if name is None:
            raise UserError("no adapter versions yet; run `personaforge train` first")
        registry.get(name)
        report = evaluate_version(state.paths, settings, name, registry.current())
        registry.record_evaluation(name, report.verdict)
        decision = report.verdict["decision"]
        if settings.gate.auto_apply if apply is None else apply:
            if decision == "promote":
                registry.promote(name, reason="passed the gate")
            else:
                registry.reject(name, reason="; ".join(report.verdict["failures"]))
    print_evaluation(report)


def print_evaluation(report) -> None:
    from personaforge.evaluate import metric_rows

    header, rows = metric_rows(report)
    table = Table(box=None)
    for column in header:
        table.add_column(column, justify="left" if column == "metric" else "right")
    for row in rows:
        table.add_row(*row)
    stdout.print(table)
    colour = "green" if report.verdict["decision"] == "promote" else "red"
    stdout.print(f"[bold {colour}]{report.version}: {report.verdict['decision']}[/]")
    for failure in report.verdict["failures"]:
        stdout.print(f"  [red]✗[/] {escape(failure)}")
    for reason in report.verdict["reasons"]:
        stdout.print(f"  [green]✓[/] {escape(reason)}")
    stdout.print(f"  report: {report.folder / 'report.html'}")


@models_app.command("list", epilog=examples("personaforge models list"))
def models_list(ctx: typer.Context) -> None:
    """Every version with its lineage, status and key metrics."""
    with _registry(ctx) as registry:
        current = registry.current()
        versions = registry.versions()
    table = Table(box=None)
    for column in (
        "version",
        "status",
        "method",
        "parent",
        "dataset",
        "held-out loss",
        "verdict",
        "created",
    ):
        table.add_column(column)
    for v in versions:
        after = v.metrics.get("eval_loss_after")
        table.add_row(
            v.name + (" *" if v.name == current else ""),
            v.status,
            v.method,
            v.parent or "base",
            v.dataset_id,
            "-" if after is None else f"{after:.3f}",
            (v.verdict or {}).get("decision", "-"),
            v.created_at[:16],
        )
    stdout.print(table)
    stdout.print(f"current: {current or 'the base (no adapter)'}")


@models_app.command("show", epilog=examples("personaforge models show v2"))
def models_show(
    ctx: typer.Context, version: Annotated[str, typer.Argument(help="A version, e.g. v2.")]
) -> None:
    """One version: its card, verdict and events."""
    with _registry(ctx) as registry:
        v = registry.get(version)
        events = registry.events(version)
    stdout.print(
        f"[bold]{v.name}[/] {v.status} ({v.method}, parent {v.parent or 'base'}) at {v.path}"
    )
    stdout.print(f"  base {v.base} ({v.base_fingerprint[:16]}…), dataset {v.dataset_id}")
    for key, value in v.metrics.items():
        stdout.print(f"  {key:<22} {value}")
    if v.verdict:
        stdout.print(f"  verdict: {v.verdict['decision']}")
        for line in v.verdict.get("failures", []) + v.verdict.get("reasons", []):
            stdout.print(f"    {escape(line)}")
    for event in events:
        stdout.print(
            f"  {event['at']}  {event['action']}  {json.dumps(event['detail'])}", markup=False
        )


def _models_action(ctx: typer.Context, action: str, *args) -> None:
    with _registry(ctx) as registry:
        result = getattr(registry, action)(*args)
        current = registry.current()
    if action == "prune":
        console.print(
            f"removed the weights of {', '.join(result) or 'nothing'} (cards and reports kept)"
        )
    console.print(f"current: {current or 'the base (no adapter)'}")


@models_app.command("promote", epilog=examples("personaforge models promote v3"))
def models_promote(
    ctx: typer.Context, version: Annotated[str, typer.Argument(help="Version to promote.")]
) -> None:
    """Make a version current (the next training builds on it; serving uses it)."""
    _models_action(ctx, "promote", version)


@models_app.command("reject", epilog=examples("personaforge models reject v3"))
def models_reject(
    ctx: typer.Context, version: Annotated[str, typer.Argument(help="Version to reject.")]
) -> None:
    """Mark a version rejected (kept with its report, never deleted)."""
    _models_action(ctx, "reject", version)


@models_app.command("rollback", epilog=examples("personaforge models rollback"))
def models_rollback(ctx: typer.Context) -> None:
    """Go back to the version promoted before the current one."""
    _models_action(ctx, "rollback")


@models_app.command("reset", epilog=examples("personaforge models reset"))
def models_reset(ctx: typer.Context) -> None:
    """Point current at the bare base (no adapter)."""
    _models_action(ctx, "reset")


@models_app.command("prune", epilog=examples("personaforge models prune --keep 3"))
def models_prune(
    ctx: typer.Context,
    keep: Annotated[int, typer.Option(help="Promoted versions to keep besides the current.")] = 3,
) -> None:
    """Free disk: drop the weights of old versions; cards, reports and lineage stay."""
    _models_action(ctx, "prune", keep)


@models_app.command("reindex", epilog=examples("personaforge models reindex"))
def models_reindex(ctx: typer.Context) -> None:
    """Rebuild the registry from the version folders (after a move, a restore, or a lost database)."""
    with _registry(ctx) as registry:
        count = registry.reindex()
        current = registry.current()
    console.print(f"reindexed {count} versions; current: {current or 'the base'}")


@models_app.command("diff", epilog=examples("personaforge models diff v2 v3"))
def models_diff(
    ctx: typer.Context,
    first: Annotated[str, typer.Argument(metavar="VA")],
    second: Annotated[str, typer.Argument(metavar="VB")],
) -> None:
    """What changed between two versions: data, settings, metrics."""
    from personaforge.train.run import read_card

    with _registry(ctx) as registry:
        a, b = registry.get(first), registry.get(second)
    cards = [read_card(Path(a.path)), read_card(Path(b.path))]
    table = Table(box=None)
    for column in ("", first, second):
        table.add_column(column)
    rows = {
        "status": (a.status, b.status),
        "parent": (a.parent, b.parent),
        "method": (a.method, b.method),
        "dataset": (a.dataset_id, b.dataset_id),
        "base": (a.base, b.base),
    }
    for key in sorted(set(cards[0]["hyperparameters"]) | set(cards[1]["hyperparameters"])):
        values = tuple(card["hyperparameters"].get(key) for card in cards)
        if values[0] != values[1]:
            rows[f"train.{key}"] = values
    for key in sorted(set(a.metrics) | set(b.metrics)):
        rows[key] = (a.metrics.get(key), b.metrics.get(key))
    for key, (left, right) in rows.items():
        marker = "" if left == right else "[yellow]≠[/] "
        table.add_row(marker + key, str(left), str(right))
    stdout.print(table)


@app.command(epilog=examples("personaforge status"))
def status(ctx: typer.Context) -> None:
    """Where things stand: the current version, its age and data, memories since, the last verdict."""
    from datetime import datetime, timezone

    paths = _state(ctx).paths
    with _registry(ctx) as registry:
        current = registry.current()
        latest = registry.latest()
        version = registry.get(current) if current else None
    if version is None:
        stdout.print("current: the base (no adapter promoted yet)")
    else:
        age = datetime.now(timezone.utc) - datetime.fromisoformat(version.created_at)
        stdout.print(
            f"current: [bold]{version.name}[/] ({version.method}, parent {version.parent or 'base'}), "
            f"trained {age.days} days ago on dataset {version.dataset_id}"
        )
    if paths.memory_store.exists():
        from personaforge.store import MemoryStore

        with MemoryStore.open(paths.memory_store) as store:
            since = version.created_at if version else "0000"
            added = store.db.execute(
                "SELECT count(*) FROM memories WHERE deleted_at IS NULL AND added_at > ?", (since,)
            ).fetchone()[0]
            stdout.print(
                f"memories: {store.count():,} live, {added:,} added since the current version"
            )
    else:
        stdout.print("memories: none yet (`personaforge ingest PATH`)")
    if latest:
        decision = (latest.verdict or {}).get("decision", "not evaluated")
        stdout.print(f"last run: {latest.name} ({latest.status}), verdict: {decision}")
        for failure in (latest.verdict or {}).get("failures", []):
            stdout.print(f"  ✗ {escape(failure)}")


# ---------------------------------------------------------------------------
# export


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
) -> None:
    """Export a version for other runtimes; every export verifies itself before it is kept."""
    from personaforge.export import export_version

    result = export_version(_state(ctx).paths, version, fmt, quant, out, name)
    print_export(result)


def print_export(result) -> None:
    stdout.print(f"[bold]{result.format}[/] -> {result.path} ({result.size / 2**20:.2f} MiB)")
    for file, size in result.files.items():
        stdout.print(f"  {file:<32} {size / 2**20:8.2f} MiB", markup=False)
    for check in result.checks:
        mark = "[yellow]![/]" if check.startswith("not loaded") else "[green]✓[/]"
        stdout.print(f"  {mark} {escape(check)}")
    if result.command:
        stdout.print(f"  run: {result.command}", markup=False, soft_wrap=True)


# ---------------------------------------------------------------------------
# serve, chat, reload


@app.command(
    epilog=examples(
        "personaforge serve",
        "personaforge serve --port 8000 --adapter work=v3 --adapter home=v5",
        "personaforge serve --host 0.0.0.0 --api-key $(openssl rand -hex 16)",
    )
)
def serve(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option(help="Interface to listen on; anything but loopback needs --api-key.")
    ] = ("127.0.0.1"),
    port: Annotated[int, typer.Option(help="TCP port.")] = 7373,
    adapter: Annotated[
        list[str] | None,
        typer.Option(metavar="NAME=vN", help="Also serve version vN as model NAME; repeatable."),
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(help="Require this bearer key on /v1 requests.")
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            help="local (transformers + PEFT in this process) or vllm (forward to a vLLM server)."
        ),
    ] = "local",
    vllm_url: Annotated[
        str, typer.Option(help="The vLLM server, for --engine vllm.")
    ] = "http://127.0.0.1:8000",
    vllm_base: Annotated[
        str | None,
        typer.Option(help="The model id vLLM serves the base under; default: the adapters' base."),
    ] = None,
) -> None:
    """Serve the base, the current persona and named adapters on an OpenAI-compatible API."""
    import uvicorn

    from personaforge.serve import AcceleratorGuard, build_engine, check_bind
    from personaforge.serve.app import create_app, token_path

    if engine not in ("local", "vllm"):
        raise UserError(f"unknown engine '{engine}'; choose local or vllm")
    named = {}
    for item in adapter or []:
        name, _, version = item.partition("=")
        if not name or not version:
            raise UserError(f"--adapter takes NAME=vN, got '{item}'")
        named[name] = version
    check_bind(host, api_key)
    paths = _state(ctx).paths
    if engine == "vllm":
        from personaforge.serve import build_vllm

        api = build_vllm(paths, vllm_url, vllm_base, named, api_key)
        console.print(
            f"serving through vLLM at {vllm_url} on http://{host}:{port}/v1 "
            f"(admin token in {token_path(paths)})"
        )
        uvicorn.run(api, host=host, port=port, log_level="warning")
        return
    local = build_engine(paths, named)
    guard = AcceleratorGuard(paths, local)
    api = create_app(local, paths, api_key)
    console.print(
        f"serving {', '.join(local.models())} on http://{host}:{port}/v1 "
        f"(admin token in {token_path(paths)})"
    )
    try:
        uvicorn.run(api, host=host, port=port, log_level="warning")
    finally:
        guard.stop()


def _admin(paths, url: str, path: str, body: dict | None = None) -> dict:
    import urllib.error
    import urllib.request

    from personaforge.serve.app import admin_token

    request = urllib.request.Request(
        url.rstrip("/") + path,
        data=json.dumps(body or {}).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {admin_token(paths)}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise UserError(json.loads(exc.read()).get("error", {}).get("message", str(exc))) from None
    except urllib.error.URLError as exc:
        raise UserError(
            f"no server at {url} ({exc.reason}); start one with `personaforge serve`"
        ) from None


@app.command(
    epilog=examples("personaforge reload v4", "personaforge reload v4 --url http://127.0.0.1:8000")
)
def reload(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="Version to serve as `persona`.")],
    url: Annotated[str, typer.Option(help="The running server.")] = "http://127.0.0.1:7373",
) -> None:
    """Swap the running server's persona to another version without a restart."""
    result = _admin(_state(ctx).paths, url, "/admin/reload-model", {"version": version})
    console.print(f"persona is now {result['persona']} (loaded: {', '.join(result['loaded'])})")


@app.command(epilog=examples("personaforge chat", "personaforge chat --model work"))
def chat(
    ctx: typer.Context,
    model: Annotated[str, typer.Option(help="Model name on the server.")] = "persona",
    url: Annotated[str, typer.Option(help="The running server.")] = "http://127.0.0.1:7373",
    max_tokens: Annotated[int, typer.Option(help="Tokens per reply.")] = 256,
) -> None:
    """Talk to the persona in the terminal (Ctrl-D or /quit to leave)."""
    openai = __import__("openai")
    client = openai.OpenAI(base_url=url.rstrip("/") + "/v1", api_key="local")
    history: list[dict[str, str]] = []
    while True:
        try:
            line = input("you> ").strip()
        except EOFError:
            break
        if line in ("/quit", "/exit"):
            break
        if not line:
            continue
        history.append({"role": "user", "content": line})
        try:
            stream = client.chat.completions.create(
                model=model, messages=history, max_tokens=max_tokens, stream=True
            )
            reply = ""
            stdout.print(f"{model}> ", end="")
            for chunk in stream:
                piece = chunk.choices[0].delta.content or ""
                reply += piece
                stdout.print(piece, end="", markup=False)
            stdout.print()
        except openai.APIConnectionError:
            raise UserError(f"no server at {url}; start one with `personaforge serve`") from None
        history.append({"role": "assistant", "content": reply})


# ---------------------------------------------------------------------------
# demo


@app.command(
    epilog=examples(
        "make demo",
        "personaforge demo",
        "personaforge demo --data-only ./sample-person",
    )
)
def demo(
    ctx: typer.Context,
    data_only: Annotated[
        Path | None,
        typer.Option(
            "--data-only", metavar="DIR", help="Only write the sample person's data into DIR."
        ),
    ] = None,
    fresh_data: Annotated[
        bool, typer.Option("--fresh-data", help="Rewrite the sample data even if it exists.")
    ] = False,
) -> None:
    """Run the whole job on the built-in tiny base and a generated sample person.

    Builds (or reuses) the tiny base, checks it loads and answers, writes the
    sample data, and runs every stage built so far.
    """
    from personaforge.sample import write_sample_data

    if data_only is not None:
        manifest = write_sample_data(data_only, overwrite=fresh_data)
        _print_manifest(data_only, manifest)
        return
    from personaforge.demo import run_demo

    state = _state(ctx)
    result = run_demo(state.paths, state.loaded.settings, fresh_data=fresh_data)
    stdout.rule("built-in tiny base")
    _print_card(result.base_folder, result.base_card)
    stdout.print("  greedy answers through AutoModelForCausalLM + its chat template:")
    for question, answer in result.answers:
        stdout.print(f"    {question}  ->  {answer}", markup=False)
    stdout.rule("sample data")
    _print_manifest(result.data_dir, result.manifest)
    stdout.rule(f"ingest -> {state.paths.memory_store}")
    print_ingest_summary(result.ingest_summary, result.memory_stats["memories"], limit=4)
    print_memory_stats(result.memory_stats)
    stdout.rule("dataset")
    print_dataset(result.dataset.manifest, result.dataset.folder, findings_limit=20)
    stdout.rule("train, evaluate, register")
    for card, report in zip(result.trained, result.evaluations, strict=True):
        print_training(card, state.paths.adapters / card["version"])
        print_evaluation(report)
        for item in report.generations[:2]:
            stdout.print(f"    {item['prompt']}", markup=False)
            stdout.print(f"      base:      {item['base'][:70]}", markup=False)
            stdout.print(f"      candidate: {item['candidate'][:70]}", markup=False)
    stdout.print(f"current: {result.current or 'the base (no adapter passed the gate)'}")
    stdout.rule("export")
    for exported in result.exports:
        print_export(exported)
    stdout.rule("serve (OpenAI-compatible API on 127.0.0.1, asked through the openai client)")
    for model, question, answer in result.conversation:
        stdout.print(f"  {model} <- {question}", markup=False)
        stdout.print(f"    {answer}", markup=False, soft_wrap=True)
    stdout.rule("pipeline")
    table = Table(show_header=True, box=None)
    for column in ("stage", "status", "what it does with this data"):
        table.add_column(column)
    for stage, status, what in result.stages:
        table.add_row(stage, "[green]done[/]" if status == "done" else "[dim]next[/]", what)
    stdout.print(table)


def _print_manifest(folder: Path, manifest: dict) -> None:
    stdout.print(f"[bold]{manifest['person']}[/] — sample data in {folder}")
    table = Table(box=None)
    for column in ("source", "folder", "files", "words"):
        table.add_column(column, justify="right" if column in ("files", "words") else "left")
    for source, entry in manifest["sources"].items():
        table.add_row(source, entry["path"], str(entry["files"]), f"{entry['words']:,}")
    stdout.print(table)
    kinds = sorted({s["kind"] for s in manifest["planted_secrets"]})
    stdout.print(
        f"  {len(manifest['planted_secrets'])} fake secrets planted for the privacy stage: "
        + ", ".join(kinds)
    )


# ---------------------------------------------------------------------------
# entry point


def hoist_global_options(args: list[str]) -> list[str]:
    """Move every `--set X` / `--set=X` to the front so it parses as a global option."""
    hoisted, rest = [], []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest.extend(args[index:])
            break
        if arg == "--set" and index + 1 < len(args):
            hoisted += [arg, args[index + 1]]
            index += 2
            continue
        if arg.startswith("--set="):
            hoisted.append(arg)
        else:
            rest.append(arg)
        index += 1
    return hoisted + rest


def main(argv: list[str] | None = None) -> None:
    """Entry point. Typer's standalone mode handles usage errors (exit 2), Ctrl-C
    (exit 130) and typer.Exit; a UserError raised by a command ends here."""
    args = hoist_global_options(list(sys.argv[1:] if argv is None else argv))
    try:
        app(args=args, prog_name="personaforge")
    except UserError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
