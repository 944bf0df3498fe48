"""`personaforge schedule`: run the monthly cycle on its own (systemd timer, launchd, cron)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from personaforge.cli.app import examples, get_state
from personaforge.ui import console, stdout

schedule_app = typer.Typer(
    help="Run `personaforge run` on a schedule: install, remove, status.", no_args_is_help=True
)


@schedule_app.command(
    "install",
    epilog=examples(
        "personaforge schedule install --dry-run",
        "personaforge schedule install                    # monthly, on the 1st at 03:00",
        "personaforge schedule install --weekly --at 'sun 22:30'",
        "personaforge schedule install --at '15 02:00' --ac-only",
    ),
)
def schedule_install(
    ctx: typer.Context,
    monthly: Annotated[bool, typer.Option("--monthly", help="Once a month (the default).")] = False,
    weekly: Annotated[bool, typer.Option("--weekly", help="Once a week.")] = False,
    at: Annotated[
        str | None,
        typer.Option(help="When: 'DAY HH:MM' (monthly: day 1-28; weekly: mon..sun)."),
    ] = None,
    ac_only: Annotated[
        bool, typer.Option("--ac-only", help="Only when on AC power (systemd).")
    ] = False,
    backend: Annotated[
        str, typer.Option(help="auto (systemd, then launchd, then cron), systemd, launchd, cron.")
    ] = "auto",
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print the unit files (or crontab line); change nothing."),
    ] = False,
) -> None:
    """Install a schedule that runs `personaforge run` for this home, at low priority."""
    from personaforge.schedule import Cadence, describe, install, next_run, schedule_plan

    state = get_state(ctx)
    cadence = Cadence.parse(monthly, weekly, at)
    plan = schedule_plan(state.paths, cadence, ac_only, backend)
    if dry_run:
        stdout.print(describe(plan), markup=False, soft_wrap=True)
        return
    install(plan)
    console.print(
        f"installed ({plan.backend}): `personaforge run` for {state.paths.home}; "
        f"next run {next_run(plan)}; log {plan.log}"
    )


@schedule_app.command("remove", epilog=examples("personaforge schedule remove"))
def schedule_remove(ctx: typer.Context) -> None:
    """Remove the schedule this home installed."""
    from personaforge.schedule import remove

    removed = remove(get_state(ctx).paths)
    console.print(f"removed the {removed.backend} schedule" if removed else "no schedule installed")


@schedule_app.command("status", epilog=examples("personaforge schedule status"))
def schedule_status(ctx: typer.Context) -> None:
    """The schedule, its next run, and the last scheduled run's result."""
    from personaforge.runs import list_runs
    from personaforge.schedule import installed_plan, is_installed, next_run

    paths = get_state(ctx).paths
    plan = installed_plan(paths)
    if plan is None:
        stdout.print("no schedule installed (`personaforge schedule install`)")
    else:
        where = "installed" if is_installed(plan) else "[red]recorded but missing[/]"
        stdout.print(f"schedule: {plan.backend} ({where}), {plan.cadence.on_calendar}")
        stdout.print(f"next run: {next_run(plan)}")
        stdout.print(f"log: {plan.log}")
    scheduled = [r for r in list_runs(paths, limit=200) if r["trigger"] == "schedule"]
    if scheduled:
        last = scheduled[0]
        stdout.print(
            f"last scheduled run: {last['id']} at {last['started_at']}: {last['status']}"
            + (f", made {last['version']}" if last["version"] else "")
            + (f" ({escape(last['error'])})" if last["error"] else "")
        )
    else:
        stdout.print("last scheduled run: none yet")
