"""bench/continual.py on the micro base: one monthly cycle, both strategies measured on the same rows."""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "continual.py"


@pytest.fixture
def one_thread():
    """2 torch threads on 2 cores shared with other jobs ran about 10x slower than 1."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def continual():
    spec = importlib.util.spec_from_file_location("bench_continual", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _eval_rows(paths, dataset_id: str) -> list[dict]:
    text = (paths.datasets / dataset_id / "eval.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def test_one_cycle_measures_both_strategies_on_the_same_unseen_rows(
    continual, tmp_path, micro_models_dir, one_thread
):
    args = argparse.Namespace(
        base="tiny:micro", steps=1, cycles=1, old_samples=20, days_recent=30, models=None
    )
    args.models = micro_models_dir
    homes, cycles = continual.simulate(args, tmp_path)
    warm, retrain = (
        next(e for e in cycles if e["cycle"] == 1 and e["strategy"] == s)
        for s in ("warm", "retrain")
    )

    # Warm continues v1 on the monthly mix, whose window is exactly November; retrain starts over.
    assert warm["dataset"]["strategy"] == "monthly"
    assert warm["dataset"]["cutoff"] == "2026-11-01"
    assert warm["dataset"]["recent"] == warm["dataset"]["new_month_memories"] > 0
    assert warm["dataset"]["old_sampled"] == 20
    assert warm["train"]["parent"] == "v1"
    assert retrain["dataset"]["strategy"] == "foundation"
    assert retrain["train"]["parent"] is None

    rows = continual.choose_rows(homes, cycles)
    november = {continual.row_key(r) for r in rows["2026-11"]}
    assert november and rows["month0"]
    for entry in (warm, retrain):
        held = _eval_rows(homes[entry["strategy"]], entry["dataset"]["id"])
        # The split is per note/conversation/day: each strategy holds out these very rows.
        assert november == {continual.row_key(r) for r in held if r["meta"]["date"] >= "2026-11"}
    trained = continual.trained_memories(list(homes.values()))
    assert not any(trained.intersection(r["meta"]["memory_ids"]) for r in rows["2026-11"])
    assert not any(trained.intersection(r["meta"]["memory_ids"]) for r in rows["month0"])
