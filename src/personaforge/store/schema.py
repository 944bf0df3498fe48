"""Schemas as named migrations, applied in order, each once, in its own transaction.

The one mechanism for every SQLite file personaforge writes: the memory store
(memories.db: memories, files, ingest runs, tombstones, pipeline runs) and the
registry (registry.db, registry.py's REGISTRY_MIGRATIONS). A migration is SQL, or
a function of the connection for a step SQL cannot say conditionally (add a column
that a pre-migration file may already have). Each file records what it applied in
its own `schema_migrations` table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from personaforge.errors import UserError
from personaforge.store.records import now_iso

# A migration: its name, and its SQL or a function that changes the connection.
Migration = tuple[str, "str | Callable[[sqlite3.Connection], None]"]

# The memory store's migrations, applied in order, each once, each in its own transaction.
# Never edit a shipped migration: add a new one.
MIGRATIONS: list[Migration] = [
    (
        "0001_memories_and_files",
        """
        CREATE TABLE files (
            path          TEXT PRIMARY KEY,   -- absolute path
            source        TEXT NOT NULL,
            size          INTEGER NOT NULL,
            mtime_ns      INTEGER NOT NULL,
            content_hash  TEXT,               -- NULL when the file could not be read
            status        TEXT NOT NULL,      -- ok, skipped, deleted
            reason        TEXT,               -- why it was skipped
            bad_records   INTEGER NOT NULL DEFAULT 0,
            first_seen    TEXT NOT NULL,
            last_ingested TEXT NOT NULL
        );
        CREATE TABLE memories (
            id           TEXT PRIMARY KEY,    -- stable hash of source + locator
            source       TEXT NOT NULL,
            locator      TEXT NOT NULL,
            file_path    TEXT NOT NULL,
            created_at   TEXT NOT NULL,       -- ISO 8601
            title        TEXT NOT NULL DEFAULT '',
            text         TEXT NOT NULL,
            tags         TEXT NOT NULL DEFAULT '[]',
            mode         TEXT NOT NULL,
            speaker      TEXT NOT NULL,
            meta         TEXT NOT NULL DEFAULT '{}',
            content_hash TEXT NOT NULL,
            added_at     TEXT NOT NULL,
            updated_at   TEXT NOT NULL,
            deleted_at   TEXT
        );
        CREATE INDEX memories_by_file ON memories(file_path);
        CREATE INDEX memories_by_date ON memories(created_at);
        CREATE VIRTUAL TABLE memories_fts USING fts5(
            title, text, tags, content='memories', content_rowid='rowid',
            tokenize='unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER memories_ai AFTER INSERT ON memories BEGIN
            INSERT INTO memories_fts(rowid, title, text, tags)
            VALUES (new.rowid, new.title, new.text, new.tags);
        END;
        CREATE TRIGGER memories_ad AFTER DELETE ON memories BEGIN
            INSERT INTO memories_fts(memories_fts, rowid, title, text, tags)
            VALUES ('delete', old.rowid, old.title, old.text, old.tags);
        END;
        CREATE TRIGGER memories_au AFTER UPDATE OF title, text, tags ON memories BEGIN
            INSERT INTO memories_fts(memories_fts, rowid, title, text, tags)
            VALUES ('delete', old.rowid, old.title, old.text, old.tags);
            INSERT INTO memories_fts(rowid, title, text, tags)
            VALUES (new.rowid, new.title, new.text, new.tags);
        END;
        """,
    ),
    (
        "0002_ingest_runs",
        """
        CREATE TABLE ingest_runs (
            id          INTEGER PRIMARY KEY,
            started_at  TEXT NOT NULL,
            finished_at TEXT,
            paths       TEXT NOT NULL,        -- JSON list
            status      TEXT NOT NULL,        -- running, finished, interrupted, failed
            summary     TEXT                  -- JSON
        );
        """,
    ),
    (
        # Who runs an ingest and when it last showed life, so a killed one is not `running` forever.
        "0003_ingest_run_liveness",
        """
        ALTER TABLE ingest_runs ADD COLUMN pid INTEGER;
        ALTER TABLE ingest_runs ADD COLUMN host TEXT;
        ALTER TABLE ingest_runs ADD COLUMN heartbeat_at TEXT;
        """,
    ),
    (
        # What `forget` removed: hashes and places, never the words, so it never comes back.
        "0004_tombstones",
        """
        CREATE TABLE tombstones (
            id           INTEGER PRIMARY KEY,
            memory_id    TEXT NOT NULL,
            source       TEXT NOT NULL,
            file_path    TEXT NOT NULL,
            text_hash    TEXT NOT NULL,   -- sha256 of the whitespace-normalised text
            forgotten_at TEXT NOT NULL,
            forget_id    INTEGER          -- the forget that wrote it (forgets table)
        );
        CREATE INDEX tombstones_by_text ON tombstones(text_hash);
        CREATE TABLE forgets (
            id         INTEGER PRIMARY KEY,
            at         TEXT NOT NULL,
            request    TEXT NOT NULL,     -- what was asked: a path, an id, or "search" (never its text)
            report     TEXT NOT NULL      -- JSON: counts, memory ids, versions marked, verification
        );
        """,
    ),
    (
        # The record of every `personaforge run` (runs.py). IF NOT EXISTS: stores written before
        # this migration already hold the table, created outside it.
        "0005_pipeline_runs",
        """
        CREATE TABLE IF NOT EXISTS pipeline_runs (
            id          INTEGER PRIMARY KEY,
            trigger     TEXT NOT NULL,
            started_at  TEXT NOT NULL,
            finished_at TEXT,
            status      TEXT NOT NULL,
            stages      TEXT NOT NULL DEFAULT '[]',
            version     TEXT,
            error       TEXT,
            pid         INTEGER,
            options     TEXT NOT NULL DEFAULT '{}'
        );
        """,
    ),
]


def add_column(table: str, column: str, declaration: str) -> Callable[[sqlite3.Connection], None]:
    """A migration step adding a column unless the table already has it."""

    def step(db: sqlite3.Connection) -> None:
        columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if column not in columns:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")

    return step


def applied_migrations(db: sqlite3.Connection) -> list[str]:
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    return [row[0] for row in db.execute("SELECT name FROM schema_migrations ORDER BY name")]


def apply_migrations(
    db: sqlite3.Connection, migrations: Sequence[Migration], where: Path | str
) -> list[str]:
    """Apply the pending migrations to `db`; returns the names applied now."""
    done = set(applied_migrations(db))
    applied = []
    for name, change in migrations:
        if name in done:
            continue
        try:
            if isinstance(change, str):
                db.executescript(
                    f"BEGIN;\n{change}\nINSERT INTO schema_migrations VALUES ('{name}', '{now_iso()}');\nCOMMIT;"
                )
            else:
                if db.in_transaction:
                    db.commit()
                db.execute("BEGIN")
                change(db)
                db.execute("INSERT INTO schema_migrations VALUES (?, ?)", (name, now_iso()))
                db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise UserError(f"cannot apply migration {name} to {where}: {exc}") from exc
        applied.append(name)
    return applied


class Schema:
    """Opening a store brings its schema up to date (part of MemoryStore)."""

    db: sqlite3.Connection
    path: Path

    def applied_migrations(self) -> list[str]:
        return applied_migrations(self.db)

    def migrate(self) -> list[str]:
        """Apply pending migrations; returns the names applied now."""
        return apply_migrations(self.db, MIGRATIONS, self.path)
