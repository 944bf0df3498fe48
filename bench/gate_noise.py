"""How much does held-out style perplexity move between trainings that differ only in seed?

The gate's "vs current" check allows a candidate to be up to `gate.current_style_margin`
worse than the current version; that margin should cover this noise and no more.

    .venv/bin/python bench/gate_noise.py --base tiny:micro --seeds 1,2,3
    .venv/bin/python bench/gate_noise.py --base smollm2-135m --seeds 1,2,3 --steps 24

Prints JSON: per seed the candidate's style perplexity, and the spread
(max/min - 1) across seeds. --out also saves it; --results rewrites the "gate noise"
section of a RESULTS.md from this report and any saved ones (--from-json, repeatable):

    .venv/bin/python bench/gate_noise.py --no-measure --from-json bench/results/gate-noise-tiny.json \
        --from-json bench/results/gate-noise-smollm2.json --results bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import subprocess
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
    parser.add_argument("--out", type=Path, help="Also write the JSON report here.")
    parser.add_argument("--results", type=Path, help="Rewrite this RESULTS.md's section.")
    parser.add_argument(
        "--from-json",
        type=Path,
        action="append",
        default=[],
        help="A saved report to include in --results (repeatable).",
    )
    parser.add_argument("--no-measure", action="store_true", help="Only write --results.")
    args = parser.parse_args()
    reports = [json.loads(path.read_text()) for path in args.from_json]
    if not args.no_measure:
        report = measure(args)
        print(json.dumps(report, indent=2))
        if args.out:
            args.out.write_text(json.dumps(report, indent=2) + "\n")
        reports.append(report)
    if args.results:
        from results_md import write_section  # bench/results_md.py, beside this file

        write_section(args.results, "## gate noise", markdown(reports))


def measure(args: argparse.Namespace) -> dict:
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
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "base": args.base,
        "steps": args.steps,
        "learning_rate": args.lr,
        "runs": rows,
        "spread": round(max(values) / min(values) - 1, 4),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
        "seconds": round(time.monotonic() - started, 1),
        "date": time.strftime("%Y-%m-%d"),
        "commit": commit,
    }


# Expected range of n normal samples in standard deviations (d2, the control-chart constant).
RANGE_IN_SIGMAS = {2: 1.128, 3: 1.693, 4: 2.059, 5: 2.326, 6: 2.534}


def margin_factor(seeds: int) -> float:
    """From an n-seed spread to a one-sided 95% bound on the difference of two trainings:
    sigma = spread / d2(n); the difference has sqrt(2) sigma; 1.645 of those."""
    return 1.645 * math.sqrt(2) / RANGE_IN_SIGMAS[seeds]


def markdown(reports: list[dict]) -> str:
    """The "gate noise" section: one row per base, and the largest spread."""
    lines = [
        "## gate noise — held-out style perplexity across training seeds",
        "",
        "Machine: 2 CPU cores, no GPU, shared with other work. Command: "
        "`bench/gate_noise.py --base BASE --seeds S --steps N` (the sample person, a foundation "
        "dataset, one fresh training per seed, everything else equal). Spread = max/min - 1 of "
        "the candidates' style perplexity; `gate.current_style_margin` is meant to cover it "
        '(docs/evaluation.md, "Gate noise").',
        "",
        "| base | date, commit | steps | lr | style perplexity per seed | spread | seconds |",
        "|------|--------------|------:|---:|---------------------------|-------:|--------:|",
    ]
    for r in reports:
        seeds = ", ".join(f"{run['seed']}: {run['style_ppl']:.2f}" for run in r["runs"])
        lines.append(
            f"| {r['base']} | {r.get('date', '?')}, {r.get('commit', '?')} | {r['steps']} | "
            f"{r['learning_rate']:g} | {seeds} | {r['spread']:.1%} | {r['seconds']:,.0f} |"
        )
    widest = max(reports, key=lambda r: r["spread"] * margin_factor(len(r["runs"])))
    bound = widest["spread"] * margin_factor(len(widest["runs"]))
    lines += [
        "",
        f"Largest spread: {widest['spread']:.1%} ({widest['base']}, {len(widest['runs'])} seeds). "
        f"A candidate and the current version are two trainings: a one-sided 95% bound on "
        f"their difference is {margin_factor(len(widest['runs'])):.2f}x that spread, "
        f"{bound:.1%}; `gate.current_style_margin` is this rounded up to a whole percent "
        f"({math.ceil(bound * 100 - 1e-9)}%). JSON: bench/results/gate-noise-*.json.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
