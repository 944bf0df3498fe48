"""Benchmark: build the built-in tiny base presets side by side and print JSON.

    .venv/bin/python bench/tiny_base.py                  # micro (baseline) and tiny
    .venv/bin/python bench/tiny_base.py --presets micro  # seconds only

Each preset is built from scratch in a temporary folder, so the numbers include
corpus generation, tokenizer training, pretraining and the held-out evaluation.
Ratios are against the first preset named (the baseline).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

from personaforge.bases.tiny import build


def measure(preset: str) -> dict:
    with tempfile.TemporaryDirectory() as models:
        started = time.perf_counter()
        folder = build.ensure_tiny_base(Path(models), preset)
        wall = time.perf_counter() - started
        card = json.loads((folder / build.CARD_FILE).read_text())
    return {
        "preset": preset,
        "parameters": card["parameters"],
        "vocab_size": card["vocab_size"],
        "build_seconds": round(wall, 2),
        "pretrain_tokens_per_second": card["pretrain"]["tokens_per_second"],
        "heldout_perplexity": card["heldout"]["perplexity"],
        "uniform_perplexity": card["heldout"]["uniform_perplexity"],
        "weights_sha256": card["weights_sha256"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--presets", nargs="+", default=["micro", "tiny"], choices=sorted(build.PRESETS)
    )
    args = parser.parse_args()
    runs = [measure(preset) for preset in args.presets]
    baseline = runs[0]
    for run in runs:
        run["build_seconds_ratio"] = round(run["build_seconds"] / baseline["build_seconds"], 2)
        run["tokens_per_second_ratio"] = round(
            run["pretrain_tokens_per_second"] / baseline["pretrain_tokens_per_second"], 2
        )
    machine = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "device": "cpu",
    }
    print(
        json.dumps(
            {
                "benchmark": "tiny_base",
                "machine": machine,
                "baseline": baseline["preset"],
                "runs": runs,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
