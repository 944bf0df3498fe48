"""Which decoding settings keep a persona's answers from looping, without losing its voice?

    .venv/bin/python bench/decoding.py --home /tmp/myhome --json
    .venv/bin/python bench/decoding.py --home /tmp/myhome --results bench/RESULTS.md

On a trained home (the smollm2 demo's), the base and the current version answer the
held-out prompts (the dataset's eval split, up to --prompts) under each variant below,
and each variant gets the gate's own numbers: the looping share (a word 4-gram 3+ times
in an answer), distinct-2, and the paired voice score of persona over base
(evaluate/voice.py; one classifier for all variants). Sampled variants are seeded
(decode.seed), so a rerun gives the same numbers.

Prints JSON; --results also rewrites the "decoding" section of a RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
from pathlib import Path

from personaforge.config import DecodeSettings, load_settings
from personaforge.evaluate import base_general_answers, voice_texts
from personaforge.evaluate.loops import loop_stats
from personaforge.evaluate.measure import generate_many
from personaforge.evaluate.voice import fit_voice, paired_voice
from personaforge.paths import Paths

# (name, decode settings): greedy as the gate decoded before, each remedy alone, then together.
# Most informative first: on a busy 2-core machine one variant can take minutes, and the
# report is saved after each one, so a run cut short still holds the comparisons that matter.
VARIANTS: list[tuple[str, dict]] = [
    ("greedy", {"temperature": 0, "repetition_penalty": 1.0}),
    (
        "T 0.7, top-p 0.9, repetition 1.1",
        {"temperature": 0.7, "top_p": 0.9, "repetition_penalty": 1.1},
    ),
    ("greedy, repetition 1.2", {"temperature": 0, "repetition_penalty": 1.2}),
    ("T 0.7, top-p 0.9", {"temperature": 0.7, "top_p": 0.9, "repetition_penalty": 1.0}),
    ("greedy, repetition 1.1", {"temperature": 0, "repetition_penalty": 1.1}),
    (
        "T 0.7, top-p 0.9, repetition 1.2",
        {"temperature": 0.7, "top_p": 0.9, "repetition_penalty": 1.2},
    ),
    (
        "greedy, no-repeat 3-gram",
        {"temperature": 0, "repetition_penalty": 1.0, "no_repeat_ngram_size": 3},
    ),
    ("greedy, repetition 1.3", {"temperature": 0, "repetition_penalty": 1.3}),
    (
        "T 1.0, top-p 0.95, repetition 1.1",
        {"temperature": 1.0, "top_p": 0.95, "repetition_penalty": 1.1},
    ),
]


COMMAND = ".venv/bin/python bench/decoding.py --home HOME --save report.json"


def measure_variant(model, tokenizer, chats, real, classifier, decoding, max_new_tokens):
    started = time.monotonic()
    persona = [
        t for t, _ in generate_many(model, tokenizer, chats, max_new_tokens, decoding=decoding)
    ]
    with model.disable_adapter():
        base = [
            t for t, _ in generate_many(model, tokenizer, chats, max_new_tokens, decoding=decoding)
        ]
    voice = paired_voice(classifier, real, persona, base, decoding.seed)
    loops = {"base": loop_stats(base).as_dict(), "persona": loop_stats(persona).as_dict()}
    return {
        "looping": {name: stats["share"] for name, stats in loops.items()},
        "distinct_2": {name: stats["distinct_2"] for name, stats in loops.items()},
        "mean_words": {
            name: round(sum(len(t.split()) for t in texts) / len(texts), 1)
            for name, texts in (("base", base), ("persona", persona))
        },
        "voice": voice.style(),
        "worst_persona": loops["persona"]["worst"][:1],
        "first_answers": {"base": base[:2], "persona": persona[:2]},
        "seconds": round(time.monotonic() - started, 1),
    }


def run(
    home: Path, prompts: int, max_new_tokens: int, only: list[str] | None, save: Path | None
) -> dict:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from personaforge.bases import base_fingerprint, quiet_libraries, resolve_base
    from personaforge.registry import Registry, read_card

    quiet_libraries()
    paths = Paths(home)
    settings = load_settings(paths).settings
    with Registry.open(paths) as registry:
        version = registry.current()
    if version is None:
        raise SystemExit(f"{home} has no promoted version to measure")
    folder = paths.adapters / version
    card = read_card(folder)
    ref = resolve_base(card["base"]["name"], paths, card["base"].get("revision"))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(ref.location).eval()
    model = PeftModel.from_pretrained(model, str(folder)).eval()
    dataset = card["dataset"]["id"]
    rows = [
        json.loads(line)
        for line in (paths.datasets / dataset / "eval.jsonl").read_text().splitlines()
    ]
    asked = rows[:prompts]
    chats = [row["messages"][:-1] for row in asked]
    real = [row["messages"][-1]["content"] for row in asked]
    started = time.monotonic()
    with model.disable_adapter():
        general = base_general_answers(paths, model, tokenizer, base_fingerprint(ref))
    person, others = voice_texts(paths, dataset, general)
    classifier = fit_voice(
        person, others, [r["messages"][-1]["content"] for r in rows], settings.decode.seed
    )
    fit_seconds = round(time.monotonic() - started, 1)
    results: list[dict] = []
    report = {
        "date": datetime.date.today().isoformat(),
        "home": str(home),
        "base": card["base"]["name"],
        "version": version,
        "method": card.get("method"),
        "prompts": len(asked),
        "max_new_tokens": max_new_tokens,
        "seed": settings.decode.seed,
        "classifier": {
            "auc": classifier.auc,
            "person_chunks": classifier.person_chunks,
            "other_chunks": classifier.other_chunks,
            "heldout_chunks": list(classifier.heldout_chunks),
            "fit_seconds": fit_seconds,
        },
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores, CPU, "
        f"load average {os.getloadavg()[0]:.1f} at the start",
        "variants": results,
    }
    for name, values in VARIANTS:
        if only and name not in only:
            continue
        decoding = DecodeSettings(**{**settings.decode.model_dump(), **values})
        measured = measure_variant(
            model, tokenizer, chats, real, classifier, decoding, max_new_tokens
        )
        results.append({"name": name, "settings": values, **measured})
        if save:
            save.write_text(json.dumps(report, indent=2) + "\n")
        print(
            f"{name}: {json.dumps({k: measured[k] for k in ('looping', 'voice', 'seconds')})}",
            flush=True,
        )
    return report


def markdown(report: dict, command: str) -> str:
    lines = [
        f"## decoding — looping, distinct-2 and voice per decoding setting ({report['date']})",
        "",
        f"Machine: {report['machine']}. Command: `{command}`. Home: the `make demo` home "
        f"(base `{report['base']}`, persona {report['version']} ({report['method']})); "
        f"{report['prompts']} held-out prompts, {report['max_new_tokens']} new tokens, seed "
        f"{report['seed']}. Voice classifier: AUC {report['classifier']['auc']} "
        f"({report['classifier']['person_chunks']} person / {report['classifier']['other_chunks']} "
        f"not-person chunks, fitted in {report['classifier']['fit_seconds']} s).",
        "",
        "| decoding | looping base | looping persona | distinct-2 base | distinct-2 persona "
        "| voice win rate (p) | gap closed [95% CI] | s |",
        "|:--|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for v in report["variants"]:
        voice = v["voice"]
        ci = voice["gap_closed_ci"]
        gap = "-" if voice["gap_closed"] is None else f"{voice['gap_closed']:.2f}"
        if ci:
            gap += f" [{ci[0]:.2f}, {ci[1]:.2f}]"
        lines.append(
            f"| {v['name']} | {v['looping']['base']:.0%} | {v['looping']['persona']:.0%} | "
            f"{v['distinct_2']['base']:.3f} | {v['distinct_2']['persona']:.3f} | "
            f"{voice['win_rate']:.0%} ({_p(voice['p_value'])}) | {gap} | {v['seconds']} |"
        )
    return "\n".join(lines) + "\n"


def _p(value: float) -> str:
    """Reports before 3-significant-digit p-values rounded to 6 decimals: 0 means < 1e-6."""
    return "< 1e-6" if value == 0 else f"{value:.2g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="A home with a promoted version.")
    parser.add_argument("--prompts", type=int, default=40)
    parser.add_argument("--max-new-tokens", type=int, default=40)
    parser.add_argument("--only", action="append", help="Measure only this variant (repeatable).")
    parser.add_argument("--json", action="store_true", help="Print the whole report as JSON.")
    parser.add_argument("--results", type=Path, help="Also rewrite this RESULTS.md's section.")
    parser.add_argument(
        "--save", type=Path, help="Also write the JSON report here, after every variant."
    )
    parser.add_argument(
        "--from-json", type=Path, help="Write --results from a saved report, measuring nothing."
    )
    args = parser.parse_args()
    if args.from_json:
        from results_md import write_section  # bench/results_md.py, beside this file

        write_section(
            args.results, "## decoding", markdown(json.loads(args.from_json.read_text()), COMMAND)
        )
        return
    report = run(args.home, args.prompts, args.max_new_tokens, args.only, args.save)
    if args.json:
        print(json.dumps(report, indent=2))
    if args.results:
        from results_md import write_section  # bench/results_md.py, beside this file

        write_section(args.results, "## decoding", markdown(report, COMMAND))


if __name__ == "__main__":
    main()
