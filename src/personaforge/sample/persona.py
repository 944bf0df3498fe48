"""The fictional person behind the sample data: who she is and how she writes.

Maren Holt, 34, backend engineer in Rotterdam, from Bergen. Her notes run from
June to October 2026 and follow a storyline (a side project, a work migration,
half-marathon training, a Dutch exam) so that dates mean something to the
monthly-update mixer and questions about her have true answers.

Her voice is deliberately recognisable, so a trained adapter's style can be
measured: short declarative sentences, "Net:" summaries, "Tomorrow:" lines,
"honestly" and "fair enough", questions she answers herself ("Is that true?
Mostly."), and dashes instead of semicolons.
"""

from __future__ import annotations

import random

NAME = "Maren Holt"
FIRST_NAME = "Maren"
SELF_DESCRIPTION = (
    "Maren Holt: backend engineer at Kestrel Freight in Rotterdam, originally from Bergen. "
    "Building Tidewatch, a tide app for sea kayakers. Bakes sourdough, runs, learns Dutch."
)

# Facts a model trained on her data should be able to answer (the knowledge kind).
FACTS = {
    "job": "backend engineer at Kestrel Freight, a logistics company in Rotterdam",
    "hometown": "Bergen, Norway",
    "side_project": "Tidewatch, a tide-prediction app for sea kayakers",
    "database_choice": "SQLite for Tidewatch, decided on 14 July 2026",
    "race": "the Maas half marathon on 18 October 2026",
    "language": "Dutch, with the B1 exam on 24 September 2026",
    "starter": "a sourdough starter called Gus",
    "sister": "Ingrid, who lives in Bergen",
    "team_lead": "Priya",
    "editor": "Neovim",
    "morning_habit": "morning pages at 6:30 with tea",
    "review_habit": "a weekly review every Sunday evening",
}

OPINIONS = [
    "Small pull requests get reviewed; big ones get approved.",
    "Estimates should be ranges, not numbers.",
    "A meeting without an agenda is a chat with a calendar invite.",
    "SQLite is the right database for most small tools.",
    "Write the failing test before fixing the bug.",
    "Boring technology is a feature.",
    "Plain text outlives every app.",
    "Logs should say what happened, not that something happened.",
]

START_DATE = "2026-06-01"
END_DATE = "2026-10-31"

# Per month: what is going on (used to pick work, project and life sentences).
STORYLINE = {
    6: {
        "work": "the routing service migration kicked off",
        "project": "the harmonic tide model",
        "running": "base building",
        "dutch": "the new evening course",
    },
    7: {
        "work": "timezone bugs in the migration",
        "project": "the SQLite decision",
        "running": "the first long runs",
        "dutch": "separable verbs",
    },
    8: {
        "work": "an on-call week and a queue backlog",
        "project": "offline mode",
        "running": "16 km long runs",
        "dutch": "a break while in Bergen",
    },
    9: {
        "work": "the migration cutover",
        "project": "the beta for five kayaker friends",
        "running": "the taper",
        "dutch": "the B1 exam",
    },
    10: {
        "work": "looking back on leading the migration",
        "project": "the v0.1 launch",
        "running": "race week",
        "dutch": "reading the newspaper slowly",
    },
}

# One of these opens each morning section (they disagree with each other)...
MORNING = [
    "Up at 6:30. Morning pages with tea — {pages} pages today.",
    "Slept badly. Morning pages anyway — honestly they help most on days like this.",
    "Rain on the window at six. Tea, pages, no phone until eight.",
    "Quiet morning. Wrote {pages} pages about {topic} and found the real question at the end.",
    "Morning pages were mostly a list today. Fair enough — some days are lists.",
    "Late start. Skipped the pages and felt it by ten.",
    "Cold flat, warm tea. Pages about {topic}. Is it really a problem? Mostly not.",
    "Woke before the alarm. Pages on the balcony, {pages} of them, mostly about {topic}.",
]
# ...and one of these may follow (they fit any morning).
MORNING_SCENES = [
    "Cycled along the Maas before work. The wind decided the route, as usual.",
    "Fed Gus at seven. He doubled by breakfast, which is more than I did.",
    "The harbour cranes were already moving when I left.",
    "Checked the tide table out of habit. No paddling today.",
    "Read the Dutch headlines over breakfast. Understood most of them.",
    "Ten minutes of stretching. The left calf still complains.",
    "Answered nothing before nine. The inbox survived.",
]

