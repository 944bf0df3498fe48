"""Talking to a running `personaforge serve` from another process: `personaforge reload`,
the pipeline's reload stage and the demo all send their admin requests through `admin_post`.

Admin requests carry the token the server keeps in the home (guard.admin_token),
so only the person who owns the home can swap the model a server answers with.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from personaforge.errors import UserError
from personaforge.paths import Paths


class ServerUnreachable(UserError):
    """Nothing answers at the URL: no server runs there."""


def admin_post(
    paths: Paths, url: str, path: str, body: dict[str, Any] | None = None, timeout: float = 300
) -> dict[str, Any]:
    """POST an admin request; the server's JSON answer, or a UserError with its message."""
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
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error", {}).get("message", str(exc))
        except ValueError:
            message = str(exc)
        raise UserError(f"{url}{path}: {message}") from None
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ServerUnreachable(
            f"no server at {url} ({reason}); start one with `personaforge serve`"
        ) from None
