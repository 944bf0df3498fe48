"""The sample Obsidian vault: daily notes, weekly reviews, topic notes, and traps.

Traps are things a real vault has and ingest must handle: .obsidian/ settings,
attachments, templates, a note that is not UTF-8, an exact duplicate note, code
blocks and inline code containing '#', URLs with fragments, a heading's '#',
aliased wikilinks and embeds, and notes dated only by filename or by mtime.
"""

from __future__ import annotations

import json
import random
import zlib
from datetime import date, datetime, timedelta

from personaforge.sample import persona as p
from personaforge.sample.writer import SampleWriter

SOURCE = "vault"
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
RUN_DAYS = {1, 3, 6}  # Tuesday, Thursday, Sunday
DUTCH_DAYS = {0, 2}  # class on Monday and Wednesday evenings
BAKE_DAY = 5  # Saturday


def _days(start: str, end: str):
    day, last = date.fromisoformat(start), date.fromisoformat(end)
    while day <= last:
        yield day
        day += timedelta(days=1)


def _pick(pool: list[str], rng: random.Random, k: int) -> list[str]:
    return [p.fill(s, rng) for s in rng.sample(pool, min(k, len(pool)))]


CODE_SNIPPETS = [
    "```python\n# slack water is where the curve is flat #not-a-tag\n"
    "def slack_times(heights, step_minutes=10):\n"
    "    deltas = [b - a for a, b in zip(heights, heights[1:])]\n"
    "    return [i * step_minutes for i, d in enumerate(deltas) if abs(d) < 0.01]\n```",
    "```sql\n-- highest tide per station, #also-not-a-tag\n"
    "SELECT station, max(height_cm) FROM tides WHERE day = '2026-07-20' GROUP BY station;\n```",
    "```bash\n# find the offset bug #bug\ngit log --oneline --grep 'tz' | head\n```",
]


def _daily_note(day: date, rng: random.Random, w: SampleWriter) -> str:
    month = day.month
    weekday = day.weekday()
    story = p.STORYLINE[month]
    tags = ["daily"]
    morning = _pick(p.MORNING, rng, 1) + _pick(p.MORNING_SCENES, rng, rng.randint(0, 1))
    if weekday in RUN_DAYS:
        morning.append(p.fill(rng.choice(p.RUNNING[month]), rng) + " #running/log")
    sections = [("Morning", " ".join(morning))]

    if weekday < 5:
        work = _pick(p.WORK[month], rng, rng.randint(2, 3))
        work_text = " ".join(work) + f" Net: {story['work']}, one step further."
        if rng.random() < 0.12:
            work_text += "\n\n" + CODE_SNIPPETS[day.toordinal() % len(CODE_SNIPPETS)]
        if rng.random() < 0.3:
            work_text += " See [[Routing migration]]."
        sections.append(("Work", work_text + " #work/kestrel"))
        tags.append("work")

    if rng.random() < 0.55 or weekday >= 5:
        project = " ".join(_pick(p.PROJECT[month], rng, rng.randint(1, 2)))
        sections.append(("Tidewatch", f"{project} [[Tidewatch|the tide app]] #tidewatch"))

    evening = []
    if weekday == BAKE_DAY:
        evening.append(p.fill(rng.choice(p.BAKING), rng) + " [[Sourdough]]")
    if weekday in DUTCH_DAYS and p.DUTCH.get(month):
        evening.append(p.fill(rng.choice(p.DUTCH[month]), rng) + " #dutch/class")
    evening += _pick(p.EVENING, rng, 2 - min(len(evening), 1))
    if rng.random() < 0.35:
        tag = rng.choice(["#reflection", "#insight", "#realization", "#learning"])
        evening.append(rng.choice(p.REFLECTION) + f" {tag}")
    sections.append(("Evening", " ".join(evening)))

    body = "\n\n".join(f"## {title}\n{text}" for title, text in sections)
    heading = f"# {WEEKDAYS[weekday]} {day.day} {day.strftime('%B')} {day.year}"
    tomorrow = f"Tomorrow: {rng.choice(p.TOMORROW)}."
    # One note in eight has no frontmatter: its date must come from the filename.
    if rng.random() < 0.125:
        return f"{heading}\n\n{body}\n\n{tomorrow}\n"
    frontmatter = (
        f"---\ndate: {day.isoformat()}\ntags: [{', '.join(tags)}]\nmood: {rng.randint(4, 9)}\n---\n"
    )
    return f"{frontmatter}{heading}\n\n{body}\n\n{tomorrow}\n"


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


def _write_daily_notes(w: SampleWriter, rng: random.Random, secrets: dict[str, str]) -> None:
    for day in _days(p.START_DATE, p.END_DATE):
        # She skips about one day in five, more often at weekends.
        skip = rng.random() < (0.3 if day.weekday() >= 5 else 0.15)
        if skip and day.isoformat() not in PLANT_DAYS:
            continue
        rel = f"vault/Journal/{day.year}/{day.month:02d}/{day.isoformat()}.md"
        text = _plant_in_daily(day, _daily_note(day, rng, w), w, rel, secrets)
        w.write(rel, text, SOURCE, datetime(day.year, day.month, day.day, 22, 0))


def _write_weekly_reviews(w: SampleWriter, rng: random.Random) -> None:
    for day in _days(p.START_DATE, p.END_DATE):
        if day.weekday() != 6:
            continue
        week = day.isocalendar().week
        story = p.STORYLINE[day.month]
        went_well = " ".join(_pick(p.WORK[day.month], rng, 1) + _pick(p.PROJECT[day.month], rng, 1))
        text = (
            f"---\ndate: {day.isoformat()}\ntags: [review, reflection]\n---\n"
            f"# Weekly review {day.year}-W{week:02d}\n\n"
            f"## What went well\n{went_well} Running: {story['running']}, on plan.\n\n"
            f"## What did not\n{rng.choice(p.REFLECTION)} Is that fixable? Mostly, with a plan written the night before.\n\n"
            f"## Next week\nFocus on {story['work']} and {story['project']}. "
            f"Protect two mornings for deep work. Dutch: {story['dutch']}.\n"
        )
        w.write(
            f"vault/Reviews/{day.year}-W{week:02d}.md",
            text,
            SOURCE,
            datetime(day.year, day.month, day.day, 20, 30),
        )


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


def write_vault(w: SampleWriter, rng: random.Random, secrets: dict[str, str]) -> None:
    _write_daily_notes(w, rng, secrets)
    _write_weekly_reviews(w, rng)
    _write_topic_notes(w, secrets)
    _write_traps(w)
