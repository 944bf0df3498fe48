"""Benchmark: the local server under concurrent clients and during hot reloads, ours vs a baseline, as JSON.

    .venv/bin/python bench/serve.py                          # tiny base from .demo-home
    .venv/bin/python bench/serve.py --home /tmp/h --rounds 5 --results bench/RESULTS.md

Each server runs in its own process (as `personaforge serve` does), the clients in
this one, over loopback. Variants, measured in the same run and interleaved so a
busy machine slows all of them alike:

- `ours`: the working tree (continuous batching, default --max-batch 8);
- `serial`: the working tree with max_batch=1 (one request at a time);
- `baseline`: the engine at --baseline-ref (git archive of its src/), by default the
  commit before batching and out-of-lock reloads: one worker, one request at a time,
  adapters loaded while holding the engine lock.

Throughput cells: a fixed number of chat requests (`--requests`, `--max-tokens`
new tokens each, greedy, the prompt "How was your week?"; the served base is a copy
whose end tokens never win, `endless_base`) over 1, 4, 8 and 32
client threads, models round-robin over 1, 4 or 16 named adapters (random LoRA
r16 weights on all 7 projections of the tiny base; speed does not depend on the
values). Reload cells: 8 clients on `persona` for `--reload-requests` requests
in each of three phases: steady; while v2 and v1 are swapped every 0.2 s ("swap":
one load, then alias moves); while `/admin/reload-model` loads a fresh version
(never loaded before, so each is a real read from disk) every 0.2 s ("fresh").
The phases take turns in blocks of 64 requests, so that the shared machine's slow
spells fall on all three; p99 during / p99 steady, median over `--rounds` rounds.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Fresh versions for every reload of a round: ours took about 50 per round, its serial
# variant about 160 (2026-12-06). The baseline, which loads under its engine lock and then
# serves a few requests/s, ran out of 168 in every round: its fresh ratio is a lower bound.
ADAPTERS = 250
# Requests per block of a reload round: steady, swap and fresh take turns, 64 requests each.
RELOAD_BLOCK = 64
DEFAULT_BASELINE = "a1fc517"  # main before batching and out-of-lock reloads

CHILD = """
import json, sys
from pathlib import Path
import personaforge
from personaforge.paths import Paths
from personaforge.serve import start_server
options = json.loads(sys.argv[1])
kwargs = {"adapters": options["adapters"], "max_queue": 256}
if options.get("max_batch") is not None:
    kwargs["max_batch"] = options["max_batch"]
