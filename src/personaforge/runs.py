"""The record of every `personaforge run`: stages, times, numbers, the version made, the error.

A table `pipeline_runs` in the memory store's SQLite file (memories.db), beside
the memories the runs learn from. Each stage's result is written the moment the
stage ends, in its own transaction, so a run killed halfway leaves a record that
says which stages finished and what they produced; `run --resume` reads it and
starts from the first stage that did not.

A run holds `locks/run.lock` (flock) while it works. The kernel drops the lock
when the process dies, so a crash never blocks the next run; a record left
"running" by a dead process is marked "interrupted" the next time runs are read.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from personaforge.errors import UserError
from personaforge.paths import Paths
from personaforge.store import MIGRATIONS, apply_migrations


class StageStatus(str, Enum):
    """How a stage ended: chosen by the stage from what it produced (pipeline.Outcome)."""

    DONE = "done"  # it made what it is for, and every check it has passed
    UNCHECKED = (
        "unchecked"  # it made what it is for, but a check could not run (summary says which)
    )
    SKIPPED = "skipped"  # nothing to do, with the reason in the summary
    STOPPED = "stopped"  # it ended the run early on purpose ("nothing new to learn")
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


class RunStatus(str, Enum):
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # killed or Ctrl-C: `run --resume` continues it
    NOTHING_NEW = "nothing new"  # stopped after ingest: the memories were those already learned

    def __str__(self) -> str:
        return self.value


FINAL = (RunStatus.FINISHED, RunStatus.FAILED, RunStatus.INTERRUPTED, RunStatus.NOTHING_NEW)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class StageRecord:
    name: str
    status: StageStatus
    seconds: float
    numbers: dict[str, Any] = field(default_factory=dict)  # what the stage made and measured
    summary: str = ""  # one line a person reads


@dataclass
class RunRecord:
    id: int
    trigger: str  # manual, schedule, demo
    started_at: str
    status: RunStatus
    stages: list[StageRecord]
    finished_at: str | None = None
    version: str | None = None
    error: str | None = None
    pid: int | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def stage(self, name: str) -> StageRecord | None:
        return next((s for s in self.stages if s.name == name), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "trigger": self.trigger,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "status": self.status,
            "stages": [vars(s) for s in self.stages],
            "version": self.version,
            "error": self.error,
            "options": self.options,
        }


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLog:
    def __init__(self, db: sqlite3.Connection):
        self.db = db

    @classmethod
    @contextmanager
    def open(cls, paths: Paths) -> Iterator[RunLog]:
        paths.home.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(paths.memory_store, timeout=30)
        db.row_factory = sqlite3.Row
        try:
            apply_migrations(db, MIGRATIONS, paths.memory_store)  # the store's own schema
            log = cls(db)
            log._mark_dead_runs()
            yield log
        finally:
            db.close()

    def _mark_dead_runs(self) -> None:
        rows = self.db.execute("SELECT id, pid FROM pipeline_runs WHERE status = 'running'")
        dead = [row["id"] for row in rows if row["pid"] != os.getpid() and not _alive(row["pid"])]
        with self.db:
            for run_id in dead:
                self.db.execute(
                    "UPDATE pipeline_runs SET status = 'interrupted', finished_at = ?, "
                    "error = COALESCE(error, 'the process ended before the run did') WHERE id = ?",
                    (now(), run_id),
                )

    def start(self, trigger: str, options: dict[str, Any]) -> RunRecord:
        with self.db:
            cursor = self.db.execute(
                "INSERT INTO pipeline_runs (trigger, started_at, status, pid, options) "
                "VALUES (?, ?, 'running', ?, ?)",
                (trigger, now(), os.getpid(), json.dumps(options)),
            )
        return self.get(int(cursor.lastrowid or 0))

    def resume(self, record: RunRecord) -> RunRecord:
        """Take over an interrupted or failed run: same id, finished stages kept."""
        with self.db:
            self.db.execute(
                "UPDATE pipeline_runs SET status = 'running', pid = ?, error = NULL, "
                "finished_at = NULL WHERE id = ?",
                (os.getpid(), record.id),
            )
        return self.get(record.id)

    def save_stage(self, record: RunRecord, stage: StageRecord) -> None:
        record.stages = [s for s in record.stages if s.name != stage.name] + [stage]
        with self.db:
            self.db.execute(
                "UPDATE pipeline_runs SET stages = ?, version = ? WHERE id = ?",
                (json.dumps([vars(s) for s in record.stages]), record.version, record.id),
            )

    def save_options(self, record: RunRecord) -> None:
        with self.db:
            self.db.execute(
                "UPDATE pipeline_runs SET options = ? WHERE id = ?",
                (json.dumps(record.options), record.id),
            )

    def finish(self, record: RunRecord, status: RunStatus, error: str | None = None) -> None:
        status = RunStatus(status)
        record.status, record.error, record.finished_at = status, error, now()
        with self.db:
            self.db.execute(
                "UPDATE pipeline_runs SET status = ?, error = ?, finished_at = ?, version = ? "
                "WHERE id = ?",
                (status, error, record.finished_at, record.version, record.id),
            )

    def get(self, run_id: int) -> RunRecord:
        row = self.db.execute("SELECT * FROM pipeline_runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise UserError(f"no run {run_id}; see `personaforge runs list`")
        return _record(row)

    def list(self, limit: int = 50) -> list[RunRecord]:
        rows = self.db.execute("SELECT * FROM pipeline_runs ORDER BY id DESC LIMIT ?", (limit,))
        return [_record(row) for row in rows]

    def last_resumable(self) -> RunRecord | None:
        row = self.db.execute("SELECT * FROM pipeline_runs ORDER BY id DESC LIMIT 1").fetchone()
        record = _record(row) if row else None
        resumable = (RunStatus.FAILED, RunStatus.INTERRUPTED)
        return record if record and record.status in resumable else None

    def last_finished(self) -> RunRecord | None:
        row = self.db.execute(
            "SELECT * FROM pipeline_runs WHERE status IN ('finished', 'nothing new') "
            "ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return _record(row) if row else None


def _record(row: sqlite3.Row) -> RunRecord:
    return RunRecord(
        id=row["id"],
        trigger=row["trigger"],
        started_at=row["started_at"],
        status=RunStatus(row["status"]),
        stages=[
            StageRecord(**{**s, "status": StageStatus(s["status"])})
            for s in json.loads(row["stages"])
        ],
        finished_at=row["finished_at"],
        version=row["version"],
        error=row["error"],
        pid=row["pid"],
        options=json.loads(row["options"] or "{}"),
    )


# Homes whose run lock this process holds, with how many holders: `forget` takes the lock for
# the whole forget and its retraining `run` takes it again inside (flock on a second open file
# would refuse its own process).
_HELD: dict[str, int] = {}


@contextmanager
def run_lock(paths: Paths, what: str = "run") -> Iterator[None]:
    """One `run` (or `forget`) at a time per home; a second one is told who holds it."""
    paths.locks.mkdir(parents=True, exist_ok=True)
    key = str((paths.locks / "run.lock").resolve())
    if _HELD.get(key):
        _HELD[key] += 1
        try:
            yield
        finally:
            _HELD[key] -= 1
        return
    with (paths.locks / "run.lock").open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise UserError(
                f"another `personaforge run` or `forget` is in progress in {paths.home} "
                f"({holder}); wait for it to finish"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"`personaforge {what}`, pid {os.getpid()} since {now()}")
        handle.flush()
        _HELD[key] = 1
        try:
            yield
        finally:
            _HELD.pop(key, None)
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- the read API the dashboard and `runs` use ------------------------------------------------------


def list_runs(paths: Paths, limit: int = 50) -> list[dict[str, Any]]:
    if not paths.memory_store.exists():
        return []
    with RunLog.open(paths) as log:
        return [record.as_dict() for record in log.list(limit)]


def get_run(paths: Paths, run_id: int) -> dict[str, Any]:
    if not paths.memory_store.exists():
        raise UserError(f"no run {run_id}: nothing has run in {paths.home} yet")
    with RunLog.open(paths) as log:
        return log.get(run_id).as_dict()
