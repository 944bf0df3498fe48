"""The one exception type that means "the user must fix something".

The CLI prints a UserError as a single line and exits non-zero; anything else is
a bug and keeps its traceback.
"""


class UserError(Exception):
    """A mistake the user can fix: bad config, missing file, unknown model."""

    exit_code = 2


class MissingExtraError(UserError):
    """A feature needs an optional dependency group that is not installed."""

    def __init__(self, extra: str, feature: str, module: str):
        super().__init__(
            f"{feature} needs the [{extra}] extra ({module} is not installed): "
            f"pip install 'personaforge[{extra}]'"
        )


def require(module: str, *, extra: str, feature: str):
    """Import an optional module, or raise a one-line MissingExtraError."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(extra, feature, module) from exc
