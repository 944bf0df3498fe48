"""The LLM extractor: facts from a teacher model, held to a strict JSON schema.

Used when a teacher endpoint is given (`profile build --teacher URL`, any
OpenAI-compatible /chat/completions: Ollama, vLLM, llama.cpp's server, a
remote API). Notes go out in batches of `dataset.teacher_batch`, with the
same retries, backoff and request-hash cache as the dataset stage's teacher.

The model proposes; the evidence decides. An item is kept only when

- it has exactly the fields of SCHEMA and its key is one of the profile's slots;
- its `quote` is copied from the note it cites (whitespace and case aside);
- every capitalised word and most other words of its `value` are in that note.

Everything else is counted by reason and dropped, so a teacher that invents a
city, a sister or a quote cannot put it in the profile.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from personaforge.config import DatasetSettings
from personaforge.dataset.synth import MAX_NOTE_CHARS, TeacherClient
from personaforge.profile.facts import SLOTS, Candidate, valid_key
from personaforge.profile.rules import the_persons
from personaforge.store import Memory

SCHEMA = {
    "type": "object",
    "required": ["facts"],
    "additionalProperties": False,
    "properties": {
        "facts": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["note", "key", "value", "quote"],
                "additionalProperties": False,
                "properties": {
                    "note": {"type": "integer", "minimum": 1},
                    "key": {"type": "string"},
                    "value": {"type": "string", "maxLength": 80},
                    "quote": {"type": "string"},
                    "tense": {"enum": ["current", "past"]},
                },
            },
        }
    },
}
FIELDS = set(SCHEMA["properties"]["facts"]["items"]["properties"])  # type: ignore[index]
KEYS = ", ".join(
    f"{name}:<{'role' if name == 'relationship' else 'thing'}>" if "{sub}" in slot.label else name
    for name, slot in SLOTS.items()
)
INSTRUCTIONS = (
    "Below are numbered notes written by one person. List facts about that person that a note states "
    "outright: where they live and come from, their work, projects, decisions, dates, interests, "
    "routines, the people in their life by role, and their opinions. Reply with JSON only, matching "
    f"this JSON Schema: {json.dumps(SCHEMA)}. `key` is one of: {KEYS}. `value` is short (a name, a "
    "place, or a few words). `quote` is copied word for word from the note and says the fact. "
    "`tense` is past when the note says the fact no longer holds. Leave out anything about other "
    "people's private lives, contact details, passwords, keys and account numbers."
)
MIN_EXTRACT_WORDS = 8  # shorter memories rarely state a fact and cost a request slot
GROUNDED_SHARE = 0.6  # share of a value's lower-case words that must be in the note


@dataclass
class TeacherFactsReport:
    endpoint: str
    requests: int = 0
    cached: int = 0
    failed: int = 0
    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> count
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return vars(self)


def _flat(text: str) -> str:
    return " ".join(re.sub(r"[“”\"'‘’`*_]", "", text).casefold().split())


def complete(client: TeacherClient, prompt: str) -> str | None:
    """The teacher's reply to the profile's INSTRUCTIONS + prompt: the client's cached, retried
    request (dataset/synth.py), with its own cache prefix."""
    return client.complete(prompt, INSTRUCTIONS, cache_prefix="profile-")


def parse_facts(reply: str) -> list[Any] | None:
    """The `facts` list of a reply, or None when the reply is not the JSON object asked for."""
    text = re.sub(r"^```(?:json)?|```$", "", reply.strip(), flags=re.M).strip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or set(data) != {"facts"} or not isinstance(data["facts"], list):
        return None
    return data["facts"]


def check_item(item: Any, batch: list[Memory]) -> tuple[Candidate | None, str]:
    """A candidate from one reply item, or None and the reason it was refused."""
    if not isinstance(item, dict) or not {"note", "key", "value", "quote"} <= set(item):
        return None, "missing fields"
    if set(item) - FIELDS:
        return None, "unknown fields"
    note, key, value, quote = item["note"], item["key"], item["value"], item["quote"]
    tense = item.get("tense", "current")
    if not (isinstance(note, int) and not isinstance(note, bool) and 1 <= note <= len(batch)):
        return None, "no such note"
    if not (isinstance(key, str) and valid_key(key)):
        return None, "unknown key"
    if not (isinstance(value, str) and 0 < len(value.strip()) <= 80 and isinstance(quote, str)):
        return None, "bad value or quote"
    if tense not in ("current", "past"):
        return None, "bad tense"
    memory = batch[note - 1]
    note_text = _flat(memory.text)
    if len(quote.split()) < 2 or _flat(quote) not in note_text:
        return None, "quote not in the note"
    words = re.findall(r"[\w'\-]+", value)
    names = [w for w in words if w[:1].isupper()]
    plain = [w for w in words if not w[:1].isupper() and len(w) > 2]
    found = [w for w in plain if _flat(w) in note_text]
    if any(_flat(n) not in note_text for n in names) or (
        plain and len(found) < GROUNDED_SHARE * len(plain)
    ):
        return None, "value not in the note"
    return Candidate(key, value.strip(), memory, " ".join(quote.split()), "teacher", tense), ""


def teacher_candidates(
    memories: list[Memory], endpoint: str, settings: DatasetSettings, cache_dir: Path
) -> tuple[list[Candidate], TeacherFactsReport]:
    """Candidates the teacher proposes and the notes bear out, and a report of what it did."""
    client = TeacherClient(endpoint, settings, cache_dir)
    report = TeacherFactsReport(endpoint)
    eligible = [m for m in the_persons(memories) if len(m.text.split()) >= MIN_EXTRACT_WORDS]
    found: list[Candidate] = []
    rejected: Counter = Counter()
    size = settings.teacher_batch
    for start in range(0, len(eligible), size):
        batch = eligible[start : start + size]
        prompt = "\n\n".join(
            f"Note {i}: {m.text[:MAX_NOTE_CHARS]}" for i, m in enumerate(batch, start=1)
        )
        reply = complete(client, prompt)
        if reply is None:
            if client.report.failed >= 2 and not found:  # down, not flaky: stop asking
                report.problems.append("teacher unreachable; the profile uses the rules alone")
                break
            continue
        items = parse_facts(reply)
        if items is None:
            report.problems.append(f"batch {start // size + 1}: reply is not the JSON asked for")
            continue
        for item in items:
            candidate, reason = check_item(item, batch)
            if candidate is None:
                rejected[reason] += 1
            else:
                found.append(candidate)
    report.requests, report.cached, report.failed = (
        client.report.requests,
        client.report.cached,
        client.report.failed,
    )
    report.problems += client.report.problems
    report.accepted, report.rejected = len(found), dict(rejected)
    return found, report
