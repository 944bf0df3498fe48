"""Benchmark: ingest synthetic Obsidian vaults of growing size and print JSON.

    .venv/bin/python bench/ingest.py                    # 1k, 10k and 100k notes
    .venv/bin/python bench/ingest.py --sizes 1000 5000

For each size: a vault of notes of 1-3 KB (frontmatter, headings, #tags,
wikilinks, code fences, daily notes under Journal/YYYY/MM/), then
- baseline: walk the folder and read every byte (what any ingest must do);
- full: a first ingest into an empty store;
- rerun: the same ingest again with nothing changed;
- edit: one note in a hundred edited, ingest again.
Ratios: full / baseline (cost of parsing and storing over reading), rerun /
full (incremental saving), seconds per 1k notes across sizes (linearity), and
the full-ingest time ratio between consecutive sizes against their size ratio.
Each size runs in its own process, so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from personaforge.config import IngestSettings
from personaforge.ingest import ingest
from personaforge.store import MemoryStore

WORDS = [
    "tide",
    "harbour",
    "migration",
    "routing",
    "latency",
    "sourdough",
    "starter",
    "run",
    "tempo",
    "interval",
    "dutch",
    "verb",
    "kestrel",
    "cutover",
    "rollback",
    "backlog",
    "decision",
    "insight",
    "morning",
    "coffee",
    "rain",
    "wind",
    "bicycle",
    "canal",
    "market",
    "bread",
    "oven",
    "timer",
    "queue",
    "worker",
    "database",
    "index",
    "cache",
    "schema",
    "review",
    "plan",
    "focus",
    "energy",
    "sleep",
    "walk",
]
TAGS = [
    "reflection",
    "insight",
    "decision",
    "work/kestrel",
    "running/log",
    "bread",
    "dutch",
    "idea",
]


def paragraph(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def note(rng: random.Random, index: int) -> tuple[str, str]:
    """(relative path, text) of a 1-3 KB note; a third are daily notes."""
    target = rng.randint(1000, 3000)
    if index % 3 == 0:
        day = date(2020, 1, 1) + timedelta(days=index // 3)
        relative = f"Journal/{day.year}/{day.month:02d}/{day.isoformat()}-{index}.md"
    else:
        relative = f"Topics/{index % 97:02d}/note-{index}.md"
    parts = [f"---\ntags: [{rng.choice(TAGS)}]\ncreated: 2024-01-01\n---\n# Note {index}\n"]
    while sum(map(len, parts)) < target:
        kind = rng.random()
        if kind < 0.15:
            parts.append(f"\n## {paragraph(rng, 3)}\n")
        elif kind < 0.2:
            parts.append("\n```python\n# not a #tag\nx = 1\n```\n")
        else:
            parts.append(
                f"{paragraph(rng, rng.randint(8, 30))} #{rng.choice(TAGS)} see [[Note {rng.randint(0, index + 1)}]]\n"
            )
    return relative, "".join(parts)[:target]


def make_vault(root: Path, notes: int, seed: int = 5) -> int:
    rng = random.Random(seed)
    total = 0
    for index in range(notes):
        relative, text = note(rng, index)
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        total += len(text)
    return total


def read_everything(root: Path) -> float:
    started = time.perf_counter()
    for folder, _, files in os.walk(root):
        for name in files:
            (Path(folder) / name).read_bytes()
    return time.perf_counter() - started


def timed_ingest(root: Path, db: Path) -> tuple[float, dict]:
    with MemoryStore.open(db) as store:
        started = time.perf_counter()
        summary = ingest([root], store, IngestSettings(), show_progress=False)
        return time.perf_counter() - started, summary.to_dict()


def measure(notes: int, workdir: Path) -> dict:
    root = workdir / f"vault-{notes}"
    db = workdir / f"store-{notes}.db"
    size = make_vault(root, notes)
    baseline = read_everything(root)
    full, first = timed_ingest(root, db)
    rerun, second = timed_ingest(root, db)
    rng = random.Random(9)
    edited = rng.sample(sorted(root.rglob("*.md")), max(1, notes // 100))
    for path in edited:
        path.write_text(path.read_text() + "\nAn edit. #edited\n")
    edit, third = timed_ingest(root, db)
    memories = sqlite3.connect(db).execute("SELECT count(*) FROM memories").fetchone()[0]
    return {
        "notes": notes,
        "megabytes": round(size / 1e6, 1),
        "memories": memories,
        "baseline_read_seconds": round(baseline, 3),
        "full_ingest_seconds": round(full, 3),
        "notes_per_second": round(notes / full),
        "rerun_seconds": round(rerun, 3),
        "rerun_fraction_of_full": round(rerun / full, 4),
        "edit_1pct_seconds": round(edit, 3),
        "full_over_baseline": round(full / baseline, 1),
        "seconds_per_1k_notes": round(full / notes * 1000, 3),
        "checks": {
            "full_added": first["memories"]["added"],
            "rerun_unchanged_files": second["files"]["unchanged"],
            "edit_changed_files": third["files"]["changed"],
        },
    }


def measure_in_child(notes: int, workdir: Path) -> dict:
    """One size in a fresh process, so ru_maxrss is that size's peak and nothing else's."""
    output = subprocess.run(
        [sys.executable, __file__, "--one", str(notes), "--workdir", str(workdir)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1000, 10_000, 100_000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child's size
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run = measure(args.one, args.workdir)
        run["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        print(json.dumps(run))
        return
    with tempfile.TemporaryDirectory() as workdir:
        runs = [measure_in_child(notes, Path(workdir)) for notes in args.sizes]
    smallest = runs[0]
    for run in runs:
        run["per_note_cost_vs_smallest"] = round(
            run["seconds_per_1k_notes"] / smallest["seconds_per_1k_notes"], 2
        )
    for previous, run in itertools.pairwise(runs):
        run["time_ratio_vs_previous"] = round(
            run["full_ingest_seconds"] / previous["full_ingest_seconds"], 2
        )
        run["size_ratio_vs_previous"] = round(run["notes"] / previous["notes"], 2)
    machine = {
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "cpus": os.cpu_count(),
    }
    print(json.dumps({"benchmark": "ingest", "machine": machine, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
