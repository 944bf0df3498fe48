"""The sample Obsidian vault: daily notes, weekly reviews, topic notes, and traps.

Daily notes and weekly reviews are composed (grammar.py) from her phrase bank
(phrases.py) and the month's storyline (story.py): the same voice every day,
almost never the same sentence. Their shape varies too: most days have Morning,
Work, Tidewatch and Evening sections, some are two lines long, some put the
work day in a list, some give a thought its own section.

Traps are things a real vault has and ingest must handle: .obsidian/ settings,
attachments, templates, a note that is not UTF-8, an exact duplicate note, code
blocks and inline code containing '#', URLs with fragments, a heading's '#',
aliased wikilinks and embeds, and notes dated only by filename or by mtime.
"""

from __future__ import annotations

import json
import random
import zlib
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta

from personaforge.sample import persona as p
from personaforge.sample import story
from personaforge.sample.drift import note_sentences
from personaforge.sample.grammar import Grammar, Voice, stream
from personaforge.sample.phrases import RULES
from personaforge.sample.writer import SampleWriter

SOURCE = "vault"
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
RUN_DAYS = {1, 3, 6}  # Tuesday, Thursday, Sunday
DUTCH_DAYS = {0, 2}  # class on Monday and Wednesday evenings
BAKE_DAY = 5  # Saturday
# Shapes of a daily note and their shares (chosen, not measured: most days follow her
# template, a few are a line or two, some are lists, some end on a thought).
SHAPES = [("full", 0.68), ("short", 0.14), ("list", 0.10), ("thought", 0.08)]
SKIP_WEEKDAY, SKIP_WEEKEND = 0.15, 0.3  # she skips about one day in five, more at weekends
NO_FRONTMATTER = 0.125  # one note in eight has none: its date must come from the filename
NUMBER_WORDS = ["two", "three", "four", "five"]


def days(start: str, end: str) -> Iterable[date]:
    day, last = date.fromisoformat(start), date.fromisoformat(end)
    while day <= last:
        yield day
        day += timedelta(days=1)


_GRAMMARS: dict[tuple[str, int], Grammar] = {}


def grammar_for(iso_day: str) -> Grammar:
    """The shared phrase bank with the storyline of `iso_day` on top (month, then `after` overrides)."""
    active, rules = story.rules_on(iso_day)
    key = (iso_day[:7], active)
    if key not in _GRAMMARS:
        _GRAMMARS[key] = Grammar(RULES).merged(rules)
    return _GRAMMARS[key]


def home_city(iso_day: str) -> str:
    return "Delft" if iso_day >= story.MOVE_DAY else "Rotterdam"


def note_slots(day: date, rng: random.Random) -> dict[str, object]:
    """Numbers, times and places for one day's note; callables give a fresh value per use."""
    iso = day.isoformat()
    month = story.month_of(iso)
    places = story.HOME_RULES[home_city(iso)]
    low, high = month.long_run_km
    wake = rng.choice(["6:30"] * 6 + ["6:15", "6:20", "6:40", "6:45", "5:55", "7:00"])
    return {
        "weekday": WEEKDAYS[day.weekday()],
        "wake": wake,
        "late": rng.choice(["7:40", "7:55", "8:10", "8:20", "7:35"]),
        "pages": rng.choice(NUMBER_WORDS[:3]),
        "pages_cap": lambda r: r.choice(NUMBER_WORDS[:3]).capitalize(),
        "clock": lambda r: f"{r.randint(9, 16)}:{r.choice(['00', '15', '30', '45'])}",
        "count": lambda r: str(r.randint(3, 14)),
        "few": lambda r: r.choice(["two", "three", "four"]),
        "km": lambda r: str(
            r.randint(low, high) if r.random() < 0.4 else r.randint(5, max(6, low))
        ),
        "pace": lambda r: f"{r.randint(5, 6)}:{r.randint(0, 59):02d}",
        "minutes": lambda r: str(r.randint(4, 19)),
        "seconds": lambda r: str(r.randint(2, 58)),
        "hydration": lambda r: str(r.choice([68, 70, 72, 74, 75, 76, 78, 80])),
        "hours": lambda r: r.choice(["four", "four and a half", "five", "five and a half", "six"]),
        "commute": places["commute"],
        "route": places["route"],
        "walk_place": places["walk_place"],
        "home_city": home_city(iso),
    }


