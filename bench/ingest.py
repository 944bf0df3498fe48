"""Benchmark: ingest synthetic Obsidian vaults of growing size and print JSON.

    .venv/bin/python bench/ingest.py                    # 1k, 10k and 100k notes
    .venv/bin/python bench/ingest.py --sizes 1000 5000
    git archive 89ca330 src | tar -x -C /tmp/base       # the code to compare against
    .venv/bin/python bench/ingest.py --sizes 10000 --baseline-src /tmp/base/src \\
        --repeats 3 --results bench/RESULTS.md

For each size: a vault of notes of 1-3 KB (frontmatter, headings, #tags,
wikilinks, code fences, daily notes under Journal/YYYY/MM/), then
- baseline: walk the folder and read every byte (what any ingest must do);
- full: a first ingest into an empty store;
- rerun: the same ingest again with nothing changed;
- edit: one note in a hundred edited, ingest again (then put back as it was).
Ratios: full / baseline (cost of parsing and storing over reading), rerun /
full (incremental saving), seconds per 1k notes across sizes (linearity), and
the full-ingest time ratio between consecutive sizes against their size ratio.
Each measurement runs in its own process, so its peak RSS is its own.

With --baseline-src (the `src` folder of another checkout), every measurement runs
--repeats times for this checkout's code and for that code, alternating, on the same vault
in the same session, so a busy machine slows both alike: medians, their ratio, and whether
both stored the same memories (a digest of every row's id and content hash). This
checkout's code is the `src` beside this folder, whatever the environment installed.
--results rewrites the ingest section of RESULTS.md from that comparison.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import platform
import random
import resource
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

OURS = Path(__file__).resolve().parents[1] / "src"
SECTION = "## ingest — one pass per note, ours against the baseline"

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
    from personaforge.config import IngestSettings
    from personaforge.ingest import ingest
    from personaforge.store import MemoryStore

    with MemoryStore.open(db) as store:
        started = time.perf_counter()
        summary = ingest([root], store, IngestSettings(), show_progress=False)
        return time.perf_counter() - started, summary.to_dict()


def memories_digest(db: Path) -> str:
    """Every stored memory (id and content hash: title, text, tags, date, mode, speaker, meta)."""
    rows = sqlite3.connect(db).execute(
        "SELECT id, content_hash, deleted_at IS NULL FROM memories ORDER BY id"
    )
    return hashlib.sha256(json.dumps(list(rows)).encode()).hexdigest()[:16]


def measure(notes: int, root: Path, db: Path) -> dict:
    """Full ingest, no-change re-run, 1% edited, on the vault at `root` (left as it was)."""
    import personaforge

    size = sum(path.stat().st_size for path in root.rglob("*.md"))
    baseline = read_everything(root)
    full, first = timed_ingest(root, db)
    digest = memories_digest(db)
    rerun, second = timed_ingest(root, db)
    rng = random.Random(9)
    edited = rng.sample(sorted(root.rglob("*.md")), max(1, notes // 100))
    originals = {path: path.read_text() for path in edited}
    for path, text in originals.items():
        path.write_text(text + "\nAn edit. #edited\n")
    try:
        edit, third = timed_ingest(root, db)
    finally:
        for path, text in originals.items():
            path.write_text(text)
    memories = sqlite3.connect(db).execute("SELECT count(*) FROM memories").fetchone()[0]
    return {
        "notes": notes,
        "megabytes": round(size / 1e6, 1),
        "memories": memories,
        "memories_digest": digest,
        "code": str(Path(personaforge.__file__).parent),
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


def measure_in_child(notes: int, root: Path, db: Path, src: Path) -> dict:
    """One measurement in a fresh process running the code in `src`, so ru_maxrss is that
    measurement's peak and nothing else's."""
    for leftover in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        leftover.unlink(missing_ok=True)
    output = subprocess.run(
        [sys.executable, __file__, "--one", str(notes), "--vault", str(root), "--db", str(db)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(src)},
    ).stdout
    db.unlink(missing_ok=True)
    return json.loads(output.splitlines()[-1])


def add_scaling(runs: list[dict]) -> None:
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


MEDIANS = ("full_ingest_seconds", "rerun_seconds", "edit_1pct_seconds", "peak_rss_mib")


def compare(notes: int, root: Path, workdir: Path, baseline_src: Path, repeats: int) -> dict:
    """Ours and the baseline, alternating which goes first, on the same vault."""
    measured: dict[str, list[dict]] = {"ours": [], "baseline": []}
    sources = {"ours": OURS, "baseline": baseline_src}
    for repeat in range(repeats):
        order = ("ours", "baseline") if repeat % 2 == 0 else ("baseline", "ours")
        for label in order:
            run = measure_in_child(notes, root, workdir / f"store-{label}.db", sources[label])
            measured[label].append(run)
            print(f"{notes} notes, {label}: {run['full_ingest_seconds']} s", file=sys.stderr)
    row: dict = {"notes": notes, "megabytes": measured["ours"][0]["megabytes"], "runs": repeats}
    for label, runs in measured.items():
        row[label] = {key: statistics.median(run[key] for run in runs) for key in MEDIANS}
        row[label]["full_ingest_all"] = [run["full_ingest_seconds"] for run in runs]
        row[label]["code"] = runs[0]["code"]
        row[label]["memories"] = runs[0]["memories"]
    row["ours_over_baseline"] = round(
        row["ours"]["full_ingest_seconds"] / row["baseline"]["full_ingest_seconds"], 3
    )
    digests = {run["memories_digest"] for runs in measured.values() for run in runs}
    row["same_memories"] = len(digests) == 1
    return row


def machine() -> dict:
    model = ""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        model = next(
            (ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if "model name" in ln), ""
        )
    except OSError:
        pass
    return {
        "cpu": model or platform.processor() or platform.machine(),
        "cores": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def markdown(report: dict) -> str:
    m = report["machine"]
    rows = report["comparison"]
    lines = [
        f"{SECTION} ({report['date']})",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, SQLite {m['sqlite']}, "
        f"local disk, warm page cache; load average {m['load_average_at_start']} at the start and "
        f"{m['load_average_at_end']} at the end (the machine was shared: absolute times are "
        f"noisy, the ratio of runs made side by side is the number). Command: "
        f"`{report['command']}`. Baseline: {report['baseline']}. Each version ran "
        "in its own process per measurement, alternating which went first (runs per size in "
        "the table); medians.",
        "",
        "| notes | MB | runs | baseline full s | ours full s | ours / baseline | ours notes/s "
        "| re-run s (base / ours) | 1% edited s (base / ours) | peak RSS MiB (base / ours) "
        "| same memories |",
        "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|:--|",
    ]
    for row in rows:
        base, ours = row["baseline"], row["ours"]
        lines.append(
            f"| {row['notes']:,} | {row['megabytes']} | {row['runs']} | "
            f"{base['full_ingest_seconds']:.2f} | "
            f"**{ours['full_ingest_seconds']:.2f}** | {row['ours_over_baseline']:.2f}× | "
            f"{round(row['notes'] / ours['full_ingest_seconds']):,} | "
            f"{base['rerun_seconds']:.2f} / {ours['rerun_seconds']:.2f} | "
            f"{base['edit_1pct_seconds']:.2f} / {ours['edit_1pct_seconds']:.2f} | "
            f"{base['peak_rss_mib']:.0f} / {ours['peak_rss_mib']:.0f} | "
            f"{'yes' if row['same_memories'] else '**no**'} |"
        )
    lines.append("")
    by_size = {row["notes"]: row for row in rows}
    if 10_000 in by_size:
        seconds = by_size[10_000]["ours"]["full_ingest_seconds"]
        verdict = "met" if seconds <= 8 else "not met"
        lines.append(
            f"- Target: 10k notes in at most 8 s on {m['cores']} cores: {seconds:.2f} s, {verdict} "
            f"(runs: {', '.join(f'{s:.2f}' for s in by_size[10_000]['ours']['full_ingest_all'])}"
            f" s; baseline {', '.join(f'{s:.2f}' for s in by_size[10_000]['baseline']['full_ingest_all'])} s)."
        )
    if 10_000 in by_size and 100_000 in by_size:
        ratio = (
            by_size[100_000]["ours"]["full_ingest_seconds"]
            / by_size[10_000]["ours"]["full_ingest_seconds"]
        )
        verdict = "met" if ratio <= 12 else "not met"
        lines.append(
            f"- Target: 100k notes in at most 12× the time of 10k: {ratio:.2f}×, {verdict}."
        )
    same = all(row["same_memories"] for row in rows)
    lines.append(
        "- Same memories: "
        + (
            "every run of both versions stored the same rows (ids and content hashes)."
            if same
            else "**the versions stored different memories**."
        )
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1000, 10_000, 100_000])
    parser.add_argument(
        "--baseline-src", type=Path, help="Also run the code in this src folder, side by side."
    )
    parser.add_argument(
        "--baseline-label", help="What the baseline is, for RESULTS.md (default: its path)."
    )
    parser.add_argument(
        "--repeats",
        type=int,
        nargs="+",
        default=[3],
        help="Runs per version with --baseline-src, per size (the last value for the rest).",
    )
    parser.add_argument("--results", type=Path, help="Also rewrite this RESULTS.md's section.")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child's size
    parser.add_argument("--vault", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run = measure(args.one, args.vault, args.db)
        run["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        print(json.dumps(run))
        return
    if args.results and not args.baseline_src:
        parser.error("--results writes the comparison: give --baseline-src")
    report: dict = {"benchmark": "ingest", "machine": machine()}
    with tempfile.TemporaryDirectory() as workdir:
        runs, comparison = [], []
        for index, notes in enumerate(args.sizes):
            root = Path(workdir) / f"vault-{notes}"
            make_vault(root, notes)
            if args.baseline_src:
                repeats = args.repeats[min(index, len(args.repeats) - 1)]
                comparison.append(compare(notes, root, Path(workdir), args.baseline_src, repeats))
            else:
                runs.append(measure_in_child(notes, root, Path(workdir) / "store.db", OURS))
    report["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    if runs:
        add_scaling(runs)
        report["runs"] = runs
    if comparison:
        report.update(
            date=date.today().isoformat(),
            baseline=args.baseline_label or str(args.baseline_src),
            comparison=comparison,
            command=shlex.join(["bench/ingest.py", *sys.argv[1:]]),
        )
    print(json.dumps(report, indent=2))
    if args.results:
        from results_md import write_section  # bench/results_md.py, beside this file

        write_section(args.results, SECTION, markdown(report), first=True)


if __name__ == "__main__":
    main()
