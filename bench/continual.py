"""Continual strategy, measured: warm (continue on the monthly mix) vs retrain (from the base).

    .venv/bin/python bench/continual.py --models /tmp/pf-continual/models    # tiny: 30 min loaded
    .venv/bin/python bench/continual.py --base tiny:micro --steps 4 --cycles 1  # the machinery
    .venv/bin/python bench/continual.py --base smollm2-135m                  # hours on 2 cores

(--models: a models/ folder that already holds the base; otherwise it is built first,
about 2.5 minutes for tiny. bench/RESULTS.md has the tiny run and what it shows.)

Four monthly cycles of `personaforge run` on the sample person, one home per
`run.strategy`:
- cycle 0: the base months (June to October 2026). There is no version yet, so
  both strategies would do the same thing (a foundation dataset, trained from the
  base); it runs once and the home is copied, so both start from one v1;
- cycles 1-4: `write_sample_month` adds November 2026 ... February 2027 (each in
  that month's style drift, sample/drift.py) to the one data folder both homes
  read, then each home runs the pipeline (SFT only: no DPO, export or profile):
  warm = a monthly mix (the new month plus `--old-samples` replayed older
  memories) continued from the current version; retrain = a foundation dataset of
  everything, trained from the base.

The pipeline dates its monthly window from the clock (it leaves MixPlan.as_of at
"now"), so each cycle here runs as if on the day that puts the window's start on
the month's first day (`reference_day`), and stops if the warm mix misses any
memory of the month (`check_new_month`).

Measured after all cycles, with one base in memory, for every version trained (and
for the version served after a cycle whose candidate was rejected):
- style: perplexity of the person's replies held out in BOTH strategies' datasets of
  that cycle, dated in the new month, and in no dataset's train split in either home
  (the split is per note/conversation/day, mix.split_group, so they are the same rows);
- month-0 style: the same on the base months' rows held out at cycle 0 (does she
  keep her earlier style);
- general: perplexity on the general prose shipped with personaforge
  (evaluate.shipped_general_texts). On tiny it is no forgetting measure (the base
  never saw natural prose); the gate's own general ratio and probes are recorded too.
The gate's verdict and each cycle's wall time come from the pipeline's run record.

Prints JSON on stdout and writes it to --out; progress and a markdown trajectory
table go to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import functools
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from personaforge.config import Settings
from personaforge.demo import DEMO_SETTINGS
from personaforge.paths import Paths
from personaforge.sample import sample_identity

MONTHS = ("2026-11", "2026-12", "2027-01", "2027-02")
STRATEGIES = ("warm", "retrain")
BASES = ("tiny", "tiny:micro", "smollm2-135m")
# Nothing listens on the discard port: the pipeline's reload stage must not reach a
# `personaforge serve` someone else runs on the default port.
NO_SERVER = "http://127.0.0.1:9"
DEFAULT_OUT = Path(__file__).parent / "out" / "continual.json"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- homes and settings -------------------------------------------------------------------------------


def bench_settings(args: argparse.Namespace, strategy: str, data: Path) -> Settings:
    """The demo's training and gate settings for the base, plus the bench's run choices."""
    demo = DEMO_SETTINGS[args.base]
    train = dict(demo["train"])
    if args.steps is not None:
        train["max_steps"] = args.steps
    return Settings(
        model={"base": args.base},
        identity=sample_identity(),  # her WhatsApp chats name no owner (sample/messaging.py)
        train=train,
        gate=demo["gate"],
        dataset={
            "person_name": "Maren",
            "days_recent": args.days_recent,
            "old_samples": args.old_samples,
        },
        run={
            "sources": [str(data)],
            "strategy": strategy,
            "dpo": False,
            "export_formats": [],
            "profile": False,
            "server_url": NO_SERVER,
        },
    )


def make_home(root: Path, models: Path) -> Paths:
    paths = Paths(root)
    paths.home.mkdir(parents=True)
    models.mkdir(parents=True, exist_ok=True)
    paths.models.symlink_to(models.resolve(), target_is_directory=True)
    return paths


def month_start(month: str) -> date:
    return date.fromisoformat(f"{month}-01")


@contextlib.contextmanager
def reference_day(day: date | None) -> Iterator[None]:
    """Make the pipeline's monthly mix count its `days_recent` back from `day`, not from now.

    stage_dataset builds `MixPlan(...)` without `as_of`, so the window is the clock's last
    30 days; on a simulated month that would hold every later month too. This sets the
    same `as_of` a `RunRequest.as_of` passed through to the MixPlan would.
    """
    import personaforge.dataset as dataset

    original = dataset.MixPlan
    if day is not None:
        dataset.MixPlan = functools.partial(original, as_of=day.isoformat())
    try:
        yield
    finally:
        dataset.MixPlan = original


class ProgressReporter:
    """Each pipeline stage's outcome, one line on stderr."""

    def __init__(self, label: str):
        self.label = label

    def stage_started(self, index: int, total: int, name: str, plan: str) -> None:
        pass

    def stage_finished(self, name: str, record: Any, payload: Any) -> None:
        log(f"  {self.label} {name}: {record.status} {record.seconds:.1f}s {record.summary}")


