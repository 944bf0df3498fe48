"""bench/continual.py on the micro base: two monthly cycles, strategies measured on the same rows."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "continual.py"
# The shape issue #32 asks of bench/results/continual-smollm2.json, one record per cycle.
RECORD_KEYS = {
    "cycle",
    "month",
    "strategy",
    "verdict",
    "general_ratio",
    "probes",
    "base_probes",
    "style_new_ratio",
    "style_month0_ratio",
    "seconds",
    "default",
}


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


def test_two_cycles_measure_each_strategy_on_the_same_unseen_rows(
    continual, tmp_path, micro_models_dir, one_thread
):
    args = continual.parse_args(
        [
            "--base",
            "tiny:micro",
            "--steps",
            "1",
            "--cycles",
            "2",
            "--strategies",
            "warm,steady,refresh@train.rehearsal_share=0.3",
        ]
    )
    args.models = micro_models_dir
    homes, cycles = continual.simulate(args, tmp_path)
    by = {(e["cycle"], e["strategy"]): e for e in cycles}
    warm, refresh = by[(1, "warm")], by[(1, "refresh@train.rehearsal_share=0.3")]

    # New means what v1 never learned (from its dataset's watermark), whatever the clock says:
    # November exactly, plus an even replay of the base months.
    for entry in (warm, refresh):
        assert entry["dataset"]["strategy"] == "monthly"
        assert entry["dataset"]["since_version"] == "v1"
        assert entry["dataset"]["recent"] == entry["dataset"]["month_memories"] == 56
        assert entry["dataset"]["new"] == 56 and entry["dataset"]["old_sampled"] == 60
    assert warm["train"]["parent"] == "v1" and refresh["train"]["parent"] is None
    # steady continues too, at the demo's learning rate over 1 + the SFTs its lineage holds.
    lr = continual.DEMO_SETTINGS["tiny:micro"]["train"]["learning_rate"]
    assert by[(1, "steady")]["train"]["summary"].endswith(f"learning rate {lr / 2:.2g}")
    assert by[(2, "steady")]["train"]["summary"].endswith(f"learning rate {lr / 3:.2g}")
    # A variant runs its strategy with the settings it names.
    assert (
        continual.bench_settings(
            args, "refresh@train.rehearsal_share=0.3", tmp_path
        ).train.rehearsal_share
        == 0.3
    )

    rows = continual.choose_rows(homes, cycles)
    november = {continual.row_key(r) for r in rows["2026-11"]}
    assert november and rows["month0"] and rows["2026-12"]
    for entry in (warm, refresh):
        held = _eval_rows(homes[entry["strategy"]], entry["dataset"]["id"])
        # The split is per note/conversation/day: each strategy holds out these very rows,
        # and the dataset marks them new for the gate.
        marked = {continual.row_key(r) for r in held if r["meta"].get("new")}
        assert november == {continual.row_key(r) for r in held if r["meta"]["date"] >= "2026-11"}
        assert november == marked
    trained = continual.trained_memories(list(homes.values()))
    for name in ("month0", "2026-11", "2026-12"):
        assert not any(trained.intersection(r["meta"]["memory_ids"]) for r in rows[name])

    # The default's records: the default strategy, and a variant whose changes are what the
    # defaults already are (an adopted variant); a variant that changes a setting is not.
    same = f"steady@train.learning_rate={lr}"
    judged = continual.parse_args(["--base", "tiny:micro", "--strategies", f"warm,{same}"])
    assert continual.default_labels(judged) == {"steady", same}
    continual.measure_all(homes, cycles, rows, "tiny:micro")
    records = continual.records(cycles, {"warm"})
    assert len(records) == 3 * 3 and all(set(r) >= RECORD_KEYS for r in records)
    assert [r["default"] for r in records if r["cycle"] == 2] == [True, False, False]
    for record in records:
        assert record["style_new_ratio"] > 0 and record["style_month0_ratio"] > 0
    met = continual.targets(records, "warm")
    assert met["cycles"] == 2 and set(met) >= {"promoted", "general", "probes", "cost"}
    # --from-json judges a saved run again with this code's defaults, measuring nothing.
    saved = tmp_path / "saved.json"
    saved.write_text(
        json.dumps(
            {"cycles": cycles, "measure_seconds": 1.0, "seconds": 2.0, "rows": {"month0": 3}}
        )
    )
    again = continual.main(
        [
            *(
                "--base",
                "tiny:micro",
                "--strategies",
                "warm,steady,refresh@train.rehearsal_share=0.3",
            ),
            *("--from-json", str(saved), "--out", str(tmp_path / "again.json")),
        ]
    )
    assert [r["default"] for r in again["records"] if r["cycle"] == 2] == [False, True, False]
    assert again["records"][0]["general_ratio"] == records[0]["general_ratio"]
