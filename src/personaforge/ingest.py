"""Ingest: read source files into the memory store, incrementally.

    ingest([Path("~/vault"), Path("~/exports")], store, settings)

For every file under the given paths (minus `ingest.skip_globs`):

1. unchanged size and mtime since the last run -> not read at all;
2. otherwise read and hashed; an unchanged hash -> no memory row changes;
3. otherwise parsed by its source (named, or detected from its name and first
   bytes) and its memories replaced: new rows added, changed rows updated,
   rows the file no longer holds marked deleted;
4. after a complete scan, files recorded under the given paths that are gone
   have their memories marked deleted.

Which messages of a messaging or mail export (sources with `messaging`) are
the person's depends on the `identity.*` settings (sources/identity.py), and
its conversations on `ingest.chat_gap_hours`: the hash recorded for such a
file carries both (`<sha256>@<settings>`), so a change to either reads it
again, and an unchanged stat is trusted only under the settings it was read
with. When such an export names no owner and no identity is set, ingest stops
before writing anything, with one line naming the likely owner.

A memory dated only by its file's mtime (a section of an undated note) keeps
the date it was first seen while its own text is unchanged: editing one line
of a note re-dates that section, not all of them.

Files are written in batches, one transaction each, and a file is written whole:
Ctrl-C during a file is held until the file is done (`_WholeFiles`), so a crash or
Ctrl-C keeps every finished file and loses none of the store's consistency;
re-running continues where it stopped.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from personaforge.config import IdentitySettings, IngestSettings
from personaforge.diskfull import writing
from personaforge.errors import UserError
from personaforge.sources import SNIFF_BYTES, SOURCES, SkipFile, Source, SourceFile, detect
from personaforge.sources.identity import Identity, NeedsIdentity, People, resolve, stop_line
from personaforge.sources.vault import MESSAGE_LOG_NAMES
from personaforge.store import FileState, MemoryChanges, MemoryDraft, MemoryStore, memory_id
from personaforge.ui import step_progress


@dataclass
class Candidate:
    path: Path
    relative: str
    size: int
    mtime_ns: int


@dataclass
class IngestSummary:
    """What one ingest run did; `to_dict()` is what the run log stores."""

    files_new: int = 0
    files_changed: int = 0
    files_unchanged: int = 0
    files_deleted: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    bad_records: list[tuple[str, int, str]] = field(
        default_factory=list
    )  # (path, count, first reason)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    excluded: int = 0  # matched a skip glob
    unrecognised: list[str] = field(default_factory=list)  # no source reads these files
    files_by_source: Counter[str] = field(default_factory=Counter)
    memories: MemoryChanges = field(default_factory=MemoryChanges)
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def files_read(self) -> int:
        return self.files_new + self.files_changed

    @property
    def nothing_readable(self) -> bool:
        return self.files_read + self.files_unchanged == 0

    def to_dict(self) -> dict[str, object]:
        return {
            "files": {
                "new": self.files_new,
                "changed": self.files_changed,
                "unchanged": self.files_unchanged,
                "deleted": self.files_deleted,
                "skipped": len(self.skipped),
                "excluded": self.excluded,
                "unrecognised": len(self.unrecognised),
            },
            "memories": vars(self.memories),
            "files_by_source": dict(self.files_by_source),
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "bad_records": [{"path": p, "count": n, "first": r} for p, n, r in self.bad_records],
            "warnings": [{"path": p, "warning": w} for p, w in self.warnings],
            "unrecognised": self.unrecognised[:100],
            "seconds": round(self.seconds, 3),
            "interrupted": self.interrupted,
        }


def compile_globs(patterns: list[str]) -> re.Pattern[str]:
    """One regex for all skip globs: `**/` is any number of folders, `*` and `?` stay in one name."""
    translated = []
    for pattern in patterns:
        regex = ""
        index = 0
        while index < len(pattern):
            if pattern.startswith("**/", index):
                regex += "(?:.*/)?"
                index += 3
            elif pattern.startswith("**", index):
                regex += ".*"
                index += 2
            elif pattern[index] == "*":
                regex += "[^/]*"
                index += 1
            elif pattern[index] == "?":
                regex += "[^/]"
                index += 1
            else:
                regex += re.escape(pattern[index])
                index += 1
        translated.append(regex)
    return re.compile("^(?:" + "|".join(translated or ["(?!)"]) + ")$")


def discover(root: Path, skip: re.Pattern[str], summary: IngestSummary) -> Iterator[Candidate]:
    """Files under `root` in a stable order, skip globs applied (folders pruned whole)."""
    if root.is_file():
        stat = root.stat()
        yield Candidate(root, root.name, stat.st_size, stat.st_mtime_ns)
        return
    for folder, dirs, files in os.walk(root):
        relative_folder = Path(folder).relative_to(root).as_posix()
        prefix = "" if relative_folder == "." else relative_folder + "/"
        kept = []
        for name in sorted(dirs):
            if skip.match(f"{prefix}{name}/"):
                summary.excluded += sum(len(f) for _, _, f in os.walk(Path(folder) / name))
            else:
                kept.append(name)
        dirs[:] = kept
        for name in sorted(files):
            relative = prefix + name
            if skip.match(relative):
                summary.excluded += 1
                continue
            path = Path(folder) / name
            try:
                stat = path.stat()
            except OSError as exc:
                summary.skipped.append((str(path), f"cannot stat: {exc.strerror}"))
                continue
            if path.is_file():
                yield Candidate(path, relative, stat.st_size, stat.st_mtime_ns)


def _read_head(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(SNIFF_BYTES)
    except OSError:
        return b""


class _Run:
    """State of one ingest run, so each step below stays a small function."""

    def __init__(
        self,
        store: MemoryStore,
        settings: IngestSettings,
        forced: Source | None,
        identity: Identity | None = None,
    ):
        self.run_id = 0
        self.store = store
        self.settings = settings
        self.forced = forced
        self.identity = identity or Identity()
        # What messaging files were read under: a change reads them again (module docstring).
        self.reading = f"{self.identity.fingerprint()}-{settings.chat_gap_hours:g}"
        self.summary = IngestSummary()
        self.seen: set[str] = set()
        self.known: dict[str, FileState] = {}  # what the store recorded under the roots, read once

    def load_known(self, roots: list[Path]) -> None:
        # One query instead of one per file: a no-change re-run of 10k notes is then
        # mostly stat() calls (see bench/ingest.py).
        for root in roots:
            for state in self.store.files_under(str(root), include_deleted=True):
                self.known[state.path] = state

    def source_for(self, candidate: Candidate) -> Source | None:
        if self.forced is not None:
            return (
                self.forced
                if candidate.path.name.lower().endswith(self.forced.extensions)
                else None
            )
        # Notes are told by their name alone (no read), but for the names other tools
        # write message logs under (vault.MESSAGE_LOG_NAMES).
        note = candidate.path.suffix.lower() in (".md", ".markdown")
        head = (
            b""
            if note and candidate.path.name.lower() not in MESSAGE_LOG_NAMES
            else _read_head(candidate.path)
        )
        return detect(candidate.path.name, head)

    def unchanged_by_stat(self, candidate: Candidate) -> bool:
        """Same size and mtime as recorded: count it and do not read it (no database write)."""
        path = str(candidate.path)
        state = self.known.get(path)
        if state is None or state.status == "deleted":
            return False
        if (state.size, state.mtime_ns) != (candidate.size, candidate.mtime_ns):
            return False
        if self.forced is not None and state.source != self.forced.name:
            return False
        if not self.read_under_these_settings(state):
            return False  # a messaging file read under other identity settings
        self.seen.add(path)
        if state.status == "skipped":
            self.summary.skipped.append((path, state.reason or "skipped before"))
        else:
            self.summary.files_unchanged += 1
        return True

    def process(self, candidate: Candidate) -> None:
        """Read, parse and store a file that is new or whose stat changed."""
        path = str(candidate.path)
        state = self.known.get(path)
        live = state is not None and state.status != "deleted"
        source = self.source_for(candidate)
        if source is None:
            self.summary.unrecognised.append(path)
            return
        self.seen.add(path)
        self._read_and_store(candidate, source, state if live else None)

    def _skip(self, candidate: Candidate, source: Source, reason: str) -> None:
        self.summary.skipped.append((str(candidate.path), reason))
        self.summary.memories += self.store.record_skipped_file(
            str(candidate.path), source.name, candidate.size, candidate.mtime_ns, reason
        )

    def _read_and_store(self, candidate: Candidate, source: Source, state) -> None:
        path = str(candidate.path)
        if candidate.size > self.settings.max_file_mb * 1024 * 1024:
            self._skip(
                candidate,
                source,
                f"larger than ingest.max_file_mb ({self.settings.max_file_mb:g} MB)",
            )
            return
        try:
            data = candidate.path.read_bytes()
        except OSError as exc:
            self._skip(candidate, source, f"unreadable: {exc.strerror}")
            return
        digest = self.digest(source, data)
        if state is not None and state.status == "ok" and state.content_hash == digest:
            self.store.touch_file(path, candidate.size, candidate.mtime_ns)
            self.summary.files_unchanged += 1
            return
        file = SourceFile(candidate.path, candidate.relative, data, candidate.mtime_ns / 1e9)
        try:
            parsed = source.parse(file, self.settings)
        except SkipFile as exc:
            self._skip(candidate, source, str(exc))
            return
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            # A parser bug on odd input must cost one file, not the run; the reason names it.
            self._skip(
                candidate, source, f"{source.name} parser failed: {type(exc).__name__}: {exc}"
            )
            return
        if source.messaging and parsed.people is not None:
            try:
                parsed.warnings += resolve(parsed.memories, parsed.people, self.identity)
            except NeedsIdentity as needs:  # the check before the run makes this rare
                raise UserError(stop_line([needs.people], display(path))) from None
        keep_first_seen_dates(self.store, source.name, parsed.memories)
        changes = self.store.replace_file(
            path,
            source.name,
            candidate.size,
            candidate.mtime_ns,
            digest,
            parsed.memories,
            len(parsed.bad),
        )
        self.summary.memories += changes
        self.summary.files_by_source[source.name] += 1
        if state is None:
            self.summary.files_new += 1
        else:
            self.summary.files_changed += 1
        if parsed.bad:
            self.summary.bad_records.append((path, len(parsed.bad), parsed.bad[0]))
        self.summary.warnings += [(path, warning) for warning in parsed.warnings]

    def read_under_these_settings(self, state: FileState) -> bool:
        """A file whose memories do not depend on identity, or were read under these settings."""
        if state.source not in SOURCES or not SOURCES[state.source].messaging:
            return True
        return (state.content_hash or "").endswith("@" + self.reading)

    def unchanged_and_read(self, candidate: Candidate) -> bool:
        """Read before, unchanged since, under these settings (the identity check skips it)."""
        state = self.known.get(str(candidate.path))
        return (
            state is not None
            and state.status == "ok"
            and (state.size, state.mtime_ns) == (candidate.size, candidate.mtime_ns)
            and self.read_under_these_settings(state)
        )

    def digest(self, source: Source, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        return f"{digest}@{self.reading}" if source.messaging else digest

    def check_identity(self, candidates: list[Candidate]) -> None:
        """Stop before any write when an export names no owner and no identity is set."""
        if self.identity:
            return
        needing: list[tuple[str, People]] = []
        for candidate in candidates:
            if self.unchanged_and_read(candidate):
                continue  # it needed no identity then, and nothing changed
            source = self.source_for(candidate)
            if source is None or not source.messaging:
                continue
            if candidate.size > self.settings.max_file_mb * 1024 * 1024:
                continue  # skipped with its reason later
            try:
                file = SourceFile(
                    candidate.path,
                    candidate.relative,
                    candidate.path.read_bytes(),
                    candidate.mtime_ns / 1e9,
                )
                parsed = source.parse(file, self.settings)
                if parsed.people is not None:
                    resolve(parsed.memories, parsed.people, self.identity)
            except NeedsIdentity as needs:
                needing.append((str(candidate.path), needs.people))
            except (
                OSError,
                SkipFile,
                ValueError,
                TypeError,
                KeyError,
                AttributeError,
                RecursionError,
            ):
                continue  # unreadable: skipped with its reason when it is processed
        if needing:
            where = (
                display(needing[0][0])
                if len(needing) == 1
                else f"{len(needing)} chat and mail exports"
            )
            raise UserError(stop_line([people for _, people in needing], where))

    def mark_deleted(self, roots: list[Path]) -> None:
        for root in roots:
            for state in self.store.files_under(str(root)):
                if state.path in self.seen:
                    continue
                if self.forced is not None and state.source != self.forced.name:
                    continue
                self.summary.memories.deleted += self.store.mark_file_deleted(state.path)
                self.summary.files_deleted += 1


# Where a draft's date came from when it is only the file's mtime (see sources/vault.py).
MTIME_DATED = "mtime"


def keep_first_seen_dates(store: MemoryStore, source: str, drafts: list[MemoryDraft]) -> None:
    """Give mtime-dated drafts whose text is unchanged the date their memory already has.

    The mtime is the date of the last edit anywhere in the file; a section that
    was not edited keeps the date it was first seen.
    """
    undated = {
        memory_id(source, d.locator): d for d in drafts if d.meta.get("date_from") == MTIME_DATED
    }
    if not undated:
        return
    for mid, known in store.live_by_id(list(undated)).items():
        draft = undated[mid]
        if known.text == draft.text and known.meta.get("date_from") == MTIME_DATED:
            draft.created_at = known.created_at


def display(path: str) -> str:
    """A path as the user would type it: under the home folder as ~/..."""
    home = str(Path.home())
    return "~" + path[len(home) :] if path.startswith(home + os.sep) else path


def ingest(
    paths: list[Path],
    store: MemoryStore,
    settings: IngestSettings,
    source: str = "auto",
    show_progress: bool = True,
    identity: IdentitySettings | None = None,
) -> IngestSummary:
    """Read `paths` (files or folders) into `store`; see the module docstring.

    `identity` (the `identity.*` settings) says which chat and mail messages are
    the person's; without it, an export that does not name its owner stops the
    run with a UserError naming the likely owner.
    """
    if source != "auto" and source not in SOURCES:
        raise UserError(f"unknown source '{source}'; choose auto or one of: {', '.join(SOURCES)}")
    roots = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise UserError(f"no such file or folder: {raw}")
        roots.append(path.resolve())
    started = time.perf_counter()
    run = _Run(store, settings, SOURCES.get(source), Identity.from_settings(identity))
    skip = compile_globs(settings.skip_globs)
    candidates = [c for root in roots for c in discover(root, skip, run.summary)]
    run.load_known(roots)
    run.check_identity(candidates)
    run_id = store.start_run([str(root) for root in roots])
    run.run_id = run_id
    try:
        _process_all(run, candidates, show_progress)
    except KeyboardInterrupt:
        run.summary.interrupted = True
    if not run.summary.interrupted:
        with store.batch():
            run.mark_deleted(roots)
    run.summary.seconds = time.perf_counter() - started
    store.finish_run(
        run_id, "interrupted" if run.summary.interrupted else "finished", run.summary.to_dict()
    )
    return run.summary


class _WholeFiles:
    """Each file's reads and writes, never half of them in a committed batch.

    Ctrl-C (SIGINT) during the run is held and handled after the file in flight, so that
    file is written whole and its batch commits it with the others. This replaces a savepoint
    per file, which undid the file in flight instead: SQLite's full-text index writes its
    pending rows to disk at every savepoint, one index segment per file, a tenth of a full
    ingest's time (bench/ingest.py). Where a handler cannot be set (not the main thread, or a
    SIGINT handler that is not Python's), the savepoint per file stays.
    """

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.held: list[Any] = []  # the frame each held SIGINT arrived in
        self.previous: Callable[[int, Any], Any] | None = None

    def __enter__(self) -> _WholeFiles:
        previous = signal.getsignal(signal.SIGINT)
        if threading.current_thread() is threading.main_thread() and callable(previous):
            self.previous = previous
            signal.signal(signal.SIGINT, lambda signum, frame: self.held.append(frame))
        return self

    @contextmanager
    def file(self) -> Iterator[None]:
        if self.previous is None:
            with self.store.savepoint():
                yield
        else:
            yield

    def stop_if_interrupted(self) -> None:
        """Between files: handle a held Ctrl-C (Python's own handler raises KeyboardInterrupt)."""
        if self.held and self.previous is not None:
            frame = self.held.pop()
            self.held.clear()
            self.previous(signal.SIGINT, frame)

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
            if exc[0] is None:
                self.stop_if_interrupted()


def _process_all(run: _Run, candidates: list[Candidate], show_progress: bool) -> None:
    """Batches of files, each batch one transaction; Ctrl-C keeps the finished files."""
    batch = run.settings.batch_files
    with (
        step_progress(
            len(candidates), "ingest", enabled=show_progress, min_interval_s=5.0
        ) as progress,
        _WholeFiles(run.store) as whole,
    ):
        for start in range(0, len(candidates), batch):
            # A batch writes its text into the table, about as much into the full-text index,
            # and every new page into the WAL first: about 3x the files' bytes on a full disk.
            needed = 3 * sum(c.size for c in candidates[start : start + batch])
            with writing(run.store.path, needed), run.store.batch():
                try:
                    for offset, candidate in enumerate(candidates[start : start + batch]):
                        if not run.unchanged_by_stat(candidate):
                            with whole.file():
                                run.process(candidate)
                        whole.stop_if_interrupted()
                        progress.update(start + offset + 1, memories=run.summary.memories.added)
                except KeyboardInterrupt:
                    # Commit what is done: every file finished, none by half (_WholeFiles).
                    run.summary.interrupted = True
            run.store.heartbeat_run(run.run_id)
            if run.summary.interrupted:
                raise KeyboardInterrupt
