"""`personaforge reload`: swap a running server's persona to another version, no restart."""

from __future__ import annotations

from typing import Annotated

import typer

from personaforge.cli.app import app, examples, get_state
from personaforge.ui import console


@app.command(
    epilog=examples("personaforge reload v4", "personaforge reload v4 --url http://127.0.0.1:8000")
)
def reload(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="Version to serve as `persona`.")],
    url: Annotated[str, typer.Option(help="The running server.")] = "http://127.0.0.1:7373",
) -> None:
    """Swap the running server's persona to another version without a restart."""
    from personaforge.serve.client import admin_post

    result = admin_post(get_state(ctx).paths, url, "/admin/reload-model", {"version": version})
    console.print(f"persona is now {result['persona']} (loaded: {', '.join(result['loaded'])})")