def run_cycle(paths: Paths, settings: Settings, label: str, day: date | None) -> dict[str, Any]:
    """One `personaforge run`; what it made, from its record, the dataset manifest and the registry."""
    from personaforge.dataset.build import load_manifest
    from personaforge.pipeline import RunRequest, run_pipeline
    from personaforge.registry import Registry

    started = time.monotonic()
    with reference_day(day):
        record = run_pipeline(
            paths,
            settings,
            RunRequest(trigger="bench", force=True, show_progress=False),
            ProgressReporter(label),
        )
    seconds = time.monotonic() - started
    stages = {stage.name: stage for stage in record.stages}
    if record.status != "finished" or "evaluate" not in stages:
        raise SystemExit(f"{label}: the run ended {record.status}: {record.error}")
    dataset = stages["dataset"].numbers
    manifest = load_manifest(paths, dataset["dataset"])
    gate = stages["evaluate"].numbers
    with Registry.open(paths) as registry:
        served = registry.current()
    return {
        "cycle_seconds": round(seconds, 1),
        "stage_seconds": {stage.name: stage.seconds for stage in record.stages},
        "dataset": {
            "id": dataset["dataset"],
            "strategy": dataset["strategy"],
            "train_examples": dataset["train"],
            "eval_examples": dataset["eval"],
            **manifest["selection"],
            "as_of": manifest["parameters"]["mix"].get("as_of"),
        },
        "train": {
            "version": stages["train"].numbers["version"],
            "parent": stages["train"].numbers["parent"],
            "steps": stages["train"].numbers["steps"],
            "seconds": stages["train"].numbers["seconds"],
        },
        "gate": {
            "decision": gate["decision"],
            "failed_checks": gate["failed_checks"],
            "style_ratio_on_own_eval": gate["style_ratio"],
            "general_ratio": gate["general_ratio"],
            "probes": gate["probes"],
        },
        "served": served,
    }


# -- the rows measured ----------------------------------------------------------------------------------


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def row_key(row: dict[str, Any]) -> str:
    """The example's id and exact messages: equal keys, the very same text is scored."""
    text = json.dumps(row["messages"], sort_keys=True, ensure_ascii=False)
    return row["meta"]["id"] + ":" + hashlib.sha256(text.encode()).hexdigest()[:16]


def trained_memories(homes: list[Paths]) -> set[str]:
    """Every memory id behind any training row of any dataset in these homes."""
    seen: set[str] = set()
    for paths in homes:
        for train in paths.datasets.glob("ds-*/train.jsonl"):
            for row in _rows(train):
                seen.update(row["meta"]["memory_ids"])
    return seen


def held_out_rows(
    datasets: list[Path], months: tuple[str, ...], trained: set[str]
) -> list[dict[str, Any]]:
    """Eval rows present in every dataset, dated in `months`, from memories no one trained on."""
    per_dataset = [
        {row_key(row): row for row in _rows(folder / "eval.jsonl")} for folder in datasets
    ]
    common = set(per_dataset[0]).intersection(*per_dataset[1:])
    rows = [
        per_dataset[0][key]
        for key in sorted(common)
        if per_dataset[0][key]["meta"]["date"][:7] in months
        and not trained.intersection(per_dataset[0][key]["meta"]["memory_ids"])
    ]
    return rows


# -- measuring ------------------------------------------------------------------------------------------------


