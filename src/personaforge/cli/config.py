"""`personaforge config`: show and edit settings."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from personaforge.cli.app import examples, get_state
from personaforge.config import render_toml, set_in_file, unset_in_file
from personaforge.ui import console, stdout

config_app = typer.Typer(help="Show and edit settings.", no_args_is_help=True)


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
    loaded = get_state(ctx).loaded
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
    stdout.print(str(get_state(ctx).paths.config_file), markup=False, soft_wrap=True)


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
    state = get_state(ctx)
    state.paths.ensure()
    typed = set_in_file(state.paths, key, value)
    console.print(f"set {key} = {typed!r} in {state.paths.config_file}")


@config_app.command("unset", epilog=examples("personaforge config unset train.lora_rank"))
def config_unset(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Setting name, section.key.")],
) -> None:
    """Remove one setting from config.toml, so its default (or env/--set) applies again."""
    state = get_state(ctx)
    removed = unset_in_file(state.paths, key)
    console.print(f"{'removed' if removed else 'was not set:'} {key} ({state.paths.config_file})")
