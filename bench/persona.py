"""How the persona does on a trained home, as JSON: its voice ("style"), judged on what it writes.

    .venv/bin/python bench/persona.py --home /tmp/myhome --json

"style" is the gate's paired authorship score of the current version (or --version) against
the base on the held-out prompts (personaforge.evaluate.style_summary; docs/evaluation.md):
{"n", "auc", "win_rate", "p_value", "gap_closed", "gap_closed_ci"}.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--home", type=Path, required=True, help="A home with an evaluated version."
    )
    parser.add_argument("--version", help="The version to report; default: the current one.")
    parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
    args = parser.parse_args()

    from personaforge.config import load_settings
    from personaforge.evaluate import style_summary
    from personaforge.paths import Paths

    paths = Paths(args.home)
    settings = load_settings(paths).settings
    started = time.monotonic()
    report = {"style": style_summary(paths, settings, args.version)}
    report["seconds"] = {"style": round(time.monotonic() - started, 1)}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        style = report["style"]
        print(
            f"style: win rate {style['win_rate']:.0%} of {style['n']} (p = {style['p_value']:.2g}), "
            f"gap closed {style['gap_closed']} {style['gap_closed_ci']}, AUC {style['auc']}"
        )


if __name__ == "__main__":
    main()
