"""Does an answer repeat itself? The degeneration numbers the gate's "looping" check reads.

    stats = loop_stats(answers)   # looping share, distinct-2, the worst answers

An answer *loops* when some word 4-gram occurs LOOP_TIMES (3) or more times in it:
"It helps you remember. It helps you remember. It helps you remember." holds
"it helps you remember" three times. Three, not two: a person may say "on the other
hand" twice in a paragraph; a third time in 40 tokens is a model stuck in a cycle
(every looping answer in issue 38's report repeats its 4-gram 3+ times, none of the
base's answers to the same prompts repeats one even twice).

distinct-2 is the share of word bigrams across all answers that are distinct
(Li et al. 2016, "A diversity-promoting objective"): 1.0 when no bigram recurs,
falling towards 0 as answers repeat themselves or each other.

Words are lower-cased runs of letters, digits and apostrophes, so punctuation and
capitals do not hide a repeat ("Remember." and "remember" are one word).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

LOOP_NGRAM = 4
LOOP_TIMES = 3
WORST_SHOWN = 3
WORD = re.compile(r"[\w']+")


def words(text: str) -> list[str]:
    return WORD.findall(text.casefold())


def _grams(tokens: list[str], size: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1)]


def most_repeated(text: str, size: int = LOOP_NGRAM) -> tuple[str, int]:
    """The answer's most frequent word `size`-gram and how often it occurs ("", 0 when too short)."""
    counts = Counter(_grams(words(text), size))
    if not counts:
        return "", 0
    gram, count = max(counts.items(), key=lambda item: (item[1], item[0]))
    return " ".join(gram), count


def loops(text: str, size: int = LOOP_NGRAM, times: int = LOOP_TIMES) -> bool:
    return most_repeated(text, size)[1] >= times


def distinct(texts: list[str], size: int = 2) -> float:
    """Distinct `size`-grams over all `size`-grams of all texts (1.0 when there are none)."""
    grams = [gram for text in texts for gram in _grams(words(text), size)]
    return round(len(set(grams)) / len(grams), 4) if grams else 1.0


@dataclass
class LoopStats:
    answers: int
    looping: int  # answers with a 4-gram occurring 3+ times
    distinct_2: float
    worst: list[dict[str, object]] = field(default_factory=list)  # answer, gram, count

    @property
    def share(self) -> float:
        return round(self.looping / self.answers, 4) if self.answers else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "answers": self.answers,
            "looping": self.looping,
            "share": self.share,
            "distinct_2": self.distinct_2,
            "worst": self.worst,
        }


def loop_stats(answers: list[str], shown: int = WORST_SHOWN) -> LoopStats:
    """Looping share and distinct-2 of a model's answers, and its `shown` most repetitive ones."""
    repeats = [(most_repeated(text), index) for index, text in enumerate(answers)]
    # Most repeated first; among equals the earlier prompt, so the choice is stable.
    ranked = sorted(repeats, key=lambda item: (-item[0][1], item[1]))
    worst = [
        {"answer": answers[index], "gram": gram, "count": count}
        for (gram, count), index in ranked[:shown]
        if count >= 2
    ]
    looping = sum(count >= LOOP_TIMES for (_, count), _ in repeats)
    return LoopStats(len(answers), looping, distinct(answers), worst)


def stats_from_dict(data: dict[str, object] | None) -> LoopStats | None:
    if not data:
        return None
    return LoopStats(
        int(data["answers"]),  # type: ignore[arg-type]
        int(data["looping"]),  # type: ignore[arg-type]
        float(data["distinct_2"]),  # type: ignore[arg-type]
        list(data.get("worst") or []),  # type: ignore[arg-type]
    )
