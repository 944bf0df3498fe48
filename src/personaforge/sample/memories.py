"""Sample episodic memories (MetaHuman OS shape) and corrections for preference training.

Observations and reflections are composed in the month's words (vault.grammar_for)
by the same Voice that wrote the vault, so they never repeat a journal sentence;
dialogues, inner dialogue and agent actions are fixed, each written once.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from personaforge.sample import persona as p
from personaforge.sample.grammar import Voice
from personaforge.sample.vault import grammar_for, note_slots
from personaforge.sample.writer import SampleWriter

CONVERSATIONS = [
    (
        "Should I say yes to leading the cutover?",
        "Say yes with a written scope: the cutover and the retro, nothing after. You know the timezone paths best.",
    ),
    (
        "What do I tell Priya about the estimate?",
        "A range, 10 to 14 weeks, and the three assumptions. Ask her to argue with the assumptions.",
    ),
    (
        "Is it worth adding current arrows to Tidewatch?",
        "Not for v0.1. Write it on the list, ship the small correct thing first.",
    ),
    (
        "Should I run tomorrow even though I slept badly?",
        "Easy run, shorter. The plan survives one slow day; it does not survive skipped weeks.",
    ),
    (
        "How do I prepare for the Dutch writing exam?",
        "Write one short text a day, timed, and have the teacher mark two a week. Writing is your weak part.",
    ),
    (
        "What should the Tidewatch main screen show?",
        "The next slack water. The beta users said so, and they are the people paddling.",
    ),
    (
        "Do I answer work chat in the evening?",
        "No. You decided: nothing after 19:00. The urgent things call.",
    ),
    (
        "How should I open the postmortem?",
        "With impact in one sentence, then the timeline. Blameless, specific, short.",
    ),
]
INNER_DIALOGUE = [
    "Am I tired or bored? Bored. Bored is fine, it means the plan is working.",
    "Why does the cutover scare me less than the exam? Because at work I wrote the runbook.",
    "Do I want to lead again next year? Maybe. Ask again in January, in writing.",
    "Is Tidewatch a product or a hobby? A hobby that happens to be correct. Keep it that way.",
    "Is the flat loaf a failure? No. It is a measurement.",
    "Why do I keep saying yes in meetings? Because silence feels rude. It is not.",
]
AGENT_ACTIONS = [
    "Scheduled the Sunday long run for 07:00 and blocked the calendar.",
    "Created a reminder to rotate the Tidewatch S3 key after launch.",
    "Drafted the weekly review template with three headings.",
    "Booked the Dutch B1 exam for 24 September.",
    "Set a 19:00 do-not-disturb rule for work chat.",
]


def _memory(
    memory_id: str,
    when: datetime,
    content: str,
    kind: str,
    mode: str,
    tags: list[str],
    entities: list[str],
    response: str | None = None,
) -> dict:
    record = {
        "id": memory_id,
        "timestamp": when.isoformat(timespec="milliseconds") + "Z",
        "content": content,
        "type": kind,
        "tags": tags,
        "entities": entities,
        "metadata": {"cognitiveMode": mode, "source": "metahuman"},
    }
    if response is not None:
        record["response"] = response
    return record


# What each composed episodic memory is about: (type, mode, phrase, tags, entities).
COMPOSED = {
    "observation": (
        "observation",
        "dual",
        "[{morning_scene}|{evening_item}|{bake}|{pages_line}]",
        ["daily"],
        [],
    ),
    "reflection": (
        "reflection",
        "dual",
        "[{reflection}|{reflection} {question}]",
        ["reflection"],
        [],
    ),
    "project": ("observation", "dual", "{project}", ["tidewatch"], ["Tidewatch"]),
}


def compose_episode(kind: str, when: datetime, voice: Voice) -> tuple:
    """One composed memory for `when`, in that month's words (and that month's style)."""
    memory_type, mode, phrase, tags, entities = COMPOSED[kind]
    voice.grammar = grammar_for(when.date().isoformat())
    text = voice.finish([voice.say(phrase, **note_slots(when.date(), voice.rng))])
    return (memory_type, mode, text, None, tags, entities)


def write_records(
    w: SampleWriter, records: list[tuple[datetime, tuple]], start_index: int = 0
) -> list[str]:
    """Write (when, record) pairs as MetaHuman JSON files; returns their paths."""
    written = []
    for index, (when, (kind, mode, content, response, tags, entities)) in enumerate(
        records, start_index
    ):
        memory_id = f"evt-{when:%Y%m%d%H%M%S}-{index:03d}"
        record = _memory(memory_id, when, content, kind, mode, tags, entities, response)
        rel = f"episodic/{when:%Y}/{when:%m}/{memory_id}.json"
        w.write(rel, json.dumps(record, indent=2, ensure_ascii=False), "episodic", when)
        written.append(rel)
    return written


def write_episodic(w: SampleWriter, voice: Voice) -> None:
    """The base months' episodic memories: composed observations and reflections, fixed dialogues."""
    rng = voice.rng
    start = datetime.fromisoformat(p.START_DATE + "T07:00:00")
    span_days = (datetime.fromisoformat(p.END_DATE + "T07:00:00") - start).days

    def moment() -> datetime:
        return start + timedelta(days=rng.randrange(span_days), minutes=rng.randrange(12 * 60))

    records: list[tuple[datetime, tuple]] = []
    for kind, count in (("observation", 18), ("reflection", 10)):
        for _ in range(count):
            when = moment()
            records.append((when, compose_episode(kind, when, voice)))
    for month in ("2026-06", "2026-07", "2026-08", "2026-09", "2026-10"):
        when = datetime.fromisoformat(
            f"{month}-{rng.randint(3, 27):02d}T{rng.randint(18, 22)}:{rng.randint(0, 59):02d}"
        )
        records.append((when, compose_episode("project", when, voice)))
    fixed = [
        ("conversation", "emulation", q, a, ["conversation"], ["Maren"]) for q, a in CONVERSATIONS
    ]
    fixed += [("inner_dialogue", "dual", text, None, ["inner"], []) for text in INNER_DIALOGUE]
    fixed += [("action", "agent", text, None, ["task"], []) for text in AGENT_ACTIONS]
    records += [(moment(), record) for record in fixed]
    rng.shuffle(records)
    write_records(w, records)
    # A record without content violates the schema: ingest must skip it with a reason.
    broken = {"id": "evt-broken", "timestamp": "2026-07-01T08:00:00.000Z", "type": "observation"}
    rel = "episodic/2026/07/evt-broken.json"
    w.write(rel, json.dumps(broken, indent=2), "episodic", datetime(2026, 7, 1, 8))
    w.expect("skipped_schema", rel)


