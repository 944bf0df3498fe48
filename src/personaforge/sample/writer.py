"""Writes sample files with fixed modification times and keeps the manifest's books."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from personaforge.sample.planted import PlantedSecret


@dataclass
class SampleWriter:
    root: Path
    files: dict[str, list[str]] = field(default_factory=dict)  # source -> relative paths
    planted: list[PlantedSecret] = field(default_factory=list)
    expectations: dict[str, list[str]] = field(default_factory=dict)  # what ingest should do

    def write(self, relative: str, content: str | bytes, source: str, when: datetime) -> Path:
        """Write one file and set its mtime to `when`, so mtime-dated notes stay deterministic."""
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        stamp = (
            when.replace(tzinfo=timezone.utc).timestamp()
            if when.tzinfo is None
            else when.timestamp()
        )
        os.utime(path, (stamp, stamp))
        self.files.setdefault(source, []).append(relative)
        return path

    def plant(self, kind: str, value: str, relative: str) -> str:
        """Record that `value` (a fake secret) is in `relative`; returns value for inlining."""
        self.planted.append(PlantedSecret(kind, value, relative))
        return value

    def expect(self, what: str, relative: str) -> None:
        self.expectations.setdefault(what, []).append(relative)
