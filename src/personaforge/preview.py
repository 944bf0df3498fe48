"""`run --dry-run`: what the next run would train and how long it would take; the home unchanged.

    preview = preview_run(paths, settings, RunRequest(dry_run=True))

The numbers need the dataset the run would build, and that needs this run's
ingest: a first run has no store yet, a monthly one has new files. So the
preview ingests run.sources into a scratch copy of the store, builds the
dataset there with the run's own mix (what the current version never learned,
from the real registry), and asks the train stage for its dry-run estimate on
it (train/estimate.py; a probe of the machine's speed runs when none is cached,
which writes only to the machine's shared cache). The scratch folder is deleted
afterwards; nothing under PERSONAFORGE_HOME changes. The real run rebuilds the
same dataset from the same memories (same id), so it prints the same estimate.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from personaforge.config import Settings
from personaforge.paths import Paths
from personaforge.pipeline import RunContext, RunRequest, build_run_dataset
from personaforge.train.estimate import RunEstimate
from personaforge.train.plan import TrainingPlan


@dataclass
class Preview:
    ingest: Any  # IngestSummary of the scratch ingest
    memories: int
    dataset: dict[str, Any]  # the scratch dataset's manifest
    plan: TrainingPlan | None = None
    sft: RunEstimate | None = None
    dpo: RunEstimate | None = None
    dpo_skipped: str | None = None
    prepare_s: float = 0.0  # the scratch ingest and dataset build, as measured just now

    def total_s(self) -> float | None:
        """Ingest, dataset, training and the gate (and DPO with its gate), when all are known."""
        parts = [self.prepare_s]
        for run in (self.sft, self.dpo):
            if run is None:
                continue
            if run.seconds is None or run.gate is None:
                return None
            parts += [run.seconds, run.gate.seconds]
        return sum(parts)


def _copy_store(source: Path, target: Path) -> None:
    """A consistent copy of the store (WAL included) through SQLite's backup API."""
    reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    writer = sqlite3.connect(target)
    try:
        reader.backup(writer)
    finally:
        reader.close()
        writer.close()


def scratch_home(paths: Paths, root: Path) -> Paths:
    """A home under `root` holding a copy of `paths`' store and seeing its base models."""
    scratch = Paths(root / "home").ensure()
    if paths.models.exists():
        scratch.models.symlink_to(paths.models.resolve(), target_is_directory=True)
    if paths.memory_store.exists():
        _copy_store(paths.memory_store, scratch.memory_store)
    return scratch


def preview_run(paths: Paths, settings: Settings, request: RunRequest) -> Preview:
    """Ingest and build in a scratch home, then the training estimates; see the module docstring."""
    from personaforge.ingest import ingest
    from personaforge.store import MemoryStore
    from personaforge.train.run import TrainRequest, train

    ctx = RunContext(paths, settings, request)
    has_current = ctx.current_on_base() is not None
    with tempfile.TemporaryDirectory(prefix="personaforge-dry-run-") as root:
        started = time.perf_counter()
        scratch = scratch_home(paths, Path(root))
        with MemoryStore.open(scratch.memory_store) as store:
            summary = ingest(
                [Path(s) for s in settings.run.sources],
                store,
                settings.ingest,
                show_progress=False,
                identity=settings.identity,  # whose chat messages are hers, as the run reads them
            )
            memories = store.count()
        result = build_run_dataset(ctx, scratch)
        preview = Preview(summary, memories, result.manifest)
        preview.prepare_s = time.perf_counter() - started
        request = TrainRequest(
            dataset_id=result.id,
            fresh=True,
            show_progress=False,
            dry_run=True,
            gate_has_current=has_current,
        )
        sft = train(scratch, settings, request)
        preview.plan, preview.sft = sft.plan, sft.estimate
        if settings.run.dpo and result.manifest["files"]["preference.jsonl"]["examples"]:
            dpo = train(scratch, settings, replace(request, method="dpo"))
            preview.dpo, preview.dpo_skipped = dpo.estimate, dpo.skipped
    return preview