PREFERENCE_PAIRS = [
    (
        "How should I estimate the migration?",
        "A range: 10 to 14 weeks, with the three assumptions written beside it. One number is a promise you cannot keep.",
        "Great question! Estimating software projects can be challenging. Here are some tips: 1. Break the work "
        "down. 2. Consider risks. 3. Add a buffer. I hope this helps!",
    ),
    (
        "Should Tidewatch use Postgres?",
        "No. SQLite: one file, no server, backups are a copy. Tidewatch is read-mostly and offline.",
        "Both Postgres and SQLite are excellent databases with their own strengths and weaknesses, and the "
        "right choice depends on many factors.",
    ),
    (
        "How was the half marathon?",
        "1:47, negative split. The plan worked because it was boring.",
        "It was an amazing and unforgettable experience that I will cherish forever!",
    ),
    (
        "Do you like long meetings?",
        "A meeting without an agenda is a chat with a calendar invite. Write it down instead.",
        "Meetings can be very valuable for collaboration and team bonding, so I always enjoy them.",
    ),
    (
        "What do you do first when fixing a bug?",
        "Write the failing test. Then fix it. Then keep the diff small.",
        "First I look at the code and try to figure out what is wrong, then I change things until it works.",
    ),
    (
        "How big should a pull request be?",
        "One idea per PR, tests included, description says why. Small PRs get reviewed; big ones get approved.",
        "Pull requests can be any size as long as the code is good quality.",
    ),
    (
        "How do you start your day?",
        "Morning pages at 6:30 with tea. No phone until eight.",
        "I usually check my phone and emails first thing to stay on top of things.",
    ),
    (
        "What is Tidewatch?",
        "A tide app for sea kayakers. Offline, no accounts, tells you the next slack water. Small on purpose.",
        "Tidewatch is an innovative, cutting-edge platform that leverages advanced technology to revolutionize "
        "the way people interact with the ocean.",
    ),
    (
        "How do you handle work chat in the evening?",
        "I don't. Nothing after 19:00. The urgent things call.",
        "I always try to be available for my team whenever they need me, even late at night.",
    ),
    (
        "What went wrong with the flat loaf?",
        "Overproofed. The kitchen was warm. Watch the dough, not the clock.",
        "Baking bread is a complex process and many things can go wrong, such as the flour, the water, the "
        "yeast or the oven.",
    ),
    (
        "How do you feel about leading the cutover?",
        "Good, for one season. Written scope: the cutover and the retro. Less code, fair enough.",
        "I am absolutely thrilled and honored to have this incredible leadership opportunity!",
    ),
    (
        "How did the Dutch exam go?",
        "Passed B1. Speaking went well, writing was rushed. Writing is the weak part, as expected.",
        "The exam went great and I am now basically fluent in Dutch.",
    ),
    (
        "What do you tell someone who asks for one number?",
        "That a single number is heard as a promise. I give a range and the assumptions, and we argue about those.",
        "I just give them a number to keep things simple.",
    ),
    (
        "What should an alert say?",
        "What happened: which queue, which message type, since when. 'Queue high' is not an alert, it is a mood.",
        "Alerts should be configured according to industry best practices.",
    ),
    (
        "What editor do you use?",
        "Neovim. Boring, fast, mine.",
        "I use whatever editor is most popular at the moment.",
    ),
    (
        "Why do you write things down?",
        "Because writing is where I find out what I actually think. The anxiety lives in the things I haven't written.",
        "Writing things down is a good habit that many productivity experts recommend.",
    ),
]

