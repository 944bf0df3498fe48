"""The personaforge command line: one Typer app, a module per command or command group.

`app.py` holds the root app, its global options and the helpers every group
uses; each other module is named for its command (`ingest.py`, `eval.py`) or
its group (`memories.py`, `models.py`) and holds it and its printers. They
register on import, in the order `--help` lists them.
"""

from __future__ import annotations

import importlib
import sys

from rich.markup import escape

from personaforge.cli.app import app
from personaforge.diskfull import disk_full_error
from personaforge.errors import UserError
from personaforge.paths import resolve_home
from personaforge.ui import console

# Modules whose commands hang off the root, in the order `--help` lists them.
COMMAND_MODULES = (
    "config",
    "doctor",
    "base",
    "ingest",
    "memories",
    "dataset",
    "train",
    "eval",
    "status",
    "models",
    "export",
    "serve",
    "reload",
    "chat",
    "run",
    "runs",
    "provenance",
    "forget",
    "schedule",
    "dashboard",
    "profile",
    "blindtest",
    "demo",
)
# Command groups (module, its Typer, the group's name), listed after the commands.
GROUPS = (
    ("config", "config_app", "config"),
    ("base", "base_app", "base"),
    ("memories", "memories_app", "memories"),
    ("dataset", "dataset_app", "dataset"),
    ("models", "models_app", "models"),
    ("profile", "profile_app", "profile"),
    ("runs", "runs_app", "runs"),
    ("schedule", "schedule_app", "schedule"),
)

for _module in COMMAND_MODULES:
    importlib.import_module(f"personaforge.cli.{_module}")
for _module, _attribute, _name in GROUPS:
    app.add_typer(
        getattr(importlib.import_module(f"personaforge.cli.{_module}"), _attribute), name=_name
    )


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
    except Exception as exc:
        # A full disk met where no writer named its file (inside torch, a library's cache):
        # still one line, with the file the OSError names or the home.
        full = disk_full_error(exc, resolve_home())
        if full is None:
            raise
        console.print(f"[red]error:[/] {escape(str(full))}", soft_wrap=True)
        sys.exit(full.exit_code)


if __name__ == "__main__":
    main()