def review_slots(day: date, rng: random.Random) -> dict[str, object]:
    """A weekly review's slots: a note's, plus the month's running theme and two things to focus on."""
    month = story.month_of(day.isoformat())
    focus_a, focus_b = rng.sample(month.rules["focus"], 2)
    running = month.summary["running"]
    return {
        **note_slots(day, rng),
        "running_theme": running,
        "focus_a": focus_a,
        "focus_b": focus_b,
    }


def _pick_shape(rng: random.Random, workday: bool) -> str:
    roll, total = rng.random(), 0.0
    for shape, share in SHAPES:
        total += share
        if roll < total:
            return "full" if shape == "list" and not workday else shape
    return "full"


CODE_SNIPPETS = [
    "```python\n# slack water is where the curve is flat #not-a-tag\n"
    "def slack_times(heights, step_minutes=10):\n"
    "    deltas = [b - a for a, b in zip(heights, heights[1:])]\n"
    "    return [i * step_minutes for i, d in enumerate(deltas) if abs(d) < 0.01]\n```",
    "```sql\n-- highest tide per station, #also-not-a-tag\n"
    "SELECT station, max(height_cm) FROM tides WHERE day = '2026-07-20' GROUP BY station;\n```",
    "```bash\n# find the offset bug #bug\ngit log --oneline --grep 'tz' | head\n```",
]


