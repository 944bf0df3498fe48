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
"""

from __future__ import annotations

import calendar
import json
from datetime import date, datetime, timedelta
from typing import Any

from personaforge.sample import story
from personaforge.sample.chats import Turn, add_to_exports, write_claude_code_session
from personaforge.sample.drift import DRIFT, Style, measure_style, note_sentences
from personaforge.sample.grammar import Voice, stream
from personaforge.sample.memories import compose_episode, write_records
from personaforge.sample.vault import SOURCE, grammar_for, write_daily_notes, write_weekly_reviews
from personaforge.sample.writer import SampleWriter

TIDEWATCH_PROJECT = {"project": "-home-maren-code-tidewatch", "cwd": "/home/maren/code/tidewatch"}


def month_bounds(month: str) -> tuple[str, str]:
    year, number = (int(part) for part in month.split("-"))
    last = calendar.monthrange(year, number)[1]
    return f"{month}-01", f"{month}-{last:02d}"


# -- what each month adds besides the journal ---------------------------------------------------------------


# (relative path, text, mtime): topic notes she wrote that month, in that month's style.
TOPIC_NOTES: dict[str, list[tuple[str, str, datetime]]] = {
    "2026-11": [
        (
            "vault/Projects/Customs service.md",
            "---\ntags: [work, kestrel/customs]\ncreated: 2026-11-02\n---\n# Customs service\n\n"
            "## Scope\nA service that reads customs declarations, checks them against the EU rules and tells "
            "the terminal what is missing. Tom leads. I own the parser.\n\n"
            "## Plan\nParser first, with a test per declaration type. Then the rules. Then one terminal, "
            "then all of them. Estimate: 10 to 16 weeks, with the assumptions written down.\n\n"
            "## Risks\nThe spec contradicts itself. Old declarations use three date formats. "
            "Net: a parser problem before it is a service problem.\n",
            datetime(2026, 11, 20, 21, 0),
        ),
        (
            "vault/Ideas/Back to writing code.md",
            "---\ntags: [idea, reflection]\ncreated: 2026-11-22\n---\n# Back to writing code\n\n"
            "One season of leading was the deal, and I kept it. Writing code again is quieter, and eigenlijk "
            "I think better with a diff in front of me than with a calendar. Is leading over? No. "
            "It is paused, in writing. Kortom: code now, lead later. #reflection\n",
            datetime(2026, 11, 22, 20, 0),
        ),
    ],
    "2026-12": [
        (
            "vault/Areas/Winter running.md",
            "---\ntags: [area, running]\ncreated: 2026-12-06\n---\n# Winter running\n\n"
            "## Rules\nA headlamp and gloves from November, because the mornings are dark until eight and the "
            "Schie path has no lights. Easy means easy, even when it is cold. Ice on the bridges means walking.\n\n"
            "## What works\nRunning at lunch when the mornings are too dark, and a short run is still a run, "
            "toch. Kortom: consistent, not heroic.\n",
            datetime(2026, 12, 6, 18, 0),
        ),
        (
            "vault/Ideas/2026 looking back.md",
            "---\ntags: [idea, reflection]\ncreated: 2026-12-30\n---\n# 2026, looking back\n\n"
            "A migration landed inside its range, a half marathon in 1:47, Tidewatch shipped and found users "
            "I have never met, and I moved to Delft, which was not a plan in January and is home now. "
            "Looking back, the good parts of the year all started as a page of plain text, and the bad parts "
            "started as a yes in a meeting. Kortom: write it down first, gewoon. #reflection\n",
            datetime(2026, 12, 30, 17, 0),
        ),
    ],
    "2027-01": [
        (
            "vault/Decisions/2027-01-10 Current arrows in Tidewatch.md",
            "---\ndate: 2027-01-10\ntags: [decision, tidewatch]\n---\n# Current arrows in Tidewatch\n\n"
            "## Context\nJonas asked for current arrows in September, and the beta users asked again in "
            "November, because the next slack water tells you when, but not which way the water will push you.\n\n"
            "## Decision\nArrows on the main screen, computed from the same constituents, with no new data "
            "source and no account, because the app stays offline and small. #decision\n\n"
            "## Consequences\nThe main screen gets busier, so the arrow is one colour and one size. "
            "Kortom: one more number, still one screen.\n",
            datetime(2027, 1, 10, 21, 0),
        ),
        (
            "vault/Ideas/Mixing languages.md",
            "---\ntags: [idea, dutch]\ncreated: 2027-01-16\n---\n# Mixing languages\n\n"
            "Dutch words are creeping into my English notes, and I have decided to let them, because 'gezellig' "
            "and 'lekker' say things my English does not, and because the journal is for me and not for a "
            "teacher. Norwegian stays for Ingrid, Dutch moves into the kitchen and the trein, and English keeps "
            "the work. Kortom: three languages, one voice, and nobody grading it. #insight\n",
            datetime(2027, 1, 16, 20, 0),
        ),
    ],
    "2027-02": [
        (
            "vault/Talks/Ranges, not numbers.md",
            "---\ntags: [talk, work]\ncreated: 2027-02-08\n---\n# Ranges, not numbers\n\n"
            "## Outline\nThe routing migration and the one number Priya asked for, the range I gave her instead "
            "and the three assumptions behind it, what changed while we worked, and what I would do "
            "differently, which is to say no earlier and in writing.\n\n"
            "## The point\nA single number is heard as a promise and a range is heard as a forecast, so people "
            "argue with the assumptions instead of with you, which is eigenlijk the useful argument. "
            "Kortom: give ranges, write the assumptions down, and revisit them when they change.\n",
            datetime(2027, 2, 19, 21, 0),
        ),
        (
            "vault/Areas/Learning Dutch B2.md",
            "---\ntags: [area, dutch]\ncreated: 2027-02-12\n---\n# Learning Dutch B2\n\n"
            "The B2 course runs on Monday and Wednesday evenings until April, and the exam is in April, "
            "so February is for speaking, which is the part I avoid. The baker downstairs corrects my "
            "articles every morning, kindly and without mercy, and it helps more than the homework. "
            "Kortom: speak first, be right later, and buy the bread either way. #dutch/progress\n",
            datetime(2027, 2, 12, 20, 0),
        ),
    ],
    "2027-03": [
        (
            "vault/Decisions/2027-03-12 Lead the next project.md",
            "---\ndate: 2027-03-12\ntags: [decision, work]\n---\n# Lead the next project\n\n"
            "Priya asked whether I want to lead the next project at Kestrel Freight, and after a week of "
            "thinking about it on long runs I said yes, for one season, with a written scope, an end date "
            "and two mornings a week without meetings, because that is exactly what made the cutover work. "
            "Ultimately decided that leading is worth it when it is bounded, and not worth it when it is "
            "a title. Kortom: yes, in writing, with an end. #decision\n",
            datetime(2027, 3, 12, 22, 0),
        ),
        (
            "vault/Areas/Paddling season.md",
            "---\ntags: [area, kayak]\ncreated: 2027-03-21\n---\n# Paddling season\n\n"
            "The first paddle of the year was on the Oosterschelde with Jonas, cold water and a bright sky, "
            "and Tidewatch was off by a few minutes at slack water, which is good enough for a kayak and "
            "not good enough for me. Drysuit until May, tow line always, and the tide table checked "
            "the evening before, gewoon. Kortom: the season is open and the app is ready for it.\n",
            datetime(2027, 3, 21, 19, 0),
        ),
    ],
}

# (title, start, turns) per export, per month: her messages drift like her notes.
CHATGPT: dict[str, list[tuple[str, str, list[Turn]]]] = {
    "2026-11": [
        (
            "B2 formal letters",
            "2026-11-12T20:40:00",
            [
                (
                    "B2 Dutch: formal letters. Give me the standard opening and closing lines, nothing else.",
                    "Opening: 'Geachte heer/mevrouw,' or 'Geachte heer Jansen,'. A common first line is "
                    "'Naar aanleiding van ...' or 'Hierbij wil ik ...'. Closing: 'Met vriendelijke groet,' "
                    "followed by your name.",
                ),
                (
                    "'Naar aanleiding van' is the one my teacher loves. Is 'Hoogachtend' too stiff?",
                    "'Hoogachtend' is very formal and a little old-fashioned; 'Met vriendelijke groet' is the "
                    "safe choice for almost every letter.",
                ),
                (
                    "Fair enough. Met vriendelijke groet it is. Net: three phrases, one letter a week.",
                    "That is a good rhythm: one letter a week, and reuse the same three phrases until they are "
                    "automatic.",
                ),
            ],
        )
    ],
    "2026-12": [
        (
            "Sinterklaas poem rhymes",
            "2026-12-02T21:10:00",
            [
                (
                    "I drew Sam for the Sinterklaas poem at work. I only need Dutch rhymes for 'code', 'test' "
                    "and 'koffie'. Short list, no poem — I want to write it myself.",
                    "code: mode, bode, node. test: best, rest, pest. koffie is hard; 'toffe' is a near rhyme "
                    "that works in a light poem.",
                ),
                (
                    "Lekker. 'Toffe' and 'koffie' is close enough for a poem read at a borrel. Kortom: I will "
                    "write it tonight and read it on Friday.",
                    "Sounds like a plan. A light, affectionate tone usually works best for Sinterklaas poems.",
                ),
            ],
        )
    ],
    "2027-01": [
        (
            "Spring half marathon plan",
            "2027-01-06T07:20:00",
            [
                (
                    "I have a spring half in May and ran 1:47 in October on three runs a week, so give me "
                    "the same shape of plan with one change, and tell me which change and why.",
                    "Keep Tuesday easy, Thursday quality and Sunday long. The one change: make Thursday a tempo "
                    "run at goal pace in longer blocks, building from 2 x 15 to 2 x 25 minutes, instead of "
                    "short intervals.",
                ),
                (
                    "Prima — tempo it is, because that is where I lost time after 15 km last time, and "
                    "because the winter wind in Delft makes short intervals miserable anyway. Kortom: same "
                    "plan, longer Thursdays.",
                    "That matches the weakness you describe. Add a lighter week every fourth week, as before.",
                ),
            ],
        )
    ],
    "2027-02": [],
    "2027-03": [
        (
            "Scope for leading a project",
            "2027-03-08T21:00:00",
            [
                (
                    "My lead asked if I want to lead the next project, and I said I would answer in writing "
                    "within a week, because last time the written scope was what made it work. Give me the "
                    "headings for a one-page scope, eigenlijk the same ones as before, and nothing else.",
                    "Scope, authority (which decisions are yours), time (how much of your week), end "
                    "(when and how you hand over), and what you will stop doing to make room.",
                ),
                (
                    "The last heading is the one I forgot last time, and it is the one that hurt, so it goes "
                    "first. Kortom: five headings, one page, and a no before a yes.",
                    "Putting what you will stop doing first is a good way to make the trade-off explicit.",
                ),
            ],
        )
    ],
}

CLAUDE: dict[str, list[tuple[str, str, list[Turn]]]] = {
    "2027-02": [
        (
            "Meetup talk: ranges, not numbers",
            "2027-02-10T20:30:00",
            [
                (
                    "I am giving a twenty-minute talk at a Rotterdam meetup next week about estimates as ranges, "
                    "and I want the structure checked before I practise it on Tom, because last time I "
                    "over-prepared the slides and under-prepared the story. Is this order right: the migration "
                    "story, the range, the three assumptions, what changed, what I would do differently?",
                    "The order works. Consider ending on a question for the audience ('what number were you "
                    "asked for this week?') rather than on what you would do differently, which fits better "
                    "right after 'what changed'.",
                ),
                (
                    "Nou, that is a better ending, so I will move 'what I would do differently' up and finish "
                    "with the question, which is eigenlijk what I wanted to do anyway. Kortom: story, range, "
                    "assumptions, change, lesson, question.",
                    "That structure is clear and leaves the audience with something to do.",
                ),
            ],
        )
    ]
}

CLAUDE_CODE: dict[str, list[dict[str, Any]]] = {
    "2026-11": [
        {
            **TIDEWATCH_PROJECT,
            "start": "2026-11-21T14:05:00",
            "summary": "Import Norwegian tide stations",
            "turns": [
                (
                    "user",
                    "Add the Norwegian stations from data/kartverket.csv to the station importer. Test first: "
                    "one station, Bergen, against the official table.",
                ),
                (
                    "assistant",
                    {
                        "thinking": "A failing test for Bergen, then extend the importer's column mapping.",
                        "text": "I'll write the Bergen test first.",
                        "tool": (
                            "Write",
                            {
                                "file_path": "tests/test_import_no.py",
                                "content": "def test_bergen_high_water(): ...",
                            },
                        ),
                    },
                ),
                ("tool_result", "File created successfully at: tests/test_import_no.py"),
                (
                    "assistant",
                    {
                        "text": "Running it to see it fail.",
                        "tool": ("Bash", {"command": "pytest -q tests/test_import_no.py"}),
                    },
                ),
                ("tool_result", "F\n1 failed in 0.09s\nKeyError: 'stasjon'"),
                (
                    "assistant",
                    {
                        "text": "The Norwegian file names its columns in Norwegian. I'll map them.",
                        "tool": (
                            "Edit",
                            {
                                "file_path": "tidewatch/importer.py",
                                "old_string": "COLUMNS = {",
                                "new_string": "COLUMNS = {'stasjon': 'station', ",
                            },
                        ),
                    },
                ),
                ("tool_result", "The file tidewatch/importer.py has been updated."),
                (
                    "user",
                    "Good. Whole suite, and keep the diff small — Ingrid will check Bergen by hand anyway.",
                ),
                (
                    "assistant",
                    {
                        "text": "All 51 tests pass; the change is 9 lines plus the test.",
                        "tool": ("Bash", {"command": "pytest -q"}),
                    },
                ),
                ("tool_result", "51 passed in 0.94s"),
                ("user", "Ship it. Net: Norway is in."),
                (
                    "assistant",
                    {"text": "Committed: 'Import Norwegian stations (Kartverket format)'."},
                ),
            ],
        }
    ],
    "2026-12": [
        {
            **TIDEWATCH_PROJECT,
            "start": "2026-12-12T10:30:00",
            "summary": "Current arrows from constituent phases",
            "turns": [
                (
                    "user",
                    "<system-reminder>\nThe user opened tidewatch/currents.py in the IDE.\n</system-reminder>\n"
                    "Current arrows: the direction comes from the M2 phase at the station. Write a test for "
                    "Vlissingen at 12:00 first — the table says flood, north-east. Kortom: test, then code.",
                ),
                (
                    "assistant",
                    {
                        "text": "Writing the Vlissingen test first.",
                        "tool": (
                            "Write",
                            {
                                "file_path": "tests/test_currents.py",
                                "content": "def test_vlissingen_flood_north_east(): ...",
                            },
                        ),
                    },
                ),
                ("tool_result", "File created successfully at: tests/test_currents.py"),
                (
                    "user",
                    "Lekker. Now the smallest implementation that passes, no new data source, toch?",
                ),
                (
                    "assistant",
                    {
                        "text": "Right: it uses the constituents already stored. The test passes.",
                        "tool": ("Bash", {"command": "pytest -q tests/test_currents.py"}),
                    },
                ),
                ("tool_result", "1 passed in 0.05s"),
            ],
        }
    ],
    "2027-01": [
        {
            **TIDEWATCH_PROJECT,
            "start": "2027-01-23T19:40:00",
            "summary": "Release Tidewatch v0.2",
            "turns": [
                (
                    "user",
                    "Release v0.2: bump the version, write the changelog from the commits since v0.1 in three "
                    "lines, and tag it, because the arrows and the Norwegian stations are done and I want them "
                    "on the water before the weekend.",
                ),
                (
                    "assistant",
                    {
                        "text": "Bumping the version and drafting the changelog.",
                        "tool": ("Bash", {"command": "git log --oneline v0.1..HEAD | wc -l"}),
                    },
                ),
                ("tool_result", "23"),
                (
                    "user",
                    "Three lines, not twenty-three: arrows, Norway, fixes. Kortom: short changelog, then the tag.",
                ),
                (
                    "assistant",
                    {"text": "Done: three-line changelog, version 0.2.0, tag v0.2 pushed."},
                ),
            ],
        }
    ],
    "2027-02": [
        {
            **TIDEWATCH_PROJECT,
            "start": "2027-02-23T20:15:00",
            "summary": "A test per station",
            "turns": [
                (
                    "user",
                    "We have too many stations to check by hand now, so generate one test per station that "
                    "compares a week of predictions with the official table, eigenlijk the same check I did "
                    "by hand for Bergen, and skip the stations without a table.",
                ),
                (
                    "assistant",
                    {
                        "text": "I'll parametrise the existing comparison over the station list.",
                        "tool": ("Bash", {"command": "pytest -q tests/test_stations.py"}),
                    },
                ),
                ("tool_result", "186 passed, 14 skipped in 4.20s"),
                (
                    "user",
                    "Prima — and the fourteen skipped ones go on a list in the README, because people should "
                    "know which stations are unchecked. Kortom: tested, or honestly marked.",
                ),
                ("assistant", {"text": "Added the list of unchecked stations to the README."}),
            ],
        }
    ],
    "2027-03": [],
}

# (prompt, chosen, rejected): corrections she made that month.
CORRECTIONS: dict[str, list[tuple[str, str, str]]] = {
    "2026-12": [
        (
            "How was your year?",
            "Kortom: a migration landed, a half marathon in 1:47, Tidewatch shipped, and I moved to Delft. "
            "A good year, mostly because the plans were boring.",
            "It was an amazing rollercoaster of a year, full of ups and downs and unforgettable moments!",
        )
    ],
    "2027-02": [
        (
            "Should I give my manager a single number for the estimate?",
            "No — give a range and the assumptions behind it, because people argue with the assumptions "
            "instead of with you. Kortom: ranges, not numbers.",
            "Yes, a single number is simplest for everyone and avoids confusion.",
        )
    ],
    "2027-03": [
        (
            "Will you lead the next project?",
            "Yes, for one season, with a written scope and an end date, because that is what worked last "
            "time. Kortom: yes, in writing.",
            "Absolutely, I would love to lead everything and I am so excited about it!",
        )
    ],
}

# Fixed episodic memories per month: (type, mode, text, tags).
EPISODES: dict[str, list[tuple[str, str, str, list[str]]]] = {
    "2026-11": [
        (
            "inner_dialogue",
            "dual",
            "Do I miss leading? A little. Do I miss the meetings? No.",
            ["inner"],
        ),
        (
            "action",
            "agent",
            "Signed up for the B2 course, Monday and Wednesday evenings.",
            ["task"],
        ),
    ],
    "2026-12": [
        (
            "inner_dialogue",
            "dual",
            "Is Delft home yet? Mostly. The bakery decided it for me.",
            ["inner"],
        ),
        ("action", "agent", "Booked the ferry to Bergen for 19 December.", ["task"]),
    ],
    "2027-01": [
        (
            "inner_dialogue",
            "dual",
            "Why do I write Dutch in my English notes? Because it is my life now, toch.",
            ["inner"],
        ),
        ("action", "agent", "Registered for the spring half marathon in May.", ["task"]),
    ],
    "2027-02": [
        (
            "inner_dialogue",
            "dual",
            "Was the talk about me or about ranges? About ranges, gelukkig.",
            ["inner"],
        ),
        ("action", "agent", "Booked the B2 exam for April.", ["task"]),
    ],
    "2027-03": [
        (
            "inner_dialogue",
            "dual",
            "Lead again? Yes, but bounded, because unbounded is how people burn out.",
            ["inner"],
        ),
        (
            "action",
            "agent",
            "Blocked two mornings a week without meetings for the next project.",
            ["task"],
        ),
    ],
}

# ISO day -> (kind, secret name, the sentence that holds it).
PLANTS: dict[str, tuple[str, str, str]] = {
    "2026-11-05": (
        "password",
        "flat_wifi_password",
        "Wifi password for the flat: {value}. Ingrid will need it on the 14th.",
    ),
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
