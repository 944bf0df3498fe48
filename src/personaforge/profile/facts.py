"""Facts with evidence: what a profile is made of, and how candidates become facts.

An extractor (rules.py, teacher.py) proposes `Candidate`s: a slot key, a
value, the memory it came from, the sentence that says it and its tense.
`merge` groups candidates by (key, value) into `Fact`s that carry every
supporting memory, and decides each fact's status:

- a multi-valued slot (projects, relationships, opinions) keeps every value current;
- a single-valued slot (where you live, who you work for) has one current value:
  the one most recently stated in the present tense. Every other value is
  `superseded` by it, with `changed_on` = the first day the new value was
  stated after the old one was first stated. When the old value was still
  stated as current after that day, the fact is flagged `conflict`, so
  contradicting statements are shown, never silently kept or dropped.

A fact exists only if at least one memory supports it; `support` counts
distinct memory texts (an exact copy of a note is one memory, not two).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from personaforge.store import Memory

SECTIONS = {
    "identity": "Identity and background",
    "work": "Work and technical skills",
    "projects": "Current projects and context",
    "interests": "Interests and routines",
    "relationships": "Relationships",
    "values": "Values and opinions",
}


@dataclass(frozen=True)
class Slot:
    section: str  # a key of SECTIONS
    label: str  # how the profile names it; {sub} is the key's qualifier ("relationship:sister")
    single: bool  # one current value at a time (a change supersedes the old value)
    statement: bool = False  # the value is the person's own sentence, not a name or a place


# Slot keys extractors may use. A key with a qualifier ("relationship:sister",
# "named:starter", "favourite:database") takes its slot from the part before ':'.
SLOTS: dict[str, Slot] = {
    "home_city": Slot("identity", "Lives in", True),
    "hometown": Slot("identity", "From", True),
    "employer": Slot("work", "Works at", True),
    "role": Slot("work", "Role", True),
    "editor": Slot("work", "Editor", True),
    "tool": Slot("work", "Uses", False),
    "project": Slot("projects", "Project", False),
    "decision": Slot("projects", "Decided", False),
    "event": Slot("projects", "Date in the calendar", False),
    "learning": Slot("interests", "Learning", False),
    "interest": Slot("interests", "Interest", False),
    "habit": Slot("interests", "Routine", False),
    "named": Slot("interests", "My {sub}", True),
    "favourite": Slot("interests", "Favourite {sub}", True),
    "relationship": Slot("relationships", "{sub}", False),
    "opinion": Slot("values", "Opinion", False, statement=True),
    "preference": Slot("values", "Preference", False, statement=True),
    "habit_statement": Slot("interests", "In my words", False, statement=True),
    "decision_statement": Slot("values", "Decision, in my words", False, statement=True),
}


def slot_of(key: str) -> Slot:
    return SLOTS[key.split(":", 1)[0]]


def label_of(key: str) -> str:
    sub = key.split(":", 1)[1] if ":" in key else ""
    label = slot_of(key).label.format(sub=sub)
    return label[:1].upper() + label[1:]


def valid_key(key: str) -> bool:
    base, _, sub = key.partition(":")
    if base not in SLOTS:
        return False
    needs_sub = "{sub}" in SLOTS[base].label
    return bool(sub) == needs_sub and (
        not sub or re.fullmatch(r"[a-z][a-z ]{1,30}", sub) is not None
    )


@dataclass
class Candidate:
    """One extractor's claim that one memory states one fact."""

    key: str
    value: str
    memory: Memory
    quote: str  # the sentence (or line) that says it
    extractor: str  # "rules:<rule>" or "teacher"
    tense: str = "current"  # current: true when written; past: was true before


@dataclass
class Evidence:
    memory_id: str
    date: str  # YYYY-MM-DD, the memory's date
    quote: str
    extractor: str
    tense: str = "current"

    def answered(self) -> tuple[str, str] | None:
        """(question, her answer) when the quote is her answer to a question: rules.py quotes
        those "question — answer" under the extractor ANSWERED."""
        if self.extractor != ANSWERED or " — " not in self.quote:
            return None
        question, answer = self.quote.split(" — ", 1)
        return question.strip(), answer.strip()


@dataclass
class Fact:
    id: str
    key: str
    value: str
    section: str
    label: str
    evidence: list[Evidence]
    support: int  # distinct memories (exact copies counted once)
    first_seen: str
    last_seen: str
    status: str = "current"  # current or superseded
    superseded_by: str | None = None  # the fact id that replaced it
    changed_on: str | None = None  # the day the replacement was first stated
    conflict: bool = False  # still stated as current after it was replaced
    extractors: list[str] = field(default_factory=list)

    @property
    def statement(self) -> bool:
        return slot_of(self.key).statement

    @property
    def memory_ids(self) -> list[str]:
        return list(dict.fromkeys(e.memory_id for e in self.evidence))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fact:
        values = dict(data)
        values["evidence"] = [Evidence(**e) for e in values["evidence"]]
        return cls(**values)