class Meter:
    """Perplexities of the base, then of adapters switched on it, on fixed rows."""

    def __init__(self, paths: Paths, base: str, max_length: int):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from personaforge.base import resolve_base
        from personaforge.evaluate import shipped_general_texts

        location = resolve_base(base, paths).location
        self.tokenizer = AutoTokenizer.from_pretrained(location)
        self.model = AutoModelForCausalLM.from_pretrained(location).eval()
        self.max_length = max_length
        self.general = shipped_general_texts()
        self.loaded: set[str] = set()

    def use(self, folder: Path) -> None:
        """Switch to the adapter in `folder` (the bare base is measured before the first)."""
        from peft import PeftModel

        name = hashlib.sha256(str(folder).encode()).hexdigest()[:12]
        if not self.loaded:
            self.model = PeftModel.from_pretrained(self.model, str(folder), adapter_name=name)
        elif name not in self.loaded:
            self.model.load_adapter(str(folder), adapter_name=name)
        self.loaded.add(name)
        self.model.set_adapter(name)
        self.model.eval()

    def style(self, rows: list[dict[str, Any]]) -> float | None:
        from personaforge.evaluate.measure import losses, perplexity, reply_tokens

        if not rows:
            return None
        sequences = [reply_tokens(self.tokenizer, r["messages"], self.max_length) for r in rows]
        return round(perplexity(losses(self.model, sequences)), 4)

    def general_ppl(self) -> float:
        from personaforge.evaluate.measure import losses, perplexity

        sequences = []
        for text in self.general:
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"][: self.max_length]
            sequences.append((ids, ids))
        return round(perplexity(losses(self.model, sequences)), 4)

    def all_of(self, rows_new: list[dict], rows_month0: list[dict]) -> dict[str, float | None]:
        return {
            "style_new": self.style(rows_new),
            "style_month0": self.style(rows_month0),
            "general": self.general_ppl(),
        }


def choose_rows(homes: dict[str, Paths], cycles: list[dict[str, Any]]) -> dict[str, list[dict]]:
    """Held-out rows per month ("month0": the base months), one set for both strategies."""
    from personaforge.sample.story import BASE_MONTHS

    trained = trained_memories(list(homes.values()))
    folders: dict[int, list[Path]] = {}
    for entry in cycles:
        home = homes[entry["strategy"]]
        folders.setdefault(entry["cycle"], []).append(home.datasets / entry["dataset"]["id"])
    rows = {"month0": held_out_rows(folders[0], tuple(BASE_MONTHS), trained)}
    for cycle, month in enumerate(MONTHS, start=1):
        if cycle in folders:
            rows[month] = held_out_rows(folders[cycle], (month,), trained)
    return rows


def measure_all(
    homes: dict[str, Paths],
    cycles: list[dict[str, Any]],
    rows: dict[str, list[dict]],
    base: str,
    max_length: int,
) -> None:
    """Fill each cycle's `measured`: the base, its candidate, and the served version if another."""
    meter = Meter(homes["warm"], base, max_length)
    base_style = {name: meter.style(chosen) for name, chosen in rows.items()}
    base_general = meter.general_ppl()
    for entry in cycles:
        new = "month0" if entry["cycle"] == 0 else entry["month"]
        entry["measured"]["base"] = {
            "style_new": base_style[new],
            "style_month0": base_style["month0"],
            "general": base_general,
        }
        candidate, served = entry["train"]["version"], entry["served"]
        meter.use(homes[entry["strategy"]].adapters / candidate)
        entry["measured"]["candidate"] = {
            "version": candidate,
            **meter.all_of(rows[new], rows["month0"]),
        }
        # A rejected candidate leaves an earlier version serving: what the person gets.
        if served is None:
            entry["measured"]["served"] = {"version": None, **entry["measured"]["base"]}
        elif served != candidate:
            meter.use(homes[entry["strategy"]].adapters / served)
            entry["measured"]["served"] = {
                "version": served,
                **meter.all_of(rows[new], rows["month0"]),
            }


# -- the trajectory --------------------------------------------------------------------------------------------


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}" if value >= 100 else f"{value:.2f}"


def served_metrics(entry: dict[str, Any]) -> dict[str, Any]:
    """What the person gets after the cycle: the candidate if promoted, else the version kept."""
    measured = entry["measured"]
    return measured.get("served") or measured["candidate"]


