"""The store's records: memories (DESIGN.md's data contract), drafts, file states, change counts."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

MODES = ("reflection", "conversation", "observation", "agent", "dual", "feedback")
SPEAKERS = ("self", "other", "assistant")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def text_hash(text: str) -> str:
    """A memory's words alone, whitespace-normalised: equal for a copy of the note anywhere."""
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()


def memory_id(source: str, locator: str) -> str:
    """Stable id: the same source and locator always give the same id (16 hex chars)."""
    return hashlib.sha256(f"{source}\0{locator}".encode()).hexdigest()[:16]


@dataclass
class MemoryDraft:
    """What a source parser produces; the store adds id, hashes and times."""

    locator: str  # unique within the source: file path + heading, or conversation/message id
    text: str
    created_at: str  # ISO 8601
    title: str = ""
    tags: list[str] = field(default_factory=list)
    mode: str = "observation"
    speaker: str = "self"
    meta: dict[str, Any] = field(default_factory=dict)

    def content_hash(self) -> str:
        payload = json.dumps(
            [self.title, self.text, self.tags, self.created_at, self.mode, self.speaker, self.meta],
            sort_keys=True,
            ensure_ascii=False,
            default=str,
        )
        return hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class Memory:
    """A row of the memories table."""

    id: str
    source: str
    locator: str
    file_path: str
    created_at: str
    title: str
    text: str
    tags: list[str]
    mode: str
    speaker: str
    meta: dict[str, Any]
    content_hash: str
    added_at: str
    updated_at: str
    deleted_at: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Memory:
        values = dict(row)
        values["tags"] = json.loads(values["tags"])
        values["meta"] = json.loads(values["meta"])
        return cls(**{name: values[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class FileState:
    path: str
    source: str
    size: int
    mtime_ns: int
    content_hash: str | None
    status: str
    reason: str | None = None


@dataclass
class MemoryChanges:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    forgotten: int = 0  # drafts matching a tombstone: never stored again

    def __iadd__(self, other: MemoryChanges) -> MemoryChanges:
        self.added += other.added
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.deleted += other.deleted
        self.forgotten += other.forgotten
        return self
