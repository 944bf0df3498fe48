"""How Maren's writing drifts after October 2026, month by month, and how to measure it.

Three drifts, each one number per month (DRIFT), each measured on the month's
daily notes by `measure_style` (the manifest records target and measurement,
so a benchmark can check that a model learned the newest style):

- `kortom_share`: she starts closing with the Dutch "Kortom:" ("in short")
  where she used to write "Net:". The share of her summary lines that open
  with "Kortom:" (the rest open with "Net:"). Base months: 0.
- `dutch_per_100_words`: Dutch words mixed into her English (borrowed nouns
  like "boodschappen", fillers like "nou" and "toch", "lekker", "gezellig"),
  per 100 words of journal prose, counted against DUTCH_WORDS. Base months
  carry only what her Dutch-class lines quote (under 0.3).
- `words_per_sentence`: mean words per sentence of journal prose; she joins
  short sentences ("..., and ...", "... — ...") and adds a clause (", more or
  less") more and more. Base months: about 5.7.

`Style` is one month's writer-side controller: it keeps running counts and
nudges each paragraph towards the targets (randomised rounding, so a month's
share lands within one summary line of its target and the rates within a few
tenths), which is what makes the measured values track the table.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from personaforge.sample.grammar import sentences_of

SUMMARY_MARKERS = ("Net:", "Kortom:")


@dataclass(frozen=True)
class Drift:
    kortom_share: float  # share of summary lines opening with "Kortom:" instead of "Net:"
    dutch_per_100_words: float  # Dutch words per 100 words of journal prose
    words_per_sentence: float  # mean words per sentence of journal prose

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


# The targets per month; each drift moves one step a month, never back.
DRIFT: dict[str, Drift] = {
    "2026-11": Drift(kortom_share=0.2, dutch_per_100_words=1.0, words_per_sentence=7.0),
    "2026-12": Drift(kortom_share=0.4, dutch_per_100_words=2.0, words_per_sentence=8.0),
    "2027-01": Drift(kortom_share=0.6, dutch_per_100_words=3.0, words_per_sentence=9.0),
    "2027-02": Drift(kortom_share=0.8, dutch_per_100_words=4.0, words_per_sentence=10.0),
    "2027-03": Drift(kortom_share=1.0, dutch_per_100_words=5.0, words_per_sentence=11.0),
    "2027-04": Drift(kortom_share=1.0, dutch_per_100_words=6.0, words_per_sentence=12.0),
}
# Clauses she adds to a sentence that cannot be joined to a neighbour (the last of a
# paragraph, a one-line section), when the month wants longer sentences than it has.
ELABORATIONS = [
    ", which is about right",
    ", more or less",
    ", at least for now",
    ", if I am honest",
    ", as far as I can tell",
    ", for what it is worth",
    ", which I did not expect",
    ", and that is fine",
    ", like most days this month",
    ", which says something",
]

# English word -> the Dutch word she borrows for it (code-switching, not translation).
SWAPS: list[tuple[str, str]] = [
    ("groceries", "boodschappen"),
    ("meeting", "vergadering"),
    ("drinks", "borrel"),
    ("bike", "fiets"),
    ("canal", "gracht"),
    ("canals", "grachten"),
    ("cosy", "gezellig"),
    ("actually", "eigenlijk"),
    ("anyway", "enfin"),
    ("delicious", "lekker"),
    ("tasty", "lekker"),
    ("busy", "druk"),
    ("quiet", "rustig"),
    ("tired", "moe"),
    ("train", "trein"),
    ("coffee", "koffie"),
    ("tea", "thee"),
    ("tricky", "lastig"),
    ("exactly", "precies"),
    ("of course", "natuurlijk"),
    ("maybe", "misschien"),
    ("fine", "prima"),
    ("nice", "leuk"),
    ("pity", "jammer"),
    ("homework", "huiswerk"),
    ("the weather", "het weer"),
    ("cheese", "kaas"),
    ("bread", "brood"),
    ("soup", "soep"),
    ("porridge", "pap"),
    ("breakfast", "ontbijt"),
    ("dinner", "avondeten"),
    ("colleagues", "collega's"),
    ("neighbours", "buren"),
    ("today", "vandaag"),
    ("tomorrow", "morgen"),
    ("done", "klaar"),
    ("enough", "genoeg"),
    ("slowly", "langzaam"),
    ("really", "echt"),
    ("nothing", "niks"),
    ("bakery", "bakkerij"),
    ("baker", "bakker"),
    ("finally", "eindelijk"),
    ("unfortunately", "helaas"),
    ("luckily", "gelukkig"),
    ("holiday", "vakantie"),
    ("birthday", "verjaardag"),
    ("snow", "sneeuw"),
    ("dark", "donker"),
    ("blanket", "deken"),
]
# Said after a clause ("..., hoor.") when no word of the sentence has a Dutch stand-in.
TAGS = ["hoor", "toch", "echt waar", "nou ja", "zeker"]
# Opening a sentence that starts with a subject ("Nou, the train was late.").
PREFIXES = ["Nou,"]
_SUBJECTS = {"I", "The", "A", "It", "We", "He", "She", "They", "This", "That", "My"}

# Words counted as Dutch: every word above, plus what her class notes quote.
# Left out on purpose: Dutch words that are also English ("even", "net", "want",
# "die", "is", "was", "wind", "de", "van", "in"), and "kortom", which is its own drift.
DUTCH_WORDS: frozenset[str] = frozenset(
    {w for _, dutch in SWAPS for w in dutch.lower().split()}
    | {w for tag in TAGS for w in tag.split()}
    | {w.strip(",").lower() for p in PREFIXES for w in p.split()}
    | {
        "omdat",
        "opbellen",
        "meenemen",
        "aankomen",
        "hebben",
        "zijn",
        "slim",
        "gedicht",
        "oliebollen",
    }
    | {"pakjesavond", "kerststol", "bijna", "goed", "sinterklaas"}
) - {"het", "de", "kortom", "even", "net", "want", "is", "was", "die", "in", "van", "wind"}

_TAGS_RE = re.compile(r"(?<![\w#&])#[A-Za-z][\w/\-]*")
_LINK_RE = re.compile(r"!?\[\[([^\]|]*)(?:\|([^\]]*))?\]\]")
_TOKEN = re.compile(r"[A-Za-zÀ-ÿ'’]+")
# Sentences starting with these are never joined to their neighbours.
_KEEP_ALONE = ("Net:", "Kortom:", "Tomorrow:", "- ")
# Words that keep their capital when a sentence is joined onto the one before.
PROPER = {
    "I",
    "I'm",
    "I've",
    "I'll",
    "I'd",
    "Priya",
    "Tom",
    "Sam",
    "Jonas",
    "Ingrid",
    "Gus",
    "Tidewatch",
    "Kestrel",
    "Bergen",
    "Delft",
    "Rotterdam",
    "Dutch",
    "Norwegian",
    "SQLite",
    "Neovim",
    "Zeeland",
    "Sinterklaas",
    "Christmas",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "EU",
    "B1",
    "B2",
    "PR",
    "PRs",
    "M2",
    "Android",
    "README",
    "Oosterschelde",
    "Schie",
    "Maas",
    "Fløyen",
    "Ulriken",
    "Bryggen",
    "Volkskrant",
    "NRC",
    "Hoek",
    "Vlissingen",
    "Sam's",
    "Tom's",
}


def prose_lines(note: str) -> list[str]:
    """A note's prose: no frontmatter, code, headings or tags; links read as their text."""
    if note.startswith("---\n"):
        end = note.find("\n---\n", 4)
        note = note[end + 5 :] if end != -1 else note
    note = re.sub(r"```.*?```", " ", note, flags=re.S)
    lines = []
    for line in note.split("\n"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        line = re.sub(r"^[-*+]\s+", "", _LINK_RE.sub(lambda m: m.group(2) or m.group(1), line))
        line = " ".join(_TAGS_RE.sub("", line).split())
        if line:
            lines.append(line)
    return lines


def note_sentences(note: str) -> list[str]:
    return [s for line in prose_lines(note) for s in sentences_of(line)]


def measure_style(notes: Iterable[str]) -> dict[str, float]:
    """The three drift measures over journal notes, plus the counts behind them."""
    sentences = [s for note in notes for s in note_sentences(note)]
    words = [w for s in sentences for w in s.split()]
    tokens = [t.lower().strip("'’") for s in sentences for t in _TOKEN.findall(s)]
    net = sum(s.startswith("Net:") for s in sentences)
    kortom = sum(s.startswith("Kortom:") for s in sentences)
    dutch = sum(t in DUTCH_WORDS for t in tokens)
    return {
        "kortom_share": round(kortom / (net + kortom), 3) if net + kortom else 0.0,
        "dutch_per_100_words": round(100 * dutch / len(tokens), 2) if tokens else 0.0,
        "words_per_sentence": round(len(words) / len(sentences), 2) if sentences else 0.0,
        "summary_lines": net + kortom,
        "sentences": len(sentences),
        "words": len(words),
    }


@dataclass
class Style:
    """One month's drift as the writer applies it (see the module docstring)."""

    drift: Drift
    summaries: int = 0
    kortoms: int = 0
    words: int = 0
    sentences: int = 0
    tokens: int = 0
    dutch: int = 0
    _swaps: list[tuple[re.Pattern[str], str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._swaps = [(re.compile(rf"\b{re.escape(en)}\b", re.I), nl) for en, nl in SWAPS]

    def summary_marker(self, rng: random.Random) -> str:
        """'Kortom:' or 'Net:', keeping the month's count within one line of its target share."""
        self.summaries += 1
        use = self.kortoms + rng.random() < self.drift.kortom_share * self.summaries
        self.kortoms += use
        return "Kortom:" if use else "Net:"

    def observe(self, text: str) -> None:
        """Count prose the controller did not write (a Tomorrow line, a list) towards the rates."""
        for sentence in sentences_of(text):
            self._count(sentence)

    def apply(self, text: str, rng: random.Random) -> str:
        out: list[str] = []
        for sentence in sentences_of(text):
            sentence = self._maybe_dutch(sentence, rng)
            if out and self._join_wanted(out[-1], sentence, rng):
                self._uncount(out[-1])
                out[-1] = _join(out[-1], sentence, rng)
            else:
                out.append(sentence)
            self._count(out[-1])
        if out and self._elaboration_wanted(out[-1], rng):
            self._uncount(out[-1])
            out[-1] = out[-1][:-1] + rng.choice(ELABORATIONS) + out[-1][-1]
            self._count(out[-1])
        return " ".join(out)

    def _elaboration_wanted(self, sentence: str, rng: random.Random) -> bool:
        if sentence[-1:] != "." or sentence.startswith(_KEEP_ALONE) or len(sentence.split()) < 3:
            return False
        mean = self.words / self.sentences if self.sentences else 0.0
        return mean < self.drift.words_per_sentence and rng.random() < 0.6

    # -- the controllers --------------------------------------------------------------------------------

    def _count(self, sentence: str) -> None:
        self.sentences += 1
        self.words += len(sentence.split())
        found = [t.lower() for t in _TOKEN.findall(sentence)]
        self.tokens += len(found)
        self.dutch += sum(t in DUTCH_WORDS for t in found)

    def _uncount(self, sentence: str) -> None:
        self.sentences -= 1
        self.words -= len(sentence.split())
        found = [t.lower() for t in _TOKEN.findall(sentence)]
        self.tokens -= len(found)
        self.dutch -= sum(t in DUTCH_WORDS for t in found)

    def _maybe_dutch(self, sentence: str, rng: random.Random) -> str:
        expected = (
            self.drift.dutch_per_100_words / 100 * (self.tokens + len(_TOKEN.findall(sentence)))
        )
        if self.dutch + rng.random() >= expected or sentence.startswith(_KEEP_ALONE[:3]):
            return sentence
        options = [(pattern, nl) for pattern, nl in self._swaps if pattern.search(sentence)]
        if options:  # a borrowed word reads most like her; a tag or "Nou," only when none fits
            pattern, dutch = rng.choice(options)
            return pattern.sub(lambda m: _same_case(m.group(0), dutch), sentence, count=1)
        first, _, rest = sentence.partition(" ")
        if rest and first in _SUBJECTS and rng.random() < 0.3:
            return f"{rng.choice(PREFIXES)} {first if first == 'I' else first.lower()} {rest}"
        if sentence[-1:] in ".!" and len(sentence.split()) > 3:
            return f"{sentence[:-1]}, {rng.choice(TAGS)}{sentence[-1]}"
        return sentence

    def _join_wanted(self, previous: str, sentence: str, rng: random.Random) -> bool:
        if previous.endswith(("?", "!", ":")) or sentence.endswith("?"):
            return False
        if previous.startswith(_KEEP_ALONE) or sentence.startswith(_KEEP_ALONE):
            return False
        if len(previous.split()) + len(sentence.split()) > 60 or (
            " — " in previous and len(sentence.split()) <= 4
        ):
            return False
        mean = self.words / self.sentences if self.sentences else 0.0
        return mean < self.drift.words_per_sentence and rng.random() < 0.9


def _same_case(original: str, replacement: str) -> str:
    return replacement[:1].upper() + replacement[1:] if original[:1].isupper() else replacement


def _join(previous: str, sentence: str, rng: random.Random) -> str:
    """'A. B.' -> 'A, and b.' or 'A — b.' (a dash, never a semicolon); a short B always gets the dash."""
    first, _, rest = sentence.partition(" ")
    name = first.split("'")[0].rstrip(":,.;")
    keep_capital = name in PROPER or first[:1].isdigit() or (first.isupper() and len(first) > 1)
    if not keep_capital:
        sentence = first[:1].lower() + first[1:] + (" " + rest if rest else "")
    short = len(sentence.split()) <= 4
    connective = " — " if short else rng.choice([", and ", ", and ", " — "])
    return (
        previous[:-1] + connective + sentence if previous[-1:] == "." else previous + " " + sentence
    )
