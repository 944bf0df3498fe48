"""What the dashboard reads from the home: training runs, versions, data, pipeline runs.

Read only, and only below the home. A name that comes from a URL (a version, a
training run, a dataset) is a single plain path component that must already
exist as a real entry of its folder: no `/`, no leading dot (so no `..`), no
symlinked entry, and every file is opened with O_NOFOLLOW. A home subfolder
that the user symlinked elsewhere on purpose (adapters/ on another disk) is
followed; what a URL names inside it never leaves it.

Text a model or the user wrote (answers, profile, errors) passes through
`redact` before it reaches a page: a secret detector's match is replaced by
`[KIND]`, so a memorised key never shows even where the gate missed it.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import re
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from personaforge.errors import UserError
from personaforge.paths import Paths

# One path component: letters, digits, dot, dash, underscore; never starting with a dot.
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}")
METRICS = "metrics.jsonl"
RUN_STATE = "run.json"
CARD = "personaforge.json"
PROFILE = "USER_PROFILE.md"
# Manifest privacy fields a page may show: counts only. `list` holds locators and masked
# previews of each secret, so it never leaves the manifest.
PRIVACY_COUNTS = ("findings", "by_kind", "example_actions", "examples_dropped")
MAX_TEXT_BYTES = 4 << 20  # a JSON file or profile over 4 MiB is not something a page needs whole


class NotFound(UserError):
    """A URL named something that is not there (or not allowed): the page answers 404."""


# -- safe reading -----------------------------------------------------------------------------------


def entry(root: Path, name: str) -> Path:
    """root/name when `name` is one plain component naming a real (non-symlink) entry inside root."""
    if not NAME.fullmatch(name or ""):
        raise NotFound(f"no such entry: {name!r}")
    path = root / name
    if path.is_symlink() or not path.exists():
        raise NotFound(f"no such entry: {name!r}")
    if not path.resolve().is_relative_to(root.resolve()):
        raise NotFound(f"no such entry: {name!r}")
    return path


def is_entry(root: Path, name: str) -> bool:
    try:
        entry(root, name)
    except NotFound:
        return False
    return True


def read_bytes(folder: Path, name: str, limit: int = MAX_TEXT_BYTES) -> bytes | None:
    """A file of `folder`, refusing symlinks; None when absent."""
    try:
        fd = os.open(folder / name, os.O_RDONLY | os.O_NOFOLLOW)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:  # ELOOP: the file is a symlink
        raise NotFound(f"{name} is not a plain file") from exc
    with os.fdopen(fd, "rb") as handle:
        return handle.read(limit)


def read_json(folder: Path, name: str) -> Any:
    data = read_bytes(folder, name)
    if data is None:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def read_records(folder: Path, name: str = METRICS) -> list[dict[str, Any]]:
    """Every well-formed JSON line of a metrics log (a half-written last line is skipped)."""
    data = read_bytes(folder, name, limit=64 << 20)
    records = []
    for line in (data or b"").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def redact(text: str | None) -> str:
    """The text with every secret detector's match replaced by [KIND]."""
    from personaforge.dataset.privacy import find_secrets

    if not text:
        return ""
    out, last = [], 0
    for finding in find_secrets(text):
        out += [text[last : finding.start], f"[{finding.kind.upper()}]"]
        last = finding.end
    return "".join([*out, text[last:]])


# -- training runs (runs/<method>-<key>/) ------------------------------------------------------------


@dataclass
class TrainingRun:
    id: str
    status: str  # running, interrupted, finished, stopped (running but no training process alive)
    version: str | None
    step: int | None
    max_steps: int | None
    updated: float  # mtime of its metrics log (or run.json), seconds since the epoch

    @property
    def method(self) -> str:
        return self.id.split("-", 1)[0]


def training_alive(paths: Paths) -> bool:
    """Whether a training process holds an accelerator lock (locks/<device>.owner.json)."""
    if not paths.locks.is_dir():
        return False
    for owner_file in paths.locks.glob("*.owner.json"):
        owner = read_json(paths.locks, owner_file.name) or {}
        if owner.get("role") != "train" or not isinstance(owner.get("pid"), int):
            continue
        try:
            os.kill(owner["pid"], 0)
            return True
        except ProcessLookupError:
            continue
        except PermissionError:  # alive, owned by someone else
            return True
    return False


