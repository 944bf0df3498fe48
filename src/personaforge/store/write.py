"""The store's write path: transactions, files, memory upserts, tombstones, ingest runs."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from personaforge.store.records import (
    FileState,
    MemoryChanges,
    MemoryDraft,
    memory_id,
    now_iso,
    text_hash,
)

# A running ingest writes a heartbeat after every batch of files (well under a minute even at
# 500 files of 50 MB); one silent for an hour is dead even if its pid was reused since.
STALE_AFTER_S = 3600


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (True when it cannot be told)."""
    if os.name == "nt":  # os.kill(pid, 0) would signal the process there; rely on heartbeats
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # another user's process (or an id os.kill refuses): assume alive
    return True


class WritePath:
    """Everything that changes rows (part of MemoryStore)."""

    db: sqlite3.Connection
    path: Path

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
        hashes = [text_hash(draft.text) for draft in drafts]
        buried = self.tombstoned(hashes)
        for draft, words in zip(drafts, hashes, strict=True):
            mid = memory_id(source, draft.locator)
            if mid in seen:  # two drafts with one locator: the parser's bug, keep the first
                continue
            if words in buried:  # forgotten: the same words, here or copied
                changes.forgotten += 1
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

    # -- forgetting --------------------------------------------------------------------

    def tombstoned(self, hashes: list[str]) -> set[str]:
        """Which of these text hashes were forgotten."""
        found: set[str] = set()
        for start in range(0, len(hashes), 500):  # SQLite caps bound parameters per statement
            chunk = hashes[start : start + 500]
            rows = self.db.execute(
                f"SELECT text_hash FROM tombstones WHERE text_hash IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            found.update(row[0] for row in rows)
        return found

    def forget(self, memory_ids: list[str], forget_id: int | None = None) -> int:
        """Delete these memories for good (rows and full-text index) and bury their text hashes.

        Returns how many rows were removed. Runs in one transaction with the caller's
        other forget bookkeeping when called inside `batch()`.
        """
        stamp = now_iso()
        removed = 0
        for mid in memory_ids:
            row = self.db.execute(
                "SELECT id, source, file_path, text FROM memories WHERE id = ?", (mid,)
            ).fetchone()
            if row is None:
                continue
            self.db.execute(
                "INSERT INTO tombstones (memory_id, source, file_path, text_hash, forgotten_at, "
                "forget_id) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    row["id"],
                    row["source"],
                    row["file_path"],
                    text_hash(row["text"]),
                    stamp,
                    forget_id,
                ),
            )
            self.db.execute("DELETE FROM memories WHERE id = ?", (mid,))  # the FTS trigger follows
            removed += 1
        return removed

    def record_forget(self, request: str, report: dict[str, Any]) -> int:
        cursor = self.db.execute(
            "INSERT INTO forgets (at, request, report) VALUES (?, ?, ?)",
            (now_iso(), request, json.dumps(report)),
        )
        return int(cursor.lastrowid or 0)

    def update_forget(self, forget_id: int, report: dict[str, Any]) -> None:
        self.db.execute(
            "UPDATE forgets SET report = ? WHERE id = ?", (json.dumps(report), forget_id)
        )

    # -- ingest runs ------------------------------------------------------------------

    def start_run(self, paths: list[str]) -> int:
        stamp = now_iso()
        cursor = self.db.execute(
            "INSERT INTO ingest_runs (started_at, paths, status, pid, host, heartbeat_at) "
            "VALUES (?, ?, 'running', ?, ?, ?)",
            (stamp, json.dumps(paths), os.getpid(), socket.gethostname(), stamp),
        )
        return int(cursor.lastrowid or 0)

    def heartbeat_run(self, run_id: int) -> None:
        """The run is alive: called after every batch of files."""
        self.db.execute("UPDATE ingest_runs SET heartbeat_at = ? WHERE id = ?", (now_iso(), run_id))

    def close_stale_runs(self) -> int:
        """Mark `running` runs whose process is gone as `interrupted`; returns how many.

        A run is gone when its pid is dead on this host, or when it has written no
        heartbeat for STALE_AFTER_S (another host, a reused pid, a run from before
        heartbeats existed). Called when the store opens, so a kill -9 is noticed by
        the next command that looks.
        """
        rows = self.db.execute(
            "SELECT id, started_at, pid, host, heartbeat_at FROM ingest_runs WHERE status = 'running'"
        ).fetchall()
        oldest = (datetime.now(timezone.utc) - timedelta(seconds=STALE_AFTER_S)).isoformat(
            timespec="seconds"
        )
        here = socket.gethostname()
        stale = []
        for row in rows:
            last_sign = row["heartbeat_at"] or row["started_at"]
            if row["pid"] is not None and row["host"] == here and not pid_alive(row["pid"]):
                reason = f"the ingest process (pid {row['pid']}) ended without finishing"
            elif last_sign < oldest:
                reason = f"no sign of life since {last_sign}"
            else:
                continue
            stale.append((last_sign, json.dumps({"interrupted": True, "stale": reason}), row["id"]))
        if not stale:
            return 0
        try:
            self.db.executemany(
                "UPDATE ingest_runs SET status = 'interrupted', finished_at = ?, summary = ? "
                "WHERE id = ? AND status = 'running'",
                stale,
            )
        except sqlite3.OperationalError:
            return 0  # a read-only or busy store: the next open tries again
        return len(stale)

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
