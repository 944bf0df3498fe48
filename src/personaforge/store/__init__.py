"""The memory store: SQLite with FTS5, named migrations, incremental file bookkeeping.

One database, `$PERSONAFORGE_HOME/memories.db`, with three tables that matter:

- `files`: every source file ingest has seen, with its size, mtime and content
  hash, so an unchanged file is never read again and an unchanged hash changes
  no memory row;
- `memories`: the memory rows of DESIGN.md's data contract. A memory whose file
  was deleted or edited away keeps its row with `deleted_at` set (never
  silently kept as live, never silently lost);
- `memories_fts`: an FTS5 index over title, text and tags, kept in step by triggers;
- `tombstones`: what `forget` took out, by the hash of its text (never the
  text), so a forgotten note never comes back, unchanged or copied elsewhere.

Writes go through `MemoryStore.batch()`: one transaction per batch of files, and
ingest writes each file whole (Ctrl-C is held until the file is done, or a
`savepoint()` per file undoes it where Ctrl-C cannot be held), so a crash or Ctrl-C
never commits half a file and the files table never disagrees with the memories it
describes.

The class is one facade over three parts: schema.py (migrations), write.py
(files, upserts, tombstones, ingest runs) and read.py (lookups, search, stats).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from personaforge.diskfull import raise_if_full, writing
from personaforge.errors import UserError
from personaforge.store.read import ReadPath
from personaforge.store.records import (
    MODES,
    SPEAKERS,
    FileState,
    Memory,
    MemoryChanges,
    MemoryDraft,
    memory_id,
    now_iso,
    text_hash,
)
from personaforge.store.schema import MIGRATIONS, Schema, apply_migrations
from personaforge.store.write import STALE_AFTER_S, WritePath, pid_alive

__all__ = [
    "MIGRATIONS",
    "MODES",
    "SPEAKERS",
    "STALE_AFTER_S",
    "FileState",
    "Memory",
    "MemoryChanges",
    "MemoryDraft",
    "MemoryStore",
    "apply_migrations",
    "memory_id",
    "now_iso",
    "pid_alive",
    "text_hash",
]


class MemoryStore(Schema, WritePath, ReadPath):
    """The SQLite memory store. Open with `MemoryStore.open(path)` or as a context manager."""

    def __init__(self, connection: sqlite3.Connection, path: Path):
        self.db = connection
        self.path = path

    @classmethod
    def open(cls, path: Path) -> MemoryStore:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = sqlite3.connect(path, isolation_level=None, timeout=30)
        except sqlite3.Error as exc:
            raise UserError(f"cannot open the memory store {path}: {exc}") from exc
        connection.row_factory = sqlite3.Row
        # Opening writes too (the WAL index, migrations, stale runs closed): a full disk here
        # is the same one line as anywhere else.
        with writing(path):
            # WAL lets `memories search` read while an ingest writes; NORMAL sync is
            # durable at each commit in WAL mode except against power loss of the last one.
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA foreign_keys=ON")
            store = cls(connection, path)
            store.migrate()
            store.close_stale_runs()
        return store

    @classmethod
    def open_readonly(cls, path: Path) -> MemoryStore:
        """Open for reading only (a server answering from the store): no migrations, no writes.

        The store must exist and be migrated; a query never blocks an ingest writing beside it
        (WAL) and can never change the file.
        """
        if not path.is_file():
            raise UserError(f"no memory store at {path}; run `personaforge ingest PATH` first")
        try:
            connection = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30, check_same_thread=False
            )
            connection.row_factory = sqlite3.Row
            connection.execute("SELECT 1 FROM memories_fts LIMIT 0")
        except sqlite3.Error as exc:
            raise UserError(f"cannot read the memory store {path}: {exc}") from exc
        return cls(connection, path)

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, kind, exc, traceback) -> None:
        self.close()
        if exc is not None:  # a store write that did not fit: one line naming the file
            raise_if_full(exc, self.path)

    def close(self) -> None:
        self.db.close()