def table(cycles: list[dict[str, Any]]) -> str:
    """The trajectory in markdown: perplexities as measured (lower is better)."""
    lines = [
        "| cycle | month | strategy | train rows (memories) | steps | style, new month "
        "| style, month 0 | general, shipped prose | gate: general (tiny corpus), probes "
        "| gate | serves | served: style, new month | cycle s |",
        "|" + "---|" * 13,
    ]
    for e in cycles:
        if e.get("shared_with_warm"):
            continue  # cycle 0 ran once for both
        cand, data, gate = e["measured"]["candidate"], e["dataset"], e["gate"]
        strategy = "both" if e["cycle"] == 0 else e["strategy"]
        memories = (
            f"{data['recent']} recent + {data['old_sampled']} replayed"
            if data["strategy"] == "monthly"
            else f"all {data['memories']}"
        )
        decision = gate["decision"]
        if gate["failed_checks"]:
            decision += (
                " ("
                + "; ".join(c.removeprefix("forgetting: ") for c in gate["failed_checks"])
                + ")"
            )
        probes = f", {gate['probes']}" if gate.get("probes") else ""
        lines.append(
            f"| {e['cycle']} | {e['month']} | {strategy} | {data['train_examples']} ({memories}) "
            f"| {e['train']['steps']} | {_num(cand['style_new'])} | {_num(cand['style_month0'])} "
            f"| {_num(cand['general'])} | {gate['general_ratio']:.2f}x{probes} | {decision} "
            f"| {e['served']} | {_num(served_metrics(e)['style_new'])} | {e['cycle_seconds']:.0f} |"
        )
    base = next(e for e in cycles if e["cycle"] == 0)["measured"]["base"]
    news = ", ".join(
        f"{e['month']} {_num(e['measured']['base']['style_new'])}"
        for e in cycles
        if e["strategy"] == "warm" and e["cycle"] > 0
    )
    lines.append(
        f"\nThe base: style month 0 {_num(base['style_month0'])}"
        + (f", new months {news}" if news else "")
        + f"; general, shipped prose {_num(base['general'])}."
    )
    return "\n".join(lines)


def summary(cycles: list[dict[str, Any]]) -> dict[str, Any]:
    """Per strategy over cycles 1-4: the numbers a default is chosen on."""
    out = {}
    for strategy in STRATEGIES:
        later = [e for e in cycles if e["strategy"] == strategy and e["cycle"] > 0]
        if not later:
            continue

        def mean(values: list[float | None]) -> float | None:
            known = [v for v in values if v is not None]
            return round(sum(known) / len(known), 2) if known else None

        out[strategy] = {
            "mean_candidate_style_new": mean(
                [e["measured"]["candidate"]["style_new"] for e in later]
            ),
            "mean_served_style_new": mean([served_metrics(e)["style_new"] for e in later]),
            "last_served_style_month0": served_metrics(later[-1])["style_month0"],
            "gate_general_ratios": [e["gate"]["general_ratio"] for e in later],
            "promoted": sum(e["gate"]["decision"] == "promote" for e in later),
            "served_after_last_cycle": later[-1]["served"],
            "cycles": len(later),
            "cycle_seconds": round(sum(e["cycle_seconds"] for e in later), 1),
            "train_steps": sum(e["train"]["steps"] or 0 for e in later),
        }
    return out


# -- main -------------------------------------------------------------------------------------------------------


def simulate(args: argparse.Namespace, work: Path) -> tuple[dict[str, Paths], list[dict]]:
    """Every cycle for both strategies; returns the homes and one entry per (cycle, strategy)."""
    from personaforge.sample import write_sample_data, write_sample_month
    from personaforge.train.run import quiet_libraries

    quiet_libraries()
    data = work / "data"
    write_sample_data(data)
    # Cycle 0 is the same for both (no version yet: a foundation dataset, trained from the
    # base), so it runs once and the home is copied; both strategies then start from one v1.
    first = make_home(work / "home-warm", args.models or work / "models")
    entry = {"cycle": 0, "month": "month 0", **run_logged(first, args, "warm", data, 0, None)}
    shutil.copytree(first.home, work / "home-retrain", symlinks=True)
    homes = {"warm": first, "retrain": Paths(work / "home-retrain")}
    cycles = [
        {**copy.deepcopy(entry), "strategy": s, "shared_with_warm": s != "warm"} for s in STRATEGIES
    ]
    for cycle, month in enumerate(MONTHS[: args.cycles], start=1):
        write_sample_month(data, month)
        # The day that puts the window [day - days_recent, day] on the month's first day.
        day = month_start(month) + timedelta(days=args.days_recent)
        for strategy in STRATEGIES:
            entry = run_logged(homes[strategy], args, strategy, data, cycle, day, month)
            check_new_month(homes[strategy], entry["dataset"], month)
            cycles.append({"cycle": cycle, "month": month, **entry})
    return homes, cycles


