"""Facts about the sample person that change during the sample period.

A profile that only ever sees stable facts cannot show that it notices a
change. So Maren moves: she has lived in Rotterdam for six years, starts
looking at flats in Delft in July, signs in August and moves on Saturday
26 September 2026. Her journal says so before and after, in her own voice,
and a topic note looks back on it.

`write_life_events(writer)` runs after the vault is written. It adds a
`## Home` section to the daily notes of the dates below (or writes a short
daily note when she skipped that day) and writes `vault/Home/Moving to Delft.md`.
Nothing here is random: the same call always writes the same bytes, and the
other sample modules' random streams are untouched.

`FACT_HISTORY` is the ground truth for checks (the manifest's `fact_history`):
each entry holds a value from `from` until `until` (ISO dates; None means
"before the sample period" or "still true at its end").
"""

from __future__ import annotations

import os
from datetime import date, datetime, timezone

from personaforge.sample.writer import SampleWriter

SOURCE = "vault"
MOVE_DAY = "2026-09-26"

FACT_HISTORY: list[dict[str, str | None]] = [
    {"key": "home_city", "value": "Rotterdam", "from": None, "until": MOVE_DAY},
    {"key": "home_city", "value": "Delft", "from": MOVE_DAY, "until": None},
]

# (date, what she wrote that day about home). Before the move she lives in
# Rotterdam and looks at Delft; from the move day on she lives in Delft.
HOME_LINES: list[tuple[str, str]] = [
    (
        "2026-06-18",
        "Letter from the landlord: rent up twelve percent from October. I have lived in Rotterdam "
        "for six years and this is the first time I opened Funda for another city.",
    ),
    (
        "2026-07-16",
        "Looked at flats in Delft on Funda. Smaller, quieter, twenty minutes to the office by train. "
        "Is that a reason to leave? Maybe. I live in Rotterdam for the river, not for the landlord.",
    ),
    (
        "2026-08-27",
        "Viewing in Delft after work: a flat above a bakery on the Oude Delft. Said yes on the spot, "
        "which is not like me. Keys on 26 September.",
    ),
    (
        "2026-09-07",
        "Packing. Six years fit in thirty-one boxes, most of them books. Gus gets a box of his own.",
    ),
    (
        "2026-09-21",
        "Last week living in Rotterdam. Ran the Maas loop once more to say goodbye to the cranes.",
    ),
    (
        MOVE_DAY,
        "Moved to Delft today. Jonas drove the van, Ingrid called twice to ask about the view, "
        "Gus travelled on my lap. Net: home, different.",
    ),
    (
        "2026-10-01",
        "First week living in Delft. The train to Rotterdam takes twenty minutes — that is where "
        "the Dutch homework happens now.",
    ),
    (
        "2026-10-12",
        "I live in Delft now, and the canal is quieter than the Maas. Ran along the Schie instead. "
        "Shorter, flatter, mine.",
    ),
]

HOME_NOTE = (
    "vault/Home/Moving to Delft.md",
    "---\ntags: [home]\ncreated: 2026-09-27\n---\n"
    "# Moving to Delft\n\n## Rotterdam\nI lived in Rotterdam for six years: the Maas, the cranes, the wind deciding "
    "the route. The rent went up twelve percent and the flat was never quiet.\n\n"
    "## Delft\nMoved to Delft on 26 September. A flat above a bakery, twenty minutes from the office by "
    "train. Smaller, quieter, mine. The bakery starts at five, which is fine — so do I, almost.\n\n"
    "## What moving taught me\nPack the books first and the kettle last. Is moving worth it for quiet? "
    "Yes. Mostly. #reflection\n",
    datetime(2026, 10, 4, 20, 0),
)
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _daily_path(day: date) -> str:
    return f"vault/Journal/{day.year}/{day.month:02d}/{day.isoformat()}.md"


def _with_home_section(note: str, line: str) -> str:
    """The note with a `## Home` section before its closing `Tomorrow:` line (or at the end)."""
    section = f"## Home\n{line}\n\n"
    cut = note.rfind("\nTomorrow:")
    if cut == -1:
        return note.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
    return note[: cut + 1] + section + note[cut + 1 :]


def _new_daily_note(day: date, line: str) -> str:
    heading = f"# {WEEKDAYS[day.weekday()]} {day.day} {day.strftime('%B')} {day.year}"
    return f"---\ndate: {day.isoformat()}\ntags: [daily, home]\n---\n{heading}\n\n## Home\n{line}\n"


def _rewrite_keeping_mtime(writer: SampleWriter, relative: str, text: str) -> None:
    """Replace a file the vault already wrote; its mtime (the note's date) stays as it was."""
    path = writer.root / relative
    stat = path.stat()
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def write_life_events(writer: SampleWriter) -> list[dict[str, str | None]]:
    """Write the move into the vault; returns the fact history for the manifest."""
    for iso, line in HOME_LINES:
        day = date.fromisoformat(iso)
        relative = _daily_path(day)
        path = writer.root / relative
        if path.exists():
            _rewrite_keeping_mtime(
                writer, relative, _with_home_section(path.read_text(encoding="utf-8"), line)
            )
        else:  # she skipped the journal that day; the move still gets its line
            when = datetime(day.year, day.month, day.day, 22, 0, tzinfo=timezone.utc)
            writer.write(relative, _new_daily_note(day, line), SOURCE, when)
    relative, text, when = HOME_NOTE
    writer.write(relative, text, SOURCE, when)
    return [dict(entry) for entry in FACT_HISTORY]
