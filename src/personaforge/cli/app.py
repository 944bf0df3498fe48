"""The personaforge command line: one Typer app, a subcommand per stage.

Global options (--home, --set) may appear anywhere on the line; `main` moves
--set to the front before parsing so `personaforge doctor --set model.base=tiny`
works as well as `personaforge --set model.base=tiny doctor`.

A UserError prints one line and exits 2; a usage error exits 2 with the usage;
Ctrl-C exits 130; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from personaforge import __version__
from personaforge.config import LoadedSettings, load_settings
from personaforge.errors import UserError
from personaforge.paths import Paths
from personaforge.ui import stdout

app = typer.Typer(
    name="personaforge",
    help="Turn your own writing into a local model that sounds like you.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def examples(*lines: str) -> str:
    """An epilog listing example invocations, one per line."""
    return "[bold]Examples[/]\n\n" + "\n\n".join(f"  $ {line}" for line in lines)


# Commands that must work while the settings are broken: they are how a user repairs them.
SETTINGS_OPTIONAL = {"config"}


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


def get_state(ctx: typer.Context) -> State:
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
    if ctx.invoked_subcommand not in SETTINGS_OPTIONAL:
        ctx.obj.loaded  # noqa: B018  (validates every layer now: a bad key stops any command)


def display_path(path: str) -> str:
    """A path relative to the working directory when it lies below it: shorter to read."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def open_registry(ctx: typer.Context):
    from personaforge.registry import Registry

    return Registry.open(get_state(ctx).paths)


def open_store(ctx: typer.Context):
    from personaforge.store import MemoryStore

    path = get_state(ctx).paths.memory_store
    if not path.exists():
        raise UserError(f"no memory store yet at {path}; run `personaforge ingest PATH` first")
    return MemoryStore.open(path)
