"""What the fault tests share: a home that runs the whole cycle in seconds, the command line in a
child process, and the checks that must hold in a home after anything was done to it.

A kill test (test_kills.py) stops `personaforge` with SIGKILL while it works; a full-disk test
(test_full_disk.py) lets it run out of room; a concurrency test (test_concurrent.py) runs two
commands on one home at once. After each, `check_home` reads the home as a later command would
and lists every way it is broken: an empty list is a home that held.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from personaforge.paths import CACHE_ENV, HOME_ENV, Paths

STAGES = ("ingest", "dataset", "train", "evaluate", "dpo", "export", "reload", "profile")
ENDED = ("done", "skipped", "stopped")

# The whole cycle on the micro base in about 30 s on 2 shared cores: 6 SFT steps, DPO on the
# sample's 5 training pairs (the default minimum of 8 would skip it), a gate on 4 examples, the
# adapter export. The server URL names a closed port: reload is skipped, never sent elsewhere.
CONFIG = """\
[model]
base = "tiny:micro"

[run]
sources = [{sources}]
export_formats = ["adapter"]
server_url = "http://127.0.0.1:9"

[identity]
names = ["Maren Holt"]

[train]
max_steps = 6
save_steps = 2
eval_steps = 100
logging_steps = 1
batch_size = 4
grad_accum = 1
max_seq_length = 128
rehearsal_share = 0.0
dpo_min_pairs = 2
dpo_epochs = 1

[gate]
memorisation_prompts = 2
max_eval_examples = 4
max_new_tokens = 8
"""


def make_home(root: Path, models: Path, sources: Path) -> Paths:
    """A home whose models/ is the session's micro base and whose config runs in seconds."""
    paths = Paths(root / "home")
    paths.home.mkdir(parents=True)
    paths.models.symlink_to(models, target_is_directory=True)
    (paths.home / "config.toml").write_text(CONFIG.format(sources=json.dumps(str(sources))))
    return paths


def environment(paths: Paths) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONAFORGE_")}
    env[HOME_ENV] = str(paths.home)
    env[CACHE_ENV] = str(paths.home.parent / "cache")
    env["OMP_NUM_THREADS"] = "1"
    env["HF_HUB_OFFLINE"] = "1"
    return env


def spawn(paths: Paths, *args: str, pipe: bool = False, preexec=None) -> subprocess.Popen:
    """Start a command. Its output goes to children.log beside the home unless `pipe` (for a
    caller that reads it to the end): a pipe nobody reads stops a chatty child at 64 KiB."""
    with (paths.home.parent / "children.log").open("a") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "personaforge", *args],
            env=environment(paths),
            stdout=subprocess.PIPE if pipe else log,
            stderr=subprocess.PIPE if pipe else subprocess.STDOUT,
            text=True,
            preexec_fn=preexec,
        )


def cli(
    paths: Paths, *args: str, timeout: float = 900, preexec=None
) -> subprocess.CompletedProcess:
    process = spawn(paths, *args, pipe=True, preexec=preexec)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def kill(process: subprocess.Popen) -> bool:
    """SIGKILL the child; True when it was still working (the kill landed)."""
    if process.poll() is not None:
        return False
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    return True


# -- reading a home without changing it -----------------------------------------------------------


def read_db(path: Path) -> sqlite3.Connection:
    """A read-only connection: the checks must not repair what they inspect."""
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    db.row_factory = sqlite3.Row
    return db


def last_run(paths: Paths) -> dict | None:
    if not paths.memory_store.exists():
        return None
    try:
        db = read_db(paths.memory_store)
        try:
            row = db.execute("SELECT * FROM pipeline_runs ORDER BY id DESC LIMIT 1").fetchone()
        finally:
            db.close()
    except sqlite3.OperationalError:  # no table yet: the store is being created
        return None
    if row is None:
        return None
    return {**dict(row), "stages": json.loads(row["stages"])}


def stage_in_progress(paths: Paths, pid: int) -> str | None:
    """The stage the run with this pid is working on (None before its record exists)."""
    run = last_run(paths)
    if run is None or run["pid"] != pid or run["status"] != "running":
        return None
    ended = {s["name"] for s in run["stages"] if s["status"] in ENDED}
    return next((name for name in STAGES if name not in ended), None)


def memories(paths: Paths) -> set[tuple[str, str]]:
    """(id, content hash) of every live memory."""
    if not paths.memory_store.exists():
        return set()
    db = read_db(paths.memory_store)
    try:
        rows = db.execute("SELECT id, content_hash FROM memories WHERE deleted_at IS NULL")
        return {(row[0], row[1]) for row in rows}
    finally:
        db.close()


def registry_rows(paths: Paths) -> tuple[dict[str, dict], str | None]:
    """(versions by name, the current pointer) as the registry database holds them."""
    path = paths.home / "registry.db"
    if not path.exists():
        return {}, None
    db = read_db(path)
    try:
        versions = {row["name"]: dict(row) for row in db.execute("SELECT * FROM versions")}
        pointer = db.execute("SELECT version FROM pointer WHERE name = 'current'").fetchone()
    except sqlite3.OperationalError:  # killed while creating it: the next open migrates it
        return {}, None
    finally:
        db.close()
    return versions, pointer[0] if pointer else None


