"""`run.strategy`: where a monthly version starts, how far it moves, how much it rehearses.

docs/cycle.md has the measurements behind the default (bench/continual.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from personaforge.config import Settings
from personaforge.paths import Paths
from personaforge.run_context import RunContext


@dataclass(frozen=True)
class Strategy:
    """How a run after the first one trains (`run.strategy`; docs/cycle.md has the numbers)."""

    dataset: str  # "monthly": new memories + stratified replay; "foundation": every memory
    start: str  # "current": continue the current version; "base": a fresh adapter
    parent_scale: float  # train.parent_scale when continuing (0.5: averaged with the base first)
    says: str
    # Continuing the n-th SFT of a lineage at learning_rate / (n + 1) instead of restarting at
    # the peak: each update still learns its month, while the lineage's total step size from
    # the base grows like the harmonic series (log n), not linearly with the months.
    decay_lr: bool = False


STRATEGIES = {
    "warm": Strategy("monthly", "current", 1.0, "continue {current} on the monthly mix"),
    "steady": Strategy(
        "monthly",
        "current",
        1.0,
        "continue {current} on the monthly mix at a learning rate that falls with its lineage",
        decay_lr=True,
    ),
    "blend": Strategy(
        "monthly", "current", 0.5, "average {current} with the base, then continue on the mix"
    ),
    "refresh": Strategy("monthly", "base", 1.0, "a fresh adapter from the base on the mix"),
    "retrain": Strategy("foundation", "base", 1.0, "a fresh adapter from the base on everything"),
}


def sft_depth(paths: Paths, version: str) -> int:
    """How many SFT trainings the version's lineage holds (DPO refinements do not count)."""
    from personaforge.registry import Registry

    with Registry.open(paths) as registry:
        return sum(v.method == "sft" for v in registry.lineage(version))


def train_settings(ctx: RunContext, parent: str | None) -> Settings:
    """The settings SFT runs with: the strategy's parent_scale and learning rate when it
    continues a version (a forget's replay keeps the configured ones)."""
    strategy = STRATEGIES[ctx.settings.run.strategy]
    if parent is None or ctx.request.foundation:
        return ctx.settings
    update: dict[str, Any] = {}
    if strategy.parent_scale != ctx.settings.train.parent_scale:
        update["parent_scale"] = strategy.parent_scale
    if strategy.decay_lr:
        depth = sft_depth(ctx.paths, parent)
        update["learning_rate"] = ctx.settings.train.learning_rate / (depth + 1)
    if not update:
        return ctx.settings
    train = ctx.settings.train.model_copy(update=update)
    return ctx.settings.model_copy(update={"train": train})
