"""`personaforge status`: the current version, the memories since, the last verdict."""

from __future__ import annotations

import typer
from rich.markup import escape

from personaforge.cli.app import app, examples, get_state, open_registry
from personaforge.ui import stdout


@app.command(epilog=examples("personaforge status"))
def status(ctx: typer.Context) -> None:
    """Where things stand: the current version, its age and data, memories since, the last verdict."""
    from datetime import datetime, timezone

    paths = get_state(ctx).paths
    with open_registry(ctx) as registry:
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