WORK = {
    6: [
        "Kickoff for the routing service migration. Priya wants it done by September. Possible, if we cut scope early.",
        "Mapped every consumer of the old routing API — {count} services, two of them undocumented.",
        "Wrote the migration plan as a one-page doc instead of slides. Fewer questions, better ones.",
        "Pairing with Tom on the contract tests. He writes them faster than I do; I name them better.",
        "Spent the afternoon reading the legacy dispatcher. It works, nobody knows why, and that is the risk.",
        "Meeting without an agenda again. Left after ten minutes and sent a written summary instead.",
        "Split the first migration PR into {count} small ones. Each got reviewed the same day.",
    ],
    7: [
        "Found the timezone bug: the old service stores local time without an offset. Of course it does.",
        "Wrote a failing test for the DST edge case before touching the code. It failed exactly as expected.",
        "Estimated the remaining migration work as {low} to {high} weeks. Priya asked for one number. I said no, kindly.",
        "Two hours in a design review that should have been a comment thread.",
        "Shadow traffic shows {count} mismatches an hour, all from the same timezone path.",
        "Tom found a second offset bug in the invoice export. Same root cause, different costume.",
        "Wrote the runbook for the cutover before the code was done. It exposed three open questions.",
    ],
    8: [
        "On call this week. Queue backlog at 3 a.m. — a consumer stuck on one poisoned message.",
        "Postmortem draft: the alert fired, but it said 'queue high', not which queue or why. Logs should say what happened.",
        "Added a dead-letter queue and an alert that names the message type. Small change, big relief.",
        "Handed over on-call with a written log. {count} pages, one real incident.",
        "Back from Bergen to {count} unread threads. Read none of them, wrote one summary, asked people to reply to that.",
        "Priya asked me to lead the cutover. Said yes, then wrote down what yes means.",
    ],
    9: [
        "Cutover rehearsal on staging went clean except for the retry storm. Rate limit added.",
        "Cutover night. Flipped traffic at 22:00, watched dashboards until 1:30. Zero mismatches.",
        "Decommissioned the old routing service. {count} lines of code deleted — best diff of the year.",
        "Retro for the migration. The range estimate held: we landed inside {low} to {high} weeks.",
        "Wrote down what worked: small PRs, written plans, shadow traffic, a runbook first.",
        "Quiet week after the cutover. Cleaned up flags and wrote docs nobody asked for yet.",
    ],
    10: [
        "Priya asked what I would do differently as lead. Honest answer: say no earlier, in writing.",
        "Onboarding a new engineer, Sam. Gave him the one-page docs instead of a tour of the code.",
        "Started the capacity plan for next year. Ranges again, with the assumptions written beside them.",
        "Review day: {count} small PRs, all merged by lunch. This is what good looks like.",
        "A planning meeting with an agenda, a timebox and a decision. Miracles happen.",
        "Wrote a short note on leading without a title. Mostly: write things down, then ask.",
    ],
}

PROJECT = {
    6: [
        "Tidewatch: got the harmonic model working for Hoek van Holland. Predicted high water within {minutes} minutes of the table.",
        "Tidewatch: parsing the station data took longer than the maths. It always does.",
        "Sketched the Tidewatch screens on paper. One screen: next high, next low, current speed.",
        "Tidewatch needs an offline mode. Kayakers have no signal exactly where tides matter.",
        "Read about tidal constituents until midnight. M2 does most of the work; the rest is seasoning.",
    ],
    7: [
        "Tidewatch: Postgres or SQLite? Wrote both options down. SQLite wins: one file, no server, backups are a copy.",
        "Moved Tidewatch to SQLite. Tests went from {seconds} seconds to under one.",
        "Tidewatch: tide heights now cached per station per day. Startup is instant.",
        "Paddled the Oosterschelde with Jonas and checked Tidewatch against reality. Off by {minutes} minutes at slack water.",
        "Tidewatch: fixed the slack-water calculation — it was interpolating across midnight wrong.",
    ],
    8: [
        "Tidewatch offline mode: precompute a year of tides per station. {count} KB per station. Fine.",
        "Worked on Tidewatch on the ferry to Bergen. Best office I have had in months.",
        "Tidewatch: the sync code is half the app now. That is a smell. Simplified it to download-only.",
        "Ingrid tried Tidewatch on the fjord. Asked why there is no wind. Fair question; wind is a different app.",
    ],
    9: [
        "Tidewatch beta out to five kayaker friends. Two bug reports by evening, both real.",
        "Tidewatch: Jonas wants current arrows on the map. Added to the list, not to the beta.",
        "Tidewatch crash on older Android phones. The date parser again — dates are always the bug.",
        "Beta feedback: people want the next slack water, not the next high. Changed the main screen.",
    ],
    10: [
        "Tidewatch v0.1 release checklist written. {count} items, most of them boring, all of them necessary.",
        "Tidewatch: wrote the README as if for a stranger. Found three things I never explained.",
        "Shipped Tidewatch v0.1 on the 30th. Small, correct, offline. Net: done is a feature.",
        "Tidewatch: first email from a stranger who used it in Zeeland. Read it three times.",
    ],
}

