"""Shared test settings: micro-base training that finishes in seconds on 2 cores."""

from __future__ import annotations

from personaforge.config import Settings

MICRO_BASE = "tiny:micro"
MICRO_TRAIN = {
    "learning_rate": 5e-3,
    "epochs": 1,
    "batch_size": 4,
    "grad_accum": 1,
    "max_steps": 12,
    "logging_steps": 1,
    "eval_steps": 6,
    "save_steps": 4,
    "lora_rank": 4,
    "lora_alpha": 8,
    "max_seq_length": 256,
    # No time budget: a budget needs a probe of the machine's speed (a second model load and
    # a few steps per test home). tests/test_budget.py covers budgets and probes.
    "time_budget": "none",
}


def micro_settings(gate: dict | None = None, **train) -> Settings:
    return Settings(model={"base": MICRO_BASE}, train={**MICRO_TRAIN, **train}, gate=gate or {})


def micro_home(root, micro_models_dir, sample_data):
    """A home with the session's micro base, the sample person ingested and a foundation dataset."""
    from personaforge.config import IngestSettings
    from personaforge.dataset import DatasetRequest, MixPlan, build_dataset
    from personaforge.ingest import ingest
    from personaforge.paths import Paths
    from personaforge.sample import sample_identity
    from personaforge.store import MemoryStore

    paths = Paths(root / "home")
    paths.home.mkdir(parents=True)
    paths.models.symlink_to(micro_models_dir, target_is_directory=True)
    with MemoryStore.open(paths.memory_store) as store:
        ingest(
            [sample_data], store, IngestSettings(), identity=sample_identity(), show_progress=False
        )
        build_dataset(store, Settings(), paths, DatasetRequest(MixPlan("foundation")))
    return paths


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process: (exit code, stdout, stderr)."""
    from personaforge.cli import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exit_:
        code = exit_.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err
