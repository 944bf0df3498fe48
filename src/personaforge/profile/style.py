"""How the person writes, measured from their own words (no model involved).

Over every memory the person wrote (speaker `self`, corrections excluded):
sentence length, vocabulary (distinct words, a moving-window type-token ratio
that does not shrink as the text grows, and the content words they reach for
in the most memories), punctuation per 1,000 words, the words their sentences
open with, recurring phrases, and how often a question is answered in the
next breath ("Is that a problem? Mostly not."). Every string shown passes the
privacy scrub first.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from personaforge.dataset.privacy import scrub
from personaforge.profile.rules import own_sentences, the_persons
from personaforge.profile.words import STOPWORDS
from personaforge.store import Memory

WORD = re.compile(r"[A-Za-z][A-Za-z'’\-]*")
PUNCTUATION = {
    "dash (—, –, ' - ')": re.compile(r"—|–|\s-\s"),
    "semicolon": re.compile(r";"),
    "colon": re.compile(r":(?!\d)"),
    "exclamation mark": re.compile(r"!"),
    "question mark": re.compile(r"\?"),
    "ellipsis": re.compile(r"…|\.\.\."),
    "parenthesis": re.compile(r"\("),
}
CLAUSE = re.compile(r"[,;:()—–]|\s-\s")
SHORT_SENTENCE = 6  # words; a diary voice lives in the short ones
MATTR_WINDOW = (
    500  # words per window: long enough for a stable ratio, short enough for small vaults
)
TOP = 8
MIN_PHRASE_MEMORIES = 4  # a phrase in fewer memories is a coincidence, not a habit


@dataclass
class Style:
    memories: int
    words: int
    sentences: int
    words_per_sentence: dict[str, float]
    short_sentence_share: float
    distinct_words: int
    type_token_ratio: float  # moving-average over MATTR_WINDOW-word windows
    favourite_words: list[tuple[str, int]] = field(default_factory=list)  # (word, memories)
    punctuation_per_1k_words: dict[str, float] = field(default_factory=dict)
    openings: list[tuple[str, int]] = field(default_factory=list)  # (first word, sentences)
    phrases: list[tuple[str, int]] = field(default_factory=list)  # (phrase, memories)
    questions: int = 0
    answered_questions: int = 0  # answered by the very next, short sentence

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Style:
        values = dict(data)
        for name in ("favourite_words", "openings", "phrases"):
            values[name] = [tuple(item) for item in values.get(name, [])]
        return cls(**values)


def _mattr(words: list[str]) -> float:
    if len(words) <= MATTR_WINDOW:
        return len(set(words)) / max(len(words), 1)
    step = MATTR_WINDOW // 2
    windows = [words[i : i + MATTR_WINDOW] for i in range(0, len(words) - MATTR_WINDOW + 1, step)]
    return statistics.fmean(len(set(w)) / MATTR_WINDOW for w in windows)


def _clean(items: Counter, policy: dict[str, str], limit: int) -> list[tuple[str, int]]:
    """The most common items whose text carries nothing the privacy scrub would touch."""
    kept = []
    for text, count in items.most_common():
        if not scrub(text, policy).findings:
            kept.append((text, count))
        if len(kept) == limit:
            break
    return kept


def measure_style(memories: list[Memory], policy: dict[str, str]) -> Style | None:
    """Style of everything the person wrote in `memories`; None when they wrote nothing."""
    own = the_persons(memories)
    all_sentences: list[list[str]] = []  # per memory
    for memory in own:
        found = own_sentences(memory)
        if found:
            all_sentences.append(found)
    if not all_sentences:
        return None
    flat = [s for group in all_sentences for s in group]
    lengths = [len(WORD.findall(s)) for s in flat]
    lengths = [n for n in lengths if n]
    words = [w.lower() for s in flat for w in WORD.findall(s)]
    text = "\n".join(flat)
    doc_words: Counter = Counter()
    doc_phrases: Counter = Counter()
    openings: Counter = Counter()
    questions = answered = 0
    for group in all_sentences:
        # Phrases live inside a clause: "the migration, one step further" is two of them.
        # A name inside a phrase is about a person, not about style: such phrases are skipped.
        clauses = [c for s in group for c in CLAUSE.split(s)]
        tokens_per_sentence = []
        for clause in clauses:
            found = WORD.findall(clause)
            tokens_per_sentence.append(
                [w.lower() if i == 0 or not w[0].isupper() else "" for i, w in enumerate(found)]
            )
        content = {
            w
            for s in group
            for w in WORD.findall(s)
            if w.islower() and len(w) > 3 and w.lower() not in STOPWORDS
        }
        doc_words.update(content)
        grams = set()
        for tokens in tokens_per_sentence:
            for size in (2, 3):
                for i in range(len(tokens) - size + 1):
                    gram = tokens[i : i + size]
                    if "" not in gram and gram[0] not in STOPWORDS and gram[-1] not in STOPWORDS:
                        grams.add(" ".join(gram))
        doc_phrases.update(grams)
        for index, sentence in enumerate(group):
            first = sentence.split()[0].strip(".,;!?\"'()")
            if first:
                openings[first] += 1
            if sentence.endswith("?"):
                questions += 1
                after = group[index + 1] if index + 1 < len(group) else ""
                if after and not after.endswith("?") and len(after.split()) <= 4:
                    answered += 1
    phrases = Counter({p: n for p, n in doc_phrases.items() if n >= MIN_PHRASE_MEMORIES})
    # A phrase inside a longer one that is about as common adds nothing: keep the longer.
    for phrase in sorted(phrases, key=len):
        if any(
            phrase != o and phrase in o and phrases[o] >= 0.8 * phrases[phrase] for o in phrases
        ):
            del phrases[phrase]
    total = max(len(words), 1)
    ordered = sorted(lengths)
    return Style(
        memories=len(all_sentences),
        words=len(words),
        sentences=len(flat),
        words_per_sentence={
            "mean": round(statistics.fmean(lengths), 1),
            "median": float(statistics.median(lengths)),
            "p90": float(ordered[int(0.9 * (len(ordered) - 1))]),
        },
        short_sentence_share=round(sum(n <= SHORT_SENTENCE for n in lengths) / len(lengths), 3),
        distinct_words=len(set(words)),
        type_token_ratio=round(_mattr(words), 3),
        favourite_words=_clean(doc_words, policy, TOP + 4),
        punctuation_per_1k_words={
            name: round(len(pattern.findall(text)) * 1000 / total, 1)
            for name, pattern in PUNCTUATION.items()
        },
        openings=_clean(openings, policy, TOP),
        phrases=_clean(phrases, policy, TOP + 2),
        questions=questions,
        answered_questions=answered,
    )
