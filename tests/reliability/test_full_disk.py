"""A disk that fills during ingest, dataset build, checkpointing, export and registry writes.

Two ways, the same five cases:
- a real full disk: a home on a small tmpfs, filled with a ballast file until the free space
  is just below what the command must write, so the write fails with ENOSPC (SQLite says
  "database or disk is full"). Mounting needs root or CAP_SYS_ADMIN; elsewhere it skips.
- RLIMIT_FSIZE (`ulimit -f`), set in the child before it runs: any write past the limit fails
  with EFBIG, the errno ENOSPC shares its handling with (diskfull.py). It needs no root, and it
  fails the write at a byte count the test chooses.
Each case must end in one line that names the path and the space needed, a non-zero exit, no
traceback, and a home whose memories, versions, pointer, datasets and exports are exactly what
they were before the command.
"""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import subprocess

import pytest

from personaforge.paths import Paths
from tests.reliability.faults import (
    check_home,
    cli,
    make_home,
    memories,
    registry_rows,
)


def file_limit(size: int):
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return limit


def snapshot(paths: Paths) -> dict:
    """What the person sees of a home: memories, versions and pointer, every artifact's bytes."""
    versions, current = registry_rows(paths)
    files = {}
    for folder in ("datasets", "adapters", "exports"):
        root = paths.home / folder
        for path in sorted(root.rglob("*")) if root.exists() else []:
            if path.is_file():
                files[str(path.relative_to(paths.home))] = hashlib.sha256(
                    path.read_bytes()
                ).hexdigest()
    return {
        "memories": memories(paths),
        "versions": {name: (row["status"], row["forgotten"]) for name, row in versions.items()},
        "current": current,
        "files": files,
    }


def _home_that_ran(root, micro_models_dir, sample_data) -> Paths:
    """A home that ran the whole cycle once (v1 promoted, its dataset and export)."""
    shutil.copytree(sample_data, root / "data")
    paths = make_home(root, micro_models_dir, root / "data")
    done = cli(paths, "run")
    assert done.returncode == 0, done.stderr[-3000:]
    return paths


@pytest.fixture(scope="module")
def home(tmp_path_factory, micro_models_dir, sample_data) -> Paths:
    return _home_that_ran(tmp_path_factory.mktemp("full-disk"), micro_models_dir, sample_data)


@pytest.fixture(scope="module")
def small_disk(tmp_path_factory):
    """A 64 MiB tmpfs, mounted for this module; a skip where this user cannot mount."""
    mount = tmp_path_factory.mktemp("tmpfs")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()[:80]}); ulimit stands in")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture(scope="module")
def home_on_small_disk(small_disk, micro_models_dir, sample_data) -> Paths:
    return _home_that_ran(small_disk, micro_models_dir, sample_data)


def leave_free(mount, free: int) -> None:
    """Fill the filesystem at `mount` with a ballast file until `free` bytes are left."""
    ballast = mount / "ballast"
    ballast.unlink(missing_ok=True)
    stat = os.statvfs(mount)
    size = stat.f_bavail * stat.f_frsize - free
    chunk = b"\0" * (1 << 20)
    with ballast.open("wb") as handle:  # written, not truncated: a sparse file takes no space
        while size > 0:
            size -= handle.write(chunk[: min(size, len(chunk))])


def _a_big_note(paths: Paths) -> None:
    """A new 400 KB note in the vault: ingesting it grows the store past a tight limit."""
    vault = paths.home.parent / "data" / "vault"
    words = " ".join(f"word{i} about the harbour and the tide" for i in range(12_000))
    (vault / "Big note.md").write_text(f"# A long day\n\n{words}\n")


# name: (command, file-size limit, the path the line must name). Each limit sits above what
# the command writes before the write under test (the store's 32 KiB WAL index, logs, run
# records) and below that write: the WAL of a 400 KB note, a 100 KB train.jsonl, a 150 KB
# adapter in a checkpoint or an export, a registry page past 2 KiB.
CASES = {
    "ingest": (("ingest",), 192 * 1024, "memories.db"),
    "dataset build": (("dataset", "build", "--max", "300"), 64 * 1024, "datasets/ds-"),
    "checkpoint": (
        ("train", "--set", "train.max_steps=4", "--set", "train.save_steps=2"),
        128 * 1024,
        "runs/sft-",
    ),
    "export": (("export", "--format", "adapter"), 128 * 1024, "-adapter"),
    "registry write": (("models", "rollback"), 2 * 1024, "registry.db"),
}


def _changes_nothing(
    home: Paths, name: str, command, where: str, preexec=None, fill=None, empty=None
) -> None:
    """Run `command` against a full disk (`preexec` limits the child; `fill` fills the disk
    and `empty` frees it again) and check that it changed nothing."""
    args = list(command)
    if name == "ingest":
        _a_big_note(home)
        args.append(str(home.home.parent / "data" / "vault"))
    before = snapshot(home)
    if fill is not None:
        fill()
    try:
        done = cli(home, *args, preexec=preexec)
    finally:
        if empty is not None:
            empty()
    output = done.stdout + done.stderr
    assert done.returncode != 0, f"{name}: exit 0\n{output[-2000:]}"
    assert "Traceback" not in output, f"{name}:\n{output[-3000:]}"
    lines = [line for line in output.splitlines() if "no space to write" in line]
    assert len(lines) == 1, f"{name}:\n{output[-2000:]}"
    line = " ".join(output[output.index("no space to write") :].split())
    assert f"no space to write {home.home}/" in line and where in line, line
    assert "needs" in line and "free there" in line and "nothing was changed" in line, line
    after = snapshot(home)
    assert after == before, f"{name}: the home changed"
    assert not check_home(home), check_home(home)


def test_a_full_disk_changes_nothing(home, trials):
    """Ingest, dataset build, a checkpoint, an export and a registry write past `ulimit -f`: one line, exit non-zero, the home as it was."""
    for name, (command, limit, where) in CASES.items():
        _changes_nothing(home, name, command, where, preexec=file_limit(limit))
        trials.add()
    trials.held(
        f"{', '.join(CASES)}: one line naming the path and the space needed, exit 3, "
        "memories, versions, pointer and every dataset, adapter and export byte unchanged"
    )


def test_a_really_full_disk_changes_nothing(home_on_small_disk, small_disk, trials):
    """The same five writes on a tmpfs filled to just below what each needs (ENOSPC, SQLite's 'disk is full'): one line, exit non-zero, the home as it was."""
    for name, (command, free, where) in CASES.items():
        _changes_nothing(
            home_on_small_disk,
            name,
            command,
            where,
            fill=lambda free=free: leave_free(small_disk, free),
            empty=lambda: (small_disk / "ballast").unlink(missing_ok=True),
        )
        trials.add()
    trials.held(
        f"{', '.join(CASES)} on a full tmpfs (ENOSPC): one line naming the path and the space "
        "needed, exit 3, memories, versions, pointer and every artifact byte unchanged"
    )
