"""Which memories a dataset is built from, and which examples are held out.

- foundation: every live memory (optionally one mode);
- monthly: every memory of the last `days_recent` days, plus a seeded random
  sample of `old_samples` older ones, so an update keeps rehearsing the past
  instead of forgetting it;
- `max`: a cap that keeps the recent memories first, then fills up with old
  memories in seeded random order.

The eval split is chosen per *group* by a stable hash: a whole note (every
heading section of it), a whole conversation, a whole day of episodic
memories. Holding out sections of a note whose other sections were trained
on, or turns of a trained conversation, would measure recall instead of
voice. The same group is held out in every rebuild, so every version is
measured on the same ground.
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


def split_bucket(key: str) -> float:
    """A stable number in [0, 1] for a split group; a group is held out when it is below the fraction."""
    return int(hashlib.sha256(f"eval-split\0{key}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def is_eval(key: str, fraction: float) -> bool:
    """Stable: depends on the group key alone."""
    return split_bucket(key) < fraction


def _note(memory: Memory) -> str:
    return memory.locator.split("#", 1)[0]  # "Journal/2026/06/2026-06-02.md#Work" -> the note


def _day(memory: Memory) -> str:
    return memory.created_at[:10]


# What is held out together, per source; chats are grouped by conversation before this table.
SPLIT_GROUPS = {"vault": _note, "episodic": _day}


def split_group(memory: Memory) -> str:
    """The unit a memory is held out with: its conversation, its note, its day, or itself."""
    conversation = memory.meta.get("conversation_id")
    if conversation is not None:
        return f"{memory.source}:conversation:{conversation}"
    group = SPLIT_GROUPS.get(memory.source)
    return f"{memory.source}:{group(memory)}" if group else f"{memory.source}:memory:{memory.id}"