class DailyNote:
    """One day's note, section by section; `text()` assembles it."""

    def __init__(self, day: date, voice: Voice):
        self.day, self.voice = day, voice
        self.iso = day.isoformat()
        self.month = story.month_of(self.iso)
        self.slots = note_slots(day, voice.rng)
        self.events: dict[str, list[str]] = {}
        for section, text in self.month.events.get(self.iso, []):
            self.events.setdefault(section, []).append(text)
            voice.remember(text)
        self.away = story.is_away(self.iso)
        self.workday = day.weekday() < 5 and not self.away
        self.shape = _pick_shape(voice.rng, self.workday)
        self.sections: list[tuple[str, str]] = []
        self.tags = ["daily"]

    # -- helpers -------------------------------------------------------------------------------------------

    def say(self, phrase: str) -> str:
        return self.voice.say(phrase, **self.slots)

    def paragraph(self, parts: list[str]) -> str:
        return self.voice.finish(parts)

    def observe(self, text: str) -> None:
        """Prose written outside `paragraph` still counts towards the month's drift rates."""
        if self.voice.style is not None:
            self.voice.style.observe(text)

    def add(self, title: str, text: str) -> None:
        if text.strip():
            self.sections.append((title, text.strip()))

    # -- sections --------------------------------------------------------------------------------------------

    def morning(self) -> None:
        v, short = self.voice, self.shape == "short"
        parts = list(self.events.get("Morning", []))
        if v.chance(0.12):
            parts.append(self.say("{late_line}"))
        else:
            opening = self.say(
                "[{wake_line} {pages_line}|{pages_line}|{weather}. {pages_line}|{wake_line} {weather}.]"
            )
            parts.append(opening)
        if not short and v.chance(0.7):
            scene = "{morning_scene}" if self.workday else "[{morning_scene}|{weather}.]"
            parts.append(self.say(scene))
        if not short and v.chance(0.25):
            parts.append(self.say("{question}"))
        text = self.paragraph(parts)
        run = self.run()
        if run:
            text += ("\n\n" if v.chance(0.5) else " ") + run
        self.add("Morning", text)

    def run(self) -> str:
        if "Run" in self.events:
            return " ".join(self.events["Run"])
        if self.day.weekday() not in RUN_DAYS or (self.away and self.voice.chance(0.5)):
            return ""
        parts = [self.say("{run}")]
        if self.voice.chance(0.45):
            parts.append(self.say("{run_body}"))
        return self.paragraph(parts) + " #running/log"

    def work(self) -> None:
        if not self.workday:
            return
        v = self.voice
        items = list(self.events.get("Work", []))
        wanted = {"short": 1, "list": v.rng.randint(3, 4)}.get(self.shape, v.rng.randint(2, 4))
        while len(items) < wanted:
            phrase = "{work}" if v.chance(0.65) else "{work_generic}"
            items.append(v.say(phrase, avoid=items, **self.slots))
        if self.shape == "list":
            text = "\n".join(f"- {self.paragraph([item])}" for item in items)
            summary = v.summary("{net_subject}, {net_state}.", **self.slots)
            self.observe(summary)
            text += "\n\n" + summary
        else:
            text = self.paragraph(items)
            if v.chance(0.85):
                summary = v.summary("{net_subject}, {net_state}.", **self.slots)
                self.observe(summary)
                text += " " + summary
        if v.chance(0.12):
            text += "\n\n" + CODE_SNIPPETS[self.day.toordinal() % len(CODE_SNIPPETS)]
        if self.iso < "2026-10-01" and v.chance(0.3):
            text += " See [[Routing migration]]."
        self.add("Work", text + " #work/kestrel")
        self.tags.append("work")

    def away_day(self) -> None:
        if not self.away:
            return
        parts = [self.say("{bergen}") for _ in range(1 if self.shape == "short" else 2)]
        self.add("Bergen", self.paragraph(parts))

    def tidewatch(self) -> None:
        v = self.voice
        events = self.events.get("Tidewatch", [])
        weekend = self.day.weekday() >= 5
        if not events and (self.shape == "short" or self.away or not (weekend or v.chance(0.6))):
            return
        parts = list(events)
        if not events or v.chance(0.3):
            for _ in range(v.rng.randint(1, 2)):
                phrase = "[{project}|{project}|{project_generic}]"
                parts.append(v.say(phrase, avoid=parts, **self.slots))
        link = " [[Tidewatch|the tide app]]" if v.chance(0.6) else ""
        self.add("Tidewatch", self.paragraph(parts) + link + " #tidewatch")

    def evening(self) -> None:
        v, weekday = self.voice, self.day.weekday()
        parts, tails = list(self.events.get("Evening", [])), []
        if weekday == BAKE_DAY and not self.away:
            parts.append(self.say("{bake}"))
            tails.append("[[Sourdough]]")
        if (
            weekday in DUTCH_DAYS
            and self.month.dutch_class
            and not self.away
            and self.shape != "short"
        ):
            parts.append(self.say("{dutch}"))
            tails.append("#dutch/class")
        wanted = 1 if self.shape == "short" else v.rng.randint(1, 3 if not parts else 2)
        for _ in range(wanted):
            parts.append(v.say("{evening_month}", avoid=parts, **self.slots))
        text = self.paragraph(parts)
        if tails:
            text += " " + " ".join(tails)
        thought = ""
        if self.shape == "thought" or v.chance(0.35):
            thought = (
                self.paragraph([self.say("{reflection}")])
                + " "
                + v.rng.choice(RULES["reflect_tag"])
            )
        if thought and self.shape == "thought":
            self.add("Evening", text)
            self.add("Thoughts", thought)
        else:
            self.add("Evening", text + (" " + thought if thought else ""))

    def text(self) -> str:
        self.morning()
        self.work()
        self.away_day()
        self.tidewatch()
        self.evening()
        task = (
            "{tomorrow_away}"
            if self.away
            else "[{tomorrow}|{tomorrow}|{tomorrow_generic}|{tomorrow}, then {tomorrow_generic}]"
        )
        tomorrow = self.say(f"Tomorrow: {task}.")
        self.observe(tomorrow)
        body = "\n\n".join(f"## {title}\n{text}" for title, text in self.sections)
        day = self.day
        heading = f"# {WEEKDAYS[day.weekday()]} {day.day} {day.strftime('%B')} {day.year}"
        if self.voice.chance(NO_FRONTMATTER):
            return f"{heading}\n\n{body}\n\n{tomorrow}\n"
        mood = self.voice.rng.randint(4, 9)
        frontmatter = f"---\ndate: {self.iso}\ntags: [{', '.join(self.tags)}]\nmood: {mood}\n---\n"
        return f"{frontmatter}{heading}\n\n{body}\n\n{tomorrow}\n"


