"""The live view: tail a training's metrics.jsonl and push each new record to the browser (SSE).

Every way a training starts (`train`, `run`, a schedule) writes the same log,
`runs/<method>-<key>/metrics.jsonl` (see train/callbacks.py), and a finished
version keeps a copy in `adapters/vN/`. The stream polls that file twice a
second, sends the complete lines it has not sent yet, and a summary the page
shows as it is (step of total, losses, learning rate, tokens/s, ETA, peak
memory). Following "live" it switches to whichever run is newest, so a page
opened before a training starts picks it up; a finished run simply replays.

Events: `run` (what is followed; the page resets), `records` (new records and
the summary), `status` (running, finished, interrupted...), `idle` (nothing to
follow yet). A comment line every 10 s keeps proxies and the browser patient.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from personaforge.dashboard.home import (
    METRICS,
    active_run,
    log_folder,
    training_alive,
    training_run,
)
from personaforge.errors import UserError
from personaforge.paths import Paths

POLL_S = 0.5  # a step of a real model takes seconds; half a second is live enough and cheap
KEEPALIVE_S = 10.0
MAX_CHUNK = 8 << 20  # read a long log in 8 MiB pieces, one per poll
# The fields of a record a page uses; the trainer logs more (entropy, runtimes...).
SHOWN = (
    "step",
    "max_steps",
    "epoch",
    "time",
    "tokens_seen",
    "tokens_per_second",
    "peak_memory_bytes",
    "loss",
    "eval_loss",
    "learning_rate",
    "grad_norm",
    "rewards/accuracies",
)


class LogTail:
    """The new complete lines of a growing JSONL file; notices when it is replaced or truncated."""

    def __init__(self, folder: Path, name: str = METRICS):
        self.path = folder / name
        self.offset = 0
        self.identity: tuple[int, int] | None = None

    def read(self) -> tuple[list[dict[str, Any]], bool]:
        """(new records, restarted): restarted means the file was replaced, so drop what came before."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:  # not there yet, removed (a restarted run), or a symlink (never followed)
            restarted = self.offset > 0
            self.offset, self.identity = 0, None
            return [], restarted
        with os.fdopen(fd, "rb") as handle:
            stat = os.fstat(handle.fileno())
            identity = (stat.st_dev, stat.st_ino)
            restarted = False
            if identity != self.identity or stat.st_size < self.offset:
                restarted = self.offset > 0
                self.identity, self.offset = identity, 0
            handle.seek(self.offset)
            chunk = handle.read(MAX_CHUNK)
        end = chunk.rfind(b"\n")
        if end < 0:  # only a line still being written
            return [], restarted
        self.offset += end + 1
        records = []
        for line in chunk[: end + 1].splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records, restarted


def slim(record: dict[str, Any]) -> dict[str, Any]:
    return {key: record[key] for key in SHOWN if key in record}


# -- the summary ---------------------------------------------------------------------------------


def eta_seconds(records: list[dict[str, Any]]) -> float | None:
    """Seconds left at the pace of the latest session (a resumed run restarts its clock).

    The records of one session have non-decreasing `time`; the held-out loss
    measured before training (step 0) is not part of the pace.
    """
    timed = [
        r
        for r in records
        if (r.get("step") or 0) > 0
        and r.get("max_steps")
        and isinstance(r.get("time"), int | float)
    ]
    start = 0
    for index in range(1, len(timed)):
        if timed[index]["time"] < timed[index - 1]["time"]:
            start = index
    session = timed[start:]
    if len(session) < 2:
        return None
    first, last = session[0], session[-1]
    steps = last["step"] - first["step"]
    if steps <= 0:
        return None
    remaining = max(last["max_steps"] - last["step"], 0)
    return (last["time"] - first["time"]) / steps * remaining


def _last(records: list[dict[str, Any]], key: str) -> Any:
    return next((r[key] for r in reversed(records) if r.get(key) is not None), None)


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


