"""`personaforge base`: build the built-in bases, list them, inspect any base."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from personaforge.cli.app import examples, get_state
from personaforge.errors import UserError
from personaforge.ui import human_bytes, stdout

base_app = typer.Typer(
    help="Base models: build the built-in bases, inspect a base.", no_args_is_help=True
)


@base_app.command(
    "build",
    epilog=examples(
        "personaforge base build smollm2-135m",
        "personaforge base build tiny",
        "personaforge base build tiny:micro --force",
    ),
)
def base_build(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(help="A built-in base: smollm2-135m, tiny or tiny:micro.")
    ] = "smollm2-135m",
    force: Annotated[
        bool, typer.Option("--force", help="Rebuild even if a cached build exists.")
    ] = False,
) -> None:
    """Build (or reuse) a built-in base in the machine's shared cache.

    Built once per machine ($PERSONAFORGE_CACHE, else $XDG_CACHE_HOME/personaforge):
    every home uses the same build. Commands that need a built-in base build it on
    first use; this does it now.
    """
    from personaforge.bases import BUILTINS, builtin, read_builtin_card

    known = builtin(name)
    if known is None:
        raise UserError(f"'{name}' is not a built-in base; built-in: {', '.join(BUILTINS)}")
    folder = known.ensure(get_state(ctx).paths, force)
    print_base_card(folder, read_builtin_card(folder) or {})


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
    """Build the built-in tiny base offline (same as `base build tiny[:PRESET]`)."""
    base_build(ctx, "tiny" if preset == "tiny" else f"tiny:{preset}", force)


@base_app.command("list", epilog=examples("personaforge base list"))
def base_list(ctx: typer.Context) -> None:
    """The built-in bases, whether each is built here, and where."""
    from personaforge.bases import BUILTINS, read_builtin_card

    paths = get_state(ctx).paths
    table = Table(box=None)
    for column in ("name", "built", "what it is", "folder"):
        table.add_column(column)
    for name, known in BUILTINS.items():
        folder = known.folder(paths)
        built = read_builtin_card(folder) is not None
        table.add_row(
            name,
            "[green]yes[/]" if built else f"no ({known.build_hint})",
            known.summary,
            str(folder) if built else "-",
        )
    stdout.print(table)


def print_base_card(folder: Path, card: dict) -> None:
    heldout = card.get("heldout", {})
    stdout.print(f"[bold]{card.get('name', folder.name)}[/] at {folder}")
    stdout.print(f"  parameters          {card.get('parameters', 0):,}")
    stdout.print(f"  vocabulary          {card.get('vocab_size', 0):,} tokens")
    stdout.print(
        f"  held-out perplexity {heldout.get('perplexity', float('nan')):.3f} "
        f"(uniform guessing: {heldout.get('uniform_perplexity')})"
    )
    if "source" in card:
        source = card["source"]
        stdout.print(
            f"  source              {source['package']}=={source['version']} "
            f"({source['quantization']}), upstream {card.get('upstream')}"
        )
        stdout.print(f"  licence             {card.get('licence')}")
        stdout.print(f"  on disk             {human_bytes(card.get('bytes_on_disk', 0))}")
    stdout.print(f"  build time          {card.get('build_seconds', 0):.0f} s")
    stdout.print(f"  weights sha256      {card.get('weights_sha256', '?')[:16]}…")


@base_app.command(
    "info",
    epilog=examples(
        "personaforge base info",
        "personaforge base info smollm2-135m",
        "personaforge base info ./my-model",
    ),
)
def base_info(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(help="Model to inspect; default: model.base.")
    ] = None,
) -> None:
    """Show what personaforge knows about a base model without loading its weights."""
    from personaforge.bases import describe_base, read_builtin_card, resolve_base
    from personaforge.train.defaults import with_base_for_machine

    state = get_state(ctx)
    settings = state.loaded.settings.model
    if name is None:
        resolved, chosen = with_base_for_machine(state.paths, state.loaded.settings)
        name = resolved.model.base
        if chosen:
            stdout.print(chosen, markup=False)
    ref = resolve_base(name, state.paths, settings.revision, build=False)
    info = describe_base(ref)
    stdout.print(f"[bold]{ref.name}[/] ({ref.kind}) -> {ref.location}")
    parameters = f"{info.parameters:,}" if info.parameters else "unknown"
    stdout.print(f"  parameters  {parameters} (from {info.parameters_source})")
    stdout.print(f"  on disk     {'yes' if info.available_locally else 'no'}")
    card = read_builtin_card(Path(ref.location)) if ref.is_local else None
    if card:
        print_base_card(Path(ref.location), card)
