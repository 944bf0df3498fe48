"""A full disk (or a file-size limit) as one line that names the path and the space it needed.

A monthly job on a laptop meets a full disk sooner or later. The write that fails is deep in
SQLite, json, safetensors or torch, each of which says it differently (ENOSPC, EFBIG, "database
or disk is full", "file write failed"); the person needs one sentence: what could not be
written, how much it needed and how much is free. Writers that know their path and size wrap
the write in `writing(path, needed)`; the CLI's top-level handler turns anything else that
looks like a full disk into the same line (`disk_full_error`).

Atomic writes (atomic.py) and SQLite transactions leave the old file in place when the new one
cannot be written, so the line can promise that nothing was changed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import shutil
from collections.abc import Iterator
from pathlib import Path

from personaforge.errors import UserError

FULL_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
# How libraries that do not keep the OSError say the same thing: SQLite (SQLITE_FULL, and
# SQLITE_IOERR_WRITE, which is what it reports for EFBIG), torch's zip writer, safetensors'
# Rust io::Error.
FULL_WORDS = (
    "no space left on device",
    "file too large",
    "database or disk is full",
    "disk quota exceeded",
    "file write failed",
)
# SQLite reports EFBIG (a file past `ulimit -f`) as a plain I/O error; read it as a full disk
# only when such a limit is set, so a failing drive is never blamed on space.
LIMITED_WORDS = ("disk i/o error",)


class DiskFull(UserError):
    """A write did not fit; nothing was changed. exit code 3 (not a usage mistake, 2)."""

    exit_code = 3

    def __init__(self, path: Path | str, needed: int | None, at_least: bool = False):
        self.path, self.needed = Path(path), needed
        super().__init__(describe(self.path, needed, at_least))


def _human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def free_bytes(path: Path) -> int:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def file_size_limit() -> int | None:
    """The process's largest allowed file (ulimit -f), None when unlimited."""
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return None if soft == resource.RLIM_INFINITY else soft


def describe(path: Path, needed: int | None, at_least: bool = False) -> str:
    free = free_bytes(path)
    if needed:
        need = f"it needs {'more than' if at_least else 'about'} {_human(needed)}"
    else:
        need = "it needs more room"
    line = f"no space to write {path}: {need}, {_human(free)} free there"
    limit = file_size_limit()
    if limit is not None:
        line += f", and no file may exceed {_human(limit)} (ulimit -f)"
    return line + "; nothing was changed: free some space and run the command again"


def looks_full(exc: BaseException) -> bool:
    """Whether an exception, or one it was raised from, is a write that did not fit."""
    current: BaseException | None = exc
    for _ in range(10):  # the chain of causes, bounded
        if current is None:
            return False
        if isinstance(current, OSError) and current.errno in FULL_ERRNOS:
            return True
        text = str(current).lower()
        # safetensors' Rust io::Error says "os error 27" (EFBIG) or 28 (ENOSPC)
        if any(words in text for words in FULL_WORDS) or "os error 27" in text:
            return True
        if file_size_limit() is not None and any(words in text for words in LIMITED_WORDS):
            return True
        current = current.__cause__ or current.__context__
    return False


def full_path(exc: BaseException) -> str | None:
    """The file an OSError in the chain names, if any."""
    current: BaseException | None = exc
    for _ in range(10):
        if current is None:
            return None
        if isinstance(current, OSError) and current.filename:
            return str(current.filename)
        current = current.__cause__ or current.__context__
    return None


def disk_full_error(exc: BaseException, fallback: Path) -> DiskFull | None:
    """The one-line error for an exception that is a full disk, else None."""
    if isinstance(exc, DiskFull):
        return exc
    if not looks_full(exc):
        return None
    return DiskFull(full_path(exc) or fallback, None)


def raise_if_full(exc: BaseException, path: Path) -> None:
    """Raise DiskFull (from exc) when exc is a full disk; the file it names, else `path`."""
    if isinstance(exc, DiskFull) or not looks_full(exc):
        return
    raise DiskFull(full_path(exc) or path, None) from exc


@contextlib.contextmanager
def writing(path: Path | str, needed: int | None = None) -> Iterator[None]:
    """Turn a full disk while writing `path` into DiskFull naming it and `needed` bytes."""
    try:
        yield
    except DiskFull as exc:
        # An inner writer (atomic_directory) only knew what it had staged: this one knows more.
        if needed and (exc.needed is None or exc.needed < needed):
            raise DiskFull(path, needed) from exc
        raise
    except Exception as exc:
        if looks_full(exc):
            raise DiskFull(path, needed) from exc
        raise


def tree_bytes(root: Path) -> int:
    """Bytes under a folder (what a staged copy had written when the disk filled)."""
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(dirpath, name))
    return total
