"""One user of an accelerator at a time: a training, or a server holding models on it.

A lock file per device under `$PERSONAFORGE_HOME/locks/` (`cuda-0.lock`,
`cpu.lock`) held with flock for as long as the holder runs; the kernel releases
it when the process dies, so a crash never leaves a stale lock. Beside it,
`<device>.owner.json` says who holds it (pid, role, since).

When a training finds the device held by a server, it writes
`<device>.release` and waits: the serve stage watches for that file, unloads
its models, releases the lock and deletes the request. A training that finds
another training gets a clear error at once, never a shared GPU.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from personaforge.errors import UserError


def device_key(device: str, index: int | None = None) -> str:
    """cpu, mps, cuda-0 (LOCAL_RANK picks the GPU under accelerate launch)."""
    if device != "cuda":
        return device
    if index is None:
        index = int(os.environ.get("LOCAL_RANK", "0"))
    return f"cuda-{index}"


class AcceleratorLock:
    def __init__(self, locks_dir: Path, key: str, role: str):
        self.dir = locks_dir
        self.key = key
        self.role = role  # "train" or "serve"
        self._handle = None

    @property
    def lock_path(self) -> Path:
        return self.dir / f"{self.key}.lock"

    @property
    def owner_path(self) -> Path:
        return self.dir / f"{self.key}.owner.json"

    @property
    def release_path(self) -> Path:
        return self.dir / f"{self.key}.release"

    def owner(self) -> dict | None:
        try:
            return json.loads(self.owner_path.read_text())
        except (OSError, ValueError):
            return None

    def try_acquire(self) -> bool:
        self.dir.mkdir(parents=True, exist_ok=True)
        handle = open(self.lock_path, "a+")  # noqa: SIM115 - held open for the lock's lifetime
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._handle = handle
        owner = {
            "pid": os.getpid(),
            "role": self.role,
            "since": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        self.owner_path.write_text(json.dumps(owner))
        return True

    def release(self) -> None:
        if self._handle is not None:
            self.owner_path.unlink(missing_ok=True)
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def release_requested(self) -> bool:
        """For a server: has a training asked for the device?"""
        return self.release_path.exists()

    def acquire(self, wait_for_server_s: float = 120.0, poll_s: float = 0.5) -> None:
        """Take the device; ask a server to let go first; refuse if another training has it."""
        if self.try_acquire():
            return
        owner = self.owner() or {}
        if owner.get("role") != "serve":
            raise UserError(
                f"{self.key} is in use by another training (pid {owner.get('pid', '?')}, since "
                f"{owner.get('since', '?')}); wait for it to finish or stop it"
            )
        self.release_path.write_text(json.dumps({"pid": os.getpid(), "role": self.role}))
        deadline = time.monotonic() + wait_for_server_s
        try:
            while time.monotonic() < deadline:
                if self.try_acquire():
                    return
                time.sleep(poll_s)
        finally:
            self.release_path.unlink(missing_ok=True)
        raise UserError(
            f"the server (pid {owner.get('pid', '?')}) did not release {self.key} within "
            f"{wait_for_server_s:.0f} s; stop it and run the training again"
        )


@contextmanager
def hold_accelerator(locks_dir: Path, key: str, role: str = "train") -> Iterator[AcceleratorLock]:
    lock = AcceleratorLock(locks_dir, key, role)
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release()
