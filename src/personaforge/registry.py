"""The model registry: every adapter version, its lineage and status, and the `current` pointer.

SQLite at `$PERSONAFORGE_HOME/registry.db`, every change in one transaction:

- `versions`: v1..vN with parent, base, dataset id and hash, method, status
  (candidate, promoted, rejected, retired), metrics and verdict, path, times;
- `events`: append-only (trained, evaluated, promoted, rejected, rolled back,
  reset, pruned);
- `pointer`: the current version (none = the bare base).

This is the one API for versions: numbering (`next_name`), listing, the
`current` pointer, and registering a version folder that training finished
(`register`). No other module reads `adapters/` to find versions.

The adapter folders stay the source of truth for what was trained. Each one's
personaforge.json carries its status and verdict, so `models reindex` rebuilds
this database from the folders alone. `adapters/CURRENT` mirrors the pointer
for people and outside tools; it is written here and read only by reindex.
A folder that finished training but was never registered (a crash between the
two) is registered when the registry is next opened.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any

from personaforge.atomic import atomic_write_text
from personaforge.diskfull import raise_if_full
from personaforge.errors import UserError
from personaforge.paths import Paths
from personaforge.store.schema import Migration, add_column, apply_migrations


class VersionStatus(str, Enum):
    """Where a version stands; the registry writes no other value."""

    CANDIDATE = "candidate"  # trained, not yet judged by the gate
    PROMOTED = "promoted"  # passed (or was forced past) the gate; `current` points at one
    REJECTED = "rejected"  # failed the gate, kept for the record
    RETIRED = "retired"  # promoted once, replaced since (rollback target)

    def __str__(self) -> str:
        return self.value


STATUSES = tuple(status.value for status in VersionStatus)
CARD = "personaforge.json"

# The registry's schema, by the store's migration mechanism (store/schema.py). IF NOT EXISTS:
# registries written before migrations hold these tables already.
REGISTRY_MIGRATIONS: list[Migration] = [
    (
        "0001_versions_events_pointer",
        """
        CREATE TABLE IF NOT EXISTS versions (
            name            TEXT PRIMARY KEY,
            number          INTEGER NOT NULL,
            parent          TEXT,
            method          TEXT NOT NULL,
            base            TEXT NOT NULL,
            base_fingerprint TEXT NOT NULL,
            dataset_id      TEXT NOT NULL,
            dataset_hash    TEXT NOT NULL,
            status          TEXT NOT NULL,
            metrics         TEXT NOT NULL DEFAULT '{}',
            verdict         TEXT,
            path            TEXT NOT NULL,
            created_at      TEXT NOT NULL,
            updated_at      TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS events (
            id      INTEGER PRIMARY KEY,
            at      TEXT NOT NULL,
            version TEXT,
            action  TEXT NOT NULL,
            detail  TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE IF NOT EXISTS pointer (
            name    TEXT PRIMARY KEY CHECK (name = 'current'),
            version TEXT
        );
        """,
    ),
    # Set by `forget`: the version learned from memories since taken out.
    ("0002_versions_forgotten", add_column("versions", "forgotten", "TEXT")),
]


def version_number(name: str) -> int | None:
    """'v12' -> 12; anything else (CURRENT, staging folders) -> None."""
    return int(name[1:]) if name[:1] == "v" and name[1:].isdigit() else None


def read_card(folder: Path) -> dict[str, Any]:
    """A version folder's personaforge.json."""
    return json.loads((folder / CARD).read_text())


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class Version:
    name: str
    number: int
    parent: str | None
    method: str
    base: str
    base_fingerprint: str
    dataset_id: str
    dataset_hash: str
    status: str
    metrics: dict[str, Any]
    verdict: dict[str, Any] | None
    path: str
    created_at: str
    updated_at: str
    forgotten: str | None = None  # why it must not be served or exported (forget)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Version:
        values = dict(row)
        values["metrics"] = json.loads(values["metrics"])
        values["verdict"] = json.loads(values["verdict"]) if values["verdict"] else None
        return cls(**values)


def _card_row(folder: Path, card: dict[str, Any]) -> tuple:
    return (
        card["version"],
        int(card["version"][1:]),
        card.get("parent"),
        card.get("method", "sft"),
        card["base"]["name"],
        card["base"]["fingerprint"],
        card["dataset"]["id"],
        card["dataset"]["manifest_sha256"],
        VersionStatus(card.get("status", "candidate")).value,
        json.dumps(card.get("metrics", {})),
        json.dumps(card["verdict"]) if card.get("verdict") else None,
        str(folder),
        card["created_at"],
        now(),
        card.get("contains_forgotten"),
    )


COLUMNS = (
    "name, number, parent, method, base, base_fingerprint, dataset_id, dataset_hash, status, "
    "metrics, verdict, path, created_at, updated_at, forgotten"
)
INSERT_VERSION = f"INSERT INTO versions ({COLUMNS}) VALUES ({', '.join('?' * 15)})"


class Registry:
    def __init__(self, paths: Paths, db: sqlite3.Connection):
        self.paths = paths
        self.db = db

    @classmethod
    def open(cls, paths: Paths) -> Registry:
        registry = cls.connect(paths)
        registry.sync()
        return registry

    @classmethod
    def connect(cls, paths: Paths) -> Registry:
        """The registry database, migrated, before any new version folder is registered."""
        paths.home.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(paths.home / "registry.db", timeout=30)
        db.row_factory = sqlite3.Row
        apply_migrations(db, REGISTRY_MIGRATIONS, paths.home / "registry.db")
        return cls(paths, db)

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, kind, exc, traceback) -> None:
        self.db.close()
        if exc is not None:  # a registry write that did not fit: one line naming the file
            raise_if_full(exc, self.paths.home / "registry.db")

    # -- folders <-> rows ----------------------------------------------------------------------

    def _folders(self) -> list[Path]:
        """Version folders (vN with a card), by number."""
        if not self.paths.adapters.exists():
            return []
        found = [
            p
            for p in self.paths.adapters.iterdir()
            if p.is_dir() and version_number(p.name) is not None and (p / CARD).exists()
        ]
        return sorted(found, key=lambda p: version_number(p.name) or 0)

    def next_name(self) -> str:
        """The name the next trained version gets: one past every number in use, in the
        database or on disk (a half-written staging folder never counts)."""
        numbers = [v.number for v in self.versions()]
        if self.paths.adapters.exists():
            numbers += [
                n
                for p in self.paths.adapters.iterdir()
                if (n := version_number(p.name)) is not None
            ]
        return f"v{max(numbers, default=0) + 1}"

    def folder(self, name: str) -> Path:
        return self.paths.adapters / name

    def register(self, name: str) -> Version:
        """Record a version folder training just finished (idempotent)."""
        self.sync()
        return self.get(name)

    def find_trained(
        self, method: str, dataset_id: str, parent: str | None, hyperparameters: dict[str, Any]
    ) -> str | None:
        """The newest version trained with exactly these inputs, if any (reruns reuse it).

        A version flagged by `forget` never counts: its dataset may have had the same
        name before the forgotten examples were scrubbed out of it."""
        for version in reversed(self.versions()):
            if version.forgotten:
                continue
            card = read_card(Path(version.path))
            if (
                card.get("method") == method
                and card["dataset"]["id"] == dataset_id
                and card.get("parent") == parent
                and card.get("hyperparameters") == hyperparameters
                and (Path(version.path) / "adapter_model.safetensors").exists()
            ):
                return version.name
        return None

    def sync(self) -> list[str]:
        """Register version folders the database does not know yet (written by `train`).

        Another process (the dashboard, `forget`, a second `run`) may be registering the same
        folders: the names are read again under the write lock, or both insert one name and
        the second fails on the unique constraint (it did, under the concurrency test)."""
        folders = self._folders()
        if {f.name for f in folders} <= self._names():
            return []
        added = []
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            known = self._names()
            for folder in folders:
                if folder.name in known:
                    continue
                card = read_card(folder)
                self.db.execute(
                    INSERT_VERSION,
                    _card_row(folder, card),
                )
                self._event(
                    folder.name,
                    "trained",
                    {"parent": card.get("parent"), "dataset": card["dataset"]["id"]},
                )
                added.append(folder.name)
        return added

    def _names(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT name FROM versions")}

    def reindex(self) -> int:
        """Rebuild the versions table and the pointer from the folders (events are kept)."""
        marker = self.paths.adapters / "CURRENT"
        current = marker.read_text().strip() if marker.exists() else None
        with self.db:
            self.db.execute("DELETE FROM versions")
            for folder in self._folders():
                card = read_card(folder)
                self.db.execute(
                    INSERT_VERSION,
                    _card_row(folder, card),
                )
            exists = (
                current
                and self.db.execute("SELECT 1 FROM versions WHERE name = ?", (current,)).fetchone()
            )
            self._set_pointer(current if exists else None)
            self._event(None, "reindexed", {"versions": len(self._folders())})
        return len(self._folders())

    # -- reading ------------------------------------------------------------------------------------

    def versions(self) -> list[Version]:
        return [self._version(r) for r in self.db.execute("SELECT * FROM versions ORDER BY number")]

    def get(self, name: str) -> Version:
        row = self.db.execute("SELECT * FROM versions WHERE name = ?", (name,)).fetchone()
        if row is None:
            known = ", ".join(v.name for v in self.versions()) or "none yet"
            raise UserError(f"no version '{name}' in the registry (known: {known})")
        return self._version(row)

    def lineage(self, name: str) -> list[Version]:
        """`name` and its ancestors, newest first (parent links; a pruned parent ends it)."""
        chain: list[Version] = []
        known = {v.name: v for v in self.versions()}
        while name in known and all(v.name != name for v in chain):
            chain.append(known[name])
            name = known[name].parent or ""
        return chain

    def is_forgotten(self, name: str) -> bool:
        """True for a registered version flagged by `forget`; unknown names are not flagged."""
        row = self.db.execute("SELECT forgotten FROM versions WHERE name = ?", (name,)).fetchone()
        return bool(row and row["forgotten"])

    def _version(self, row: sqlite3.Row) -> Version:
        """A row, with its folder found under this home: a moved or copied home stays whole."""
        version = Version.from_row(row)
        version.path = str(self.folder(version.name))
        return version

    def current(self) -> str | None:
        row = self.db.execute("SELECT version FROM pointer WHERE name = 'current'").fetchone()
        return row[0] if row else None

    def events(self, version: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM events", []
        if version:
            sql += " WHERE version = ?"
            params.append(version)
        rows = self.db.execute(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
        return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]

    def latest(self) -> Version | None:
        versions = self.versions()
        return versions[-1] if versions else None

    # -- changing -------------------------------------------------------------------------------------

    def _event(self, version: str | None, action: str, detail: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO events (at, version, action, detail) VALUES (?, ?, ?, ?)",
            (now(), version, action, json.dumps(detail)),
        )

    def _set_pointer(self, version: str | None) -> None:
        self.db.execute(
            "INSERT INTO pointer VALUES ('current', ?) ON CONFLICT(name) DO UPDATE SET version = excluded.version",
            (version,),
        )
        marker = self.paths.adapters / "CURRENT"
        self.paths.adapters.mkdir(parents=True, exist_ok=True)
        atomic_write_text(marker, (version or "") + "\n")

    def _set_status(
        self, version: Version, status: str, verdict: dict[str, Any] | None = None
    ) -> None:
        status = VersionStatus(status).value  # an unknown status is a bug: ValueError here
        self.db.execute(
            "UPDATE versions SET status = ?, verdict = COALESCE(?, verdict), updated_at = ? WHERE name = ?",
            (status, json.dumps(verdict) if verdict else None, now(), version.name),
        )
        card_path = Path(version.path) / CARD
        card = json.loads(card_path.read_text())
        card["status"] = status
        if verdict:
            card["verdict"] = verdict
        atomic_write_text(card_path, json.dumps(card, indent=2) + "\n")

    def require_usable(self, name: str, allow_forgotten: bool = False) -> Version:
        """The version, unless it learned from forgotten memories and that is not allowed."""
        version = self.get(name)
        if version.forgotten and not allow_forgotten:
            raise UserError(
                f"{name} learned from memories you asked to forget ({version.forgotten}); "
                "pass --allow-forgotten to use it anyway"
            )
        return version

    def mark_forgotten(self, names: list[str], why: str) -> str | None:
        """Flag versions that learned forgotten memories; move `current` off them.

        Returns the new current version: the newest version ever promoted that is not
        flagged and was not rejected, else None (the bare base).
        """
        current = self.current()
        with self.db:
            for name in names:
                version = self.get(name)
                self.db.execute(
                    "UPDATE versions SET forgotten = ?, updated_at = ? WHERE name = ?",
                    (why, now(), name),
                )
                card_path = Path(version.path) / CARD
                card = json.loads(card_path.read_text())
                card["contains_forgotten"] = why
                atomic_write_text(card_path, json.dumps(card, indent=2) + "\n")
                self._event(name, "contains forgotten data", {"why": why})
            if current in names:
                promoted = [
                    e["version"]
                    for e in self.events(limit=100_000)
                    if e["action"] == "promoted" and e["version"] not in names
                ]
                fallback = next(
                    (
                        v
                        for v in promoted
                        if not self.get(v).forgotten and self.get(v).status != "rejected"
                    ),
                    None,
                )
                self._set_status(self.get(current), "retired")
                if fallback:
                    self._set_status(self.get(fallback), "promoted")
                self._set_pointer(fallback)
                self._event(fallback, "current moved off forgotten data", {"from": current})
                return fallback
        return current

    def record_evaluation(self, name: str, verdict: dict[str, Any]) -> None:
        version = self.get(name)
        with self.db:
            self._set_status(version, version.status, verdict)
            self._event(
                name, "evaluated", {"decision": verdict["decision"], "reasons": verdict["reasons"]}
            )

    def promote(self, name: str, reason: str = "by hand", force: bool = False) -> None:
        """Make `name` current. A version the gate rejected needs `force`, and is marked forced."""
        version = self.get(name)
        failed = (version.verdict or {}).get("decision") == "reject"
        if failed and not force:
            failures = "; ".join(version.verdict.get("failures", [])) or "see its report"
            raise UserError(
                f"{name} failed the gate ({failures}); pass --force to promote it anyway"
            )
        previous = self.current()
        verdict = {**version.verdict, "forced": reason} if failed else None
        with self.db:
            if previous and previous != name:
                self._set_status(self.get(previous), "retired")
            self._set_status(version, "promoted", verdict)
            self._set_pointer(name)
            self._event(
                name, "promoted", {"previous": previous, "reason": reason, "forced": failed}
            )

    def reject(self, name: str, reason: str = "by hand") -> None:
        version = self.get(name)
        with self.db:
            if self.current() == name:
                self._set_pointer(None)
            self._set_status(version, "rejected")
            self._event(name, "rejected", {"reason": reason})

    def rollback(self) -> str | None:
        """Current -> the version promoted before it (or the base when there was none)."""
        current = self.current()
        if current is None:
            raise UserError("nothing to roll back: the current model is the bare base")
        promotions = [e for e in reversed(self.events(limit=10_000)) if e["action"] == "promoted"]
        earlier = [e["version"] for e in promotions if e["version"] != current]
        target = next((v for v in reversed(earlier) if self.get(v).status != "rejected"), None)
        with self.db:
            self._set_status(self.get(current), "retired")
            if target:
                self._set_status(self.get(target), "promoted")
            self._set_pointer(target)
            self._event(target, "rolled back", {"from": current, "to": target})
        return target

    def reset(self) -> None:
        current = self.current()
        with self.db:
            if current:
                self._set_status(self.get(current), "retired")
            self._set_pointer(None)
            self._event(None, "reset to base", {"from": current})

    def prune(self, keep: int) -> list[str]:
        """Remove the weights of every version but the current and the last `keep` promoted or retired ones.

        Cards, reports and metrics stay, so history, lineage and every rejection's reasons survive.
        """
        current = self.current()
        once_promoted = [v.name for v in self.versions() if v.status in ("promoted", "retired")]
        kept = {current, *once_promoted[-keep:]} if keep > 0 else {current}
        pruned = []
        with self.db:
            for version in self.versions():
                weights = Path(version.path) / "adapter_model.safetensors"
                if version.name in kept or not weights.exists():
                    continue
                weights.unlink()
                pruned.append(version.name)
                self._event(version.name, "pruned", {"kept": sorted(v for v in kept if v)})
        return pruned