def daily_path(day: date) -> str:
    return f"vault/Journal/{day.year}/{day.month:02d}/{day.isoformat()}.md"


def write_daily_notes(
    w: SampleWriter,
    voice: Voice,
    first: str,
    last: str,
    skip: random.Random,
    plant: Callable[[date, str, str], str] | None = None,
    keep: Iterable[str] = (),
) -> list[str]:
    """Write a daily note for each day she wrote one; returns their relative paths.

    She skips about one day in five; never a day in `keep` (a planted secret's)
    or a day with a storyline event.
    """
    written, keep = [], set(keep)
    for day in days(first, last):
        iso = day.isoformat()
        skipped = skip.random() < (SKIP_WEEKEND if day.weekday() >= 5 else SKIP_WEEKDAY)
        if skipped and iso not in keep and iso not in story.month_of(iso).events:
            continue
        voice.grammar = grammar_for(iso)
        rel = daily_path(day)
        text = DailyNote(day, voice).text()
        if plant is not None:
            text = plant(day, text, rel)
        w.write(rel, text, SOURCE, datetime(day.year, day.month, day.day, 22, 0))
        written.append(rel)
    return written


def write_weekly_reviews(w: SampleWriter, voice: Voice, first: str, last: str) -> list[str]:
    written = []
    for day in days(first, last):
        if day.weekday() != 6:
            continue
        iso = day.isoformat()
        voice.grammar = grammar_for(iso)
        slots = review_slots(day, voice.rng)
        iso_year, week, _ = day.isocalendar()  # 3 January 2027 closes 2026-W53

        def say(phrase: str, slots: dict[str, object] = slots) -> str:
            return voice.say(phrase, **slots)

        good = voice.finish(
            [
                say("[{review_good}|{review_good_generic}]"),
                say("{review_good_generic}"),
                say(
                    "[Running: {running_theme}, [on plan|mostly on plan|as planned].|Running: {run_week}]"
                ),
            ]
        )
        bad = voice.finish([say("[{review_bad}|{review_bad_generic}]"), say("{question}")])
        plan = voice.finish([say("{review_next}"), say("Dutch: {dutch_next}.")])
        opening = say("{review_opening}") + "\n\n" if voice.chance(0.4) else ""
        text = (
            f"---\ndate: {iso}\ntags: [review, reflection]\n---\n"
            f"# Weekly review {iso_year}-W{week:02d}\n\n{opening}"
            f"## What went well\n{good}\n\n"
            f"## What did not\n{bad}\n\n"
            f"## Next week\n{plan}\n"
        )
        rel = f"vault/Reviews/{iso_year}-W{week:02d}.md"
        w.write(rel, text, SOURCE, datetime(day.year, day.month, day.day, 20, 30))
        written.append(rel)
    return written


# Days whose note carries a planted secret; they are never skipped.
PLANT_DAYS = ("2026-06-15", "2026-07-09", "2026-08-12", "2026-09-02")


def _plant_in_daily(
    day: date, text: str, w: SampleWriter, rel: str, secrets: dict[str, str]
) -> str:
    """A few daily notes carry a fake secret in an everyday sentence."""
    iso = day.isoformat()
    if iso == "2026-06-15":
        text += f"\nPaid the kayak club fee from {w.plant('iban', secrets['iban'], rel)}. Done for the year.\n"
    elif iso == "2026-07-09":
        key = w.plant("api_key", secrets["openai_key"], rel)
        text += f"\nNote to self: the staging key is {key} — move it to the password manager.\n"
    elif iso == "2026-08-12":
        password = w.plant("password", secrets["router_password"], rel)
        text += f"\nCabin router admin password: {password}. Ingrid asked me to write it down somewhere.\n"
    elif iso == "2026-09-02":
        phone = w.plant("phone", secrets["phone"], rel)
        text += f"\nNew phone plan, same number ({phone}). Told the race organisers.\n"
    return text


