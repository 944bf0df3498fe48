"""A generated general-knowledge corpus for pretraining the built-in tiny base.

No model hub and no downloads: the text is assembled from the tables in tables.py
with a seeded RNG, so the same seed always gives the same corpus. Four kinds of document:

- facts: capitals, languages, animals, colours, time, science, opposites, plurals;
- arithmetic: sums, differences and products of small numbers;
- everyday prose: short stories, first-person notes, definitions, how-tos;
- chats: question/answer and simple-instruction dialogues (user -> assistant),
  which teach the base its chat template, to answer, and to stop at EOS.

The chats matter downstream: the verification gate probes a base for arithmetic,
facts and instruction following, and a base that never saw a chat turn would
fail those probes before any fine-tuning happened.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from personaforge.bases.tiny.tables import (
    ANIMALS,
    COLOURS,
    COUNTRIES,
    DAYS,
    DEFINITIONS,
    EVENING,
    FEELINGS,
    FIRST_PERSON,
    GREETINGS,
    HOWTOS,
    LANGUAGES,
    MIDDAY,
    MONTHS,
    MORE_LEGS,
    MORNING,
    NAMES,
    OPPOSITES,
    PLANETS,
    PLURALS,
    QUANTITIES,
    REPEAT_SENTENCES,
    SCIENCE,
    SYSTEM_PROMPTS,
    WEATHER,
    WORDS,
)

Message = dict[str, str]


@dataclass(frozen=True)
class Document:
    """One corpus document: plain text, or a chat (rendered later by the chat template)."""

    kind: str
    text: str = ""
    messages: tuple[Message, ...] = ()

    @property
    def is_chat(self) -> bool:
        return bool(self.messages)

    def plain_text(self) -> str:
        """Text with chat turns joined by newlines (used to train the tokenizer)."""
        if self.is_chat:
            return "\n".join(m["content"] for m in self.messages)
        return self.text


# ---------------------------------------------------------------------------
# Question/answer pairs (shared by plain-text facts and chats)


def _a(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def _capital_qa(rng: random.Random) -> tuple[str, str]:
    country, capital, _ = rng.choice(COUNTRIES)
    question = rng.choice(
        [
            f"What is the capital of {country}?",
            f"Which city is the capital of {country}?",
            f"Name the capital of {country}.",
        ]
    )
    return question, f"The capital of {country} is {capital}."


def _continent_qa(rng: random.Random) -> tuple[str, str]:
    country, _, continent = rng.choice([c for c in COUNTRIES if c[2]])
    name = country[0].upper() + country[1:]
    return f"Which continent is {country} in?", f"{name} is in {continent}."


def _language_qa(rng: random.Random) -> tuple[str, str]:
    country, language = rng.choice(sorted(LANGUAGES.items()))
    return f"What language do people speak in {country}?", f"People in {country} speak {language}."


def _animal_qa(rng: random.Random) -> tuple[str, str]:
    animal, sound, legs, kind = rng.choice(ANIMALS)
    an_animal = _a(animal)
    return rng.choice(
        [
            (f"What sound does {an_animal} make?", f"{an_animal.capitalize()} {sound}."),
            (f"How many legs does {an_animal} have?", f"{an_animal.capitalize()} has {legs} legs."),
            (f"Is {an_animal} {_a(kind)}?", f"Yes, {an_animal} is {_a(kind)}."),
        ]
    )


def _legs_qa(rng: random.Random) -> tuple[str, str]:
    animal, legs = rng.choice(MORE_LEGS)
    an_animal = _a(animal)
    return f"How many legs does {an_animal} have?", f"{an_animal.capitalize()} has {legs} legs."


def _colour_qa(rng: random.Random) -> tuple[str, str]:
    thing, colour = rng.choice(COLOURS)
    subject = thing[0].upper() + thing[1:]
    return f"What colour is {thing}?", f"{subject} is {colour}."


def _quantity_qa(rng: random.Random) -> tuple[str, str]:
    unit, container, count = rng.choice(QUANTITIES)
    return f"How many {unit} are in {container}?", f"There are {count} {unit} in {container}."


def _calendar_qa(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.5:
        i = rng.randrange(len(DAYS))
        return f"What day comes after {DAYS[i]}?", f"{DAYS[(i + 1) % 7]} comes after {DAYS[i]}."
    i = rng.randrange(len(MONTHS))
    return (
        f"What month comes after {MONTHS[i]}?",
        f"{MONTHS[(i + 1) % 12]} comes after {MONTHS[i]}.",
    )


def _word_qa(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.5:
        a, b = rng.choice(OPPOSITES)
        if rng.random() < 0.5:
            a, b = b, a
        return f"What is the opposite of {a}?", f"The opposite of {a} is {b}."
    one, many = rng.choice(PLURALS)
    return f"What is the plural of {one}?", f"The plural of {one} is {many}."


def _planet_qa(rng: random.Random) -> tuple[str, str]:
    i = rng.randrange(len(PLANETS))
    ordinal = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth"][i]
    return (
        f"Which planet is {ordinal} from the Sun?",
        f"{PLANETS[i]} is the {ordinal} planet from the Sun.",
    )


# Operands stay small: a 4M-parameter model learns the 11x11 addition table from a
# couple of hundred exposures per fact; with operands up to 20 it learned none.
MAX_OPERAND = 10


def _arithmetic_qa(rng: random.Random) -> tuple[str, str]:
    op = rng.choice("+-*")
    if op == "+":
        a, b = rng.randint(0, MAX_OPERAND), rng.randint(0, MAX_OPERAND)
        result, words = a + b, "plus"
    elif op == "-":
        a = rng.randint(0, 2 * MAX_OPERAND)
        b = rng.randint(0, min(a, MAX_OPERAND))
        result, words = a - b, "minus"
    else:
        a, b = rng.randint(1, 9), rng.randint(1, 9)
        result, words = a * b, "times"
    question = rng.choice([f"What is {a} {op} {b}?", f"What is {a} {words} {b}?"])
    return question, f"{a} {op} {b} = {result}."


FACT_QA: list[Callable[[random.Random], tuple[str, str]]] = [
    _capital_qa,
    _capital_qa,
    _continent_qa,
    _language_qa,
    _animal_qa,
    _legs_qa,
    _colour_qa,
    _quantity_qa,
    _calendar_qa,
    _word_qa,
    _planet_qa,
]


# ---------------------------------------------------------------------------
# Instruction-following pairs


def _instruction_pair(rng: random.Random) -> tuple[str, str]:
    kind = rng.randrange(9)
    if kind == 0:
        word, n = rng.choice(WORDS), rng.choice([2, 3, 4])
        times = {2: "two", 3: "three", 4: "four"}[n]
        return f"Repeat the word {word} {times} times.", " ".join([word] * n)
    if kind == 1:
        sentence = rng.choice(REPEAT_SENTENCES)
        return f"Repeat after me: {sentence}", sentence
    if kind == 2:
        start = rng.randint(1, 12)
        end = start + rng.randint(2, 6)
        return f"Count from {start} to {end}.", ", ".join(str(i) for i in range(start, end + 1))
    if kind == 3:
        a, b = rng.sample(range(0, 100), 2)
        return f"Which number is bigger, {a} or {b}?", f"{max(a, b)} is bigger."
    if kind == 4:
        country, capital, _ = rng.choice(COUNTRIES)
        if rng.random() < 0.5:
            return f"Answer yes or no: is {capital} the capital of {country}?", "Yes."
        other = rng.choice([c for c in COUNTRIES if c[1] != capital])[1]
        return f"Answer yes or no: is {other} the capital of {country}?", "No."
    if kind == 5:
        word = rng.choice(WORDS)
        return f"Spell the word {word}.", "-".join(word)
    if kind == 6:
        numbers = rng.sample(range(1, 50), rng.randint(3, 5))
        listed = ", ".join(map(str, numbers))
        return f"Put these numbers in order: {listed}.", ", ".join(map(str, sorted(numbers)))
    if kind == 7:
        a, b = rng.randint(0, MAX_OPERAND), rng.randint(0, MAX_OPERAND)
        return f"Reply with only the number: what is {a} + {b}?", str(a + b)
    word = rng.choice(WORDS)
    return (
        f"What is the first letter of the word {word}?",
        f"The first letter of {word} is {word[0]}.",
    )


# ---------------------------------------------------------------------------
# Document generators


def _facts_document(rng: random.Random) -> Document:
    sentences = [rng.choice(FACT_QA)(rng)[1] for _ in range(rng.randint(3, 7))]
    if rng.random() < 0.5:
        sentences.insert(rng.randrange(len(sentences) + 1), rng.choice(SCIENCE))
    if rng.random() < 0.2:
        sentences.append("The planets in order are " + ", ".join(PLANETS) + ".")
    if rng.random() < 0.15:
        sentences.append("The days of the week are " + ", ".join(DAYS) + ".")
    return Document("facts", text=" ".join(sentences))


def _arithmetic_document(rng: random.Random) -> Document:
    roll = rng.random()
    if roll < 0.25:  # a times table, the way people learn them
        a = rng.randint(1, 9)
        return Document("arithmetic", text=" ".join(f"{a} * {b} = {a * b}." for b in range(1, 10)))
    if roll < 0.4:  # counting teaches "the next number", which sums and ranges build on
        start = rng.randint(0, 40)
        numbers = ", ".join(str(i) for i in range(start, start + rng.randint(5, 12)))
        return Document("arithmetic", text=f"Counting: {numbers}.")
    lines = [_arithmetic_qa(rng)[1] for _ in range(rng.randint(4, 9))]
    return Document("arithmetic", text=" ".join(lines))


def _fact_list_document(rng: random.Random) -> Document:
    """Compact tables: many facts per token, so each fact is seen often."""
    roll = rng.random()
    if roll < 0.4:
        rows = rng.sample(COUNTRIES, 8)
        text = (
            "Capitals: " + "; ".join(f"{country}: {capital}" for country, capital, _ in rows) + "."
        )
    elif roll < 0.55:
        rows = rng.sample(sorted(LANGUAGES.items()), 6)
        text = (
            "Languages: " + "; ".join(f"{country}: {language}" for country, language in rows) + "."
        )
    elif roll < 0.7:
        rows = rng.sample(ANIMALS, 6)
        text = " ".join(f"{_a(animal).capitalize()} {sound}." for animal, sound, _, _ in rows)
    elif roll < 0.8:
        rows = rng.sample(OPPOSITES, 6)
        text = "Opposites: " + "; ".join(f"{a} and {b}" for a, b in rows) + "."
    elif roll < 0.9:
        start = rng.randrange(7)
        text = " ".join(
            f"After {DAYS[(start + i) % 7]} comes {DAYS[(start + i + 1) % 7]}." for i in range(4)
        )
    else:
        start = rng.randrange(12)
        text = " ".join(
            f"After {MONTHS[(start + i) % 12]} comes {MONTHS[(start + i + 1) % 12]}."
            for i in range(4)
        )
    return Document("facts", text=text)


def _story_document(rng: random.Random) -> Document:
    name, pronoun = rng.choice(NAMES)
    day = rng.choice(DAYS)
    morning, midday, evening = rng.choice(MORNING), rng.choice(MIDDAY), rng.choice(EVENING)
    feeling = rng.choice(FEELINGS)
    subject = pronoun.capitalize()
    sentences = [
        f"On {day}, {name} {morning}.",
        rng.choice(WEATHER),
        f"Later {pronoun} {midday}.",
        f"In the evening {pronoun} {evening}.",
        f"{subject} felt {feeling} at the end of the day.",
    ]
    if rng.random() < 0.5:
        sentences.insert(3, f"{subject} {rng.choice(MIDDAY)} because the work could not wait.")
    return Document("story", text=" ".join(sentences))


def _journal_document(rng: random.Random) -> Document:
    month, day = rng.choice(MONTHS), rng.randint(1, 28)
    lines = [f"{month} {day}.", f"This morning I {rng.choice(MORNING)}.", rng.choice(WEATHER)]
    lines += rng.sample(FIRST_PERSON, rng.randint(2, 4))
    lines.append(f"In the evening I {rng.choice(EVENING)}.")
    return Document("journal", text=" ".join(lines))


def _definition_document(rng: random.Random) -> Document:
    chosen = rng.sample(DEFINITIONS, rng.randint(2, 4))
    text = " ".join(f"{term[0].upper() + term[1:]} is {meaning}." for term, meaning in chosen)
    return Document("definitions", text=text)


def _howto_document(rng: random.Random) -> Document:
    task, steps = rng.choice(HOWTOS)
    return Document("howto", text=f"How to {task}: " + " ".join(steps))


def _chat_document(rng: random.Random) -> Document:
    messages: list[Message] = []
    if rng.random() < 0.3:
        messages.append({"role": "system", "content": rng.choice(SYSTEM_PROMPTS)})
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        roll = rng.random()
        if roll < 0.45:
            question, answer = rng.choice(FACT_QA)(rng)
        elif roll < 0.65:
            question, answer = _arithmetic_qa(rng)
        elif roll < 0.92:
            question, answer = _instruction_pair(rng)
        elif roll < 0.96:
            task, steps = rng.choice(HOWTOS)
            question, answer = f"How do I {task}?", " ".join(steps)
        else:
            question, answer = rng.choice(GREETINGS)
        messages += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
    return Document("chat", messages=tuple(messages))


# Mixture weights (sum 100). Chats are 40% because the base must reliably follow
# its chat template; facts and arithmetic are 38% because the verification gate
# probes them; prose keeps general language modelling honest without spending
# the small model's capacity on random names and activities.
GENERATORS: list[tuple[Callable[[random.Random], Document], int]] = [
    (_chat_document, 40),
    (_facts_document, 14),
    (_fact_list_document, 12),
    (_arithmetic_document, 12),
    (_story_document, 8),
    (_journal_document, 7),
    (_definition_document, 4),
    (_howto_document, 3),
]


def generate_corpus(seed: int, n_documents: int) -> list[Document]:
    """n_documents drawn from the mixture above; identical for identical arguments."""
    rng = random.Random(seed)
    generators = [g for g, _ in GENERATORS]
    weights = [w for _, w in GENERATORS]
    return [rng.choices(generators, weights)[0](rng) for _ in range(n_documents)]


def split_heldout(documents: list[Document], fraction: float, seed: int) -> tuple[list, list]:
    """Deterministic train/held-out split; held-out documents are never trained on."""
    rng = random.Random(seed + 1)
    train, heldout = [], []
    for document in documents:
        (heldout if rng.random() < fraction else train).append(document)
    return train, heldout