def check_new_month(paths: Paths, dataset: dict[str, Any], month: str) -> None:
    """Record the new month's memories; stop if a monthly mix did not take every one of them."""
    from personaforge.store import MemoryStore

    with MemoryStore.open(paths.memory_store) as store:
        dates = [m.created_at[:10] for m in store.memories()]
    dataset["new_month_memories"] = sum(d[:7] == month for d in dates)
    if dataset["strategy"] != "monthly":
        return
    later = sum(d >= month_start(month).isoformat() for d in dates)
    if dataset["cutoff"] != month_start(month).isoformat() or dataset["recent"] != later:
        raise SystemExit(
            f"{month}: the monthly mix's window starts {dataset['cutoff']} and holds "
            f"{dataset['recent']} memories, not the month's {later}"
        )


def run_logged(
    paths: Paths,
    args: argparse.Namespace,
    strategy: str,
    data: Path,
    cycle: int,
    day: date | None,
    month: str = "month 0",
) -> dict[str, Any]:
    label = f"cycle {cycle} ({month}) {strategy}"
    log(f"{label}: running")
    entry = {
        "strategy": strategy,
        **run_cycle(paths, bench_settings(args, strategy, data), label, day),
    }
    entry["measured"] = {}
    log(
        f"{label}: {entry['gate']['decision']} in {entry['cycle_seconds']:.0f}s "
        f"({entry['dataset']['strategy']}, {entry['dataset']['train_examples']} rows, "
        f"{entry['train']['steps']} steps)"
    )
    return entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="tiny", choices=BASES)
    parser.add_argument(
        "--steps",
        type=int,
        help="Cap every training at this many steps (default: the base's demo settings).",
    )
    parser.add_argument(
        "--cycles", type=int, default=len(MONTHS), choices=range(1, len(MONTHS) + 1)
    )
    parser.add_argument(
        "--old-samples",
        type=int,
        default=60,
        help="dataset.old_samples for warm's monthly mix: older memories replayed (the "
        "base months hold 304; 60 is about one new month's worth; the setting's default, "
        "3000, would replay all of them).",
    )
    parser.add_argument("--days-recent", type=int, default=30, help="dataset.days_recent.")
    parser.add_argument(
        "--models", type=Path, help="A models/ folder holding built bases (reused)."
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads. 1 by default: on 2 cores shared with other jobs, 2 threads "
        "measured 10x slower per training step than 1 (0.94 s vs 8.9 s, tiny base, batch 8x256).",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="Where the JSON goes too (default: bench/out/continual.json for tiny, "
        "continual-<base>.json for another base).",
    )
    parser.add_argument(
        "--keep", action="store_true", help="Keep the work folder (its path is logged)."
    )
    args = parser.parse_args()
    if args.out is None:
        name = "continual" if args.base == "tiny" else f"continual-{args.base.replace(':', '-')}"
        args.out = DEFAULT_OUT.with_name(name + ".json")
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="pf-bench-continual-"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)
    try:
        homes, cycles = simulate(args, work)
        max_length = DEMO_SETTINGS[args.base]["train"].get(
            "max_seq_length", Settings().train.max_seq_length
        )
        measuring = time.monotonic()
        rows = choose_rows(homes, cycles)
        measure_all(homes, cycles, rows, args.base, max_length)
        measure_seconds = time.monotonic() - measuring
    finally:
        if args.keep:
            log(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    settings = bench_settings(args, "warm", work / "data")
    result = {
        "benchmark": "continual",
        "base": args.base,
        "device": f"{platform.machine()}, cpu ({os.cpu_count()} cores), torch {torch.__version__}",
        "threads": args.threads,
        "months": ["month 0 (2026-06..2026-10)", *MONTHS[: args.cycles]],
        "settings": {
            "train": settings.train.model_dump(
                include={
                    "learning_rate",
                    "epochs",
                    "max_steps",
                    "batch_size",
                    "grad_accum",
                    "lora_rank",
                    "lora_alpha",
                    "max_seq_length",
                    "rehearsal_share",
                }
            ),
            "dataset": {"days_recent": args.days_recent, "old_samples": args.old_samples},
        },
        "rows": {name: len(chosen) for name, chosen in rows.items()},
        "row_ids": {name: [r["meta"]["id"] for r in chosen] for name, chosen in rows.items()},
        "cycles": cycles,
        "summary": summary(cycles),
        "measure_seconds": round(measure_seconds, 1),
        "seconds": round(time.monotonic() - started, 1),
    }
    text = json.dumps(result, indent=2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    print(text)
    log("\n" + table(cycles))


if __name__ == "__main__":
    main()
