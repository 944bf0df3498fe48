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
}


def micro_settings(gate: dict | None = None, **train) -> Settings:
    return Settings(model={"base": MICRO_BASE}, train={**MICRO_TRAIN, **train}, gate=gate or {})