# Displayed fields: name -> how to write its value. The page has an element per name.
FORMATS = {
    "loss": lambda v: f"{v:.4f}",
    "eval_loss": lambda v: f"{v:.4f}",
    "learning_rate": lambda v: f"{v:.2e}",
    "tokens_per_second": lambda v: f"{v:,.0f}",
    "peak_memory": lambda v: f"{v / 2**30:.2f} GiB",
    "epoch": lambda v: f"{v:.2f}",
    "eta": clock,
    "elapsed": clock,
}


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Step of total and the latest value of each number, raw and as the page writes it."""
    steps = [r["step"] for r in records if isinstance(r.get("step"), int)]
    trained = [r for r in records if (r.get("step") or 0) > 0]
    values = {
        "loss": _last(records, "loss"),
        "eval_loss": _last(records, "eval_loss"),
        "learning_rate": _last(records, "learning_rate"),
        "tokens_per_second": _last(trained, "tokens_per_second"),
        "peak_memory": max((r.get("peak_memory_bytes") or 0 for r in records), default=0) or None,
        "epoch": _last(trained, "epoch"),
        "eta": eta_seconds(records),
        "elapsed": _last(trained, "time"),
    }
    return {
        "step": max(steps, default=0),
        "max_steps": _last(records, "max_steps") or 0,
        "records": len(records),
        "values": values,
        "text": {k: "-" if v is None else FORMATS[k](v) for k, v in values.items()},
    }


# -- the event stream ---------------------------------------------------------------------------------


def event(name: str, data: Any) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


def describe(kind: str, name: str) -> dict[str, str]:
    title = f"training run {name}" if kind == "run" else f"version {name} (finished, replayed)"
    return {
        "kind": kind,
        "name": name,
        "title": title,
        "chart": f"/charts/{kind}/{name}.svg",
        "page": f"/live/{kind}/{name}",
    }


def source_status(paths: Paths, kind: str, name: str) -> dict[str, Any]:
    """Where the followed log stands; `final` tells the page nothing more will come."""
    if kind == "version":
        return {"status": "finished", "version": name, "final": True}
    run = training_run(log_folder(paths, kind, name), training_alive(paths))
    return {"status": run.status, "version": run.version, "final": False}


async def stream(
    paths: Paths, target: tuple[str, str] | None, closing: threading.Event
) -> AsyncIterator[str]:
    """SSE text for one page: `target` (kind, name) replays/follows that log; None follows the newest run."""
    yield "retry: 2000\n\n"
    following: tuple[str, str] | None = ("", "")  # nothing yet, and not "idle" either
    tail: LogTail | None = None
    records: list[dict[str, Any]] = []
    status: dict[str, Any] | None = None
    quiet_since = time.monotonic()
    while not closing.is_set():
        if target is None:
            run = await asyncio.to_thread(active_run, paths)
            wanted = ("run", run.id) if run else None
        else:
            wanted = target
        chunks: list[str] = []
        if wanted != following:
            following, records, status = wanted, [], None
            if wanted is None:
                tail = None
                chunks.append(event("idle", {"message": "no training has run in this home yet"}))
            else:
                tail = LogTail(await asyncio.to_thread(log_folder, paths, *wanted))
                chunks.append(event("run", describe(*wanted)))
        if following is not None and tail is not None:
            new, restarted = await asyncio.to_thread(tail.read)
            if restarted:  # the same training started over: the page starts over too
                records, status = [], None
                chunks.append(event("run", describe(*following)))
            if new:
                records += new
                chunks.append(
                    event(
                        "records",
                        {"records": [slim(r) for r in new], "summary": summarize(records)},
                    )
                )
            try:
                now = await asyncio.to_thread(source_status, paths, *following)
            except (UserError, OSError):  # the run folder went away between two polls
                now = {"status": "gone", "version": None, "final": False}
            if now != status:
                status = now
                chunks.append(event("status", now))
        if chunks:
            quiet_since = time.monotonic()
            yield "".join(chunks)
        elif time.monotonic() - quiet_since > KEEPALIVE_S:
            quiet_since = time.monotonic()
            yield ": keepalive\n\n"
        await asyncio.sleep(POLL_S)
