"""What retrieval hands the model: the context's parts, and the formats that put it before a question.

    context = Context(question, facts, passages, tokens)      # built by serve/retrieval.py
    FORMATS["notes"](messages, system_prompt, context)       # the conversation the model gets

A 135M model uses some formats and ignores others; `bench/persona.py --formats` measures
them by fact accuracy, and `serve.retrieval_format`'s default is the best one there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from personaforge.dataset.examples import CONTEXT_TURN

# -- what a context holds -------------------------------------------------------------------------


@dataclass(frozen=True)
class Passage:
    memory_id: str
    date: str  # YYYY-MM-DD, the memory's
    title: str
    source: str
    text: str  # the sentences used, scrubbed
    # The question she was answering, when the memory is her answer to one (a correction's
    # prompt, scrubbed): the `asked` format shows the passage as that exchange.
    asked: str = ""


@dataclass(frozen=True)
class KnownFact:
    id: str
    key: str
    label: str
    value: str  # scrubbed
    statement: bool  # the value is the person's own sentence (an opinion), not a name
    evidence: tuple[str, ...] = ()  # the memories that state it
    support: int = 1  # how many memories state it: ranks facts the question cannot tell apart
    asked: str = ""  # the question she answered with it, when it is her answer to one


@dataclass
class Context:
    """What retrieval found for one question, within the budget."""

    query: str
    facts: list[KnownFact] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    tokens: int = 0
    left_out: dict[str, int] = field(
        default_factory=lambda: {"stale": 0, "private": 0, "budget": 0}
    )

    def empty(self) -> bool:
        return not (self.facts or self.passages)

    def sources(self) -> dict[str, list[dict[str, str]]]:
        """The memories and facts the answer was given (never more than their ids and names)."""
        return {
            "memories": [
                {"id": p.memory_id, "date": p.date, "title": p.title, "source": p.source}
                for p in self.passages
            ],
            "facts": [{"id": f.id, "label": f.label, "value": f.value} for f in self.facts],
        }

    def texts(self) -> list[str]:
        """Every text handed to the model (the recitation check compares answers with these)."""
        return [f.value for f in self.facts] + [p.text for p in self.passages]

    def stated_values(self) -> list[str]:
        """The values of its slot facts (a habit, a place, a name): what a right answer states.
        A view is a sentence of hers, not a value to state (the recitation check tells them apart)."""
        return [f.value for f in self.facts if not f.statement]


@dataclass
class Grounded:
    messages: list[dict[str, str]]
    context: Context


# -- formats: how the context reaches the model ---------------------------------------------------

# First-person sentences for facts, by slot; {sub} is the key's qualifier ("sister").
FIRST_PERSON: dict[str, str] = {
    "home_city": "I live in {value}.",
    "hometown": "I am from {value}.",
    "employer": "I work at {value}.",
    "role": "My job: {value}.",
    "editor": "My editor is {value}.",
    "tool": "I use {value}.",
    "project": "I am working on {value}.",
    "decision": "I decided: {value}.",
    "event": "In my calendar: {value}.",
    "learning": "I am learning {value}.",
    "interest": "I like {value}.",
    "habit": "My routine: {value}.",
    "named": "My {sub} is called {value}.",
    "favourite": "My favourite {sub} is {value}.",
    "relationship": "My {sub} is {value}.",
}


# An earlier question for each slot, for the `asked` format: worded apart from the knows
# check's questions (evaluate/knows.py PROFILE_QUESTIONS), so that check still asks
# something new. {sub} is the key's qualifier ("sister").
ASKED_BEFORE: dict[str, str] = {
    "home_city": "Which city is home now?",
    "hometown": "Which place did you grow up in?",
    "employer": "Which company are you with?",
    "role": "What is your title at work?",
    "editor": "What do you write your code in?",
    "tool": "Which software do you rely on?",
    "project": "Which project keeps you busy?",
    "decision": "What did you decide lately?",
    "event": "Which date is next in your calendar?",
    "learning": "What are you studying?",
    "interest": "What do you like doing when you are free?",
    "habit": "Which routine do you keep?",
    "named": "Your {sub}: what is it called?",
    "favourite": "Which {sub} do you like best?",
    "relationship": "Your {sub}: who is that?",
}
STATEMENT_ASKED = "What is something you believe?"


def asked_before(fact: KnownFact) -> str:
    if fact.statement:  # a view: the question she gave it to says what it is about
        return fact.asked or STATEMENT_ASKED
    base, _, sub = fact.key.partition(":")
    return ASKED_BEFORE.get(base, "What else is true about you?").format(sub=sub)


def first_person(fact: KnownFact) -> str:
    if fact.statement:
        return fact.value
    base, _, sub = fact.key.partition(":")
    template = FIRST_PERSON.get(base, "{label}: {value}.")
    return template.format(value=fact.value.rstrip("."), sub=sub, label=fact.label)


def fact_line(fact: KnownFact) -> str:
    return f"- {fact.label}: {fact.value}"


def passage_line(passage: Passage) -> str:
    return f"- ({passage.date}) {passage.text}"


def _block(context: Context) -> str:
    parts = []
    if context.facts:
        parts.append("What is true about you now:\n" + "\n".join(map(fact_line, context.facts)))
    if context.passages:
        parts.append("From your notes:\n" + "\n".join(map(passage_line, context.passages)))
    return "\n\n".join(parts)


def _first_person_block(context: Context) -> str:
    said = [first_person(f) for f in context.facts] + [p.text for p in context.passages]
    return " ".join(said)


def _with_system(messages: list[dict[str, str]], system: str, extra: str) -> list[dict[str, str]]:
    """The conversation with its system message (the client's, else `system`) plus `extra`."""
    own = messages[0]["content"] if messages and messages[0]["role"] == "system" else None
    rest = messages[1:] if own is not None else messages
    prompt = own if own is not None else system
    return [{"role": "system", "content": f"{prompt}\n\n{extra}".strip()}, *rest]


def format_notes(messages, system: str, context: Context) -> list[dict[str, str]]:
    """The system message, then the facts and the notes as labelled lists."""
    return _with_system(messages, system, _block(context))


def format_first_person(messages, system: str, context: Context) -> list[dict[str, str]]:
    """The system message, then what is true as first-person sentences, as if she said them."""
    return _with_system(messages, system, "About you: " + _first_person_block(context))


def format_question_notes(messages, system: str, context: Context) -> list[dict[str, str]]:
    """The notes inside the last user message, above the question (system message untouched)."""
    grounded = _with_system(messages, system, "")
    last = max(i for i, m in enumerate(grounded) if m["role"] == "user")
    question = grounded[last]["content"]
    grounded[last] = {"role": "user", "content": f"{_block(context)}\n\nQuestion: {question}"}
    return grounded


def _exchange(question: str, answer: str) -> list[dict]:
    """An earlier question and her answer to it, the answer flagged as context."""
    return [
        {"role": "user", "content": question},
        {"role": "assistant", "content": answer, CONTEXT_TURN: True},
    ]


def format_recalled(messages, system: str, context: Context) -> list[dict[str, str]]:
    """An earlier exchange in which she says what she knows, then the conversation."""
    grounded = _with_system(messages, system, "")
    recalled = _exchange(
        "Before we talk: what is true about you right now?", _first_person_block(context)
    )
    return [grounded[0], *recalled, *grounded[1:]]


def format_asked(messages, system: str, context: Context) -> list[dict[str, str]]:
    """The passages that answered a question as those exchanges, in her words; then each fact
    as an earlier exchange: a question about its slot and her answer in the first person
    ("I am from Bergen."), the best nearest the question; the other passages as notes in
    the system message. A 135M model copies an answer it has "given" before far more often than a
    line of notes (bench/RESULTS.md, "persona — what it knows"). The earlier answers are
    marked `context`: recalled, not written for this question, so training never takes
    them as targets (train/trainers.py sft_rows)."""
    answered = [p for p in context.passages if p.asked]
    notes = [p for p in context.passages if not p.asked]
    grounded = _with_system(messages, system, _block(replace(context, facts=[], passages=notes)))
    earlier: list[dict] = []
    for passage in reversed(answered):
        earlier += _exchange(passage.asked, passage.text)
    for fact in reversed(context.facts):  # the best last: nearest the question
        earlier += _exchange(asked_before(fact), first_person(fact))
    return [grounded[0], *earlier, *grounded[1:]]


Format = Callable[[list[dict[str, str]], str, Context], list[dict[str, str]]]
FORMATS: dict[str, Format] = {
    "notes": format_notes,
    "first-person": format_first_person,
    "question-notes": format_question_notes,
    "recalled": format_recalled,
    "asked": format_asked,
}
