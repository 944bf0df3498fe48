"""`personaforge reload`: swap a running server's persona to another version, no restart."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from personaforge.cli.app import app, examples, get_state
from personaforge.errors import UserError
from personaforge.ui import console


def _admin(paths, url: str, path: str, body: dict | None = None) -> dict:
    import urllib.error
    import urllib.request

    from personaforge.serve.guard import admin_token

    request = urllib.request.Request(
        url.rstrip("/") + path,
        data=json.dumps(body or {}).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {admin_token(paths)}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise UserError(json.loads(exc.read()).get("error", {}).get("message", str(exc))) from None
    except urllib.error.URLError as exc:
        raise UserError(
            f"no server at {url} ({exc.reason}); start one with `personaforge serve`"
        ) from None


@app.command(
    epilog=examples("personaforge reload v4", "personaforge reload v4 --url http://127.0.0.1:8000")
)
def reload(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="Version to serve as `persona`.")],
    url: Annotated[str, typer.Option(help="The running server.")] = "http://127.0.0.1:7373",
) -> None:
    """Swap the running server's persona to another version without a restart."""
    result = _admin(get_state(ctx).paths, url, "/admin/reload-model", {"version": version})
    console.print(f"persona is now {result['persona']} (loaded: {', '.join(result['loaded'])})")
