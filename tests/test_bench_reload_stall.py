"""bench/reload_stall.py on the micro base: the real loader beside real decode steps, briefly."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parents[1] / "bench"


def load_bench(monkeypatch):
    # It imports bench/serve.py and results_md.py beside it, the second only when it writes.
    monkeypatch.syspath_prepend(str(BENCH_DIR))
    spec = importlib.util.spec_from_file_location(
        "bench_reload_stall", BENCH_DIR / "reload_stall.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reload_stall_bench_loads_adapters_beside_steps_and_writes_its_section(
    tmp_path, micro_models_dir, capsys, monkeypatch
):
    from tests.helpers import MICRO_BASE

    home = tmp_path / "home"
    home.mkdir()
    (home / "models").symlink_to(micro_models_dir, target_is_directory=True)
    results = tmp_path / "RESULTS.md"
    results.write_text("# results\n\n## reload stalls — old\n\nold text\n\n## other\n\nkept\n")
    bench = load_bench(monkeypatch)
    argv = ["--home", str(home), "--base", MICRO_BASE, "--rank", "4", "--adapters", "2"]
    argv += ["--rounds", "1", "--seconds", "0.5", "--busy", "0", "--results", str(results)]
    assert bench.main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report["phases"]) == ["steady", "same", "nice10"]
    assert report["phases"]["steady"]["loads"] == 0
    # 0.5 s at one load per 0.2 s: the loader cycles over its 2 files under fresh names.
    for phase in ("same", "nice10"):
        assert report["phases"][phase]["loads"] >= 2
        assert report["phases"][phase]["load_ms"] > 0
    assert all(
        row["steps"] > 0 and row["max_ms"] >= row["median_ms"] > 0
        for row in report["phases"].values()
    )
    assert report["rank"] == 4 and report["adapter_mb"] > 0
    text = results.read_text()
    # Another base or rank gets its own section; the default one and the rest are kept.
    assert "## reload stalls — old" in text and "kept" in text
    assert f"## reload stalls, {MICRO_BASE} LoRA r4, 0 busy —" in text
    assert "| same | niceness +0 |" in text


def test_reload_stall_bench_refuses_an_unknown_phase(capsys, monkeypatch):
    bench = load_bench(monkeypatch)
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--phases", "steady,bogus"])
    assert exit_info.value.code == 2
    assert "--phases takes names from" in capsys.readouterr().err