def lineage(paths: Paths, version: str | None) -> list[tuple[str, str]]:
    """(method, dataset id) from the first ancestor down to `version`."""
    versions, _ = registry_rows(paths)
    chain = []
    while version:
        row = versions[version]
        chain.append((row["method"], row["dataset_id"]))
        version = row["parent"]
    return chain[::-1]


# -- what must hold ------------------------------------------------------------------------------


def _integrity(path: Path) -> list[str]:
    # Read-write, as the next command opens it: a killed writer's WAL is recovered first.
    db = sqlite3.connect(path, timeout=30)
    try:
        result = [row[0] for row in db.execute("PRAGMA integrity_check")]
    finally:
        db.close()
    return [] if result == ["ok"] else [f"{path.name}: integrity_check says {result[:3]}"]


def _store(paths: Paths) -> list[str]:
    if not paths.memory_store.exists():
        return []
    problems = _integrity(paths.memory_store)
    db = read_db(paths.memory_store)
    try:
        table = db.execute("SELECT count(*) FROM memories").fetchone()[0]
        index = db.execute("SELECT count(*) FROM memories_fts_docsize").fetchone()[0]
        # One FTS document per memory row, rowid for rowid.
        missing = db.execute(
            "SELECT count(*) FROM memories m WHERE NOT EXISTS "
            "(SELECT 1 FROM memories_fts_docsize d WHERE d.id = m.rowid)"
        ).fetchone()[0]
    finally:
        db.close()
    if table != index or missing:
        problems.append(f"memories_fts holds {index} rows for {table} memories ({missing} missing)")
    # FTS5's own check, with rank 1: every token of every row's current text is in the index
    # and nothing else is. It writes nothing, but SQLite wants a writable connection for it.
    db = sqlite3.connect(paths.memory_store, timeout=30)
    try:
        db.execute("INSERT INTO memories_fts(memories_fts, rank) VALUES('integrity-check', 1)")
    except sqlite3.DatabaseError as exc:
        problems.append(f"memories_fts differs from the memories table: {exc}")
    finally:
        db.close()
    return problems


def _dataset(folder: Path) -> list[str]:
    manifest_path = folder / "manifest.json"
    if not manifest_path.exists():
        return [f"dataset {folder.name} is visible without a manifest"]
    manifest = json.loads(manifest_path.read_text())
    problems = []
    for name, entry in manifest["files"].items():
        data = (folder / name).read_bytes() if (folder / name).exists() else None
        if data is None or hashlib.sha256(data).hexdigest() != entry["sha256"]:
            problems.append(f"dataset {folder.name}/{name} does not match its manifest")
    return problems


def _adapter(folder: Path) -> list[str]:
    from safetensors import safe_open

    missing = [
        name
        for name in ("adapter_config.json", "adapter_model.safetensors", "personaforge.json")
        if not (folder / name).is_file()
    ]
    if missing:
        return [f"{folder} is visible without {', '.join(missing)}"]
    try:
        with safe_open(str(folder / "adapter_model.safetensors"), "pt") as weights:
            list(weights.keys())
        json.loads((folder / "personaforge.json").read_text())
    except Exception as exc:  # a torn file: exactly what must never be visible
        return [f"{folder} holds a broken file: {exc!r}"[:200]]
    return []


def _registry(paths: Paths) -> list[str]:
    path = paths.home / "registry.db"
    if not path.exists():
        return []
    problems = _integrity(path)
    versions, current = registry_rows(paths)
    if current is not None:
        row = versions.get(current)
        if row is None or row["status"] != "promoted":
            problems.append(f"current names {current}, which is not a promoted version")
        elif row["forgotten"]:
            problems.append(f"current names {current}, which holds forgotten data")
    for name, row in versions.items():
        if not Path(row["path"]).is_dir():
            problems.append(f"registered version {name} has no folder (a lost version)")
    return problems


def check_home(paths: Paths) -> list[str]:
    """Every way the home is broken, as a later command would find it; [] when it held."""
    problems = _store(paths) + _registry(paths)
    datasets = paths.datasets
    if datasets.exists():
        for folder in sorted(datasets.glob("ds-*")):
            problems += _dataset(folder)
        latest = datasets / "LATEST"
        if latest.exists() and not (datasets / latest.read_text().strip()).is_dir():
            problems.append(f"datasets/LATEST names {latest.read_text().strip()}, which is absent")
    for folder in sorted(paths.adapters.glob("v*")) if paths.adapters.exists() else []:
        problems += _adapter(folder)
    exports = paths.home / "exports"
    for folder in sorted(exports.glob("v*-adapter")) if exports.exists() else []:
        problems += _adapter(folder)
    return problems


@dataclass
class Tally:
    """Kills (or faults) per stage, and what was wrong afterwards."""

    tried: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add(self, where: str, problems: list[str]) -> None:
        self.tried[where] = self.tried.get(where, 0) + 1
        self.problems += [f"after a kill in {where}: {p}" for p in problems]

    @property
    def total(self) -> int:
        return sum(self.tried.values())

    def per_stage(self) -> str:
        return ", ".join(f"{name} {count}" for name, count in self.tried.items())


def wait_for(
    predicate: Callable[[], bool],
    process: subprocess.Popen,
    limit: float = 600,
    every: float = 0.05,
) -> bool:
    """Poll until predicate() or the process ends; True when predicate() held first."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return True
        if process.poll() is not None:
            return False
        time.sleep(every)
    return False
