"""Benchmark: curation throughput and near-duplicate scaling, printed as JSON.

    .venv/bin/python bench/dataset.py                  # 10k and 100k examples
    .venv/bin/python bench/dataset.py --sizes 2000 20000

Synthetic replies of 20-120 words; 10% are near-duplicates of an earlier
reply (a few words changed) and 5% exact copies, the rest distinct. Measured:
the whole curation pass (privacy scan, filters, exact and near-duplicate
removal, length with the estimate counter) in examples/s, and near-duplicate
removal alone. The ratio that matters: near-dup time at the largest size over
the smallest, against the size ratio (linear means equal; the target is at
most 12 for 10x the examples).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time

from personaforge.config import DatasetSettings, PrivacySettings
from personaforge.dataset.curate import Curated, curate, drop_near_duplicates
from personaforge.dataset.examples import Example
from personaforge.store import Memory

VOCABULARY = [f"w{i}" for i in range(5000)]


def make_memory(index: int, text: str) -> Memory:
    return Memory(
        id=f"{index:012x}",
        source="vault",
        locator=f"/v/{index}.md",
        file_path=f"/v/{index}.md",
        created_at=f"2026-{1 + index % 12:02d}-01T00:00:00",
        title="n",
        text=text,
        tags=[],
        mode="reflection",
        speaker="self",
        meta={},
        content_hash="h",
        added_at="t",
        updated_at="t",
        deleted_at=None,
    )


def make_examples(count: int, seed: int = 11) -> list[Example]:
    rng = random.Random(seed)
    replies: list[str] = []
    for _ in range(count):
        roll = rng.random()
        if replies and roll < 0.05:
            text = rng.choice(replies)
        elif replies and roll < 0.15:
            words = rng.choice(replies).split()
            for _ in range(max(1, len(words) // 25)):
                words[rng.randrange(len(words))] = rng.choice(VOCABULARY)
            text = " ".join(words)
        else:
            text = " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(20, 120)))
        replies.append(text)
    return [
        Example(
            "voice",
            [
                {"role": "system", "content": "You are me."},
                {"role": "user", "content": "Write."},
                {"role": "assistant", "content": text},
            ],
            [make_memory(i, text)],
        )
        for i, text in enumerate(replies)
    ]


def measure(count: int) -> dict:
    settings = DatasetSettings()
    examples = make_examples(count)
    started = time.perf_counter()
    curated = curate(examples, settings, PrivacySettings().model_dump(), max_tokens=2048)
    full = time.perf_counter() - started
    fresh = make_examples(count)
    started = time.perf_counter()
    near_result = Curated(kept=[])
    drop_near_duplicates(fresh, settings, near_result)
    near = time.perf_counter() - started
    return {
        "examples": count,
        "curate_seconds": round(full, 2),
        "curate_examples_per_second": round(count / full),
        "near_dedup_seconds": round(near, 2),
        "near_dedup_examples_per_second": round(count / near),
        "kept": len(curated.kept),
        "dropped": dict(curated.dropped),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000])
    args = parser.parse_args()
    runs = [measure(size) for size in args.sizes]
    first, last = runs[0], runs[-1]
    scaling = {
        "size_ratio": round(last["examples"] / first["examples"], 1),
        "near_dedup_time_ratio": round(last["near_dedup_seconds"] / first["near_dedup_seconds"], 2),
        "curate_time_ratio": round(last["curate_seconds"] / first["curate_seconds"], 2),
    }
    settings = DatasetSettings()
    print(
        json.dumps(
            {
                "benchmark": "dataset",
                "machine": {"python": platform.python_version()},
                "near_duplicate_threshold": settings.near_duplicate_threshold,
                "minhash_permutations": settings.minhash_permutations,
                "runs": runs,
                "scaling": scaling,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
