"""The sample person's phrase bank: parts her sentences are composed from (grammar.py syntax).

These rules hold in every month; story.py adds each month's storyline rules
(work, Tidewatch, running, Dutch, weather, what she asks herself) on top, with
the same names where a month overrides a default.

Her voice lives in the parts, not in whole sentences: short declarative
clauses, a dash where others put a semicolon, "honestly" and "fair enough",
questions she answers in the next breath ("Is that a problem? Mostly not."),
a "Net:" summary (written by Voice.summary) and a "Tomorrow:" line.

Slots every note provides (vault.note_slots): wake, late, pages, pages_cap,
clock, count, few, km, pace, minutes, seconds, hydration, hours, commute,
route, walk_place, home_city, weekday. A slot wins over a rule of the same name.

Not in here, on purpose: wikilinks and tags (the note builder appends them;
'[' is grammar syntax), "I live in ..." or "moved to ..." (the move is
life_events.py's story), and a name right beside "my sister" or "my lead"
(relationships are stated in the notes about people, see vault.py).

The phrases are data: data/sample/phrases.json, grouped by the part of the day
or the note they serve (small parts, morning, running, work, evening, thinking,
weekly review, tomorrow); RULES is the groups merged, in file order. The work
group holds every month's work; story.py adds the storyline.
"""

from __future__ import annotations

from personaforge.sample import texts

RULES: dict[str, list[str]] = {
    name: phrases
    for group in texts.load("phrases.json").values()
    for name, phrases in group.items()
}