RUNNING = {
    6: [
        "Easy {km} km along the Maas. Kept it conversational.",
        "Run: {km} km, slow on purpose. Base building is boring, which is the point.",
    ],
    7: [
        "Long run: {km} km. Legs fine, head bored after 10.",
        "Intervals: 6 x 800 m. The last two hurt in the honest way.",
    ],
    8: [
        "Long run in Bergen: {km} km with hills I had forgotten about.",
        "16 km long run. Fuelled properly this time. Difference is obvious.",
    ],
    9: [
        "Taper week. {km} km easy and the legs feel new.",
        "Last long run before the race: {km} km at goal pace for the middle 8.",
    ],
    10: [
        "Race week. Short runs, early nights, no new shoes.",
        "Maas half marathon: 1:47:{seconds:02d}. Negative split. Cried a little at 19 km, for no reason.",
        "First run after the race: {km} km very slowly. Grateful legs.",
    ],
}

BAKING = [
    "Saturday bake: {hydration}% hydration, {hours} hours bulk. Open crumb, slightly sour. Gus is in form.",
    "Loaf came out flat. Overproofed — the kitchen was warmer than I thought. Note to self: check the temperature, not the clock.",
    "Tried {hydration}% hydration. Sticky mess, great bread. Worth it.",
    "Baked two loaves, gave one to the neighbours. The best way to use a failed experiment is a successful one.",
    "Rye experiment: dense, dark, good with cheese. Not for everyone. For me.",
]

DUTCH = {
    6: [
        "Dutch class: word order after 'omdat'. The verb goes to the end and my brain goes with it.",
        "Practised ordering coffee in Dutch. The barista answered in English. Next time.",
    ],
    7: [
        "Separable verbs: opbellen, meenemen, aankomen. The prefix runs off to the end of the sentence.",
        "Read a children's book in Dutch without a dictionary. Small win, still a win.",
    ],
    8: ["No Dutch in Bergen. Norwegian came back instantly — languages are stored somewhere safe."],
    9: [
        "B1 exam on the 24th. Speaking went well; writing was rushed. Is that a problem? We will see.",
        "Passed the B1 exam. Writing was the weakest part, as expected.",
    ],
    10: ["Read a whole NRC article in Dutch over breakfast. Slowly. All of it."],
}

EVENING = [
    "Cooked a big pot of lentil soup. Lunch for three days sorted.",
    "Called Ingrid. She is redoing the kitchen in Bergen and has opinions about tiles.",
    "Read {pages} pages of The Pragmatic Programmer. Still right after all these years.",
    "Evening walk along the Rotte. Cool air, good thinking.",
    "Did nothing useful this evening, on purpose.",
    "Cleaned the kayak and checked the spray deck. Ready for the weekend.",
    "Wrote a long message to Jonas about the trip. Deleted half of it. Better.",
]

REFLECTION = [
    "I think I say yes too fast when the question comes in a meeting. In writing I say yes slower and better.",
    "Looking back on the week: the days with a plan written the night before went best. Every single one.",
    "I realize I enjoy the migration work more than I expected. It is detective work with a deadline.",
    "I wonder whether Tidewatch should stay small forever. Probably yes. Small things get finished.",
    "On one hand, leading the cutover is a step up. On the other, I will write less code. Ultimately decided it is worth it for a season.",
    "I feel calmer when the work is written down. The anxiety is mostly about things that live only in my head.",
    "Looking back on the summer: the running plan worked because it was boring and I did not negotiate with it.",
    "I think estimates as ranges made the migration conversations more honest. People argue with ranges less than with numbers.",
    "I realize the Dutch exam scared me more than the cutover. Different kinds of being exposed.",
    "Ultimately decided to stop checking work chat after 19:00. The urgent things call anyway.",
]

TOMORROW = [
    "write the test first",
    "call Ingrid back",
    "review Tom's PR before standup",
    "feed Gus",
    "long run, early",
    "fix the slack-water bug",
    "one-page plan for the cutover",
    "Dutch homework — separable verbs",
    "answer the beta emails",
    "nothing. Rest.",
]

TOPICS_FOR_PAGES = [
    "the migration",
    "Tidewatch",
    "running",
    "Bergen",
    "being a lead",
    "the exam",
    "rest",
]


def fill(template: str, rng: random.Random) -> str:
    """Fill a template's {numbers} with plausible values; unused keys are ignored."""
    low = rng.randint(3, 5)
    return template.format(
        pages=rng.randint(2, 4),
        topic=rng.choice(TOPICS_FOR_PAGES),
        count=rng.randint(3, 14),
        low=low,
        high=low + rng.randint(2, 3),
        minutes=rng.randint(4, 19),
        seconds=rng.randint(2, 58),
        km=rng.choice([6, 8, 10, 12, 14, 16]),
        hydration=rng.choice([70, 72, 75, 78, 80]),
        hours=rng.choice([4, 5, 6]),
    )
