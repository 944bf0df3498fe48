"""Crash-safe writes: write beside the target, fsync, then rename over it.

A reader (or a later stage after a crash) sees either the old file or the new
one, never half of one. Directories are built under a temporary name and renamed
into place for the same reason.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from personaforge.diskfull import DiskFull, looks_full, tree_bytes, writing


def _fsync_dir(path: Path) -> None:
    # The rename itself lives in the parent directory's entry table; without
    # this fsync a power loss can forget the rename even though the data is safe.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike, data: bytes, mode: int | None = None) -> None:
    """Replace `path` with `data` atomically; `mode` sets permissions before the rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with writing(target, len(data)):
        _write_and_rename(target, data, mode)
    _fsync_dir(target.parent)


def _write_and_rename(target: Path, data: bytes, mode: int | None) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp_name, mode)
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def atomic_write_text(path: str | os.PathLike, text: str, mode: int | None = None) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


def fsync_tree(root: Path) -> None:
    """fsync every file and directory below root (before renaming it into place)."""
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(dirpath))


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where unsupported.

    Replacing a folder with two renames leaves a moment with no folder at all: a kill there
    (the kill loop in tests/reliability/test_kills.py aims at such moments) would lose a dataset
    a version names. The exchange has no such moment.
    """
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):  # glibc before 2.28, musl: the two renames
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling directory that becomes `path` only on success.

    An existing `path` is replaced. On any exception the temporary directory is
    removed and `path` is left as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(
        tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    )
    try:
        yield staging
        fsync_tree(staging)
        if target.exists():
            if _exchange(staging, target):  # one step: the old folder now sits at `staging`
                shutil.rmtree(staging, ignore_errors=True)
            else:
                retired = target.with_name(f".{target.name}.old-{os.getpid()}")
                os.replace(target, retired)
                os.replace(staging, target)
                shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, target)
        _fsync_dir(target.parent)
    except BaseException as exc:
        full = looks_full(exc) and not isinstance(exc, DiskFull)
        written = tree_bytes(staging) if full else 0
        shutil.rmtree(staging, ignore_errors=True)
        if full:
            # What was staged when the disk filled: the whole folder needs at least that much.
            raise DiskFull(target, written or None, at_least=True) from exc
        raise


def remove_tree(path: str | os.PathLike) -> None:
    """Delete a folder so that no half of it is ever visible under its name.

    rmtree unlinks file by file: killed halfway, it leaves an export or a version that looks
    present but lacks its weights (the kill loop found exactly that). Renamed to a hidden
    name first, in one step, the folder is either whole or gone.
    """
    target = Path(path)
    hidden = target.with_name(f".{target.name}.removing-{os.getpid()}")
    os.replace(target, hidden)
    _fsync_dir(target.parent)
    shutil.rmtree(hidden, ignore_errors=True)
