"""One home for every number: a measured figure in README.md or docs/ must be in bench/RESULTS.md.

A figure here is a number with the unit of a measurement: a ratio (0.43x), a percentage,
a duration (46 s, 19.1 min) or a speed (tokens/s). Left out, because they are settings
or limits rather than measurements: text in backticks (settings, commands, quoted output),
a figure after a comparison ("under 25 minutes", "at most 10%", "< 5%"), and any value
that is a default in the settings schema. What is left must appear in RESULTS.md with
the same number and unit, so a copied figure cannot drift from its measurement unseen;
better still, the doc links to RESULTS.md instead of copying.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RESULTS = ROOT / "bench" / "RESULTS.md"

FIGURE = re.compile(
    r"(?<![\w.\-])(\d[\d,]*(?:\.\d+)?)\s?(x|×|%|s|min|minutes|seconds|h|hours|tokens/s)(?![\w/])"
)
UNITS = {"×": "x", "minutes": "min", "seconds": "s", "hours": "h"}
# A figure right after one of these is a target or a limit, not a measurement.
BOUND = re.compile(
    r"(?:<|>|<=|>=|≤|≥|under|over|below|above|at most|at least|within|up to|target|"
    r"budget(?: of)?|more than|less than|every|per|each)\s*(?:about\s+)?[\s(]*$",
    re.IGNORECASE,
)
# Fenced blocks, inline code spans, and a quoted example value ('2h').
CODE = re.compile(r"```.*?```|`[^`]*`|'[\w.]+'", re.DOTALL)
# Figures that are advice or conventions, not measurements, each with why.
NOT_MEASURED = {
    "2x rank": "lora_alpha's rule of thumb (configuration.md, from the settings schema)",
}


def figures(text: str) -> list[tuple[str, str, str, int]]:
    """(number, unit, as written, line) for each measured-looking figure outside backticks
    (a code span may wrap onto the next line)."""
    for phrase in NOT_MEASURED:
        text = text.replace(phrase, " " * len(phrase))
    text = CODE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    found = []
    for match in FIGURE.finditer(text):
        if BOUND.search(text[max(0, match.start() - 24) : match.start()]):
            continue
        number = match.group(1).replace(",", "")
        line = text.count("\n", 0, match.start()) + 1
        found.append((number, UNITS.get(match.group(2), match.group(2)), match.group(0), line))
    return found


def setting_values() -> set[str]:
    """Every numeric default in the settings schema, as written in docs (0.02 -> 2%)."""
    from personaforge.config import Settings

    values: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            for child in node.values():
                walk(child)
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            values.add(f"{node:g}")
            if 0 < node < 1:
                values.add(f"{node * 100:g}")

    walk(Settings().model_dump())
    return values


def in_results() -> set[tuple[str, str]]:
    return {(number, unit) for number, unit, _, _ in figures(RESULTS.read_text())}


def copied_figures(path: Path, measured: set[tuple[str, str]], settings: set[str]) -> list[str]:
    return [
        f"{path.name}:{line}: {written!r}"
        for value, unit, written, line in figures(path.read_text())
        if (value, unit) not in measured and value not in settings
    ]


def test_the_figure_finder_sees_measurements_and_skips_settings_and_limits():
    assert [f[2] for f in figures("style 0.43x the base, 19.1 min, 1,567 tokens/s")] == [
        "0.43x",
        "19.1 min",
        "1,567 tokens/s",
    ]
    assert figures("stay under 25 minutes; at most `gate.x` (10%) or < 5%; `46 s`") == []


@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_docs_copy_no_measured_figure_that_results_does_not_hold(path):
    assert copied_figures(path, in_results(), setting_values()) == []


def test_a_figure_missing_from_results_is_flagged(tmp_path):
    """The check can say no: a made-up measurement in a doc is named with its line."""
    doc = tmp_path / "doc.md"
    doc.write_text("Training took 123.4 min and reached 0.0123x the base.\n")
    assert copied_figures(doc, in_results(), setting_values()) == [
        "doc.md:1: '123.4 min'",
        "doc.md:1: '0.0123x'",
    ]
