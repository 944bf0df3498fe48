"""One further month of the sample person's life, in her drifting style.

`write_month(writer, month, seed, secrets)` writes, for a month after October
2026 (story.LATER_MONTHS), into an existing sample folder:

- daily notes and weekly reviews, composed like the base months' but with the
  month's style drift applied (drift.DRIFT: "Kortom:" for "Net:", Dutch words
  in her English, longer sentences) and never repeating a sentence the vault
  already holds (the Voice reads the vault first);
- a few topic notes, hand-written with the same drift;
- new ChatGPT and Claude.ai conversations (the exports are rewritten whole, as a
  new export would be) and Claude Code sessions;
- episodic memories, and in some months a correction;
- in November, a planted fake secret (the new flat's wifi password).

It returns the month's manifest entry. Nothing here is random beyond streams
seeded by (seed, month, purpose), so the same folder, seed and month give the
same bytes and mtimes.

What each month adds besides the journal is data: data/sample/months/YYYY-MM.json
(topic notes, chats, Claude Code sessions, corrections, episodes, planted
secrets), read here into the tables below.
"""

from __future__ import annotations

import calendar
import json
from datetime import date, datetime, timedelta
from typing import Any

from personaforge.sample import story, texts
from personaforge.sample.chats import (
    Turn,
    add_to_exports,
    read_conversations,
    read_session,
    write_claude_code_session,
)
from personaforge.sample.drift import DRIFT, Style, measure_style, note_sentences
from personaforge.sample.grammar import Voice, stream
from personaforge.sample.memories import compose_episode, write_records
from personaforge.sample.vault import SOURCE, grammar_for, write_daily_notes, write_weekly_reviews
from personaforge.sample.writer import SampleWriter


def month_bounds(month: str) -> tuple[str, str]:
    year, number = (int(part) for part in month.split("-"))
    last = calendar.monthrange(year, number)[1]
    return f"{month}-01", f"{month}-{last:02d}"


# -- what each month adds besides the journal ---------------------------------------------------------------

_ADDS: dict[str, dict[str, Any]] = texts.by_month("months")


def _table(key: str, read) -> dict[str, Any]:
    return {month: read(adds[key]) for month, adds in _ADDS.items() if key in adds}


# (relative path, text, mtime): topic notes she wrote that month, in that month's style.
TOPIC_NOTES: dict[str, list[tuple[str, str, datetime]]] = _table(
    "topic_notes",
    lambda notes: [
        (note["path"], note["text"], datetime.fromisoformat(note["written"])) for note in notes
    ],
)

# (title, start, turns) per export, per month: her messages drift like her notes.
CHATGPT: dict[str, list[tuple[str, str, list[Turn]]]] = _table("chatgpt", read_conversations)
CLAUDE: dict[str, list[tuple[str, str, list[Turn]]]] = _table("claude", read_conversations)
CLAUDE_CODE: dict[str, list[dict[str, Any]]] = _table(
    "claude_code", lambda sessions: [read_session(entry) for entry in sessions]
)

# (prompt, chosen, rejected): corrections she made that month.
CORRECTIONS: dict[str, list[tuple[str, str, str]]] = _table(
    "corrections", lambda pairs: [(p["prompt"], p["chosen"], p["rejected"]) for p in pairs]
)

# Fixed episodic memories per month: (type, mode, text, tags).
EPISODES: dict[str, list[tuple[str, str, str, list[str]]]] = _table(
    "episodes", lambda episodes: [(e["type"], e["mode"], e["text"], e["tags"]) for e in episodes]
)

# ISO day -> (kind, secret name, the sentence that holds it).
PLANTS: dict[str, tuple[str, str, str]] = {
    day: (plant["kind"], plant["secret"], plant["sentence"])
    for adds in _ADDS.values()
    for day, plant in adds.get("plants", {}).items()
}

COMPOSED_EPISODES = (("observation", 6), ("reflection", 3), ("project", 1))


