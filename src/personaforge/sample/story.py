"""The storyline, month by month: what Maren's days are about, and the days that matter.

Each `Month` holds grammar rules for that month (work, Tidewatch, running,
Dutch, weather, the people she talks to; they sit on top of phrases.RULES) and
dated `events`: fixed sentences written on one day only (the cutover night,
the exam, the race). A fact in persona.FACTS is stated by an event on the day
it happened, so the notes say it in her words, once, on the right date.

The months themselves are data: data/sample/story/YYYY-MM.json, one file per
month (its `season` names its weather in story/seasons.json; homes.json holds
what her commute, runs and walks look like in each city she lives in). This
file reads them into `Month`s and answers questions about a day.

June to October 2026 are the base months that write_sample_data writes.
November 2026 to April 2027 continue the story for write_sample_month: Tidewatch
after v0.1, a winter of running in Delft, the Dutch B2 course, a new project at
Kestrel Freight (the customs declarations service). How her style drifts in
those months is drift.py's business, not this file's.

Events may hold wikilinks and tags (they are not grammar phrases); phrases may not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from personaforge.sample import texts

# Where she lives decides her commute, runs and walks. life_events.py moves her
# from Rotterdam to Delft on this day (its MOVE_DAY; tests check they agree).
MOVE_DAY = "2026-09-26"
HOME_RULES: dict[str, dict[str, list[str]]] = texts.load("story", "homes.json")


@dataclass(frozen=True)
class Month:
    key: str  # "2026-06"
    # One line per thread (work, project, running, dutch): for reviews and the manifest.
    summary: dict[str, str]
    rules: dict[str, list[str]]
    # ISO day -> [(section, text)]: fixed sentences written on that day only.
    events: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # (first day, last day) she is in Bergen: no work, no class.
    away: tuple[tuple[str, str], ...] = ()
    # (first day, rules): from that day on these rules replace the month's (after the
    # cutover, the exam, the race, a day's writing is about what came after it).
    after: tuple[tuple[str, dict[str, list[str]]], ...] = ()
    long_run_km: tuple[int, int] = (8, 12)
    dutch_class: bool = True


SEASONS: dict[str, list[str]] = texts.load("story", "seasons.json")  # the weather rule


def _read_month(key: str, data: dict[str, Any]) -> Month:
    return Month(
        key,
        data["summary"],
        {"weather": SEASONS[data["season"]], **data["rules"]},
        events={
            day: [(section, text) for section, text in entries]
            for day, entries in data.get("events", {}).items()
        },
        away=tuple((first, last) for first, last in data.get("away", [])),
        after=tuple((first, rules) for first, rules in data.get("after", [])),
        long_run_km=tuple(data["long_run_km"]),
        dutch_class=data.get("dutch_class", True),
    )


MONTHS: dict[str, Month] = {
    key: _read_month(key, data) for key, data in texts.by_month("story").items()
}

BASE_MONTHS = ["2026-06", "2026-07", "2026-08", "2026-09", "2026-10"]
LATER_MONTHS = [key for key in MONTHS if key not in BASE_MONTHS]


def month_of(iso_day: str) -> Month:
    return MONTHS[iso_day[:7]]


def rules_on(iso_day: str) -> tuple[int, dict[str, list[str]]]:
    """(how many `after` overrides hold on this day, the month's rules with them applied)."""
    month = month_of(iso_day)
    active = [rules for first, rules in month.after if first <= iso_day]
    merged = dict(month.rules)
    for rules in active:
        merged.update(rules)
    return len(active), merged


def is_away(iso_day: str) -> bool:
    return any(first <= iso_day <= last for first, last in month_of(iso_day).away)
