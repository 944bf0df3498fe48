"""From tokens to text, one token at a time: decoding it, holding back stops.

Pure helpers of the engine's worker (serve/engine.py); none of them touches the model.
Picking the token (penalties, temperature, top-p) is personaforge/decoding.py's, shared
with the gate, so the answers the gate judges are decoded as the server decodes.
"""

from __future__ import annotations

from personaforge.decoding import Penalties, penalize, pick_token

__all__ = ["Detokenizer", "Penalties", "held_back", "penalize", "pick_token"]


class Detokenizer:
    """Text of a growing token list, piece by piece, without decoding the whole list each token.

    Decodes a short window (the previous piece's tokens + the new ones) and emits what the
    new tokens add; a byte sequence cut mid-character waits for its next token.
    """

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.prefix = 0
        self.read = 0

    def _text(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def push(self, token: int) -> str:
        self.ids.append(token)
        before = self._text(self.ids[self.prefix : self.read])
        after = self._text(self.ids[self.prefix :])
        if after.endswith("\ufffd"):
            return ""
        self.prefix, self.read = self.read, len(self.ids)
        return after[len(before) :]

    def flush(self) -> str:
        before = self._text(self.ids[self.prefix : self.read])
        return self._text(self.ids[self.prefix :])[len(before) :]


def held_back(text: str, stops: list[str]) -> int:
    """How many trailing characters might be the start of a stop string (not sent yet)."""
    longest = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:size]):
                longest = size
                break
    return longest
