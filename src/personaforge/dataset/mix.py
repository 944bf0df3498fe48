"""Which memories a dataset is built from, and which examples are held out.

- foundation: every live memory (optionally one mode);
- monthly: every memory of the last `days_recent` days, plus a seeded random
  sample of `old_samples` older ones, so an update keeps rehearsing the past
  instead of forgetting it;
- `max`: a cap that keeps the recent memories first, then fills up with old
  memories in seeded random order.

The eval split is chosen per memory by a stable hash of its id, so the same
memory is held out in every rebuild and every version is measured on the
same ground, and the examples of one memory never straddle train and eval.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from personaforge.store import Memory


@dataclass(frozen=True)
class MixPlan:
    strategy: str  # foundation or monthly
    days_recent: int = 30
    old_samples: int = 3000
    max_memories: int | None = None
    mode: str | None = None
    seed: int = 7
    as_of: str | None = None  # ISO date "today" for monthly; default: now

    def describe(self) -> dict[str, object]:
        return {k: v for k, v in vars(self).items() if v is not None}


@dataclass
class Selection:
    memories: list[Memory]
    recent: int
    old_sampled: int
    old_available: int
    cutoff: str | None


def cutoff_date(plan: MixPlan) -> str:
    today = datetime.fromisoformat(plan.as_of) if plan.as_of else datetime.now(timezone.utc)
    return (today - timedelta(days=plan.days_recent)).date().isoformat()


def select(memories: list[Memory], plan: MixPlan) -> Selection:
    pool = [m for m in memories if plan.mode is None or m.mode == plan.mode]
    pool.sort(key=lambda m: (m.created_at, m.id))
    rng = random.Random(plan.seed)
    if plan.strategy == "foundation":
        chosen, recent, sampled, available, cutoff = pool, len(pool), 0, 0, None
        old_order: list[Memory] = []
    else:
        cutoff = cutoff_date(plan)
        recent_memories = [m for m in pool if m.created_at[:10] >= cutoff]
        old = [m for m in pool if m.created_at[:10] < cutoff]
        old_order = rng.sample(old, len(old))
        sample = old_order[: plan.old_samples]
        chosen, recent, sampled, available = (
            recent_memories + sample,
            len(recent_memories),
            len(sample),
            len(old),
        )
    if plan.max_memories is not None and len(chosen) > plan.max_memories:
        if plan.strategy == "foundation":
            chosen = rng.sample(chosen, plan.max_memories)
        else:
            recent_part = chosen[:recent][
                -plan.max_memories :
            ]  # the newest when even they overflow
            chosen = recent_part + chosen[recent : recent + plan.max_memories - len(recent_part)]
            sampled = len(chosen) - len(recent_part)
            recent = len(recent_part)
    chosen.sort(key=lambda m: (m.created_at, m.id))
    return Selection(chosen, recent, sampled, available, cutoff)


def is_eval(memory_id: str, fraction: float) -> bool:
    """Stable: depends on the memory id alone."""
    bucket = (
        int(hashlib.sha256(f"eval-split\0{memory_id}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    )
    return bucket < fraction
