"""Charts as SVG, drawn by matplotlib on the server.

Why matplotlib: it is already the [train] extra's plotting library (the gate
report's loss.png), it is well kept, it works offline with nothing to fetch,
and drawing on the server keeps the page free of a JavaScript charting bundle.
The live page reloads the chart's <img> when new records arrive, at most
every two seconds; a 2x2 training chart of 1,000 steps takes about 0.3-0.4 s
of CPU (see docs/dashboard.md), and the app caches each SVG until its log
changes.

Only the object-oriented API is used (no pyplot state), under one lock,
because matplotlib's text and font caches are not thread-safe and the app
renders from a thread pool.
"""

from __future__ import annotations

import importlib.util
import io
import threading
from typing import Any

MAX_POINTS = 2000  # more points than pixels only makes the SVG heavier
_lock = threading.Lock()


def available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def by_step(records: list[dict[str, Any]], key: str, scale: float = 1.0) -> list[tuple[int, float]]:
    """(step, value) sorted by step; the latest record of a step wins (a resumed run relogs steps)."""
    points: dict[int, float] = {}
    for record in records:
        value, step = record.get(key), record.get("step")
        if isinstance(value, int | float) and isinstance(step, int):
            points[step] = value * scale
    ordered = sorted(points.items())
    stride = max(len(ordered) // MAX_POINTS, 1)
    return ordered[::stride] if stride > 1 else ordered


def _figure(width: float, height: float, rows: int = 1, cols: int = 1, bottom: float = 0.5):
    """Margins in inches, fixed: matplotlib's constrained layout would double the drawing time."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=96)
    figure.subplots_adjust(
        left=0.7 / width,
        right=1 - 0.15 / width,
        top=1 - 0.3 / height,
        bottom=bottom / height,
        hspace=0.9 / (height / rows),
        wspace=0.9 / (width / cols),
    )
    return figure, figure.subplots(rows, cols, squeeze=False)


def _svg(figure) -> bytes:
    import matplotlib

    buffer = io.BytesIO()
    # Text as <text>, not glyph outlines: a third smaller and faster; the browser has fonts.
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def _plot(axis, points, label: str, **style) -> bool:
    if not points:
        return False
    steps, values = zip(*points, strict=True)
    axis.plot(steps, values, label=label, **style)
    return True


def _panel(axis, title: str, drawn: bool, legend: bool = False) -> None:
    axis.set_title(title, fontsize=10, loc="left")
    axis.set_xlabel("step", fontsize=8)
    axis.tick_params(labelsize=8)
    axis.grid(alpha=0.3)
    if not drawn:
        axis.text(0.5, 0.5, "no data yet", ha="center", va="center", transform=axis.transAxes)
    elif legend:
        axis.legend(fontsize=8)


def training_chart(records: list[dict[str, Any]]) -> bytes:
    """Loss (train and held-out), learning rate, tokens/s and peak memory over steps."""
    with _lock:
        figure, axes = _figure(9.0, 5.2, 2, 2)
        loss, rate, speed, memory = axes[0][0], axes[0][1], axes[1][0], axes[1][1]
        drawn = _plot(loss, by_step(records, "loss"), "train")
        drawn |= _plot(loss, by_step(records, "eval_loss"), "held-out", marker="o", markersize=4)
        _panel(loss, "loss", drawn, legend=True)
        _panel(rate, "learning rate", _plot(rate, by_step(records, "learning_rate"), "lr"))
        trained = [r for r in records if (r.get("step") or 0) > 0]
        _panel(
            speed,
            "tokens / second",
            _plot(speed, by_step(trained, "tokens_per_second"), "tokens/s"),
        )
        peaks = by_step(records, "peak_memory_bytes", 1 / 2**30)
        _panel(memory, "peak memory (GiB)", _plot(memory, peaks, "GiB"))
        # From zero, with headroom: a 1% rise must not look like a doubling.
        memory.set_ylim(0, max((value for _, value in peaks), default=1.0) * 1.15 or 1.0)
        return _svg(figure)


def compare_chart(runs: dict[str, list[dict[str, Any]]]) -> bytes:
    """The loss curves of several versions on one axis: solid train, dashed held-out."""
    with _lock:
        figure, axes = _figure(9.0, 3.4)
        axis = axes[0][0]
        drawn = False
        for index, (name, records) in enumerate(runs.items()):
            color = f"C{index}"
            drawn |= _plot(axis, by_step(records, "loss"), f"{name} train", color=color)
            drawn |= _plot(
                axis,
                by_step(records, "eval_loss"),
                f"{name} held-out",
                color=color,
                linestyle="--",
                marker="o",
                markersize=4,
            )
        _panel(axis, "loss", drawn, legend=True)
        return _svg(figure)


def bar_chart(counts: dict[str, int], title: str) -> bytes:
    """Counts per label (memories per month), in label order."""
    with _lock:
        figure, axes = _figure(9.0, 2.8, bottom=0.65)  # room for the slanted month labels
        axis = axes[0][0]
        labels = list(counts)
        axis.bar(range(len(labels)), [counts[label] for label in labels], color="C0")
        step = max(len(labels) // 12, 1)  # at most about 12 labels under the axis
        axis.set_xticks(range(0, len(labels), step), labels[::step], rotation=45, ha="right")
        axis.set_title(title, fontsize=10, loc="left")
        axis.tick_params(labelsize=8)
        axis.grid(axis="y", alpha=0.3)
        if not labels:
            axis.text(0.5, 0.5, "no data yet", ha="center", va="center", transform=axis.transAxes)
        return _svg(figure)