handle = start_server(Paths(Path(options["home"])), **kwargs)
print(json.dumps({"url": handle.url, "token": handle.token, "module": personaforge.__file__}), flush=True)
sys.stdin.read()
handle.stop()
"""


def endless_base(source: str, into: Path) -> str:
    """A copy of the base whose end-of-reply tokens never win, so every reply is max_tokens long.

    The tiny base ends its greedy replies to the bench's prompt after 2 to 10 tokens,
    depending on the adapter, so "16 new tokens" was not what a request cost, and an
    engine that sampled differently (ours samples by default, the baseline was greedy)
    did different work. Zeroing the end tokens' rows of the output layer makes their
    logit 0, below the top token's; every reply is checked (`short` in the cells). Speed
    does not depend on the weights' values, as with the random adapters.
    """
    from safetensors.torch import load_file, save_file
    from transformers import AutoTokenizer

    shutil.copytree(source, into)
    tokenizer = AutoTokenizer.from_pretrained(source)
    ends = {tokenizer.eos_token_id, tokenizer.get_vocab().get("<|im_end|>")} - {None}
    weights = load_file(str(into / "model.safetensors"))
    if "lm_head.weight" not in weights:
        raise SystemExit("the bench needs a base with its own output layer (untied embeddings)")
    head = weights["lm_head.weight"].clone()
    head[sorted(ends)] = 0
    weights["lm_head.weight"] = head
    save_file(weights, str(into / "model.safetensors"), metadata={"format": "pt"})
    return str(into)


def make_adapters(
    home: Path, base_location: str, base_name: str, count: int, rank: int = 16
) -> list[str]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from personaforge.config import ALL_LINEAR_TARGETS

    tokenizer = AutoTokenizer.from_pretrained(base_location)
    base = AutoModelForCausalLM.from_pretrained(base_location)
    model = get_peft_model(
        base,
        LoraConfig(
            r=rank,
            lora_alpha=2 * rank,
            target_modules=list(ALL_LINEAR_TARGETS),
            init_lora_weights=False,
            task_type="CAUSAL_LM",
        ),
    )
    names = []
    for index in range(1, count + 1):
        torch.manual_seed(index)
        for name, param in model.named_parameters():
            if "lora_" in name:
                torch.nn.init.normal_(param, std=0.02)
        folder = home / "adapters" / f"v{index}"
        model.save_pretrained(str(folder))
        tokenizer.save_pretrained(str(folder))
        card = {
            "version": f"v{index}",
            "method": "sft",
            "status": "candidate",
            "created_at": "2026-01-01T00:00:00",
            "parent": None,
            "base": {"name": base_name, "fingerprint": "bench"},
            "dataset": {"id": "bench", "manifest_sha256": "bench"},
            "metrics": {},
        }
        (folder / "personaforge.json").write_text(json.dumps(card))
        names.append(f"v{index}")
    return names


def baseline_tree(ref: str, into: Path) -> Path:
    """src/ of `ref`, unpacked from `git archive` (read-only: no checkout of the working tree)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", ref, "src"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def home_for(src: Path, template: Path, into: Path) -> Path:
    """A home with the template's models and adapters, its registry written by `src`'s code.

    Each variant reads a registry of its own schema: an older engine cannot read columns
    that were added after it (a version's `forgotten` flag, say).
    """
    into.mkdir(parents=True)
    (into / "models").symlink_to((template / "models").resolve(), target_is_directory=True)
    shutil.copytree(template / "adapters", into / "adapters")
    promote = (
        "import sys; from pathlib import Path; from personaforge.paths import Paths;"
        " from personaforge.registry import Registry\n"
        "with Registry.open(Paths(Path(sys.argv[1]))) as registry: registry.promote('v1')"
    )
    env = {**os.environ, "PYTHONPATH": str(src), "PERSONAFORGE_HOME": str(into)}
    subprocess.run([sys.executable, "-c", promote, str(into)], env=env, check=True)
    return into


