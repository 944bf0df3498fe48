"""Rules both serving engines share: API errors with their HTTP status, and where adapters may live.

    folder = adapter_folder(paths, version="v4")              # adapters/v4, checked
    folder = adapter_folder(paths, model_path="/home/u/.personaforge/adapters/v4")

A request names an adapter by version (`v4`) or by path (`v4` relative to the
adapters folder, or absolute). Either way it must end at a
version folder directly inside `$PERSONAFORGE_HOME/adapters`, symlinks
followed, so a request can never make the server read (or hand vLLM) a file
elsewhere on the machine. The local engine and the vLLM bridge both call
`adapter_folder`; tests run the same cases through both.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from personaforge.errors import UserError
from personaforge.paths import Paths


class ApiError(UserError):
    """A request the client must fix; `status` and `kind` become the OpenAI error shape."""

    status = 400
    kind = "invalid_request_error"

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param


class NotFound(ApiError):
    status = 404


class Forbidden(ApiError):
    """A well-formed path to somewhere requests may not reach."""

    status = 403
    kind = "permission_error"


class Conflict(ApiError):
    """The server's state does not allow it now (nothing to roll back to)."""

    status = 409


class Unavailable(ApiError):
    status = 503
    kind = "unavailable"


class Busy(ApiError):
    status = 429
    kind = "rate_limit_error"


OUTSIDE = "model paths must name a version folder directly inside the adapters folder of PERSONAFORGE_HOME"


def _check_text(value: str, field: str) -> None:
    """No NUL or other control characters: the OS refuses NUL (a 500 once) and logs must stay one line."""
    if not value:
        raise ApiError(f"{field} is empty", field)
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise ApiError(f"{field} contains control characters", field)


def adapter_folder(paths: Paths, version: str | None = None, model_path: str | None = None) -> Path:
    """The version folder a request names; 400 malformed, 403 outside the adapters folder, 404 absent."""
    root = paths.adapters.resolve()
    if model_path is not None:
        _check_text(model_path, "model_path")
        path = Path(model_path)
        # Malformed (400): a backslash (a separator on Windows, a traversal trick elsewhere)
        # or a "." or ".." part. The API's schema states the same syntax.
        if "\\" in model_path or any(p in (".", "..") for p in model_path.split("/")):
            raise ApiError("model_path may not contain '\\', '.' or '..' parts", "model_path")
        if path.is_absolute():
            # Lexically inside the folder first (as given or with symlinks resolved), so the
            # check below sees only what follows it: ~/.personaforge itself is fine.
            inside = [
                path.relative_to(r)
                for r in (paths.adapters.absolute(), root)
                if path.is_relative_to(r)
            ]
            if not inside:
                raise Forbidden(OUTSIDE, "model_path")
            path = inside[0]
        if any(p.startswith(".") for p in path.parts):  # a hidden folder is never a version
            raise Forbidden(OUTSIDE, "model_path")
        candidate = root / path
        field = "model_path"
    elif version is not None:
        _check_text(version, "version")
        if "/" in version or "\\" in version or version.startswith("."):
            raise ApiError(f"'{version}' is not a version name (v1, v2, ...)", "version")
        candidate = root / version
        field = "version"
    else:
        raise ApiError("give a version or a model_path")
    try:
        folder = candidate.resolve()  # follows symlinks: a link out of the folder is refused below
        if folder.parent != root:
            raise Forbidden(OUTSIDE, field)
        present = (folder / "adapter_config.json").is_file()
    except OSError as exc:  # a name too long for the file system, a loop of links: nothing there
        raise NotFound(f"no adapter at that {field} ({exc.strerror})", field) from None
    if not present:
        raise NotFound(f"no adapter at {folder.name}", field)
    _refuse_forgotten(paths, folder.name, field)
    return folder


def _refuse_forgotten(paths: Paths, name: str, field: str) -> None:
    """A version flagged by `forget` is never served: it learned what the person took back."""
    from personaforge.registry import Registry

    if not (paths.home / "registry.db").exists():
        return
    with Registry.open(paths) as registry:
        flagged = registry.is_forgotten(name)
    if flagged:
        raise Forbidden(
            f"{name} learned from memories you asked to forget; it is not served", field
        )
