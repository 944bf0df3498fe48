"""Console output shared by all stages: one stderr console and a step progress display.

On a terminal, long work shows a live rich progress bar with its metrics; in a log
(CI, `make demo > log`) it prints a plain line every tenth of the work instead,
so logs stay readable and still show that something is happening.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True, highlight=False)
stdout = Console(highlight=False)


def human_bytes(size: int) -> str:
    """1,536 -> '1.5 KiB'; 538,000,000 -> '513.1 MiB': never '0.00 MiB' for a small file."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def format_metrics(metrics: dict[str, float | int | str]) -> str:
    parts = []
    for key, value in metrics.items():
        if isinstance(value, float):
            value = f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
        parts.append(f"{key} {value}")
    return "  ".join(parts)


class StepProgress:
    """Report progress of a loop of known length; see `step_progress`."""

    def __init__(
        self,
        total: int,
        description: str,
        live: Progress | None,
        quiet: bool = False,
        min_interval_s: float = 0.0,
    ):
        self.quiet = quiet
        self.min_interval_s = min_interval_s
        self._last_log = time.monotonic()
        self._logged = False
        self.total = total
        self.description = description
        self._live = live
        self._task = live.add_task(description, total=total, metrics="") if live else None
        self._started = time.monotonic()
        self._next_log_step = 0

    @property
    def is_live(self) -> bool:
        """A redrawn terminal bar (cheap to update often), not printed log lines."""
        return self._live is not None

    def update(self, step: int, **metrics: float | int | str) -> None:
        """Mark `step` (1-based) done and show `metrics` next to the bar."""
        if self.quiet:
            return
        text = format_metrics(metrics)
        if self._live is not None:
            self._live.update(self._task, completed=step, metrics=text)
            return
        if not self._due(step):
            return
        self._last_log, self._logged = time.monotonic(), True
        elapsed = self._last_log - self._started
        eta = elapsed / max(step, 1) * (self.total - step)
        console.print(f"  {self.description} {step}/{self.total}  {text}  eta {eta:.0f}s")
        self._next_log_step = step + max(1, self.total // 10)

    def _due(self, step: int) -> bool:
        """Whether a plain-text progress line is due at `step`."""
        if self.min_interval_s:
            waited = time.monotonic() - self._last_log >= self.min_interval_s
            return waited or (step == self.total and self._logged)
        return step >= self._next_log_step or step == self.total


@contextmanager
def step_progress(
    total: int, description: str, enabled: bool = True, min_interval_s: float = 0.0
) -> Iterator[StepProgress]:
    """A live bar on a terminal; otherwise a line per 10% of the steps, or, with
    `min_interval_s`, at most one line per that many seconds (none for quick loops).
    Nothing at all when not `enabled`."""
    if not enabled:
        yield StepProgress(total, description, None, quiet=True)
        return
    if not console.is_terminal:
        yield StepProgress(total, description, None, min_interval_s=min_interval_s)
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[metrics]}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as live:
        yield StepProgress(total, description, live)
