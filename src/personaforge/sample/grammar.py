"""Sentences composed from parts, so the sample person never writes from a fixed list.

A phrase is text with two kinds of choice in it:

    [a|b|c]   one of the alternatives, picked at random; brackets nest, and an
              empty alternative (`[ with tea|]`) makes a part optional
    {name}    a slot: the value given for this note (a date, a number, a place),
              else the grammar's rule `name` (a list of phrases), expanded in turn

So `"[Up|Awake] at {wake}[, before the alarm|]."` with `wake="6:30"` gives four
sentences, and a rule whose phrases hold slots and further rules gives thousands.

`Voice` is the person writing: it expands phrases with its own random stream,
remembers every sentence of six or more words it has written, and re-rolls a
phrase (up to `RETRIES` times) rather than write such a sentence twice — people
rarely repeat a whole sentence across days, and a repeated one lets a model
learn a template instead of a voice. Its `finish` step applies the month's
style drift (drift.py) to a paragraph.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Slot = str | int | float | Sequence[str] | Callable[[random.Random], str]

RETRIES = 12  # re-rolls before accepting a repeated sentence; measured: under 1% need more than 3
REPEAT_WORDS = 6  # sentences this long or longer are never repeated on purpose
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# A lowercase letter after a sentence end is capitalised ("... done. then" -> "... done. Then").
_LOWER_AFTER_END = re.compile(r"([.!?]\s+)([a-z])")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.!?:])")
_NAME = re.compile(r"\{(\w+)\}")


class Grammar:
    """Named rules (lists of phrases) and the expander for the phrase syntax above."""

    def __init__(self, rules: Mapping[str, Sequence[str]]):
        self.rules = {name: list(phrases) for name, phrases in rules.items()}
        for name, phrases in self.rules.items():
            if not phrases:
                raise ValueError(f"grammar rule {name!r} has no phrases")

    def merged(self, more: Mapping[str, Sequence[str]]) -> Grammar:
        """A grammar with `more` rules added (a month's storyline on top of the shared rules)."""
        return Grammar({**self.rules, **more})

    def references(self) -> set[str]:
        """Every {name} the rules use: each must be a rule or a slot the writer provides."""
        return {
            name for phrases in self.rules.values() for p in phrases for name in _NAME.findall(p)
        }

    def expand(
        self, phrase: str, rng: random.Random, slots: Mapping[str, Slot] | None = None
    ) -> str:
        return tidy(self._expand(phrase, rng, slots or {}, 0))

    def _expand(self, text: str, rng: random.Random, slots: Mapping[str, Slot], depth: int) -> str:
        if depth > 40:
            raise ValueError(f"grammar recursion too deep near {text[:60]!r}")
        out: list[str] = []
        i = 0
        while i < len(text):
            char = text[i]
            if char == "[":
                end = _closing(text, i)
                choice = rng.choice(_alternatives(text[i + 1 : end]))
                out.append(self._expand(choice, rng, slots, depth + 1))
                i = end + 1
            elif char == "{":
                end = text.index("}", i)
                out.append(self._slot(text[i + 1 : end], rng, slots, depth))
                i = end + 1
            else:
                nxt = min(
                    (j for j in (text.find("[", i), text.find("{", i)) if j != -1),
                    default=len(text),
                )
                out.append(text[i:nxt])
                i = nxt
        return "".join(out)

    def _slot(self, name: str, rng: random.Random, slots: Mapping[str, Slot], depth: int) -> str:
        if name in slots:
            value = slots[name]
            if callable(value):
                value = value(rng)
            elif isinstance(value, (list, tuple)):
                value = rng.choice(value)
            return self._expand(str(value), rng, slots, depth + 1)
        if name in self.rules:
            return self._expand(rng.choice(self.rules[name]), rng, slots, depth + 1)
        raise KeyError(f"no slot or grammar rule named {name!r}")


def _closing(text: str, start: int) -> int:
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "[":
            depth += 1
        elif text[i] == "]":
            depth -= 1
            if depth == 0:
                return i
    raise ValueError(f"unclosed '[' in phrase {text!r}")


def _alternatives(body: str) -> list[str]:
    """Split `a|b[c|d]|e` at the top-level bars only."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(body):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(body[start:i])
            start = i + 1
    parts.append(body[start:])
    return parts


def tidy(text: str) -> str:
    """One space between words, none before punctuation, each sentence capitalised."""
    text = " ".join(text.split())
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    text = text.replace(",,", ",").replace(",.", ".").replace(". .", ".")
    text = _LOWER_AFTER_END.sub(lambda m: m.group(1) + m.group(2).upper(), text)
    return text[:1].upper() + text[1:]


def stream(seed: int, *names: object) -> random.Random:
    """A random stream of its own for one purpose ("skip", "2026-11", "episodic"...).

    Each part of the sample draws from its own stream, so changing how one part
    is written leaves every other part's bytes as they were. (String seeds are
    hashed with SHA-512 by `random`, the same on every run and platform.)
    """
    return random.Random(":".join(str(part) for part in (seed, *names)))


def sentences_of(text: str) -> list[str]:
    return [s for line in text.split("\n") for s in SENTENCE_END.split(line.strip()) if s]


def _key(sentence: str) -> str:
    return " ".join(sentence.lower().split())


def _opening(text: str) -> str:
    """The first two words without numbers: 'Closed 4 tickets' and 'Closed 6 tickets' open alike."""
    words = [w for w in text.lower().split() if not any(c.isdigit() for c in w)]
    return " ".join(words[:2])


@dataclass
class Voice:
    """The person writing: a grammar, a random stream, a memory of sentences and a style.

    `style` is None for the base months (her writing as it is) or a drift.Style
    whose targets `finish` steers each paragraph towards.
    """

    grammar: Grammar
    rng: random.Random
    style: Any = None
    seen: set[str] = field(default_factory=set)
    repeats: int = 0  # sentences written again after RETRIES re-rolls (reported, not hidden)

    def say(self, phrase: str, avoid: Sequence[str] = (), **slots: Slot) -> str:
        """`phrase` expanded, re-rolled while it would repeat a sentence already written
        (or open like one of `avoid`: the other items of the same paragraph)."""
        openings = {_opening(a) for a in avoid}
        text = ""
        for _ in range(RETRIES):
            text = self.grammar.expand(phrase, self.rng, slots)
            if _opening(text) in openings:
                continue
            if not any(key in self.seen for key in self._keys(text)):
                break
        else:
            self.repeats += 1
        self.remember(text)
        return text

    def rule(self, name: str, **slots: Slot) -> str:
        return self.say("{" + name + "}", **slots)

    def remember(self, text: str) -> None:
        """Count `text` as written (for text that did not come from `say`)."""
        self.seen.update(self._keys(text))

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    @staticmethod
    def _keys(text: str) -> list[str]:
        """What must be new: each long sentence, and a run of short ones as a whole
        ("Bergen is warm for once. She is suspicious of it." is news only once)."""
        keys = [_key(s) for s in sentences_of(text) if len(s.split()) >= REPEAT_WORDS]
        if len(text.split()) >= REPEAT_WORDS:
            keys.append(_key(text))
        return keys

    def summary(self, phrase: str, **slots: Slot) -> str:
        """Her one-line summary: 'Net: ...' (or the month's drifted marker)."""
        marker = self.style.summary_marker(self.rng) if self.style else "Net:"
        return self.say(f"{marker} {phrase}", **slots)

    def finish(self, parts: list[str]) -> str:
        """Sentences (or short runs of them) into one paragraph, with the month's drift applied."""
        text = " ".join(p.strip() for p in parts if p.strip())
        if self.style is None:
            return text
        return self.style.apply(text, self.rng)
