"""Benchmark: should code in the person's replies train the voice? dataset.code, measured.

    .venv/bin/python bench/code_policy.py --corpus /tmp/til --work /tmp/code-policy \\
        --base smollm2-135m --budget 10m --policies keep,prose_only,separate --out /tmp/code.json

The corpus is ingested once; each policy gets a home with a copy of that store,
builds its foundation dataset with `dataset.code = POLICY` and trains SFT from the
base under the same `train.time_budget` (so each policy spends the same compute,
the question a person on a laptop faces). Then, with one base in memory, every
adapter and the base are measured on the same rows, held out in every policy's
dataset (the split hashes whole notes, mix.split_group):

- prose: the held-out replies with their code cut out (dataset/code.py), style
  perplexity (lower: closer to how the person writes);
- code: the held-out replies' code blocks alone, perplexity (what prose_only
  gives up);
- general: the shipped general prose the gate uses for forgetting;
- answers: greedy replies to held-out prompts, and the share of them that hold
  code (a fence or a `$ ` line), against the share of the person's own replies.

Prints JSON (one record per policy, plus the base) and writes it to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def ingest_once(corpus: Path, work: Path) -> Path:
    from personaforge.config import IngestSettings
    from personaforge.ingest import ingest
    from personaforge.store import MemoryStore

    store = work / "store" / "memories.db"
    if not store.exists():
        with MemoryStore.open(store) as opened:
            ingest([corpus], opened, IngestSettings(), show_progress=False)
    return store


def train_policy(store: Path, work: Path, policy: str, base: str, budget: str) -> dict[str, Any]:
    """A home for `policy`: the store copied, its dataset, SFT from the base under the budget."""
    from personaforge.config import Settings
    from personaforge.dataset import DatasetRequest, MixPlan, build_dataset
    from personaforge.dataset.curate import counter_for_base
    from personaforge.paths import Paths
    from personaforge.store import MemoryStore
    from personaforge.train.run import TrainRequest, train

    paths = Paths(work / policy).ensure()
    if not paths.memory_store.exists():
        reader, writer = sqlite3.connect(store), sqlite3.connect(paths.memory_store)
        reader.backup(writer)
        reader.close(), writer.close()
    settings = Settings(
        model={"base": base}, dataset={"code": policy}, train={"time_budget": budget}
    )
    counter, name, _ = counter_for_base(base, paths)
    with MemoryStore.open(paths.memory_store) as opened:
        dataset = build_dataset(
            opened, settings, paths, DatasetRequest(MixPlan("foundation")), counter, name
        )
    started = time.perf_counter()
    result = train(paths, settings, TrainRequest(fresh=True, show_progress=False))
    metrics = result.card["metrics"]
    return {
        "policy": policy,
        "dataset": dataset.id,
        "code": dataset.manifest["code"],
        "train_examples": dataset.manifest["files"]["train.jsonl"]["examples"],
        "trained_examples": result.card["dataset"]["train_examples"],
        "tokens_seen": metrics["tokens_seen"],
        "seconds": round(time.perf_counter() - started, 1),
        "time": metrics.get("time"),
        "adapter": str(result.folder),
    }


def held_out(work: Path, dataset_id: str, policy: str, limit: int):
    """(prose rows, code rows, prompts, the person's code share) from the keep home's eval rows."""
    from personaforge.dataset.code import split_code

    rows = [
        json.loads(line)
        for line in (work / policy / "datasets" / dataset_id / "eval.jsonl")
        .read_text()
        .splitlines()
    ]
    rows = [r for r in rows if r["meta"]["kind"] in ("voice", "reflection", "knowledge")]
    prose_rows, code_rows, prompts, with_code = [], [], [], 0
    for row in rows[:limit]:
        prose, code = split_code(row["messages"][-1]["content"])
        with_code += bool(code)
        if len(prose.split()) >= 8:
            prose_rows.append([*row["messages"][:-1], {"role": "assistant", "content": prose}])
        if code:
            code_rows.append([*row["messages"][:-1], {"role": "assistant", "content": code}])
        prompts.append(row["messages"][:-1])
    return prose_rows, code_rows, prompts, with_code / max(len(rows[:limit]), 1)


def has_code(text: str) -> bool:
    from personaforge.dataset.code import code_blocks

    return bool(code_blocks(text)) or "```" in text


def measure(model, tokenizer, prose, code, prompts, max_length: int) -> dict[str, Any]:
    from personaforge.evaluate.measure import (
        generate_many,
        losses,
        perplexity,
        reply_tokens,
        shipped_general_texts,
        text_loss,
    )

    started = time.perf_counter()
    prose_ppl = perplexity(losses(model, [reply_tokens(tokenizer, m, max_length) for m in prose]))
    code_ppl = perplexity(losses(model, [reply_tokens(tokenizer, m, max_length) for m in code]))
    general = perplexity([text_loss(model, tokenizer, t, 512) for t in shipped_general_texts()])
    answers = generate_many(model, tokenizer, prompts, 64)
    return {
        "prose_ppl": round(prose_ppl, 3),
        "code_ppl": round(code_ppl, 3),
        "general_ppl": round(general, 3),
        "answers_with_code": round(sum(has_code(a) for a, _ in answers) / len(answers), 3),
        "sample_answer": answers[0][0][:300],
        "seconds": round(time.perf_counter() - started, 1),
    }


SECTION = "## dataset.code — code in the replies: keep, prose_only or separate"


def section(report: dict[str, Any], date: str, commit: str, command: str) -> str:
    """The RESULTS.md section, from one report."""
    held = report["held_out"]
    lines = [
        f"{SECTION} ({date})",
        "",
        f"Command: `{command}` at {commit}; base {report['base']}, `train.time_budget = "
        f"{report['budget']}` for each policy, from the base. Measured on the same held-out "
        f"rows: {held['prose_rows']} replies with their code cut out (prose), "
        f"{held['code_rows']} replies' code blocks (code), the shipped general prose, and "
        f"greedy answers to {held['prompts']} held-out prompts ({held['person_replies_with_code']:.0%} "
        "of the person's own replies there hold code).",
        "",
        "| policy | code share of reply tokens | examples trained | tokens seen | prose ppl | code ppl | general ppl | answers with code |",
        "|--------|---------------------------:|-----------------:|------------:|----------:|---------:|------------:|------------------:|",
    ]
    for name, record in report["records"].items():
        share = f"{record['code']['share_of_target_tokens']:.0%}" if "code" in record else "-"
        lines.append(
            f"| {name} | {share} | {record.get('trained_examples', '-')} | "
            f"{record.get('tokens_seen', '-')} | {record['prose_ppl']} | {record['code_ppl']} | "
            f"{record['general_ppl']} | {record['answers_with_code']:.0%} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--base", default="smollm2-135m")
    parser.add_argument("--budget", default="10m", help="train.time_budget for each policy.")
    parser.add_argument("--policies", default="keep,prose_only,separate")
    parser.add_argument("--eval-rows", type=int, default=60, help="Held-out rows measured.")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--results", type=Path, help="Also rewrite this RESULTS.md's section.")
    parser.add_argument("--from-json", type=Path, help="Only write --results from this report.")
    args = parser.parse_args()
    if args.from_json:
        report = json.loads(args.from_json.read_text())
        from results_md import write_section  # bench/results_md.py, beside this file

        write_section(
            args.results,
            SECTION,
            section(report, report["date"], report["commit"], report["command"]),
            first=True,
        )
        return
    from peft import PeftModel

    from personaforge.bases import go_offline_if_possible, load_model, load_tokenizer, resolve_base
    from personaforge.paths import Paths

    args.work.mkdir(parents=True, exist_ok=True)
    store = ingest_once(args.corpus, args.work)
    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    trained = {}
    for policy in policies:
        trained[policy] = train_policy(store, args.work, policy, args.base, args.budget)
        print(f"{policy}: {json.dumps(trained[policy])}", file=sys.stderr, flush=True)
    first = policies[0]
    prose, code, prompts, person_share = held_out(
        args.work, trained[first]["dataset"], first, args.eval_rows
    )
    ref = resolve_base(args.base, Paths(args.work / first))
    go_offline_if_possible(ref)
    tokenizer, base = load_tokenizer(ref), load_model(ref).eval()
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
        "command": " ".join(["bench/code_policy.py", *sys.argv[1:]]),
        "base": args.base,
        "budget": args.budget,
        "held_out": {
            "prose_rows": len(prose),
            "code_rows": len(code),
            "prompts": len(prompts),
            "person_replies_with_code": round(person_share, 3),
        },
        "records": {"base": measure(base, tokenizer, prose, code, prompts, 2048)},
    }
    model = None
    for policy in policies:
        if model is None:
            model = PeftModel.from_pretrained(base, trained[policy]["adapter"], adapter_name=policy)
        else:
            model.load_adapter(trained[policy]["adapter"], adapter_name=policy)
        model.set_adapter(policy)
        model.eval()
        report["records"][policy] = {
            **trained[policy],
            **measure(model, tokenizer, prose, code, prompts, 2048),
        }
        print(f"{policy}: {json.dumps(report['records'][policy])}", file=sys.stderr, flush=True)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    if args.results:
        from results_md import write_section  # bench/results_md.py, beside this file

        write_section(
            args.results,
            SECTION,
            section(report, report["date"], report["commit"], report["command"]),
            first=True,
        )


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