def _topic_notes(secrets: dict[str, str], w: SampleWriter) -> list[tuple[str, str, datetime]]:
    tidewatch = "vault/Projects/Tidewatch.md"
    aws_key = w.plant("aws_key", secrets["aws_access_key"], tidewatch)
    aws_secret = w.plant("aws_key", secrets["aws_secret_key"], tidewatch)
    email = w.plant("email", secrets["email"], tidewatch)
    ingrid = "vault/People/Ingrid.md"
    sister_email = w.plant("email", secrets["sister_email"], ingrid)
    sister_phone = w.plant("phone", secrets["sister_phone"], ingrid)
    servers = "vault/Inbox/Servers.md"
    private_key = w.plant("private_key", secrets["private_key"], servers)
    sourdough = (
        "---\ntags: [area, baking]\naliases: [bread, Gus]\ncreated: 2026-06-06\n---\n"
        "# Sourdough\n\n## Gus\nGus is my starter, revived in June from a dried flake Ingrid mailed from Bergen. "
        "Fed at a 1:5:5 ratio when the kitchen is warm, 1:3:3 when it is not. He smells of yoghurt when he is happy "
        "and of nail polish when he is hungry.\n\n"
        "## What I have learned\nWatch the dough, not the clock. Bulk fermentation is done when the dough has grown "
        "about half and jiggles. Higher hydration gives a more open crumb and a harder shaping session. "
        "Cold retard overnight makes the schedule fit a working week. #learning\n\n"
        "## Bakes\nSee the Saturday entries in the journal. Best so far: 75% hydration, five hours bulk, "
        "overnight in the fridge.\n"
    )
    notes = [
        (
            tidewatch,
            "---\ntags: [project, tidewatch]\naliases: [tide app]\ncreated: 2026-06-02\n---\n"
            "# Tidewatch\n\n## Goal\nA tide app for sea kayakers that works offline and answers one question: when is "
            "the next slack water where I am paddling? Small on purpose. Small things get finished.\n\n"
            "## How it works\nHarmonic prediction from published constituents per station. M2 does most of the work. "
            "A year of predictions is precomputed per station and stored in SQLite, so the app needs no signal. "
            "Diagram: ![[tide-diagram.png]]\n\n"
            "## Decisions\n- [[2026-07-14 SQLite for Tidewatch]]\n- Download-only sync; no accounts.\n"
            "- No wind data. Wind is a different app.\n\n"
            f"## Deploy\nThe station files are on S3 for now. Access key {aws_key}, secret {aws_secret}. "
            "Rotate after launch.\n\n"
            f"## Contact\nBeta feedback to {email}.\n\n"
            "## Open questions\nCurrent arrows on the map? Jonas wants them. Not for v0.1. See https://example.org/tides#constituents "
            "for the constituent list.\n",
            datetime(2026, 10, 30, 21, 0),
        ),
        (
            "vault/Projects/Routing migration.md",
            "---\ntags: [work, kestrel/migration]\ncreated: 2026-06-01\n---\n"
            "# Routing migration\n\n## Scope\nMove every consumer of the old routing API to the new service by September. "
            "Eleven services, two undocumented. The legacy dispatcher stays until the last consumer moves.\n\n"
            "## Plan\nOne-page plan, contract tests first, shadow traffic for two weeks, a runbook before the cutover, "
            "cutover at night with a rollback switch. Estimate: 10 to 14 weeks.\n\n"
            "## Risks\nLocal times stored without offsets. Undocumented consumers. A cutover during on-call week.\n\n"
            "## Retro\nLanded in 12 weeks, inside the range. What worked: small PRs, written plans, shadow traffic. "
            "What I would change: say no earlier, in writing. #reflection\n",
            datetime(2026, 9, 26, 18, 0),
        ),
        (
            "vault/Decisions/2026-07-14 SQLite for Tidewatch.md",
            "---\ndate: 2026-07-14\ntags: [decision, tidewatch]\n---\n"
            "# SQLite for Tidewatch\n\n## Context\nTidewatch stores a year of tide predictions per station and must work "
            "offline on a phone.\n\n## Options\nPostgres: familiar, needs a server, overkill for read-mostly data. "
            "SQLite: one file, no server, backups are a copy, runs on the phone.\n\n"
            "## Decision\nSQLite. Ultimately decided on the boring option because it removes a whole class of problems. "
            "#decision\n\n## Consequences\nTests run in under a second. No multi-user writes, which Tidewatch does not need.\n",
            datetime(2026, 7, 14, 21, 0),
        ),
        (
            "vault/Decisions/2026-08-20 Lead the cutover.md",
            "---\ndate: 2026-08-20\ntags: [decision, work]\n---\n"
            "# Lead the cutover\n\nPriya asked me to lead the routing cutover. On one hand it means less code and more "
            "meetings. On the other, I know the timezone paths better than anyone. Ultimately decided yes, for one season, "
            "with a written scope: the cutover and the retro, not the next project. #decision\n",
            datetime(2026, 8, 20, 22, 0),
        ),
        (
            "vault/Areas/Running.md",
            "---\ntags: [area, running]\naliases: [Running log]\ncreated: 2026-06-01\n---\n"
            "# Running\n\n## Plan\nThree runs a week: Tuesday easy, Thursday intervals or tempo, Sunday long. "
            "Build from 6 to 16 km long runs over the summer, taper in late September, race the Maas half marathon on "
            "18 October.\n\n## Rules\nEasy means conversational. Never two hard days in a row. No new shoes in race week. "
            "#running\n\n## Result\n1:47 at the Maas half, negative split. The plan worked because it was boring.\n",
            datetime(2026, 10, 19, 12, 0),
        ),
        ("vault/Areas/Sourdough.md", sourdough, datetime(2026, 9, 12, 16, 0)),
        (
            "vault/Areas/Learning Dutch.md",
            "---\ntags: [area, dutch]\ncreated: 2026-06-08\n---\n"
            "# Learning Dutch\n\nEvening class on Mondays and Wednesdays since June. B1 exam on 24 September: passed, "
            "writing weakest. Norwegian helps with vocabulary and hurts with word order. #dutch/progress\n\n"
            "## Tricks that work\nRead children's books first. Order coffee in Dutch even when they answer in English. "
            "Write the diary's Tomorrow line in Dutch once a week.\n",
            datetime(2026, 9, 25, 20, 0),
        ),
        (
            "vault/Ideas/Estimates as ranges.md",
            "---\ntags: [idea, insight]\ncreated: 2026-07-03\n---\n"
            "# Estimates as ranges\n\nA single number is a promise; a range is a forecast. When Priya asked for one "
            "number I gave her 10 to 14 weeks and the three assumptions behind it. We argued about the assumptions "
            "instead of the number, which is the useful argument. #insight\n",
            datetime(2026, 7, 3, 21, 0),
        ),
        # No frontmatter and no date in the name: its date must come from the file's mtime.
        (
            "vault/Ideas/Small pull requests.md",
            "# Small pull requests\n\nSmall pull requests get reviewed; big ones get approved. A reviewer can hold "
            "about 200 lines in their head. Past that they skim, and skimming is how the timezone bug got in.\n\n"
            "Rule: one idea per PR, tests in the same PR, description says why. Run `git log --grep '#42'` to find "
            "the history of an idea — that '#42' is not a tag.\n",
            datetime(2026, 7, 2, 19, 0),
        ),
        (
            "vault/Ideas/Writing things down.md",
            "---\ntags: [idea, reflection]\ncreated: 2026-08-24\n---\n"
            "# Writing things down\n\nI feel calmer when the work is written down. A plan on one page, a decision with "
            "its options, a runbook before the code. Writing is where I find out what I actually think. #reflection\n",
            datetime(2026, 8, 24, 21, 0),
        ),
        (
            "vault/Reading/The Pragmatic Programmer.md",
            "---\ntags: [reading]\ncreated: 2026-06-20\n---\n"
            "# The Pragmatic Programmer\n\n## Notes\nCare about your craft. Do not live with broken windows. "
            "Make it easy to reuse. Tracer bullets over big designs. Each of these is obvious and each of them I forget "
            "under pressure.\n\n## What I will do\nFix one broken window a week at work. Write tracer-bullet versions "
            "of Tidewatch features before polishing any of them. #learning\n",
            datetime(2026, 7, 30, 22, 0),
        ),
        (
            ingrid,
            "---\ntags: [people, family]\n---\n"
            f"# Ingrid\n\nMy sister, lives in Bergen, redoing her kitchen. Email {sister_email}, phone {sister_phone}. "
            "Birthday in November. Tried Tidewatch on the fjord and asked for wind data.\n",
            datetime(2026, 8, 15, 10, 0),
        ),
        (
            servers,
            "# Servers\n\nThe Tidewatch box. Key for the deploy user (move to the password manager!):\n\n"
            f"```\n{private_key}\n```\n",
            datetime(2026, 8, 2, 23, 0),
        ),
    ]
    return notes