def normalise(value: str) -> str:
    """Grouping form of a value: case, articles and punctuation do not make a new fact."""
    text = re.sub(r"[^\w\s:./+#-]", " ", value.casefold())
    text = re.sub(r"^(?:the|a|an|my)\s+", "", text.strip())
    return " ".join(text.rstrip(".").split())


def fact_id(key: str, value: str) -> str:
    return hashlib.sha256(f"{key}\0{normalise(value)}".encode()).hexdigest()[:12]


def _text_key(memory: Memory) -> str:
    return hashlib.sha256(" ".join(memory.text.split()).encode()).hexdigest()


# Extractors that find a value without a sentence stating it (a tag, a mention of a name).
UNSTATED = ("rules:work-tag", "rules:topic-tag", "rules:mention", "rules:series")
# The extractor of her answers to questions (rules.py), quoted "question — answer".
ANSWERED = "rules:answer"


def _make_fact(key: str, group: list[Candidate]) -> Fact:
    # The value as stated most often, then as written most often, then the longest:
    # "Kestrel Freight" (said once) over "Kestrel" (a tag on 80 notes).
    spellings: dict[str, list[int]] = {}
    for candidate in group:
        counts = spellings.setdefault(candidate.value, [0, 0])
        counts[0] += candidate.extractor not in UNSTATED
        counts[1] += 1
    value = max(spellings, key=lambda v: (*spellings[v], len(v)))
    evidence: list[Evidence] = []
    seen_texts: set[str] = set()
    seen_ids: set[str] = set()
    for candidate in sorted(group, key=lambda c: (c.memory.created_at, c.memory.id)):
        memory = candidate.memory
        if memory.id in seen_ids:
            continue
        text_key = _text_key(memory)
        if text_key in seen_texts:  # an exact copy of a note already counted
            continue
        seen_ids.add(memory.id)
        seen_texts.add(text_key)
        evidence.append(
            Evidence(
                memory.id,
                memory.created_at[:10],
                candidate.quote,
                candidate.extractor,
                candidate.tense,
            )
        )
    dates = [e.date for e in evidence]
    return Fact(
        id=fact_id(key, value),
        key=key,
        value=value,
        section=slot_of(key).section,
        label=label_of(key),
        evidence=evidence,
        support=len(evidence),
        first_seen=min(dates),
        last_seen=max(dates),
        extractors=sorted({c.extractor.split(":")[0] for c in group}),
    )


def _held(fact: Fact) -> list[str]:
    """Days the value was stated as true at the time of writing."""
    return sorted(e.date for e in fact.evidence if e.tense == "current")


def _resolve_single(facts: list[Fact]) -> None:
    """One current value per single-valued key; the others superseded, with the day it changed."""
    stated = [f for f in facts if _held(f)]
    if not stated:  # only past-tense mentions: all of them are former values
        for fact in facts:
            fact.status = "superseded"
        return
    current = max(stated, key=lambda f: (_held(f)[-1], _held(f)[0], f.support))
    for fact in facts:
        if fact is current:
            continue
        fact.status = "superseded"
        fact.superseded_by = current.id
        held = _held(fact)
        if not held:
            continue  # a former value with no date of change in the notes
        after = [day for day in _held(current) if day > held[0]]
        fact.changed_on = after[0] if after else None
        fact.conflict = bool(fact.changed_on and held[-1] > fact.changed_on)


def _join_partial_names(groups: dict[tuple[str, str], list[Candidate]]) -> None:
    """'Kestrel' and 'Kestrel Freight' in one slot are one thing: join the shorter to the longer.

    Only when exactly one longer value holds all the shorter one's words ('Tidewatch'
    next to both 'Tidewatch beta' and 'Tidewatch v0.1' stays itself), and never for
    statements, whose words are sentences, not names.
    """
    keys = sorted(groups, key=lambda k: len(k[1].split()))
    for key, value in keys:
        if slot_of(key).statement or (key, value) not in groups:
            continue
        words = set(value.split())
        wider = [
            other
            for other in groups
            if other[0] == key and other[1] != value and words < set(other[1].split())
        ]
        if len(wider) == 1:
            groups[wider[0]].extend(groups.pop((key, value)))


def merge(candidates: list[Candidate]) -> list[Fact]:
    """Facts from candidates: grouped by key and value, with status, sorted for reading."""
    groups: dict[tuple[str, str], list[Candidate]] = {}
    for candidate in candidates:
        value = candidate.value.strip()
        if not value:
            continue
        groups.setdefault((candidate.key, normalise(value)), []).append(candidate)
    _join_partial_names(groups)
    facts = [_make_fact(key, group) for (key, _), group in groups.items()]
    by_key: dict[str, list[Fact]] = {}
    for fact in facts:
        by_key.setdefault(fact.key, []).append(fact)
    for key, same in by_key.items():
        if slot_of(key).single:
            _resolve_single(same)
    order = list(SLOTS)
    return sorted(
        facts,
        key=lambda f: (
            order.index(f.key.split(":")[0]),
            f.key,
            f.status != "current",
            -f.support,
            f.first_seen,
            f.value,
        ),
    )
