"""Words as the full-text index sees them: a light stemmer and FTS5 match expressions.

The index (tokenizer unicode61) does no stemming, so a search for "living" would never
find "I live in Delft". `stem` cuts an English ending off a word, and `fts_match` searches
each stem as a prefix ("liv"* finds live, lives, living). Retrieval builds its queries
with these, and the fact benchmark judges answers with the same stems, so a word the
index would find is a word an answer is credited for.
"""

from __future__ import annotations

import re

WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
# (ending, the shortest stem it may leave). "-ing" and "-ed" need four letters left, or
# "boring" would search "bor"* and find "born"; "-s" and "-e" need three ("lives" -> "liv").
ENDINGS = (("ing", 4), ("ed", 4), ("es", 3), ("s", 3), ("e", 3))


def stem(word: str) -> str:
    """A prefix that matches the word's other forms ("lives" -> "liv": live, lived, living)."""
    word = word.casefold().replace("’", "'")
    word = word[:-2] if word.endswith("'s") else word.replace("'", "")
    for ending, shortest in ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= shortest:
            return word[: -len(ending)]
    return word


def words(text: str) -> list[str]:
    """The words of `text` as written (letters and digits, with an inner apostrophe)."""
    return WORD.findall(text)


def fts_match(terms: list[str]) -> str:
    """An FTS5 expression: any of the terms, each as a prefix (quoted: never FTS5 syntax)."""
    return " OR ".join('"{}"*'.format(term.replace('"', '""')) for term in terms)
