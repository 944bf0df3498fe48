"""A disk that fills during ingest, dataset build, checkpointing, export and registry writes.

The stand-in for a full disk is RLIMIT_FSIZE (`ulimit -f`), set in the child before it runs:
any write past the limit fails with EFBIG, the errno a full disk's ENOSPC shares its handling
with (diskfull.py). It needs no root and no loop device, and it fails the write at a byte count
the test chooses, just below what the command must write. Each case must end in one line that
names the path and the space needed, a non-zero exit, no traceback, and a home whose memories,
versions, pointer, datasets and exports are exactly what they were before the command.
"""

from __future__ import annotations

import hashlib
import resource

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


@pytest.fixture(scope="module")
def home(tmp_path_factory, micro_models_dir, sample_data) -> Paths:
    """A home that ran the whole cycle once (v1 promoted, its dataset and export)."""
    import shutil

    root = tmp_path_factory.mktemp("full-disk")
    shutil.copytree(sample_data, root / "data")
    paths = make_home(root, micro_models_dir, root / "data")
    done = cli(paths, "run")
    assert done.returncode == 0, done.stderr[-3000:]
    return paths


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


def test_a_full_disk_changes_nothing(home, trials):
    """Ingest, dataset build, a checkpoint, an export and a registry write past `ulimit -f`: one line, exit non-zero, the home as it was."""
    held = []
    for name, (command, limit, where) in CASES.items():
        args = list(command)
        if name == "ingest":
            _a_big_note(home)
            args.append(str(home.home.parent / "data" / "vault"))
        before = snapshot(home)
        done = cli(home, *args, preexec=file_limit(limit))
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
        trials.add()
        held.append(name)
    trials.held(
        f"{', '.join(held)}: one line naming the path and the space needed, exit 3, "
        "memories, versions, pointer and every dataset, adapter and export byte unchanged"
    )
