"""bench/RESULTS.md, one section per benchmark: the one place a bench rewrites its section.

Imported by the bench scripts beside this file (`python bench/NAME.py` puts bench/ first on
sys.path) when they are asked to write their results (`--results`).
"""

from __future__ import annotations

from pathlib import Path


def write_section(results: Path, heading: str, text: str, first: bool = False) -> None:
    """Replace the section of `results` that starts with `heading` (up to the next `## `) by
    `text`; a section not there yet goes at the end, or before every other with `first`."""
    content = results.read_text()
    start = content.find("\n" + heading)
    if start < 0:
        if first:
            top = content.find("\n## ")
            results.write_text(content[: top + 1] + text + "\n" + content[top + 1 :])
        else:
            results.write_text(content.rstrip("\n") + "\n\n" + text)
        return
    end = content.find("\n## ", start + 1)
    results.write_text(content[: start + 1] + text + (content[end:] if end >= 0 else "\n"))