# -- writing ------------------------------------------------------------------------------------------------


def _vault_voice(writer: SampleWriter, month: str, seed: int) -> Voice:
    """A voice that has read the vault so far (so it repeats none of it) and writes in the month's style."""
    first, _ = month_bounds(month)
    voice = Voice(grammar_for(first), stream(seed, month, "vault"), style=Style(DRIFT[month]))
    for path in sorted((writer.root / "vault").rglob("*.md")):
        try:
            voice.remember("\n".join(note_sentences(path.read_text(encoding="utf-8"))))
        except UnicodeDecodeError:
            continue
    return voice


def _planter(writer: SampleWriter, secrets: dict[str, str]):
    def plant(day: date, text: str, rel: str) -> str:
        if day.isoformat() not in PLANTS:
            return text
        kind, name, sentence = PLANTS[day.isoformat()]
        value = writer.plant(kind, secrets[name], rel)
        return text + "\n" + sentence.format(value=value) + "\n"

    return plant


def _episodes(writer: SampleWriter, month: str, seed: int, voice: Voice) -> list[str]:
    rng = stream(seed, month, "episodic")
    episodic = Voice(voice.grammar, rng, style=Style(DRIFT[month]), seen=voice.seen)
    first, last = month_bounds(month)
    start = datetime.fromisoformat(first + "T07:00:00")
    span = (date.fromisoformat(last) - date.fromisoformat(first)).days + 1

    def moment() -> datetime:
        return start + timedelta(days=rng.randrange(span), minutes=rng.randrange(14 * 60))

    records = []
    for kind, count in COMPOSED_EPISODES:
        for _ in range(count):
            when = moment()
            records.append((when, compose_episode(kind, when, episodic)))
    for kind, mode, text, tags in EPISODES.get(month, []):
        records.append((moment(), (kind, mode, text, None, tags, [])))
    rng.shuffle(records)
    return write_records(writer, records)


def _corrections(writer: SampleWriter, month: str, when: datetime) -> None:
    pairs = CORRECTIONS.get(month, [])
    if not pairs:
        return
    rel = "feedback/corrections.jsonl"
    lines = (writer.root / rel).read_text(encoding="utf-8")
    lines += "".join(
        json.dumps({"prompt": q, "chosen": c, "rejected": r}, ensure_ascii=False) + "\n"
        for q, c, r in pairs
    )
    writer.write(rel, lines, "feedback", when)


def write_month(
    writer: SampleWriter, month: str, seed: int, secrets: dict[str, str]
) -> dict[str, Any]:
    """Write `month` into the sample folder behind `writer`; returns its manifest entry."""
    first, last = month_bounds(month)
    end = datetime.fromisoformat(last + "T23:00:00")
    voice = _vault_voice(writer, month, seed)
    daily = write_daily_notes(
        writer, voice, first, last, stream(seed, month, "skip"), _planter(writer, secrets), PLANTS
    )
    write_weekly_reviews(writer, voice, first, last)
    for rel, text, when in TOPIC_NOTES.get(month, []):
        writer.write(rel, text, SOURCE, when)
    rng = stream(seed, month, "chats")
    add_to_exports(writer, rng, CHATGPT.get(month, []), CLAUDE.get(month, []), end)
    for session in CLAUDE_CODE.get(month, []):
        write_claude_code_session(writer, session, rng, secrets)
    _episodes(writer, month, seed, voice)
    _corrections(writer, month, end)
    notes = [(writer.root / rel).read_text(encoding="utf-8") for rel in daily]
    return {
        "month": month,
        "period": {"start": first, "end": last},
        "storyline": dict(story.MONTHS[month].summary),
        "drift": DRIFT[month].as_dict(),
        "measured": measure_style(notes),
        "daily_notes": daily,
        "files": {source: sorted(files) for source, files in sorted(writer.files.items())},
        "repeated_sentences": voice.repeats,
    }
