"""Every version of a home, as its gate measured it: facts, looping and voice, one row each.

    .venv/bin/python bench/versions.py --home .demo-home
    .venv/bin/python bench/versions.py --home .demo-home --results bench/RESULTS.md

Loads no model: each version's evaluation.json (written by `personaforge eval` and the
pipeline's evaluate stage) already holds what the gate measured on the base and on the
version, on the same questions and prompts. This is the "persona on the demo" section of
bench/RESULTS.md after `make demo` (v1 SFT, v2 DPO) and `make demo-month` (v3, v4):

- facts: accuracy on the fact questions (evaluate/knows.py) of the base, of the version
  without retrieval and of the version with the context serve gives it; superseded values
  and planted secrets stated with that context; grounded answers that repeat 12+ tokens of
  a memory they were given (recited);
- looping: the share of answers to the held-out prompts that loop, base and version;
- voice: the gate's paired authorship score (win rate and its p-value, gap closed with its
  95% interval, AUC; docs/evaluation.md);
- gate: the verdict, general-text perplexity against the base, probes.

Prints the rows as JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from personaforge.paths import Paths


def version_row(folder: Path, method: str, parent: str | None) -> dict[str, Any] | None:
    """One version's numbers from its evaluation.json; None when it was never evaluated."""
    report_path = folder / "evaluation.json"
    if not report_path.is_file():
        return None
    report = json.loads(report_path.read_text())
    base, cand = report["metrics"]["base"], report["metrics"]["candidate"]
    facts, base_facts = cand.get("facts") or {}, base.get("facts") or {}
    verdict = report["verdict"]
    return {
        "version": folder.name,
        "method": method,
        "parent": parent,
        "decision": verdict["decision"] if isinstance(verdict, dict) else verdict,
        "facts_n": facts.get("n"),
        "facts_base": base_facts.get("accuracy"),
        "facts_persona": facts.get("accuracy"),
        "facts_grounded": facts.get("grounded"),
        "superseded_stated": facts.get("grounded_superseded_stated"),
        "secrets_stated": facts.get("grounded_secrets_stated"),
        "recited": facts.get("recited"),
        "looping_base": (base.get("loops") or {}).get("share"),
        "looping": (cand.get("loops") or {}).get("share"),
        "looping_answers": (cand.get("loops") or {}).get("answers"),
        "voice": {
            key: (cand.get("voice") or {}).get(key)
            for key in ("n", "win_rate", "p_value", "gap_closed", "gap_closed_ci", "auc")
        },
        "general_ratio": cand["general_ppl"] / base["general_ppl"],
        "probes": cand["probes_passed"],
        "base_probes": base["probes_passed"],
    }


def rows_of(paths: Paths) -> list[dict[str, Any]]:
    from personaforge.registry import Registry

    with Registry.open(paths) as registry:
        versions = registry.versions()
    rows = [version_row(paths.adapters / v.name, v.method, v.parent) for v in versions]
    return [row for row in rows if row is not None]


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _voice(voice: dict[str, Any]) -> str:
    if voice.get("win_rate") is None:
        return "–"
    low, high = voice.get("gap_closed_ci") or (None, None)
    return (
        f"{voice['win_rate']:.0%} of {voice['n']} (p {voice['p_value']:.2g}), "
        f"{_num(voice['gap_closed'])} [{_num(low)}, {_num(high)}], {_num(voice['auc'])}"
    )


def markdown(rows: list[dict[str, Any]], command: str, load: list[float], about: str = "") -> str:
    lines = [
        f"## persona on the demo — every version, from the gate's reports ({time.strftime('%Y-%m-%d')})",
        "",
        f"Machine: {len(os.sched_getaffinity(0))} CPU cores, load average {load} when written. "
        f"Command: `{command}` (reads each version's evaluation.json; loads no model)."
        + (f" The home: {about}." if about else ""),
        "",
        "| version | from | gate | fact accuracy: base / persona / persona + memories | "
        "superseded | secrets | recited | looping base / version | voice: win rate (p), "
        "gap closed [95% CI], AUC | general / base | probes (base) |",
        "|:--|:--|:--|:--|--:|--:|--:|:--|:--|--:|:--|",
    ]
    for row in rows:
        origin = f"{row['method']} on {row['parent']}" if row["parent"] else row["method"]
        lines.append(
            f"| {row['version']} | {origin} | {row['decision']} | "
            f"{_num(row['facts_base'])} / {_num(row['facts_persona'])} / "
            f"**{_num(row['facts_grounded'])}** ({row['facts_n']}) | "
            f"{row['superseded_stated']} | {row['secrets_stated']} | {_share(row['recited'])} | "
            f"{_share(row['looping_base'])} / {_share(row['looping'])} "
            f"(of {row['looping_answers']}) | {_voice(row['voice'])} | "
            f"{row['general_ratio']:.3f}x | {row['probes']} ({row['base_probes']}) |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path(".demo-home"), help="A trained home.")
    parser.add_argument("--results", type=Path, help="Also rewrite this RESULTS.md's section.")
    parser.add_argument("--about", default="", help="Where the home came from (which run).")
    args = parser.parse_args(argv)
    paths = Paths(args.home.expanduser().resolve())
    if not (paths.home / "registry.db").is_file():
        print(f"error: no registry in {paths.home}; run `make demo` first", file=sys.stderr)
        return 1
    rows = rows_of(paths)
    print(json.dumps(rows, indent=2))
    if args.results:
        from results_md import write_section  # bench/results_md.py, beside this file

        command = f"python bench/versions.py --home {args.home} --results {args.results}"
        load = [round(x, 2) for x in os.getloadavg()]
        text = markdown(rows, command, load, args.about)
        write_section(args.results, "## persona on the demo", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
