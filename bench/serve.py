"""Benchmark: the local server under concurrent clients and during a hot reload, printed as JSON.

    .venv/bin/python bench/serve.py                 # tiny base from .demo-home, 1/4/16 adapters
    .venv/bin/python bench/serve.py --requests 64 --home .demo-home

Loopback only and bounded: each cell sends a fixed number of chat requests
(`--requests`, `--max-tokens` each) spread over 1, 8 or 32 client threads, with
the model of each request picked round-robin among the loaded adapters. The
adapters are random LoRA weights on the tiny base (throughput does not depend
on their values). The reload cell measures p99 while `/admin/reload-model`
swaps the persona back and forth, against the same load without reloads.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def make_adapters(home: Path, base_location: str, count: int) -> list[str]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from personaforge.config import ALL_LINEAR_TARGETS

    tokenizer = AutoTokenizer.from_pretrained(base_location)
    names = []
    for index in range(1, count + 1):
        torch.manual_seed(index)
        model = get_peft_model(
            AutoModelForCausalLM.from_pretrained(base_location),
            LoraConfig(
                r=16,
                lora_alpha=32,
                target_modules=list(ALL_LINEAR_TARGETS),
                init_lora_weights=False,
                task_type="CAUSAL_LM",
            ),
        )
        folder = home / "adapters" / f"v{index}"
        model.save_pretrained(str(folder))
        tokenizer.save_pretrained(str(folder))
        card = {
            "version": f"v{index}",
            "method": "sft",
            "status": "candidate",
            "created_at": "2026-01-01T00:00:00",
            "parent": None,
            "base": {"name": "tiny", "fingerprint": "bench"},
            "dataset": {"id": "bench", "manifest_sha256": "bench"},
            "metrics": {},
        }
        (folder / "personaforge.json").write_text(json.dumps(card))
        names.append(f"v{index}")
    return names


def chat(url: str, model: str, max_tokens: int) -> float:
    body = json.dumps(
        {
            "model": model,
            "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": "How was your week?"}],
        }
    ).encode()
    request = urllib.request.Request(
        url + "/v1/chat/completions", data=body, headers={"Content-Type": "application/json"}
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read()
    return time.perf_counter() - started


def load(url: str, models: list[str], clients: int, requests: int, max_tokens: int) -> dict:
    failures = 0
    latencies = []
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        futures = [
            pool.submit(chat, url, models[i % len(models)], max_tokens) for i in range(requests)
        ]
        for future in futures:
            try:
                latencies.append(future.result())
            except Exception:
                failures += 1
    seconds = time.perf_counter() - started
    ordered = sorted(latencies) or [float("nan")]
    return {
        "requests": requests,
        "failed": failures,
        "requests_per_second": round(len(latencies) / seconds, 2),
        "p50_s": round(statistics.median(ordered), 4),
        "p99_s": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 4),
    }


def reloading(
    url: str, token: str, versions: list[str], stop: threading.Event, count: list[int]
) -> None:
    index = 0
    while not stop.is_set():
        body = json.dumps({"version": versions[index % len(versions)]}).encode()
        request = urllib.request.Request(
            url + "/admin/reload-model",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=120):
            count[0] += 1
        index += 1
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--home", type=Path, default=Path(".demo-home"), help="A home holding the built tiny base."
    )
    parser.add_argument("--requests", type=int, default=48)
    parser.add_argument("--max-tokens", type=int, default=16)
    args = parser.parse_args()

    from personaforge.base import resolve_base
    from personaforge.paths import Paths
    from personaforge.registry import Registry
    from personaforge.serve import start_server

    work = Path(tempfile.mkdtemp(prefix="pf-bench-serve-"))
    try:
        paths = Paths(work / "home")
        paths.home.mkdir(parents=True)
        if (args.home / "models").exists():
            paths.models.symlink_to((args.home / "models").resolve(), target_is_directory=True)
        base = resolve_base("tiny", paths).location
        versions = make_adapters(paths.home, base, 16)
        with Registry.open(paths) as registry:
            registry.promote("v1")
        cells = []
        for count in (1, 4, 16):
            named = {f"a{i}": v for i, v in enumerate(versions[:count])}
            handle = start_server(paths, adapters=named, max_queue=64)
            try:
                models = list(named)
                chat(handle.url, models[0], args.max_tokens)  # warm up
                for clients in (1, 8, 32):
                    cells.append(
                        {
                            "adapters": count,
                            "clients": clients,
                            **load(handle.url, models, clients, args.requests, args.max_tokens),
                        }
                    )
            finally:
                handle.stop()
        handle = start_server(paths, max_queue=64)
        try:
            chat(handle.url, "persona", args.max_tokens)
            steady = load(handle.url, ["persona"], 8, args.requests, args.max_tokens)
            stop, swaps = threading.Event(), [0]
            swapper = threading.Thread(
                target=reloading, args=(handle.url, handle.token, ["v2", "v1"], stop, swaps)
            )
            swapper.start()
            during = load(handle.url, ["persona"], 8, args.requests, args.max_tokens)
            stop.set()
            swapper.join()
        finally:
            handle.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        json.dumps(
            {
                "benchmark": "serve",
                "device": "cpu",
                "max_tokens": args.max_tokens,
                "cells": cells,
                "reload": {
                    "clients": 8,
                    "steady": steady,
                    "during_reloads": during,
                    "reloads": swaps[0],
                    "p99_ratio": round(during["p99_s"] / steady["p99_s"], 2),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
