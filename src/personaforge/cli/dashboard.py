"""`personaforge dashboard`: a local web page to watch training, compare versions and see the data."""

from __future__ import annotations

from typing import Annotated

import typer

from personaforge.cli.app import app, examples, get_state
from personaforge.ui import console


@app.command(
    epilog=examples(
        "personaforge dashboard",
        "personaforge dashboard --port 8080",
        "personaforge train --dashboard   # watch a training live",
        "personaforge dashboard --host 0.0.0.0 --api-key $(openssl rand -hex 16)",
    )
)
def dashboard(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option(help="Interface to listen on; anything but loopback needs --api-key.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 7374,
    api_key: Annotated[
        str | None,
        typer.Option(help="Require this key on every request (open the page once with ?key=KEY)."),
    ] = None,
) -> None:
    """Serve a local web page: live training, run history, versions side by side, the data."""
    from personaforge.dashboard import serve_dashboard

    serve_dashboard(get_state(ctx).paths, host, port, api_key, announce=console.print)
