"""`personaforge models`: the registry's adapter versions: list, show, promote, roll back, prune."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from personaforge.cli.app import examples, get_state, open_registry
from personaforge.ui import console, stdout

models_app = typer.Typer(
    help="Adapter versions: list, promote, reject, roll back, prune.", no_args_is_help=True
)


@models_app.command("list", epilog=examples("personaforge models list"))
def models_list(ctx: typer.Context) -> None:
    """Every version with its lineage, status and key metrics."""
    with open_registry(ctx) as registry:
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
    with open_registry(ctx) as registry:
        v = registry.get(version)
        events = registry.events(version)
    stdout.print(
        f"[bold]{v.name}[/] {v.status} ({v.method}, parent {v.parent or 'base'}) at {v.path}"
    )
    stdout.print(f"  base {v.base} ({v.base_fingerprint[:16]}…), dataset {v.dataset_id}")
    from personaforge.provenance import learned_from

    learned = learned_from(get_state(ctx).paths, version)
    stdout.print(
        f"  learned from {learned['memories']:,} memories (its lineage included): "
        + (", ".join(f"{source} {count:,}" for source, count in learned["sources"].items()) or "-")
    )
    for key, value in v.metrics.items():
        stdout.print(f"  {key:<22} {value}")
    if v.verdict:
        from personaforge.evaluate.gate import checks_of

        forced = " (promoted anyway: forced)" if v.verdict.get("forced") else ""
        stdout.print(f"  verdict: {v.verdict['decision']}{forced}")
        for check in checks_of(v.verdict):
            stdout.print(f"    {check.mark} {escape(check.line())}")
    for event in events:
        stdout.print(
            f"  {event['at']}  {event['action']}  {json.dumps(event['detail'])}", markup=False
        )


def _models_action(ctx: typer.Context, action: str, *args) -> None:
    with open_registry(ctx) as registry:
        result = getattr(registry, action)(*args)
        current = registry.current()
    if action == "prune":
        console.print(
            f"removed the weights of {', '.join(result) or 'nothing'} (cards and reports kept)"
        )
    console.print(f"current: {current or 'the base (no adapter)'}")


@models_app.command(
    "promote",
    epilog=examples("personaforge models promote v3", "personaforge models promote v4 --force"),
)
def models_promote(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="Version to promote.")],
    force: Annotated[
        bool,
        typer.Option("--force", help="Promote a version the gate rejected; recorded as forced."),
    ] = False,
) -> None:
    """Make a version current (the next training builds on it; serving uses it)."""
    _models_action(ctx, "promote", version, "by hand", force)


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
    with open_registry(ctx) as registry:
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
    from personaforge.registry import read_card

    with open_registry(ctx) as registry:
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