def last_record(folder: Path) -> dict[str, Any]:
    """The last complete record of a metrics log, reading only its tail."""
    try:
        fd = os.open(folder / METRICS, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return {}
    with os.fdopen(fd, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(size - 16384, 0))
        lines = handle.read().splitlines()
    for line in reversed(lines):
        try:
            record = json.loads(line)
            return record if isinstance(record, dict) else {}
        except ValueError:
            continue
    return {}


def training_run(folder: Path, alive: bool) -> TrainingRun:
    state = read_json(folder, RUN_STATE) or {}
    status = state.get("status", "unknown")
    if status == "running" and not alive:
        status = "stopped"
    last = last_record(folder)
    marker = folder / METRICS if (folder / METRICS).exists() else folder / RUN_STATE
    try:
        updated = marker.lstat().st_mtime
    except OSError:
        updated = 0.0
    return TrainingRun(
        folder.name,
        status,
        state.get("version"),
        last.get("step"),
        last.get("max_steps") or None,
        updated,
    )


def training_runs(paths: Paths) -> list[TrainingRun]:
    """Every run folder with a run.json, newest first."""
    if not paths.runs.is_dir():
        return []
    alive = training_alive(paths)
    found = []
    for folder in paths.runs.iterdir():
        plain = NAME.fullmatch(folder.name) and not folder.is_symlink() and folder.is_dir()
        if plain and (folder / RUN_STATE).is_file():
            found.append(training_run(folder, alive))
    return sorted(found, key=lambda run: run.updated, reverse=True)


def active_run(paths: Paths) -> TrainingRun | None:
    """The run a live view follows: the newest running one, else the newest of all (replayed)."""
    runs = training_runs(paths)
    running = [run for run in runs if run.status == "running"]
    return (running or runs or [None])[0]


# -- log sources: what a live view or a chart can show ---------------------------------------------------


# kind -> the folder under the home whose entries it names.
LOG_ROOTS = {"run": lambda paths: paths.runs, "version": lambda paths: paths.adapters}


def log_folder(paths: Paths, kind: str, name: str) -> Path:
    """The folder holding the metrics log of a training run or a version, validated."""
    if kind not in LOG_ROOTS:
        raise NotFound(f"no log kind {kind!r}")
    folder = entry(LOG_ROOTS[kind](paths), name)
    if not folder.is_dir():
        raise NotFound(f"no {kind} {name!r}")
    return folder


# -- versions ------------------------------------------------------------------------------------------

_registry_lock = threading.Lock()  # one sync at a time: two would race to insert the same new row


def registry_snapshot(paths: Paths) -> tuple[list[Any], str | None, list[dict[str, Any]]]:
    """(versions, current, recent events) from the registry; empty when nothing was trained."""
    from personaforge.registry import Registry

    if not (paths.home / "registry.db").exists() and not paths.adapters.is_dir():
        return [], None, []
    with _registry_lock:
        for attempt in range(2):
            try:
                with Registry.open(paths) as registry:
                    # A version whose folder is a symlink out of adapters/ is not shown at all.
                    versions = [v for v in registry.versions() if is_entry(paths.adapters, v.name)]
                    return versions, registry.current(), registry.events(limit=200)
            except sqlite3.OperationalError:  # locked by a writer for longer than its timeout
                if attempt:
                    raise
    return [], None, []


def lineage(versions: list[Any]) -> list[dict[str, Any]]:
    """A forest of {"name", "children"} from parent links; roots were trained from the bare base."""
    names = {v.name for v in versions}
    children: dict[str | None, list[str]] = {}
    for version in versions:
        parent = version.parent if version.parent in names else None
        children.setdefault(parent, []).append(version.name)

    def node(name: str) -> dict[str, Any]:
        return {"name": name, "children": [node(child) for child in children.get(name, [])]}

    return [node(name) for name in children.get(None, [])]


def version_detail(paths: Paths, name: str) -> dict[str, Any]:
    """A version's card, evaluation (gate table, verdict, generations) and events."""
    from personaforge.evaluate import EvalReport, ModelMetrics, metric_rows

    versions, current, events = registry_snapshot(paths)
    known = {v.name: v for v in versions}
    if name not in known:
        raise NotFound(f"no version {name!r}")
    folder = log_folder(paths, "version", name)
    card = read_json(folder, CARD) or {}
    evaluation = read_json(folder, "evaluation.json")
    if not isinstance(evaluation, dict):
        evaluation = None
    gate = None
    try:
        compared = {k: ModelMetrics(**m) for k, m in (evaluation or {}).get("metrics", {}).items()}
        if compared:
            header, rows = metric_rows(EvalReport(name, compared, evaluation.get("verdict", {})))
            gate = {"header": header, "rows": rows}
    except (TypeError, AttributeError, KeyError):  # written by another version of the gate
        gate = None
    return {
        "version": known[name],
        "current": current,
        "card": card,
        "evaluation": evaluation,
        "gate": gate,
        "knows": knows(evaluation),
        "has_log": (folder / METRICS).is_file(),
        "events": [e for e in events if e["version"] == name],
    }


def knows(evaluation: dict[str, Any] | None) -> dict[str, Any] | None:
    """The fact benchmark of an evaluation: the three accuracies and one row per question.

    None when the evaluation measured no facts (no memory store, or an older gate).
    """
    metrics = (evaluation or {}).get("metrics") or {}
    base = (metrics.get("base") or {}).get("facts")
    persona = (metrics.get("candidate") or {}).get("facts")
    if not isinstance(base, dict) or not isinstance(persona, dict):
        return None
    try:
        plain = {row["question"]: row for row in base["answers"]}
        rows = [
            {
                "question": row["question"],
                "base": plain.get(row["question"], {}).get("answer", ""),
                "base_right": plain.get(row["question"], {}).get("right", False),
                "persona": row["answer"],
                "right": row["right"],
                "grounded": row.get("grounded"),
                "grounded_right": row.get("grounded_right", False),
                "stale": row.get("grounded_stale", False),
            }
            for row in persona["answers"]
        ]
        return {
            "n": persona["n"],
            "base": base["accuracy"],
            "persona": persona["accuracy"],
            "grounded": persona.get("grounded"),
            "superseded": persona.get("grounded_superseded_stated"),
            "recited": persona.get("recited"),
            "rows": rows,
        }
    except (KeyError, TypeError):  # written by another version of the benchmark
        return None


# -- data ----------------------------------------------------------------------------------------------


def memory_stats(paths: Paths) -> dict[str, Any] | None:
    """The store's counts (by source, month, mode), or None before the first ingest."""
    from personaforge.store import MemoryStore

    if not paths.memory_store.is_file() or paths.memory_store.is_symlink():
        return None
    with MemoryStore.open(paths.memory_store) as store:
        return store.stats()


def datasets(paths: Paths) -> list[dict[str, Any]]:
    """Every dataset manifest, newest first, with the privacy section cut down to counts."""
    if not paths.datasets.is_dir():
        return []
    found = []
    for folder in paths.datasets.iterdir():
        if not (NAME.fullmatch(folder.name) and folder.is_dir() and not folder.is_symlink()):
            continue
        manifest = read_json(folder, "manifest.json")
        if isinstance(manifest, dict) and manifest.get("id") == folder.name:
            found.append(public_manifest(manifest))
    return sorted(found, key=lambda m: m.get("created_at", ""), reverse=True)


def public_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest without anything that names or previews a secret."""
    privacy = manifest.get("privacy") or {}
    shown = {key: privacy[key] for key in PRIVACY_COUNTS if key in privacy}
    parameters = dict(manifest.get("parameters") or {})
    parameters.pop("privacy_policy", None)  # shown as its own table
    return {
        **{k: v for k, v in manifest.items() if k not in ("privacy", "provenance", "parameters")},
        "parameters": parameters,
        "privacy_policy": (manifest.get("parameters") or {}).get("privacy_policy") or {},
        "privacy": shown,
    }


def profile_text(paths: Paths) -> str | None:
    """USER_PROFILE.md from the home, redacted, once `personaforge profile build` has written it."""
    try:
        data = read_bytes(paths.home, PROFILE) if paths.home.is_dir() else None
    except NotFound:  # a symlink: whatever it points at is not the home's to show
        return None
    return None if data is None else redact(data.decode("utf-8", "replace"))


# -- pipeline runs (`personaforge run`) -------------------------------------------------------------------

# Run ids are shown and looked up, never used as paths; ISO times (with colons) are allowed.
RUN_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._:+-]{0,99}")
RUN_FIELDS = ("id", "trigger", "started_at", "finished_at", "status", "version", "error")
STAGE_FIELDS = ("name", "status", "seconds", "numbers", "summary")


def _plain(item: Any) -> dict[str, Any]:
    if isinstance(item, dict):
        return item
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return dataclasses.asdict(item)
    return dict(vars(item))


def normalize_run(item: Any) -> dict[str, Any]:
    """A pipeline run as the page shows it, whatever shape (dict, dataclass) the module returns."""
    raw = _plain(item)
    run = {key: raw.get(key) for key in RUN_FIELDS}
    run["id"] = str(run["id"])
    run["error"] = redact(str(run["error"])) if run["error"] else None
    stages = []
    for stage in raw.get("stages") or []:
        plain = _plain(stage)
        stages.append({key: plain.get(key) for key in STAGE_FIELDS})
        stages[-1]["numbers"] = stages[-1]["numbers"] or {}
    run["stages"] = stages
    return run


def _pipeline():
    try:
        return importlib.import_module("personaforge.pipeline")
    except ModuleNotFoundError as exc:
        if exc.name == "personaforge.pipeline":
            return None  # `personaforge run` is not there yet
        raise


def pipeline_runs(paths: Paths) -> list[dict[str, Any]]:
    """`personaforge run`'s history, newest first; empty until the pipeline module exists."""
    module = _pipeline()
    if module is None or not hasattr(module, "list_runs"):
        return []
    return [normalize_run(item) for item in module.list_runs(paths)]


def pipeline_run(paths: Paths, run_id: str) -> dict[str, Any]:
    module = _pipeline()
    if module is None or not RUN_ID.fullmatch(run_id):
        raise NotFound(f"no run {run_id!r}")
    try:  # the pipeline numbers its runs; an id is given as it appears in the URL otherwise
        return normalize_run(module.get_run(paths, int(run_id) if run_id.isdigit() else run_id))
    except (UserError, LookupError) as exc:
        raise NotFound(f"no run {run_id!r}") from exc
