"""The memory store: SQLite with FTS5, named migrations, incremental file bookkeeping.

One database, `$PERSONAFORGE_HOME/memories.db`, with three tables that matter:

- `files`: every source file ingest has seen, with its size, mtime and content
  hash, so an unchanged file is never read again and an unchanged hash changes
  no memory row;
- `memories`: the memory rows of DESIGN.md's data contract. A memory whose file
  was deleted or edited away keeps its row with `deleted_at` set (never
  silently kept as live, never silently lost);
- `memories_fts`: an FTS5 index over title, text and tags, kept in step by triggers.

Writes go through `MemoryStore.batch()`: one transaction per batch of files and a
savepoint per file, so a crash or Ctrl-C rolls back at most the file in flight
and the files table never disagrees with the memories it describes.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from personaforge.errors import UserError

MODES = ("reflection", "conversation", "observation", "agent", "dual", "feedback")
SPEAKERS = ("self", "other", "assistant")

# Named migrations, applied in order, each once, each in its own transaction.
# Never edit a shipped migration: add a new one.
MIGRATIONS: list[tuple[str, str]] = [
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
]


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


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

    def __iadd__(self, other: MemoryChanges) -> MemoryChanges:
        self.added += other.added
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.deleted += other.deleted
        return self


class MemoryStore:
    """The SQLite memory store. Open with `MemoryStore.open(path)` or as a context manager."""

    def __init__(self, connection: sqlite3.Connection, path: Path):
        self.db = connection
        self.path = path

    # -- opening and migrations -------------------------------------------------

    @classmethod
    def open(cls, path: Path) -> MemoryStore:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = sqlite3.connect(path, isolation_level=None, timeout=30)
        except sqlite3.Error as exc:
            raise UserError(f"cannot open the memory store {path}: {exc}") from exc
        connection.row_factory = sqlite3.Row
        # WAL lets `memories search` read while an ingest writes; NORMAL sync is
        # durable at each commit in WAL mode except against power loss of the last one.
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA foreign_keys=ON")
        store = cls(connection, path)
        store.migrate()
        return store

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def applied_migrations(self) -> list[str]:
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        return [
            row[0] for row in self.db.execute("SELECT name FROM schema_migrations ORDER BY name")
        ]

    def migrate(self) -> list[str]:
        """Apply pending migrations; returns the names applied now."""
        done = set(self.applied_migrations())
        applied = []
        for name, sql in MIGRATIONS:
            if name in done:
                continue
            statements = f"BEGIN;\n{sql}\nINSERT INTO schema_migrations VALUES ('{name}', '{now_iso()}');\nCOMMIT;"
            try:
                self.db.executescript(statements)
            except sqlite3.Error as exc:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise UserError(
                    f"cannot apply store migration {name} to {self.path}: {exc}"
                ) from exc
            applied.append(name)
        return applied

    # -- transactions -------------------------------------------------------------

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction: committed on success, rolled back on any exception."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """All of one file's changes, or none of them (inside `batch()`)."""
        self.db.execute("SAVEPOINT one_file")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK TO one_file")
            self.db.execute("RELEASE one_file")
            raise
        self.db.execute("RELEASE one_file")

    # -- files ----------------------------------------------------------------------

    def file_state(self, path: str) -> FileState | None:
        row = self.db.execute(
            "SELECT path, source, size, mtime_ns, content_hash, status, reason FROM files WHERE path = ?",
            (path,),
        ).fetchone()
        return FileState(**dict(row)) if row else None

    def files_under(self, root: str, include_deleted: bool = False) -> list[FileState]:
        """Files recorded under `root` (a file or folder path), in one query."""
        prefix = root.rstrip("/") + "/"
        rows = self.db.execute(
            "SELECT path, source, size, mtime_ns, content_hash, status, reason FROM files "
            "WHERE (? OR status != 'deleted') AND (path = ? OR substr(path, 1, ?) = ?)",
            (include_deleted, root, len(prefix), prefix),
        )
        return [FileState(**dict(row)) for row in rows]

    def _upsert_file(
        self,
        path: str,
        source: str,
        size: int,
        mtime_ns: int,
        content_hash: str | None,
        status: str,
        reason: str | None = None,
        bad_records: int = 0,
    ) -> None:
        stamp = now_iso()
        self.db.execute(
            "INSERT INTO files (path, source, size, mtime_ns, content_hash, status, reason, bad_records, "
            "first_seen, last_ingested) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(path) DO UPDATE SET source=excluded.source, size=excluded.size, "
            "mtime_ns=excluded.mtime_ns, content_hash=excluded.content_hash, status=excluded.status, "
            "reason=excluded.reason, bad_records=excluded.bad_records, last_ingested=excluded.last_ingested",
            (path, source, size, mtime_ns, content_hash, status, reason, bad_records, stamp, stamp),
        )

    def touch_file(self, path: str, size: int, mtime_ns: int) -> None:
        """Same content under a new mtime: remember the stat so the next run skips the read."""
        self.db.execute(
            "UPDATE files SET size = ?, mtime_ns = ? WHERE path = ?", (size, mtime_ns, path)
        )

    def record_skipped_file(
        self, path: str, source: str, size: int, mtime_ns: int, reason: str
    ) -> MemoryChanges:
        """A file that could not be read: its earlier memories, if any, are marked deleted."""
        changes = MemoryChanges(deleted=self._delete_memories_of(path))
        self._upsert_file(path, source, size, mtime_ns, None, "skipped", reason)
        return changes

    def mark_file_deleted(self, path: str) -> int:
        deleted = self._delete_memories_of(path)
        self.db.execute(
            "UPDATE files SET status = 'deleted', last_ingested = ? WHERE path = ?",
            (now_iso(), path),
        )
        return deleted

    def _delete_memories_of(self, path: str, keep: set[str] | frozenset[str] = frozenset()) -> int:
        rows = self.db.execute(
            "SELECT id FROM memories WHERE file_path = ? AND deleted_at IS NULL", (path,)
        ).fetchall()
        gone = [row[0] for row in rows if row[0] not in keep]
        stamp = now_iso()
        self.db.executemany(
            "UPDATE memories SET deleted_at = ? WHERE id = ?", [(stamp, i) for i in gone]
        )
        return len(gone)

    def replace_file(
        self,
        path: str,
        source: str,
        size: int,
        mtime_ns: int,
        content_hash: str,
        drafts: list[MemoryDraft],
        bad_records: int = 0,
    ) -> MemoryChanges:
        """Make the file's live memories exactly `drafts`; unchanged rows are not touched."""
        changes = MemoryChanges()
        stamp = now_iso()
        seen: set[str] = set()
        for draft in drafts:
            mid = memory_id(source, draft.locator)
            if mid in seen:  # two drafts with one locator: the parser's bug, keep the first
                continue
            seen.add(mid)
            digest = draft.content_hash()
            row = self.db.execute(
                "SELECT content_hash, deleted_at, file_path FROM memories WHERE id = ?", (mid,)
            ).fetchone()
            values = (
                source,
                draft.locator,
                path,
                draft.created_at,
                draft.title,
                draft.text,
                json.dumps(draft.tags, ensure_ascii=False),
                draft.mode,
                draft.speaker,
                json.dumps(draft.meta, ensure_ascii=False, sort_keys=True, default=str),
                digest,
            )
            if row is None:
                self.db.execute(
                    "INSERT INTO memories (source, locator, file_path, created_at, title, text, tags, mode, "
                    "speaker, meta, content_hash, id, added_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*values, mid, stamp, stamp),
                )
                changes.added += 1
            elif row["content_hash"] == digest and row["deleted_at"] is None:
                if row["file_path"] != path:  # the same chat in a moved or newer export: follow it
                    self.db.execute("UPDATE memories SET file_path = ? WHERE id = ?", (path, mid))
                changes.unchanged += 1
            else:
                self.db.execute(
                    "UPDATE memories SET source=?, locator=?, file_path=?, created_at=?, title=?, text=?, "
                    "tags=?, mode=?, speaker=?, meta=?, content_hash=?, updated_at=?, deleted_at=NULL "
                    "WHERE id=?",
                    (*values, stamp, mid),
                )
                if row["deleted_at"] is None:
                    changes.updated += 1
                else:
                    changes.added += 1  # back after a deletion
        changes.deleted = self._delete_memories_of(path, keep=seen)
        self._upsert_file(path, source, size, mtime_ns, content_hash, "ok", bad_records=bad_records)
        return changes

    # -- ingest runs ------------------------------------------------------------------

    def start_run(self, paths: list[str]) -> int:
        cursor = self.db.execute(
            "INSERT INTO ingest_runs (started_at, paths, status) VALUES (?, ?, 'running')",
            (now_iso(), json.dumps(paths)),
        )
        return int(cursor.lastrowid or 0)

    def finish_run(self, run_id: int, status: str, summary: dict[str, Any]) -> None:
        self.db.execute(
            "UPDATE ingest_runs SET finished_at = ?, status = ?, summary = ? WHERE id = ?",
            (now_iso(), status, json.dumps(summary), run_id),
        )

    def last_run(self) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM ingest_runs ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            return None
        run = dict(row)
        run["paths"] = json.loads(run["paths"])
        run["summary"] = json.loads(run["summary"]) if run["summary"] else None
        return run

    # -- reading ----------------------------------------------------------------------

    def get(self, id_or_prefix: str) -> Memory:
        """A memory by id or by a unique id prefix (at least 4 characters)."""
        if len(id_or_prefix) < 4:
            raise UserError(f"memory id '{id_or_prefix}' is too short; give at least 4 characters")
        rows = self.db.execute(
            "SELECT * FROM memories WHERE id = ? OR substr(id, 1, ?) = ? LIMIT 3",
            (id_or_prefix, len(id_or_prefix), id_or_prefix),
        ).fetchall()
        if not rows:
            raise UserError(f"no memory with id '{id_or_prefix}'; see `personaforge memories list`")
        if len(rows) > 1 and not any(row["id"] == id_or_prefix for row in rows):
            raise UserError(f"memory id prefix '{id_or_prefix}' is ambiguous; give more characters")
        exact = [row for row in rows if row["id"] == id_or_prefix]
        return Memory.from_row(exact[0] if exact else rows[0])

    def memories(
        self,
        source: str | None = None,
        mode: str | None = None,
        since: str | None = None,
        until: str | None = None,
        include_deleted: bool = False,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Memory]:
        clauses, params = self._filters(source, mode, since, until, include_deleted)
        sql = "SELECT * FROM memories"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += f" ORDER BY created_at {'DESC' if newest_first else 'ASC'}, locator"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [Memory.from_row(row) for row in self.db.execute(sql, params)]

    @staticmethod
    def _filters(
        source: str | None,
        mode: str | None,
        since: str | None,
        until: str | None,
        include_deleted: bool,
    ) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if not include_deleted:
            clauses.append("deleted_at IS NULL")
        for column, value in (("source", source), ("mode", mode)):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        if since:
            clauses.append("created_at >= ?")
            params.append(since)
        if until:
            clauses.append("created_at < ?")
            params.append(until)
        return clauses, params

    def search(self, query: str, limit: int = 20) -> list[tuple[Memory, str]]:
        """Full-text search, best first; returns (memory, snippet) pairs.

        The query is FTS5 syntax (words, "phrases", OR, prefix*); if it does not
        parse, it is retried as plain words so a stray quote or colon still finds something.
        """
        sql = (
            "SELECT memories.*, snippet(memories_fts, 1, '[', ']', ' … ', 12) AS snip "
            "FROM memories_fts JOIN memories ON memories.rowid = memories_fts.rowid "
            "WHERE memories_fts MATCH ? AND memories.deleted_at IS NULL ORDER BY bm25(memories_fts) LIMIT ?"
        )
        try:
            rows = self.db.execute(sql, (query, limit)).fetchall()
        except sqlite3.OperationalError:
            words = [w for w in "".join(c if c.isalnum() else " " for c in query).split() if w]
            if not words:
                return []
            rows = self.db.execute(sql, (" ".join(f'"{w}"' for w in words), limit)).fetchall()
        return [(Memory.from_row(row), row["snip"]) for row in rows]

    def count(self, include_deleted: bool = False) -> int:
        where = "" if include_deleted else " WHERE deleted_at IS NULL"
        return int(self.db.execute(f"SELECT count(*) FROM memories{where}").fetchone()[0])

    def counts_by(self, expression: str) -> list[tuple[str, int]]:
        """Live memory counts grouped by a column expression (source, mode, month)."""
        allowed = {
            "source": "source",
            "mode": "mode",
            "speaker": "speaker",
            "month": "substr(created_at, 1, 7)",
        }
        column = allowed[expression]
        rows = self.db.execute(
            f"SELECT {column} AS key, count(*) FROM memories WHERE deleted_at IS NULL GROUP BY key ORDER BY key"
        )
        return [(row[0], row[1]) for row in rows]

    def stats(self) -> dict[str, Any]:
        """Counts for `memories stats` and the demo: by source, mode, speaker, month; files; last run."""
        last = self.last_run()
        live = self.count()
        return {
            "memories": live,
            "deleted": self.count(include_deleted=True) - live,
            "by_source": dict(self.counts_by("source")),
            "by_mode": dict(self.counts_by("mode")),
            "by_speaker": dict(self.counts_by("speaker")),
            "by_month": dict(self.counts_by("month")),
            "files": self.file_counts(),
            "last_ingest": {"started_at": last["started_at"], "status": last["status"]}
            if last
            else None,
        }

    def file_counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT status, count(*) FROM files GROUP BY status")
        return {row[0]: row[1] for row in rows}

    def skipped_files(self) -> list[tuple[str, str]]:
        rows = self.db.execute(
            "SELECT path, reason FROM files WHERE status = 'skipped' ORDER BY path"
        )
        return [(row[0], row[1]) for row in rows]