def _write_topic_notes(w: SampleWriter, secrets: dict[str, str]) -> None:
    notes = _topic_notes(secrets, w)
    for rel, text, when in notes:
        w.write(rel, text, SOURCE, when)
    sourdough = next(text for rel, text, _ in notes if rel.endswith("Areas/Sourdough.md"))
    copy = "vault/Inbox/Sourdough (copy).md"
    w.write(copy, sourdough, SOURCE, datetime(2026, 9, 13, 9, 0))
    w.expect("exact_duplicate_of:vault/Areas/Sourdough.md", copy)


def _write_traps(w: SampleWriter) -> None:
    """Files a vault holds that are not memories, or not readable ones."""
    when = datetime(2026, 6, 1, 9, 0)
    for rel, content in [
        ("vault/.obsidian/app.json", json.dumps({"alwaysUpdateLinks": True}, indent=2)),
        ("vault/.obsidian/workspace.json", json.dumps({"main": {"type": "split"}}, indent=2)),
        (
            "vault/Templates/Daily.md",
            "---\ndate: {{date}}\ntags: [daily]\n---\n# {{title}}\n\n## Morning\n\n## Work\n",
        ),
    ]:
        w.write(rel, content, SOURCE, when)
        w.expect("skipped_by_glob", rel)
    w.write("vault/attachments/tide-diagram.png", _tiny_png(), SOURCE, when)
    w.expect("skipped_by_glob", "vault/attachments/tide-diagram.png")
    latin1 = "# Café notes\n\nThe café on the Witte de Withstraat does good tea.\n".encode(
        "latin-1"
    )
    w.write("vault/Inbox/cafe-latin1.md", latin1, SOURCE, datetime(2026, 7, 11, 15, 0))
    w.expect("skipped_not_utf8", "vault/Inbox/cafe-latin1.md")


def _tiny_png() -> bytes:
    """A valid 1x1 PNG, so the attachment is a real binary file."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = chunk(b"IHDR", (1).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0]))
    pixels = chunk(b"IDAT", zlib.compress(b"\x00\x30\x60\x90"))
    return b"\x89PNG\r\n\x1a\n" + header + pixels + chunk(b"IEND", b"")


def write_vault(w: SampleWriter, seed: int, secrets: dict[str, str]) -> Voice:
    """The base months' vault; returns the voice (its memory of sentences) for what follows."""
    voice = Voice(grammar_for(p.START_DATE), stream(seed, "vault"))
    for _, text, _ in _topic_notes(
        secrets, SampleWriter(w.root)
    ):  # a scratch writer: plants counted once
        voice.remember("\n".join(note_sentences(text)))

    def plant(day: date, text: str, rel: str) -> str:
        return _plant_in_daily(day, text, w, rel, secrets)

    write_daily_notes(w, voice, p.START_DATE, p.END_DATE, stream(seed, "skip"), plant, PLANT_DAYS)
    write_weekly_reviews(w, voice, p.START_DATE, p.END_DATE)
    _write_topic_notes(w, secrets)
    _write_traps(w)
    return voice