RATED_RESPONSES = [
    (
        "Summarise your week.",
        "Cutover rehearsal clean, long run 16 km, Gus in form. Net: on plan.",
        5,
    ),
    (
        "Summarise your week.",
        "This week was really busy and a lot of things happened at work and at home.",
        1,
    ),
    ("What is your favourite database?", "SQLite, for most small tools. Boring is a feature.", 5),
    (
        "Describe your running plan.",
        "Three runs: Tuesday easy, Thursday quality, Sunday long. No two hard days in a row.",
        5,
    ),
    ("Describe your running plan.", "I run whenever I feel like it, sometimes every day.", 1),
    (
        "What are you working on?",
        "Tidewatch v0.1 and the capacity plan at work. Both small, both written down.",
        4,
    ),
    ("Where are you from?", "Bergen. Rotterdam for six years now. The wind is similar.", 5),
    ("Where are you from?", "I am from a lovely city with lots of culture and history.", 2),
]


def write_feedback(w: SampleWriter) -> None:
    lines = [
        json.dumps({"prompt": prompt, "chosen": chosen, "rejected": rejected}, ensure_ascii=False)
        for prompt, chosen, rejected in PREFERENCE_PAIRS
    ]
    lines += [
        json.dumps({"prompt": prompt, "response": response, "rating": rating}, ensure_ascii=False)
        for prompt, response, rating in RATED_RESPONSES
    ]
    # One malformed line: the feedback reader must count and skip it, not stop.
    lines.insert(5, '{"prompt": "half a record", "chosen": ')
    rel = "feedback/corrections.jsonl"
    w.write(rel, "\n".join(lines) + "\n", "feedback", datetime(2026, 10, 31, 18))
    w.expect("malformed_line", rel)
