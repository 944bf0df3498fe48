"""A generated general-knowledge corpus for pretraining the built-in tiny base.

No model hub and no downloads: the text is assembled from the tables below with a
seeded RNG, so the same seed always gives the same corpus. Four kinds of document:

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

Message = dict[str, str]

# (country, capital, continent). Continent None for countries spanning two.
COUNTRIES: list[tuple[str, str, str | None]] = [
    ("France", "Paris", "Europe"),
    ("Germany", "Berlin", "Europe"),
    ("Italy", "Rome", "Europe"),
    ("Spain", "Madrid", "Europe"),
    ("Portugal", "Lisbon", "Europe"),
    ("the Netherlands", "Amsterdam", "Europe"),
    ("Belgium", "Brussels", "Europe"),
    ("Sweden", "Stockholm", "Europe"),
    ("Norway", "Oslo", "Europe"),
    ("Denmark", "Copenhagen", "Europe"),
    ("Finland", "Helsinki", "Europe"),
    ("Poland", "Warsaw", "Europe"),
    ("Austria", "Vienna", "Europe"),
    ("Greece", "Athens", "Europe"),
    ("Ireland", "Dublin", "Europe"),
    ("the United Kingdom", "London", "Europe"),
    ("Switzerland", "Bern", "Europe"),
    ("Hungary", "Budapest", "Europe"),
    ("the Czech Republic", "Prague", "Europe"),
    ("Iceland", "Reykjavik", "Europe"),
    ("Russia", "Moscow", None),
    ("Turkey", "Ankara", None),
    ("Japan", "Tokyo", "Asia"),
    ("China", "Beijing", "Asia"),
    ("India", "New Delhi", "Asia"),
    ("South Korea", "Seoul", "Asia"),
    ("Thailand", "Bangkok", "Asia"),
    ("Vietnam", "Hanoi", "Asia"),
    ("the Philippines", "Manila", "Asia"),
    ("Egypt", "Cairo", "Africa"),
    ("Kenya", "Nairobi", "Africa"),
    ("Nigeria", "Abuja", "Africa"),
    ("Morocco", "Rabat", "Africa"),
    ("Ghana", "Accra", "Africa"),
    ("Ethiopia", "Addis Ababa", "Africa"),
    ("Senegal", "Dakar", "Africa"),
    ("Canada", "Ottawa", "North America"),
    ("Mexico", "Mexico City", "North America"),
    ("the United States", "Washington, D.C.", "North America"),
    ("Cuba", "Havana", "North America"),
    ("Brazil", "Brasilia", "South America"),
    ("Argentina", "Buenos Aires", "South America"),
    ("Peru", "Lima", "South America"),
    ("Chile", "Santiago", "South America"),
    ("Colombia", "Bogota", "South America"),
    ("Australia", "Canberra", "Oceania"),
    ("New Zealand", "Wellington", "Oceania"),
]

LANGUAGES: dict[str, str] = {
    "France": "French",
    "Germany": "German",
    "Italy": "Italian",
    "Spain": "Spanish",
    "Portugal": "Portuguese",
    "the Netherlands": "Dutch",
    "Sweden": "Swedish",
    "Norway": "Norwegian",
    "Denmark": "Danish",
    "Poland": "Polish",
    "Greece": "Greek",
    "Hungary": "Hungarian",
    "Russia": "Russian",
    "Turkey": "Turkish",
    "Japan": "Japanese",
    "China": "Chinese",
    "South Korea": "Korean",
    "Thailand": "Thai",
    "Vietnam": "Vietnamese",
    "Egypt": "Arabic",
    "Brazil": "Portuguese",
    "Mexico": "Spanish",
    "Argentina": "Spanish",
    "Peru": "Spanish",
    "Chile": "Spanish",
    "Colombia": "Spanish",
}

# (animal, verb for its sound, legs, class)
ANIMALS: list[tuple[str, str, int, str]] = [
    ("dog", "barks", 4, "mammal"),
    ("cat", "meows", 4, "mammal"),
    ("cow", "moos", 4, "mammal"),
    ("sheep", "bleats", 4, "mammal"),
    ("horse", "neighs", 4, "mammal"),
    ("pig", "oinks", 4, "mammal"),
    ("lion", "roars", 4, "mammal"),
    ("wolf", "howls", 4, "mammal"),
    ("mouse", "squeaks", 4, "mammal"),
    ("donkey", "brays", 4, "mammal"),
    ("duck", "quacks", 2, "bird"),
    ("owl", "hoots", 2, "bird"),
    ("rooster", "crows", 2, "bird"),
    ("frog", "croaks", 4, "amphibian"),
    ("bee", "buzzes", 6, "insect"),
    ("snake", "hisses", 0, "reptile"),
]
MORE_LEGS = [
    ("spider", 8),
    ("ant", 6),
    ("beetle", 6),
    ("chicken", 2),
    ("human", 2),
    ("elephant", 4),
]

COLOURS = [
    ("the sky on a clear day", "blue"),
    ("grass", "green"),
    ("snow", "white"),
    ("a ripe banana", "yellow"),
    ("coal", "black"),
    ("a ripe tomato", "red"),
    ("a carrot", "orange"),
    ("chocolate", "brown"),
    ("milk", "white"),
    ("a summer leaf", "green"),
    ("a lemon", "yellow"),
    ("a strawberry", "red"),
]

QUANTITIES = [
    ("days", "a week", 7),
    ("months", "a year", 12),
    ("hours", "a day", 24),
    ("minutes", "an hour", 60),
    ("seconds", "a minute", 60),
    ("days", "a normal year", 365),
    ("days", "a leap year", 366),
    ("years", "a decade", 10),
    ("years", "a century", 100),
    ("things", "a dozen", 12),
    ("metres", "a kilometre", 1000),
    ("centimetres", "a metre", 100),
    ("grams", "a kilogram", 1000),
]

SCIENCE = [
    "Water boils at 100 degrees Celsius at sea level.",
    "Water freezes at 0 degrees Celsius.",
    "Ice is frozen water.",
    "The Earth orbits the Sun once a year.",
    "The Moon orbits the Earth.",
    "The Sun is a star.",
    "Jupiter is the largest planet in the solar system.",
    "Mercury is the planet closest to the Sun.",
    "The Earth is the third planet from the Sun.",
    "Mars is called the red planet.",
    "Plants need light, water and air to grow.",
    "People breathe in oxygen and breathe out carbon dioxide.",
    "Light travels faster than sound.",
    "A triangle has three sides.",
    "A square has four equal sides.",
    "The heart pumps blood around the body.",
    "Rain falls from clouds.",
    "The Pacific is the largest ocean.",
    "A magnet attracts iron.",
    "Sound cannot travel through empty space.",
]
PLANETS = ["Mercury", "Venus", "Earth", "Mars", "Jupiter", "Saturn", "Uranus", "Neptune"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
OPPOSITES = [
    ("hot", "cold"),
    ("big", "small"),
    ("fast", "slow"),
    ("up", "down"),
    ("open", "closed"),
    ("early", "late"),
    ("happy", "sad"),
    ("light", "dark"),
    ("full", "empty"),
    ("wet", "dry"),
    ("loud", "quiet"),
    ("hard", "soft"),
    ("high", "low"),
    ("long", "short"),
    ("first", "last"),
    ("day", "night"),
    ("left", "right"),
    ("old", "new"),
    ("strong", "weak"),
    ("rich", "poor"),
]
PLURALS = [
    ("child", "children"),
    ("mouse", "mice"),
    ("foot", "feet"),
    ("tooth", "teeth"),
    ("person", "people"),
    ("box", "boxes"),
    ("city", "cities"),
    ("leaf", "leaves"),
    ("man", "men"),
    ("woman", "women"),
    ("goose", "geese"),
    ("book", "books"),
    ("knife", "knives"),
    ("bus", "buses"),
]

DEFINITIONS = [
    ("a library", "a place where people borrow books and read quietly"),
    ("a bakery", "a shop where bread and cakes are made and sold"),
    ("a hospital", "a place where doctors and nurses care for sick people"),
    ("a school", "a place where children learn to read, write and count"),
    ("an airport", "a place where planes take off and land"),
    ("a farm", "land where people grow food and keep animals"),
    ("a kitchen", "the room where food is cooked"),
    ("a garden", "a piece of land where flowers and vegetables grow"),
    ("a river", "a long stream of water that flows to the sea or a lake"),
    ("a mountain", "a very high hill with steep sides"),
    ("an ocean", "a very large body of salt water"),
    ("a forest", "a large area covered with trees"),
    ("a desert", "a dry area where very little rain falls"),
    ("a computer", "a machine that stores information and runs programs"),
    ("a phone", "a device for talking to people who are far away"),
    ("a bicycle", "a vehicle with two wheels that you move by pedalling"),
    ("a train", "a row of carriages that runs on rails"),
    ("a bridge", "a structure that lets people cross a river or a road"),
    ("a clock", "a device that shows the time"),
    ("a calendar", "a chart of the days, weeks and months of a year"),
    ("a map", "a drawing of an area that shows where places are"),
    ("an umbrella", "a folding cover that keeps the rain off"),
    ("a dictionary", "a book that explains the meaning of words"),
    ("a thermometer", "a tool that measures temperature"),
    ("a recipe", "a list of ingredients and steps for cooking a dish"),
    ("a meeting", "a time when people come together to talk and decide things"),
    ("an email", "a message sent from one computer to another"),
    ("a password", "a secret word that proves who you are"),
    ("a notebook", "a small book with empty pages for writing notes"),
    ("a market", "a place where people buy and sell food and goods"),
]

HOWTOS = [
    (
        "make a cup of tea",
        [
            "Boil some water.",
            "Put a tea bag in a cup.",
            "Pour the hot water over it.",
            "Wait three minutes.",
            "Take out the tea bag and add milk if you like.",
        ],
    ),
    (
        "plant a seed",
        [
            "Fill a pot with soil.",
            "Press the seed into the soil.",
            "Cover it lightly.",
            "Water it a little every day.",
            "Keep the pot in a sunny place.",
        ],
    ),
    (
        "cross a street safely",
        [
            "Stop at the edge of the road.",
            "Look left and right.",
            "Listen for cars.",
            "Cross when the road is clear.",
            "Keep looking while you walk.",
        ],
    ),
    (
        "write a letter",
        [
            "Write the date at the top.",
            "Greet the person by name.",
            "Say what you want to say.",
            "End with a kind word.",
            "Sign your name.",
        ],
    ),
    (
        "bake simple bread",
        [
            "Mix flour, water, salt and yeast.",
            "Knead the dough for ten minutes.",
            "Let it rise for an hour.",
            "Shape the loaf.",
            "Bake it in a hot oven.",
        ],
    ),
    (
        "learn new words",
        [
            "Write each new word on a card.",
            "Say it out loud.",
            "Use it in a sentence.",
            "Review the cards every day.",
            "Test yourself at the end of the week.",
        ],
    ),
    (
        "fix a flat bicycle tyre",
        [
            "Take the wheel off.",
            "Remove the tyre and the tube.",
            "Find the hole.",
            "Patch it or use a new tube.",
            "Put it back and pump it up.",
        ],
    ),
]

NAMES = [
    ("Anna", "she"),
    ("Ben", "he"),
    ("Carla", "she"),
    ("David", "he"),
    ("Elif", "she"),
    ("Farah", "she"),
    ("George", "he"),
    ("Hana", "she"),
    ("Ivan", "he"),
    ("Julia", "she"),
    ("Kofi", "he"),
    ("Lena", "she"),
    ("Marco", "he"),
    ("Nadia", "she"),
    ("Omar", "he"),
    ("Priya", "she"),
    ("Sam", "he"),
    ("Tariq", "he"),
    ("Uma", "she"),
    ("Wei", "he"),
    ("Yusuf", "he"),
    ("Zoe", "she"),
]
MORNING = [
    "woke up early",
    "made coffee",
    "went for a short run",
    "read the news",
    "walked the dog",
    "ate a bowl of porridge",
    "took the bus to work",
    "cycled to the office",
    "answered a few emails",
    "wrote a list of tasks for the day",
]
MIDDAY = [
    "worked on a report",
    "fixed a bug in the code",
    "had a long meeting",
    "called a friend",
    "cooked lunch",
    "studied for an exam",
    "cleaned the kitchen",
    "went to the market",
    "read a book in the park",
    "helped a colleague with a problem",
    "planned the next project",
    "wrote a few pages",
]
EVENING = [
    "cooked soup for dinner",
    "watched a film",
    "went to bed early",
    "played the guitar",
    "visited family",
    "phoned an old friend",
    "went to the library",
    "baked bread",
    "took a long walk by the river",
    "tidied the desk",
]
WEATHER = [
    "It was raining all day.",
    "The sun was out.",
    "A cold wind was blowing.",
    "It was warm and quiet.",
    "There was fog in the morning.",
    "It snowed a little.",
]
FEELINGS = ["tired", "happy", "calm", "nervous", "proud", "hungry", "relaxed", "busy"]
FIRST_PERSON = [
    "I think the day went well.",
    "I feel a bit tired but happy.",
    "I wonder if I should start earlier tomorrow.",
    "I learned something new today.",
    "I need to drink more water.",
    "I want to read more books this month.",
    "I finished the task I started yesterday.",
    "I should call my sister this week.",
    "I liked the quiet in the morning.",
    "I made a list and crossed off three things.",
    "I am looking forward to the weekend.",
    "I forgot my umbrella again.",
]
REPEAT_SENTENCES = [
    "The cat sat on the mat.",
    "I like green apples.",
    "The train leaves at noon.",
    "Today is a good day.",
    "Water is wet.",
    "We walk to school.",
    "The book is on the table.",
    "Birds can fly.",
]
WORDS = ["apple", "river", "house", "green", "music", "table", "cloud", "bread", "stone", "light"]
GREETINGS = [
    ("Hello!", "Hello! How can I help you today?"),
    ("Hi", "Hi! What would you like to know?"),
    ("Thank you.", "You are welcome."),
    ("Thanks!", "You are welcome. Happy to help."),
    ("How are you?", "I am fine, thank you. How can I help?"),
    ("Who are you?", "I am a small assistant. I can answer simple questions."),
    ("Good morning.", "Good morning! What can I do for you?"),
]
SYSTEM_PROMPTS = [
    "You are a helpful assistant.",
    "You are a helpful assistant. Answer briefly.",
    "You are a concise assistant. Answer in one sentence.",
]


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
