"""How much does held-out style perplexity move between trainings that differ only in seed?

The gate's "vs current" check allows a candidate to be up to `gate.current_style_margin`
worse than the current version; that margin should cover this noise and no more.

    .venv/bin/python bench/gate_noise.py --base tiny:micro --seeds 1,2,3
    .venv/bin/python bench/gate_noise.py --base smollm2-135m --seeds 1,2,3 --steps 24

Prints JSON: per seed the candidate's style perplexity, and the spread
(max/min - 1) across seeds.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from personaforge.config import IngestSettings, Settings
from personaforge.dataset import DatasetRequest, MixPlan, build_dataset
from personaforge.dataset.curate import counter_for_base
from personaforge.evaluate import evaluate_version
from personaforge.ingest import ingest
from personaforge.paths import Paths
from personaforge.sample import sample_identity, write_sample_data
from personaforge.store import MemoryStore
from personaforge.train.run import TrainRequest, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="tiny:micro")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--models", help="A models/ folder holding built bases (reused).")
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as work:
        paths = Paths(Path(work) / "home")
        paths.home.mkdir(parents=True)
        if args.models:
            paths.models.symlink_to(Path(args.models).resolve(), target_is_directory=True)
        settings = Settings(
            model={"base": args.base},
            train={
                "max_steps": args.steps,
                "learning_rate": args.lr,
                "batch_size": 4,
                "grad_accum": 1,
                "eval_steps": 1000,
                "save_steps": 1000,
                "max_seq_length": 384,
            },
            gate={"memorisation_prompts": 2, "max_new_tokens": 8},
            dataset={"person_name": "Maren"},
        )
        write_sample_data(paths.demo_data)
        counter, name, _ = counter_for_base(args.base, paths)
        with MemoryStore.open(paths.memory_store) as store:
            ingest(
                [paths.demo_data],
                store,
                IngestSettings(),
                identity=sample_identity(),
                show_progress=False,
            )
            build_dataset(
                store, settings, paths, DatasetRequest(MixPlan("foundation")), counter, name
            )
        rows = []
        for seed in (int(s) for s in args.seeds.split(",")):
            seeded = settings.model_copy(
                update={"train": settings.train.model_copy(update={"seed": seed})}
            )
            version = train(paths, seeded, TrainRequest(fresh=True, show_progress=False)).version
            report = evaluate_version(paths, seeded, version, None)
            rows.append({"seed": seed, "style_ppl": report.compared["candidate"].style_ppl})
    values = [r["style_ppl"] for r in rows]
    print(
        json.dumps(
            {
                "base": args.base,
                "steps": args.steps,
                "learning_rate": args.lr,
                "runs": rows,
                "spread": round(max(values) / min(values) - 1, 4),
                "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
                "seconds": round(time.monotonic() - started, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
