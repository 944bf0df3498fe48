"""Benchmark: what grounding adds to a `persona` request, on the demo store and at 100k memories.

    .venv/bin/python bench/retrieval.py --home .demo-home
    .venv/bin/python bench/retrieval.py --home H --sizes 0,100000 --results bench/RESULTS.md

For each size, a scratch copy of the home (models/ linked, not copied) whose store gets that
many extra memories (0: the store as it is). The extra memories are the person's own
sentences, shuffled into notes of 4-10 sentences with random dates (speaker self), written
through the store's write path, so the FTS index and its triggers are the real ones and
every query word matches thousands of rows: a harder store than a real one of that size.

Then, in one process, with the server the demo starts (start_server: engine, retriever):

1. retrieval alone: `retriever.ground()` for every fact question and showcase prompt,
   --rounds times; p50 and p95 in ms. This is what grounding adds to a request before the
   model sees it;
2. requests over HTTP: each question as `persona-raw` and as `persona`, interleaved (so a
   busy machine slows both alike), greedy, --max-tokens new tokens; p50 of each. Their ratio
   includes the longer prompt the model reads (prefill), not only the search.

Prints JSON; --results rewrites the "## retrieval" section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from personaforge.config import load_settings
from personaforge.paths import Paths

SKIPPED = {"models", "exports", "runs", "cache", "logs", "locks"}  # not needed to serve


def scratch_home(home: Path, into: Path) -> Paths:
    """A copy of `home` to add memories to; models/ is a link (the base is 0.5 GB)."""
    into.mkdir(parents=True)
    for entry in home.iterdir():
        if entry.name == "models":
            (into / "models").symlink_to(entry.resolve(), target_is_directory=True)
        elif entry.name not in SKIPPED:
            copy = shutil.copytree if entry.is_dir() else shutil.copy2
            copy(entry, into / entry.name)
    return Paths(into)


def add_memories(paths: Paths, count: int, seed: int = 11) -> float:
    """Add `count` notes made of the person's own sentences; returns seconds taken."""
    from personaforge.profile.rules import own_sentences
    from personaforge.store import MemoryDraft, MemoryStore

    started = time.monotonic()
    rng = random.Random(seed)
    with MemoryStore.open(paths.memory_store) as store:
        pool = [s for m in store.memories() if m.speaker == "self" for s in own_sentences(m)]
        per_file = 200
        with store.batch():
            for first in range(0, count, per_file):
                drafts = []
                for index in range(first, min(first + per_file, count)):
                    day = (
                        f"20{rng.randint(20, 26)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
                    )
                    text = " ".join(rng.choices(pool, k=rng.randint(4, 10)))
                    drafts.append(
                        MemoryDraft(f"synthetic/{index}", text, day, title=f"Note {index}")
                    )
                path = f"/bench/synthetic-{first // per_file}.md"
                store.replace_file(path, "vault", 0, 0, f"bench-{first}", drafts)
    return round(time.monotonic() - started, 1)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def ask(url: str, model: str, question: str, max_tokens: int) -> float:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": question}],
        "max_tokens": max_tokens,
    }
    request = urllib.request.Request(
        url + "/v1/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as response:
        json.loads(response.read())
    return time.perf_counter() - started


def questions_of(paths: Paths, settings) -> list[str]:
    from personaforge.evaluate import SHOWCASE, profile_facts, sample_quiz
    from personaforge.evaluate.knows import fact_questions

    asked = fact_questions(profile_facts(paths, settings), sample_quiz(paths, settings))
    return [q.question for q in asked] + list(SHOWCASE)


def measure_size(home: Path, extra: int, args: argparse.Namespace) -> dict[str, Any]:
    from personaforge.serve import start_server

    work = Path(tempfile.mkdtemp(prefix="pf-bench-retrieval-"))
    try:
        paths = scratch_home(home, work / "home")
        seconds = add_memories(paths, extra) if extra else 0.0
        settings = load_settings(paths).settings
        questions = questions_of(paths, settings)
        handle = start_server(paths, settings=settings)
        try:
            retriever = handle.retriever
            if retriever is None:
                raise SystemExit("no retriever: the home has no memory store or retrieval is off")
            prompt = settings.dataset.persona_prompt.replace("{name}", settings.dataset.person_name)
            timings, tokens = [], []
            for _ in range(args.rounds):
                for question in questions:
                    started = time.perf_counter()
                    grounded = retriever.ground([{"role": "user", "content": question}], prompt)
                    timings.append((time.perf_counter() - started) * 1000)
                    tokens.append(grounded.context.tokens)
            plain, with_memories = [], []
            for question in questions[: args.requests]:
                plain.append(ask(handle.url, "persona-raw", question, args.max_tokens))
                with_memories.append(ask(handle.url, "persona", question, args.max_tokens))
            memories = retriever.store.count()
        finally:
            handle.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    raw_p50 = statistics.median(plain)
    grounded_p50 = statistics.median(with_memories)
    retrieval_p50 = statistics.median(timings)
    return {
        "memories": memories,
        "added_memories": extra,
        "build_s": seconds,
        "questions": len(questions),
        "retrieval_ms": {
            "p50": round(retrieval_p50, 2),
            "p95": round(percentile(timings, 0.95), 2),
            "max": round(max(timings), 2),
        },
        "context_tokens_mean": round(statistics.fmean(tokens), 1),
        "request_s": {
            "raw_p50": round(raw_p50, 3),
            "grounded_p50": round(grounded_p50, 3),
            "requests_each": len(plain),
        },
        "retrieval_share_of_raw_request": round(retrieval_p50 / 1000 / raw_p50, 4),
        "grounded_over_raw": round(grounded_p50 / raw_p50, 3),
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"## retrieval — what grounding adds to a persona request ({report['date']})",
        "",
        f"Machine: {report['machine']['cores']} CPU cores, load average "
        f"{report['machine']['load_average_at_start']} at the start. Command: "
        f"`{report['command']}`; home {report['home']} (version {report['version']}), "
        f"{report['max_tokens']} new tokens per request, {report['rounds']} rounds of retrieval.",
        "",
        "| memories | retrieval p50 ms | p95 ms | context tokens | request p50 s, raw | "
        "grounded | retrieval / raw request | grounded / raw |",
        "|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in report["sizes"]:
        lines.append(
            f"| {row['memories']:,} | **{row['retrieval_ms']['p50']}** | "
            f"{row['retrieval_ms']['p95']} | {row['context_tokens_mean']} | "
            f"{row['request_s']['raw_p50']} | {row['request_s']['grounded_p50']} | "
            f"{row['retrieval_share_of_raw_request']:.1%} | {row['grounded_over_raw']}× |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path(".demo-home"), help="A trained home.")
    parser.add_argument("--sizes", default="0,100000", help="Extra memories per run.")
    parser.add_argument(
        "--rounds", type=int, default=5, help="Retrieval passes over the questions."
    )
    parser.add_argument("--requests", type=int, default=16, help="HTTP requests per model.")
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--results", type=Path, help="Also rewrite this RESULTS.md's section.")
    args = parser.parse_args(argv)

    from personaforge.registry import Registry

    home = args.home.expanduser().resolve()
    with Registry.open(Paths(home)) as registry:
        version = registry.current()
    report: dict[str, Any] = {
        "benchmark": "retrieval",
        "date": time.strftime("%Y-%m-%d"),
        "command": "python bench/retrieval.py " + " ".join(argv or sys.argv[1:]),
        "home": str(args.home),
        "version": version,
        "max_tokens": args.max_tokens,
        "rounds": args.rounds,
        "machine": {
            "cores": len(os.sched_getaffinity(0)),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "sizes": [measure_size(home, int(n), args) for n in args.sizes.split(",")],
    }
    print(json.dumps(report, indent=2))
    if args.results:
        from results_md import write_section  # bench/results_md.py, beside this file

        write_section(args.results, "## retrieval", markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
