"""Benchmark: how long decode steps stall while adapters load beside them, by the loader's niceness.

The engine's worker runs decode steps (8 rows of one token on the tiny base, every
row on one adapter, as the reload cells of bench/serve.py) on one thread. A loader
thread reads, checks and adds a fresh adapter every 0.2 s with the engine's own code
(serve/adapters.py `prepare_adapter`, serve/lora_rows.py `RowAdapters.add`). `--busy`
CPU-bound processes stand for what shares the 2 cores in a server under load: its HTTP
thread and the clients. Each round runs three phases of `--seconds` each: no loads
("steady"), loads from a loader at the server's priority ("same"), loads from a loader
niced +10 ("nice10"), the engine's setting before this bench. The table shows the
median over rounds of each phase's step-time statistics; the slowest steps are the
stalls a request feels in its p99.

`--base smollm2-135m --rank 128` loads adapters of about the size of an 8B base's at r16
(168 MB in fp32 there; 156 MB here): whether one large load holds the GIL long enough
to stall a step. The loader cycles over `--adapters` files under fresh names, so large
adapters need only that many on disk, and each phase's loads are dropped after it.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from serve import machine, make_adapters  # bench/serve.py, beside this file

PHASES = {"steady": None, "same": 0, "nice10": 10}
LOAD_EVERY_S = 0.2  # bench/serve.py's fresh-reload protocol


def step_times(model, ids, seconds: float) -> list[float]:
    """Wall time of each forward pass over `seconds`, sorted."""
    import torch

    times = []
    end = time.perf_counter() + seconds
    with torch.inference_mode():
        while time.perf_counter() < end:
            started = time.perf_counter()
            model(input_ids=ids, use_cache=False)
            times.append(time.perf_counter() - started)
    return sorted(times)


def loading(model, rows, folders: list[Path], shapes, niceness: int, stop: threading.Event, done):
    """Read, check and add one adapter every LOAD_EVERY_S from a thread at `niceness`;
    `done` gets (name, seconds) of each load."""
    from personaforge.serve.adapters import prepare_adapter

    thread = threading.get_native_id()
    os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, 0) + niceness)
    for index, folder in enumerate(itertools.cycle(folders)):
        if stop.is_set():
            return
        started = time.perf_counter()
        name = f"{folder.name}-{niceness}-{index}"
        rows.add(model, name, prepare_adapter(folder, shapes, "", None).pairs)
        gc.freeze()  # as the engine's _load: no full collection of the adapter's objects later
        done.append((name, time.perf_counter() - started))
        time.sleep(LOAD_EVERY_S)


def summary(times: list[float]) -> dict:
    def at(q: float) -> float:
        return round(times[min(len(times) - 1, int(q * len(times)))] * 1e3, 2)

    return {
        "steps": len(times),
        "median_ms": at(0.5),
        "p99_ms": at(0.99),
        "p999_ms": at(0.999),
        "max_ms": round(times[-1] * 1e3, 2),
    }


def heading(base: str, rank: int, busy: int) -> str:
    """The RESULTS.md section of a run: the default one, or one per other setting."""
    if (base, rank, busy) == ("tiny", 16, 2):
        return "## reload stalls —"
    return f"## reload stalls, {base} LoRA r{rank}, {busy} busy —"


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        f"{heading(report['base'], report['rank'], report['busy'])} decode steps beside adapter loads, "
        f"by the loader's priority ({report['date']})",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, CPU only. Command: `{report['command']}`. "
        f"Base `{report['base']}`, 8 rows of one token per step on one thread, {report['busy']} "
        f"CPU-bound processes beside it; a LoRA r{report['rank']} adapter (all 7 projections, "
        f"{report['adapter_mb']:.1f} MB on disk) read, checked and added every {LOAD_EVERY_S} s by "
        f"the engine's code; {report['seconds']} s per phase, median over {report['rounds']} "
        "rounds (phases interleaved). A load's wall time is its median over the phase.",
        "",
        "| phase | loader | median ms | p99 ms | p99.9 ms | max ms | loads | load ms |",
        "|:------|:-------|----------:|-------:|---------:|-------:|------:|--------:|",
    ]
    for phase, row in report["phases"].items():
        loader = "none" if PHASES[phase] is None else f"niceness +{PHASES[phase]}"
        lines.append(
            f"| {phase} | {loader} | {row['median_ms']} | {row['p99_ms']} | {row['p999_ms']} | "
            f"{row['max_ms']} | {row['loads']} | {row['load_ms']} |"
        )
    lines += [
        "",
        "Per round, max ms: "
        + "; ".join(
            f"{phase} {[r['max_ms'] for r in rounds]}"
            for phase, rounds in report["rounds_raw"].items()
        )
        + ".",
    ]
    return "\n".join(lines) + "\n"


def one_phase(model, rows, ids, folders, shapes, niceness: int | None, seconds: float) -> dict:
    """Step times over `seconds` beside a loader at `niceness` (None: no loads); the
    phase's adapters are dropped after it, so large ones do not pile up in memory."""
    stop, done = threading.Event(), []
    loader = None
    if niceness is not None:
        loader = threading.Thread(
            target=loading, args=(model, rows, folders, shapes, niceness, stop, done)
        )
        loader.start()
    numbers = summary(step_times(model, ids, seconds))
    stop.set()
    if loader is not None:
        loader.join()
    for name, _ in done:
        rows.adapters.pop(name)  # the engine keeps its versions; this bench only adds
    load_ms = round(statistics.median(s for _, s in done) * 1e3, 1) if done else 0.0
    return {**numbers, "loads": len(done), "load_ms": load_ms}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path(".demo-home"))
    parser.add_argument("--base", default="tiny")
    parser.add_argument("--rank", type=int, default=16, help="LoRA rank of the loaded adapters.")
    parser.add_argument("--adapters", type=int, default=4, help="Distinct adapter files.")
    parser.add_argument(
        "--phases", default=",".join(PHASES), help=f"Comma-separated, from {', '.join(PHASES)}."
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--busy", type=int, default=2, help="CPU-bound processes beside the steps.")
    parser.add_argument("--results", type=Path, help="Also rewrite this RESULTS.md's section.")
    args = parser.parse_args(argv)
    phases = {p.strip(): PHASES.get(p.strip(), -1) for p in args.phases.split(",") if p.strip()}
    if not phases or -1 in phases.values():
        parser.error(f"--phases takes names from {', '.join(PHASES)}")

    import torch
    from transformers import AutoModelForCausalLM

    from personaforge.bases import resolve_base
    from personaforge.paths import Paths
    from personaforge.serve.adapters import linear_shapes, prepare_adapter
    from personaforge.serve.engine import keep_out_of_gc
    from personaforge.serve.lora_rows import RowAdapters

    torch.set_num_threads(1)  # the engine's DECODE_THREADS
    with tempfile.TemporaryDirectory(prefix="pf-bench-stall-") as work:
        paths = Paths(Path(work) / "home")
        paths.home.mkdir(parents=True)
        if (args.home / "models").exists():
            paths.models.symlink_to((args.home / "models").resolve(), target_is_directory=True)
        base = resolve_base(args.base, paths).location
        make_adapters(paths.home, base, base, args.adapters + 1, rank=args.rank)
        folders = sorted((paths.home / "adapters").iterdir(), key=lambda f: int(f.name[1:]))
        adapter_mb = round((folders[0] / "adapter_model.safetensors").stat().st_size / 1e6, 3)
        model = AutoModelForCausalLM.from_pretrained(base).eval()
        keep_out_of_gc()  # as the engine: a full collection would be a 210 ms stall of its own
        shapes = linear_shapes(model)
        rows = RowAdapters()
        rows.add(model, "served", prepare_adapter(folders[0], shapes, "", None).pairs)
        rows.set(["served"] * 8)
        ids = torch.randint(0, model.config.vocab_size, (8, 1))
        step_times(model, ids, min(1.0, args.seconds))  # warm up
        busy = [
            subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)
        ]
        raw: dict[str, list[dict]] = {phase: [] for phase in phases}
        try:
            for _ in range(args.rounds):
                for phase, niceness in phases.items():
                    raw[phase].append(
                        one_phase(model, rows, ids, folders[1:], shapes, niceness, args.seconds)
                    )
                    print(json.dumps({phase: raw[phase][-1]}), file=sys.stderr, flush=True)
        finally:
            for process in busy:
                process.kill()
    report = {
        "benchmark": "reload_stall",
        "date": time.strftime("%Y-%m-%d"),
        "command": "python bench/reload_stall.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "base": args.base,
        "rank": args.rank,
        "adapter_mb": adapter_mb,
        "rounds": args.rounds,
        "seconds": args.seconds,
        "busy": args.busy,
        "phases": {
            phase: {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
            for phase, rounds in raw.items()
        },
        "rounds_raw": raw,
    }
    print(json.dumps(report, indent=2))
    if args.results:
        from results_md import write_section

        write_section(args.results, heading(args.base, args.rank, args.busy), markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