class Server:
    """A server process for one variant; clients talk to it over loopback."""

    def __init__(self, home: Path, src: Path, adapters: dict[str, str], max_batch: int | None):
        env = {**os.environ, "PYTHONPATH": str(src), "PERSONAFORGE_HOME": str(home)}
        options = {"home": str(home), "adapters": adapters, "max_batch": max_batch}
        self.log = home.parent / "server.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-P", "-c", CHILD, json.dumps(options)],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                cwd=home,
            )
        line = self.process.stdout.readline()
        if not line.startswith("{"):
            raise RuntimeError(f"the {src} server did not start:\n{self.log.read_text()[-3000:]}")
        info = json.loads(line)
        self.url, self.token, self.module = info["url"], info["token"], info["module"]

    def stop(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def chat(url: str, model: str, max_tokens: int) -> tuple[float, int]:
    """One chat request: (seconds, completion tokens).

    Greedy without penalties, what the baseline always did: ours samples by default
    (settings `decode`), and the variants must do the same work. The baseline ignores
    `repetition_penalty`, a field it did not know.
    """
    body = json.dumps(
        {
            "model": model,
            "max_tokens": max_tokens,
            "temperature": 0,
            "repetition_penalty": 1.0,
            "messages": [{"role": "user", "content": "How was your week?"}],
        }
    ).encode()
    request = urllib.request.Request(
        url + "/v1/chat/completions", data=body, headers={"Content-Type": "application/json"}
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as response:
        answer = json.loads(response.read())
    return time.perf_counter() - started, answer["usage"]["completion_tokens"]


COUNTERS = {
    "personaforge_decode_steps_total": "steps",
    "personaforge_decode_rows_total": "rows",
    "personaforge_prefills_total": "prefills",
    "personaforge_prefill_rows_total": "prefill_rows",
}


def engine_counters(url: str) -> dict[str, float]:
    """The engine's step and prefill counters from /metrics (the baseline has none)."""
    try:
        with urllib.request.urlopen(url + "/metrics", timeout=60) as response:
            text = response.read().decode()
    except urllib.error.HTTPError:  # an engine from before /metrics
        return {}
    counters = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in COUNTERS:
            counters[COUNTERS[name]] = float(value)
    return counters


def batching(before: dict[str, float], after: dict[str, float]) -> dict:
    """How a cell batched: rows per decode step, prompts per prefill pass."""
    if len(before) < len(COUNTERS):
        return {}
    done = {key: after[key] - before[key] for key in before}
    return {
        "rows_per_step": round(done["rows"] / max(done["steps"], 1), 2),
        "prompts_per_prefill": round(done["prefill_rows"] / max(done["prefills"], 1), 2),
    }


def merged(rounds: list[dict]) -> dict:
    """One cell from its rounds: medians of the rates and latencies, sums of the failures.

    The rounds run interleaved with the other variants' and cells', so a slow spell of a
    shared machine lands on one round of each, not on one cell.
    """
    keys = ["requests_per_second", "p50_s", "p99_s"]
    keys += [key for key in ("rows_per_step", "prompts_per_prefill") if key in rounds[0]]
    middle = {key: round(statistics.median(r[key] for r in rounds), 4) for key in keys}
    return {
        "requests": sum(r["requests"] for r in rounds),
        "failed": sum(r["failed"] for r in rounds),
        "short": sum(r["short"] for r in rounds),
        **middle,
        "rounds": [r["requests_per_second"] for r in rounds],
    }


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def requests_timed(
    url: str, models: list[str], clients: int, requests: int, max_tokens: int
) -> tuple[list[float], int, int]:
    """(latencies of the requests that succeeded, failures, replies shorter than max_tokens)."""
    failures, latencies, short = 0, [], 0
    with ThreadPoolExecutor(clients) as pool:
        futures = [
            pool.submit(chat, url, models[i % len(models)], max_tokens) for i in range(requests)
        ]
        for future in futures:
            try:
                seconds, tokens = future.result()
            except Exception:
                failures += 1
                continue
            latencies.append(seconds)
            short += tokens < max_tokens
    return latencies, failures, short


def latency_summary(latencies: list[float], failures: int, short: int) -> dict:
    ordered = sorted(latencies) or [float("nan")]
    return {
        "requests": len(latencies) + failures,
        "failed": failures,
        "short": short,  # replies that ended before max_tokens (the endless base should have none)
        "p50_s": round(statistics.median(ordered), 4),
        "p99_s": round(percentile(ordered, 0.99), 4),
    }


def load(url: str, models: list[str], clients: int, requests: int, max_tokens: int) -> dict:
    started = time.perf_counter()
    latencies, failures, short = requests_timed(url, models, clients, requests, max_tokens)
    seconds = time.perf_counter() - started
    return {
        **latency_summary(latencies, failures, short),
        "requests_per_second": round(len(latencies) / seconds, 2),
    }


def reload_round(url: str, token: str, orders: dict, requests: int, max_tokens: int) -> dict:
    """Steady and each reload protocol in turn, RELOAD_BLOCK requests at a time, pooled per phase.

    Phases of a whole cell each (640 requests, about 7 s) took the shared machine's slow
    spells unevenly: steady p50 alone moved from 0.063 to 0.10 s between consecutive
    phases of one server (2026-12-06), and the p99 ratio of one round from 0.6x to 2.0x.
    Interleaved in blocks of RELOAD_BLOCK, the phases share those spells.
    """
    pooled = {phase: ([], 0, 0) for phase in ["steady", *orders]}
    done: dict[str, list] = {protocol: [] for protocol in orders}
    versions = {protocol: iter(order) for protocol, order in orders.items()}
    for _ in range(max(1, requests // RELOAD_BLOCK)):
        for phase in pooled:
            stop, swapper = threading.Event(), None
            if phase != "steady":
                swapper = threading.Thread(
                    target=reloading, args=(url, token, versions[phase], stop, done[phase])
                )
                swapper.start()
            latencies, failures, short = requests_timed(
                url, ["persona"], 8, RELOAD_BLOCK, max_tokens
            )
            stop.set()
            if swapper is not None:
                swapper.join()  # the next block starts with no reload in flight
            kept = pooled[phase]
            pooled[phase] = (kept[0] + latencies, kept[1] + failures, kept[2] + short)
    record = {"steady": latency_summary(*pooled["steady"])}
    for protocol in orders:
        during = latency_summary(*pooled[protocol])
        record[protocol] = {
            **during,
            "reloads": len([d for d in done[protocol] if not d.startswith("failed")]),
            "reload_failures": [d for d in done[protocol] if d.startswith("failed")],
            "p99_ratio": round(during["p99_s"] / record["steady"]["p99_s"], 3),
        }
    return record


def reloading(url: str, token: str, versions, stop: threading.Event, done: list) -> None:
    """Reload the next of `versions` (an iterator, shared across blocks) every 0.2 s until stopped."""
    while not stop.is_set():  # checked before taking a version: none is taken and dropped
        version = next(versions, None)
        if version is None:
            return
        body = json.dumps({"version": version}).encode()
        request = urllib.request.Request(
            url + "/admin/reload-model",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=300):
                done.append(version)
        except Exception as exc:  # counted, not fatal: the JSON shows how many reloads ran
            done.append(f"failed: {exc}")
        time.sleep(0.2)


def machine() -> dict:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": model,
        "cores": len(os.sched_getaffinity(0)),
        "device": "cpu",
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def markdown(report: dict) -> str:
    """The serve section of bench/RESULTS.md, from one report."""
    m = report["machine"]
    lines = [
        f"## serve — local engine: batching and hot reload, ours vs baseline ({report['date']})",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, CPU only; load average {m['load_average_at_start']} "
        f"at the start (a shared machine: the variants run interleaved, so they share the noise).",
        f"Command: `{report['command']}`. Base: `{report['base']}`, served as a copy whose end "
        "tokens never win (every reply is max_tokens long: `short` counts the replies that were "
        "not); adapters: random LoRA r16 on all 7 "
        f"projections; {report['requests']} chat requests per cell and round, median of "
        f"{report['throughput_rounds']} rounds, {report['max_tokens']} new "
        "tokens each, greedy without penalties, over loopback, the server in its own process.",
        f"Variants: **ours** (the working tree, max_batch {report['max_batch']}), **serial** (ours "
        f"with max_batch 1), **baseline** (`{report['baseline_ref']}`: one request at a time, "
        "adapters loaded under the engine lock).",
        "",
        "Rows/step is the mean decode batch; prompts/prefill, how many requests started "
        "together in one prompt pass (the baseline does not count them).",
        "",
        "| adapters | clients | variant | requests/s | p50 s | p99 s | rows/step | prompts/prefill | failed | short |",
        "|---------:|--------:|:--------|-----------:|------:|------:|----------:|----------------:|-------:|------:|",
    ]
    for cell in report["cells"]:
        lines.append(
            f"| {cell['adapters']} | {cell['clients']} | {cell['variant']} | "
            f"{cell['requests_per_second']} | {cell['p50_s']} | {cell['p99_s']} | "
            f"{cell.get('rows_per_step', '—')} | {cell.get('prompts_per_prefill', '—')} | "
            f"{cell['failed']} | {cell['short']} |"
        )
    lines += [
        "",
        f"Hot reload: 8 clients on `persona`, {report['reload_requests']} requests steady, and as "
        "many while `/admin/reload-model` is called every 0.2 s: **swap** alternates v2 and v1 (one "
        "real load, then alias moves: the first serve benchmark's protocol), **fresh** names a "
        "version never loaded before each time (every call reads and attaches an adapter). "
        f"The three take turns in blocks of {RELOAD_BLOCK} requests (since 2026-12-06; before, "
        "each ran whole, one after the other). "
        f"Median over {report['rounds']} rounds.",
        "",
        "| variant | steady p99 s | swap p99 s | swap ratio | fresh p99 s | fresh ratio | fresh loads | failed |",
        "|:--------|-------------:|-----------:|-----------:|------------:|------------:|------------:|-------:|",
    ]
    for variant, row in report["reload"].items():
        failed = row["failed"] + row["swap"]["failed"] + row["fresh"]["failed"]
        lines.append(
            f"| {variant} | {row['steady_p99_s']} | {row['swap']['p99_s']} | "
            f"**{row['swap']['p99_ratio']}×** | {row['fresh']['p99_s']} | "
            f"**{row['fresh']['p99_ratio']}×** | {row['fresh']['reloads']} | {failed} |"
        )
    lines += ["", "Targets (issue 37):"]
    for variant, numbers in report["summary"].items():
        against = ""
        if "one_client_vs_baseline" in numbers:
            against = (
                f"against the baseline: one client (1 adapter) "
                f"**{numbers['one_client_vs_baseline']}×** (target ≥ 1.0×), 16 adapters and 8 "
                f"clients **{numbers['many_adapters_vs_baseline']}×** (target ≥ 2×); "
            )
        lines.append(
            f"- {variant}: {against}throughput at 4 clients / 1 client (1 adapter) "
            f"**{numbers['throughput_4_vs_1']}×** (target ≥ 2.5×); p99 during reloads / steady "
            f"**{numbers['p99_swap_ratio']}×** swap, **{numbers['p99_fresh_ratio']}×** fresh "
            f"(target ≤ 1.3×); {numbers['reload_failed']} failed requests."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--home", type=Path, default=Path(".demo-home"), help="A home holding the built tiny base."
    )
    parser.add_argument(
        "--base", default="tiny", help="Built-in base: tiny, or tiny:micro to try the bench."
    )
    parser.add_argument("--requests", type=int, default=96)
    parser.add_argument(
        "--reload-requests",
        type=int,
        default=640,
        help="Requests in each phase of a reload round (steady, swap, fresh), in blocks of "
        "64. p99 of 160 was the second-slowest request, and varied from 0.8x to 1.8x steady "
        "between rounds of the same code.",
    )
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--max-batch", type=int, default=8)
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="Reload rounds per variant. The fresh ratio of one round varied from 1.10x to "
        "1.51x with the same code (5 rounds, 2026-12-06); the table shows the median.",
    )
    parser.add_argument(
        "--throughput-rounds",
        type=int,
        default=3,
        help="Rounds of every throughput cell; the table shows medians. One round's 4-client / "
        "1-client ratio varied from 2.1x to 3.1x with the same code.",
    )
    parser.add_argument(
        "--baseline-ref", default=DEFAULT_BASELINE, help="Git ref of the baseline, or 'none'."
    )
    parser.add_argument("--clients", default="1,4,8,32")
    parser.add_argument("--adapter-counts", default="1,4,16")
    parser.add_argument(
        "--results", type=Path, help="Also rewrite this RESULTS.md's serve section."
    )
    args = parser.parse_args()

    from personaforge.bases import resolve_base
    from personaforge.paths import Paths
    from personaforge.registry import Registry

    work = Path(tempfile.mkdtemp(prefix="pf-bench-serve-"))
    report: dict = {
        "benchmark": "serve",
        "date": time.strftime("%Y-%m-%d"),
        "command": "python bench/serve.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "requests": args.requests,
        "reload_requests": args.reload_requests,
        "max_tokens": args.max_tokens,
        "max_batch": args.max_batch,
        "rounds": args.rounds,
        "throughput_rounds": args.throughput_rounds,
        "base": args.base,
        "baseline_ref": args.baseline_ref,
    }
    try:
        paths = Paths(work / "home")
        paths.home.mkdir(parents=True)
        if (args.home / "models").exists():
            paths.models.symlink_to((args.home / "models").resolve(), target_is_directory=True)
        base = endless_base(resolve_base(args.base, paths).location, work / "endless-base")
        versions = make_adapters(paths.home, base, base, ADAPTERS)
        with Registry.open(paths) as registry:
            registry.promote("v1")
        variants = {"ours": (ROOT / "src", args.max_batch), "serial": (ROOT / "src", 1)}
        homes = {"ours": paths.home, "serial": paths.home}
        if args.baseline_ref != "none":
            variants["baseline"] = (baseline_tree(args.baseline_ref, work / "baseline"), None)
            homes["baseline"] = home_for(
                variants["baseline"][0], paths.home, work / "baseline-home"
            )
        report["modules"] = {}

        runs: dict[tuple[int, int, str], list[dict]] = {}
        for _ in range(args.throughput_rounds):
            for count in [int(c) for c in args.adapter_counts.split(",")]:
                named = {f"a{i}": v for i, v in enumerate(versions[:count])}
                for variant, (src, max_batch) in variants.items():
                    server = Server(homes[variant], src, named, max_batch)
                    report["modules"][variant] = server.module
                    try:
                        models = list(named)
                        chat(server.url, models[0], args.max_tokens)  # warm up
                        for clients in [int(c) for c in args.clients.split(",")]:
                            before = engine_counters(server.url)
                            numbers = load(
                                server.url, models, clients, args.requests, args.max_tokens
                            )
                            numbers |= batching(before, engine_counters(server.url))
                            runs.setdefault((count, clients, variant), []).append(numbers)
                            cell = {"adapters": count, "clients": clients, "variant": variant}
                            print(json.dumps({**cell, **numbers}), file=sys.stderr, flush=True)
                    finally:
                        server.stop()
        cells = [
            {"adapters": count, "clients": clients, "variant": variant, **merged(numbers)}
            for (count, clients, variant), numbers in sorted(
                runs.items(),
                key=lambda item: (item[0][0], list(variants).index(item[0][2]), item[0][1]),
            )
        ]
        report["cells"] = cells

        # Reload rounds: steady, "swap" (v2 and v1 in turn every 0.2 s: one real load, then
        # alias moves; the protocol of the first serve benchmark) and "fresh" (a version
        # never loaded before every 0.2 s: every reload reads and attaches one), taking
        # turns in blocks of RELOAD_BLOCK requests (reload_round).
        protocols = {"swap": lambda: ["v2", "v1"] * 200, "fresh": lambda: versions[2:]}
        rounds: dict[str, list[dict]] = {variant: [] for variant in variants}
        for _ in range(args.rounds):
            for variant, (src, max_batch) in variants.items():
                server = Server(homes[variant], src, {}, max_batch)
                try:
                    chat(server.url, "persona", args.max_tokens)
                    orders = {protocol: order() for protocol, order in protocols.items()}
                    record = reload_round(
                        server.url, server.token, orders, args.reload_requests, args.max_tokens
                    )
                finally:
                    server.stop()
                rounds[variant].append(record)
                print(json.dumps({variant: record}), file=sys.stderr, flush=True)
        report["reload_rounds"] = rounds

        def median(runs: list[dict], *keys: str) -> float:
            values = []
            for run in runs:
                value = run
                for key in keys:
                    value = value[key]
                values.append(value)
            return statistics.median(values)

        report["reload"] = {
            variant: {
                "steady_p99_s": round(median(runs, "steady", "p99_s"), 4),
                **{
                    protocol: {
                        "p99_s": round(median(runs, protocol, "p99_s"), 4),
                        "p99_ratio": round(median(runs, protocol, "p99_ratio"), 2),
                        "reloads": round(median(runs, protocol, "reloads")),
                        "failed": sum(r[protocol]["failed"] for r in runs),
                    }
                    for protocol in protocols
                },
                "failed": sum(r["steady"]["failed"] for r in runs),
            }
            for variant, runs in rounds.items()
        }

        def rate(variant: str, clients: int, adapters: int = 1) -> float:
            return next(
                c["requests_per_second"]
                for c in cells
                if (c["variant"], c["adapters"], c["clients"]) == (variant, adapters, clients)
            )

        def against_baseline(variant: str) -> dict:
            if variant == "baseline" or "baseline" not in variants:
                return {}
            try:
                many = rate(variant, 8, 16) / rate("baseline", 8, 16)
            except StopIteration:  # a run without the 16-adapter, 8-client cell
                many = float("nan")
            return {
                "one_client_vs_baseline": round(rate(variant, 1) / rate("baseline", 1), 2),
                "many_adapters_vs_baseline": round(many, 2),
            }

        report["summary"] = {
            variant: {
                **against_baseline(variant),
                "throughput_4_vs_1": round(rate(variant, 4) / rate(variant, 1), 2),
                "p99_swap_ratio": report["reload"][variant]["swap"]["p99_ratio"],
                "p99_fresh_ratio": report["reload"][variant]["fresh"]["p99_ratio"],
                "reload_failed": report["reload"][variant]["failed"]
                + report["reload"][variant]["swap"]["failed"]
                + report["reload"][variant]["fresh"]["failed"],
            }
            for variant in variants
        }
        report["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(report, indent=2))
    if args.results:
        from results_md import write_section  # bench/results_md.py, beside this file

        write_section(args.results, "## serve", markdown(report))


if __name__ == "__main__":
    main()
