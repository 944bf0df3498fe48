"""`personaforge profile`: build, show and compare USER_PROFILE.md."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

import typer
from rich.markup import escape

from personaforge.cli.app import display_path, examples, get_state
from personaforge.errors import UserError
from personaforge.ui import console, stdout

profile_app = typer.Typer(
    help="A readable, checkable profile of you: facts with evidence, style, probes.",
    no_args_is_help=True,
)


def _current_version(ctx: typer.Context) -> str | None:
    from personaforge.registry import Registry

    paths = get_state(ctx).paths
    if not (paths.home / "registry.db").exists() and not paths.adapters.exists():
        return None
    with Registry.open(paths) as registry:
        return registry.current()


@profile_app.command(
    "build",
    epilog=examples(
        "personaforge profile build",
        "personaforge profile build --version v3",
        "personaforge profile build --no-probe",
        "personaforge profile build --teacher http://localhost:11434/v1",
        "personaforge profile build --as-of 2026-08-31 --no-probe",
    ),
)
def profile_build(
    ctx: typer.Context,
    version: Annotated[
        str | None,
        typer.Option(
            "--version",
            help="Describe what this adapter version learned and probe it (default: all memories, "
            "probing the current version if there is one).",
        ),
    ] = None,
    teacher: Annotated[
        str | None,
        typer.Option(help="OpenAI-compatible endpoint for the LLM extractor (Ollama, vLLM, ...)."),
    ] = None,
    probe: Annotated[
        bool, typer.Option("--probe/--no-probe", help="Ask the model the fixed questions.")
    ] = True,
    as_of: Annotated[
        str | None, typer.Option(help="Only memories dated up to this day (YYYY-MM-DD).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the profile as JSON.")] = False,
) -> None:
    """Distil the memory store (and a trained version) into USER_PROFILE.md and USER_PROFILE.json.

    Every fact carries the memories it rests on, first/last seen dates, its support and its
    status (current or superseded, with the day it changed). Written into the home and, with
    --version, into the version's folder too (where `profile diff` finds it).
    """
    from personaforge.profile import build_profile, write_profile

    if as_of:
        try:
            date.fromisoformat(as_of)
        except ValueError:
            raise UserError(f"--as-of expects a date like 2026-08-31, got '{as_of}'") from None
    state = get_state(ctx)
    target: bool | str = False
    if probe:
        target = version or _current_version(ctx) or False
    profile = build_profile(
        state.paths, state.loaded.settings, version, teacher=teacher, probe=target, as_of=as_of
    )
    written = write_profile(state.paths, profile)
    if as_json:
        stdout.print_json(json.dumps(profile.as_dict(), ensure_ascii=False))
        return
    print_summary(profile, written)


def print_summary(profile, written) -> None:
    current = sum(f.status == "current" for f in profile.facts)
    superseded = len(profile.facts) - current
    stdout.print(
        f"[bold]{len(profile.facts)} facts[/] ({current} current, {superseded} superseded) "
        f"from {profile.memories} memories up to {profile.as_of}"
    )
    by_id = {f.id: f for f in profile.facts}
    for fact in profile.facts:
        if fact.status != "current" and fact.changed_on:
            newer = by_id.get(fact.superseded_by or "")
            change = f"{fact.label} {fact.value} → now {newer.value if newer else '?'}"
            stdout.print(f"  changed {fact.changed_on}: {escape(change)}")
    if profile.probe:
        counts = profile.probe.summary()
        stdout.print(
            f"probe of {profile.probe.version}: {counts['reproduces'] + counts['supported']} claims "
            f"supported, {counts['unsupported'] + counts['stale']} without evidence"
        )
    for path in written:
        stdout.print(f"  wrote {display_path(str(path))}", markup=False)


@profile_app.command(
    "show",
    epilog=examples(
        "personaforge profile show",
        "personaforge profile show --version v3",
        "personaforge profile show --json",
    ),
)
def profile_show(
    ctx: typer.Context,
    version: Annotated[
        str | None, typer.Option("--version", help="The profile saved with this version.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print USER_PROFILE.json.")] = False,
) -> None:
    """Print the last profile built (or the one saved with a version)."""
    from personaforge.profile.build import MARKDOWN, profile_file

    path = profile_file(get_state(ctx).paths, version)
    if as_json:
        stdout.print(path.read_text(encoding="utf-8"), markup=False, end="", soft_wrap=True)
        return
    markdown = path.with_name(MARKDOWN)
    if not markdown.exists():
        raise UserError(f"no {MARKDOWN} beside {path}; rebuild with `personaforge profile build`")
    stdout.print(markdown.read_text(encoding="utf-8"), markup=False, end="", soft_wrap=True)


@profile_app.command(
    "diff",
    epilog=examples(
        "personaforge profile diff v2 v3",
        "personaforge profile diff v1 v3 --json",
        "personaforge profile diff v3 ~/.personaforge/USER_PROFILE.json",
    ),
)
def profile_diff(
    ctx: typer.Context,
    old: Annotated[
        str, typer.Argument(metavar="OLD", help="A version (or a USER_PROFILE.json path).")
    ],
    new: Annotated[
        str, typer.Argument(metavar="NEW", help="A version (or a USER_PROFILE.json path).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the diff as JSON.")] = False,
) -> None:
    """Facts added, changed, superseded and dropped between two saved profiles."""
    from personaforge.profile import diff_profiles, load_profile, render_diff

    paths = get_state(ctx).paths
    diff = diff_profiles(load_profile(paths, old), load_profile(paths, new))
    diff.old, diff.new = old, new  # name the sides as the user did
    if as_json:
        stdout.print_json(json.dumps(diff.as_dict(), ensure_ascii=False))
        return
    stdout.print(render_diff(diff), markup=False, end="", soft_wrap=True)
    if diff.empty():
        console.print("[dim]the two profiles hold the same facts[/]")
