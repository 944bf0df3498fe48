"""Which memories a dataset is built from, and which examples are held out.

- foundation: every live memory (optionally one mode);
- monthly: every memory that is new, plus `old_samples` older ones replayed,
  so an update keeps rehearsing the past instead of forgetting it. "New" means
  written or changed after what the current version learned (`since`, the
  store watermark of its dataset, from the registry); without a version it
  falls back to the clock: the last `days_recent` days before `as_of`. The
  replay is stratified: equal shares from every earlier calendar month (seeded
  order within a month), so month 0 is still rehearsed in month 12 instead of
  fading as later months outnumber it;
- `max`: a cap that keeps the recent memories first, then fills up with old
  memories in replay order.

Either way, memories newer than `since` are reported in `Selection.new`, so the
gate can ask whether a candidate learned the new month (a foundation rebuild
holds them too).

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
from typing import Any

from personaforge.store import Memory


@dataclass(frozen=True)
class MixPlan:
    strategy: str  # foundation or monthly
    days_recent: int = 30
    old_samples: int = 3000
    max_memories: int | None = None
    mode: str | None = None
    seed: int = 7
    as_of: str | None = None  # ISO date "today" for the clock window; default: now
    # What the current version already learned: memories whose updated_at is later than
    # this watermark are new (written or changed since its dataset was built).
    since: str | None = None
    since_version: str | None = None  # the version that watermark belongs to (for the gate)

    def describe(self) -> dict[str, object]:
        return {k: v for k, v in vars(self).items() if v is not None}


@dataclass
class Selection:
    memories: list[Memory]
    recent: int
    old_sampled: int
    old_available: int
    cutoff: str | None
    new: frozenset[str] = frozenset()  # ids of selected memories newer than `since`


def cutoff_date(plan: MixPlan) -> str:
    today = datetime.fromisoformat(plan.as_of) if plan.as_of else datetime.now(timezone.utc)
    return (today - timedelta(days=plan.days_recent)).date().isoformat()


def is_new(memory: Memory, plan: MixPlan) -> bool:
    """Written or changed after the watermark; with no watermark, inside the clock window."""
    if plan.since is not None:
        return memory.updated_at > plan.since
    return memory.created_at[:10] >= cutoff_date(plan)


def stratified(old: list[Memory], rng: random.Random) -> list[Memory]:
    """Every calendar month's memories in seeded order, dealt out one month at a time.

    Taking the first k of this order gives each month an equal share (a month with
    fewer memories runs out and the others fill in), so the replay of a 12-month
    history holds month 0 as often as last month.
    """
    by_month: dict[str, list[Memory]] = {}
    for memory in old:
        by_month.setdefault(memory.created_at[:7], []).append(memory)
    queues = [rng.sample(group, len(group)) for _, group in sorted(by_month.items())]
    order: list[Memory] = []
    for depth in range(max((len(q) for q in queues), default=0)):
        order += [queue[depth] for queue in queues if depth < len(queue)]
    return order


def select(memories: list[Memory], plan: MixPlan) -> Selection:
    pool = [m for m in memories if plan.mode is None or m.mode == plan.mode]
    pool.sort(key=lambda m: (m.created_at, m.id))
    rng = random.Random(plan.seed)
    if plan.strategy == "foundation":
        chosen, recent, sampled, available, cutoff = pool, len(pool), 0, 0, None
        old_order: list[Memory] = []
    else:
        cutoff = plan.since if plan.since is not None else cutoff_date(plan)
        recent_memories = [m for m in pool if is_new(m, plan)]
        old = [m for m in pool if not is_new(m, plan)]
        old_order = stratified(old, rng)
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
    new = frozenset(m.id for m in chosen if plan.since is not None and is_new(m, plan))
    return Selection(chosen, recent, sampled, available, cutoff, new)


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


def capped_eval_rows(rows: list[dict[str, Any]], cap: int) -> list[dict[str, Any]]:
    """At most `cap` held-out rows, in file order, keeping up to half of them new.

    Rows are in date order, so a plain head would measure a monthly candidate on old
    months only and never ask whether it learned the new one.
    """
    new = [i for i, row in enumerate(rows) if row["meta"].get("new")][: cap // 2]
    earlier = [i for i, row in enumerate(rows) if not row["meta"].get("new")]
    keep = set(new) | set(earlier[: cap - len(new)])
    return [row for i, row in enumerate(rows) if i in keep]
