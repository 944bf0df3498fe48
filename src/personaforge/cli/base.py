"""`personaforge base`: build the built-in bases, inspect any base."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from personaforge.cli.app import examples, get_state
from personaforge.ui import stdout

base_app = typer.Typer(
    help="Base models: build the tiny base, inspect a base.", no_args_is_help=True
)


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

    folder = ensure_tiny_base(get_state(ctx).paths.models, preset, force=force)
    card = read_card(folder) or {}
    print_base_card(folder, card)


def print_base_card(folder: Path, card: dict) -> None:
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

    state = get_state(ctx)
    settings = state.loaded.settings.model
    ref = resolve_base(name or settings.base, state.paths, settings.revision, build=False)
    info = describe_base(ref)
    stdout.print(f"[bold]{ref.name}[/] ({ref.kind}) -> {ref.location}")
    parameters = f"{info.parameters:,}" if info.parameters else "unknown"
    stdout.print(f"  parameters  {parameters} (from {info.parameters_source})")
    stdout.print(f"  on disk     {'yes' if info.available_locally else 'no'}")
    card = read_card(Path(ref.location)) if ref.is_local else None
    if card:
        print_base_card(Path(ref.location), card)
