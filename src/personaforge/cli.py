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
app.add_typer(config_app, name="config")
app.add_typer(base_app, name="base")


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

    result = run_demo(_state(ctx).paths, fresh_data=fresh_data)
    stdout.rule("built-in tiny base")
    _print_card(result.base_folder, result.base_card)
    stdout.print("  greedy answers through AutoModelForCausalLM + its chat template:")
    for question, answer in result.answers:
        stdout.print(f"    {question}  ->  {answer}", markup=False)
    stdout.rule("sample data")
    _print_manifest(result.data_dir, result.manifest)
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
