"""What a `personaforge run` stage is given and what it gives back (pipeline.py runs them).

A stage is a function of a `RunContext` (the paths, the settings, the `RunRequest`
and what earlier stages made) that returns an `Outcome`; a `Reporter` hears each
stage start and finish. `nothing_new` is the question a run asks after ingest:
has anything changed since the data the current version learned from?
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from personaforge.config import Settings
from personaforge.paths import Paths
from personaforge.runs import RunLog, StageRecord, StageStatus


@dataclass
class RunRequest:
    trigger: str = "manual"  # manual, schedule, demo
    from_stage: str | None = None
    until: str | None = None
    resume: bool = False
    force: bool = False  # run past "nothing new to learn"
    dry_run: bool = False
    show_progress: bool = True
    foundation: bool = False  # build from every memory even when a version exists (forget)
    # Replaying a lineage (forget): train on this existing dataset instead of the last run's,
    # and let DPO refine this version; with either set nothing is carried from the last run.
    dataset: str | None = None
    sft_version: str | None = None


@dataclass
class Outcome:
    """What a stage did: a status, the numbers worth recording, a line, and its rich result."""

    status: StageStatus  # chosen from what the stage produced, never assumed
    summary: str
    numbers: dict[str, Any] = field(default_factory=dict)
    payload: Any = None  # IngestSummary, DatasetResult, TrainResult, EvalReport, [ExportResult]


class Reporter(Protocol):
    def stage_started(self, index: int, total: int, name: str, plan: str) -> None: ...
    def stage_finished(self, name: str, record: StageRecord, payload: Any) -> None: ...


class SilentReporter:
    def stage_started(self, index: int, total: int, name: str, plan: str) -> None:
        pass

    def stage_finished(self, name: str, record: StageRecord, payload: Any) -> None:
        pass


@dataclass
class RunContext:
    paths: Paths
    settings: Settings
    request: RunRequest
    # What earlier stages made; restored from the record when a run resumes.
    dataset_id: str | None = None
    sft_version: str | None = None
    dpo_version: str | None = None
    promoted: list[str] = field(default_factory=list)

    def current(self) -> str | None:
        from personaforge.registry import Registry

        with Registry.open(self.paths) as registry:
            return registry.current()

    def current_on_base(self) -> str | None:
        """The current version, if it was trained on the configured base (else a new start)."""
        from personaforge.registry import Registry

        with Registry.open(self.paths) as registry:
            current = registry.current()
            on_base = current and registry.get(current).base == self.settings.model.base
        return current if on_base else None


class Interrupted(Exception):
    """Training stopped early (Ctrl-C); the run is resumable."""


# -- what changed ------------------------------------------------------------------------------------


def store_state(paths: Paths) -> str:
    """The store's content hash now (dataset.build.store_state), to compare with a version's."""
    from personaforge.dataset.build import store_state as state_of
    from personaforge.store import MemoryStore

    with MemoryStore.open(paths.memory_store) as store:
        return state_of(store)


def learned_state(paths: Paths, version: str | None) -> str | None:
    """The store state the version's dataset was built from, if recorded."""
    from personaforge.registry import Registry

    if version is None:
        return None
    with Registry.open(paths) as registry:
        dataset_id = registry.get(version).dataset_id
    manifest = paths.datasets / dataset_id / "manifest.json"
    if not manifest.exists():
        return None
    return json.loads(manifest.read_text()).get("provenance", {}).get("store_state")


def nothing_new(ctx: RunContext, state: str) -> str | None:
    """Why there is nothing to learn from this store, or None."""
    current = ctx.current_on_base()
    if current and learned_state(ctx.paths, current) == state:
        return f"nothing new to learn: the memories are exactly those {current} learned from"
    with RunLog.open(ctx.paths) as log:
        last = log.last_finished()
    if last and last.options.get("store_state") == state and not last.version:
        return (
            f"nothing new to learn: run {last.id} already trained on exactly these memories "
            "and promoted nothing; pass --force to try again"
        )
    return None
