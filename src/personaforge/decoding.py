"""How a reply is picked from the model's scores: one definition for every place that generates.

The gate's answers (evaluate/measure.py), the server's (serve/engine.py), the
profile's probes and the demo all decode with settings `decode.*`, so the
answers the gate judges are the answers a person gets. The Ollama Modelfile
carries the same values as PARAMETER lines (export.py).

Penalties look at the reply's own tokens only, never the prompt: a persona
should be free to reuse the words of the question it answers. Within the last
`repeat_last_n` reply tokens:

- repetition_penalty r (CTRL, Keskar et al. 2019; transformers' and llama.cpp's
  `repeat_penalty`): a token already used has its logit divided by r when
  positive, multiplied by r when negative;
- frequency_penalty f and presence_penalty p (OpenAI's API): the logit drops by
  f x (times used) + p x (used at all);
- no_repeat_ngram_size n: a token that would complete an n-gram the reply
  already holds is ruled out (transformers only; llama.cpp has no such sampler).

Then temperature and top-p (nucleus) sampling; temperature 0 is greedy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Penalties:
    repetition: float = 1.0
    frequency: float = 0.0
    presence: float = 0.0
    window: int = 64  # last reply tokens the penalties look at; 0 = the whole reply
    no_repeat_ngram: int = 0

    @classmethod
    def of(cls, settings: Any) -> Penalties:
        """From `decode` settings (or anything with the same field names)."""
        return cls(
            settings.repetition_penalty,
            settings.frequency_penalty,
            settings.presence_penalty,
            settings.repeat_last_n,
            settings.no_repeat_ngram_size,
        )

    @property
    def active(self) -> bool:
        return (
            self.repetition != 1.0
            or self.frequency != 0.0
            or self.presence != 0.0
            or self.no_repeat_ngram > 0
        )


def banned_next(reply: list[int], size: int) -> set[int]:
    """Tokens that would repeat an n-gram of `reply` (n = size) if they came next."""
    if size <= 0 or len(reply) < size:
        return set()
    tail = tuple(reply[len(reply) - size + 1 :])
    return {
        reply[i + size - 1]
        for i in range(len(reply) - size + 1)
        if tuple(reply[i : i + size - 1]) == tail
    }


def penalize(scores, replies: list[list[int]], penalties: Penalties):
    """`scores` [rows, vocab] with each row's penalties for its own reply so far (a new tensor)."""
    import torch

    if not penalties.active or not any(replies):
        return scores
    scores = scores.clone()
    for row, reply in enumerate(replies):
        recent = reply[-penalties.window :] if penalties.window > 0 else reply
        if recent:
            ids = torch.tensor(sorted(set(recent)), device=scores.device)
            counts = torch.tensor(
                [recent.count(int(i)) for i in ids], dtype=scores.dtype, device=scores.device
            )
            picked = scores[row, ids]
            picked = torch.where(
                picked > 0, picked / penalties.repetition, picked * penalties.repetition
            )
            picked = picked - penalties.frequency * counts - penalties.presence
            scores[row, ids] = picked
        banned = banned_next(reply, penalties.no_repeat_ngram)
        if banned:
            scores[row, sorted(banned)] = float("-inf")
    return scores


def pick_token(logits, temperature: float, top_p: float, generator=None) -> int:
    """The next token from one row's logits: greedy at temperature 0, else sampled (top-p).

    `generator` (a torch.Generator) makes a seeded request repeatable.
    """
    import torch

    if temperature <= 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < top_p
        probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_probs[keep])
        probs = probs / probs.sum()
    return int(torch.multinomial(probs, 1, generator=generator))


class ReplyPenalties:
    """A transformers LogitsProcessor applying `penalize` to the tokens after the prompt.

    Batches are left-padded to one width, so every row's reply starts at `prompt_width`.
    """

    def __init__(self, penalties: Penalties, prompt_width: int):
        self.penalties = penalties
        self.prompt_width = prompt_width

    def __call__(self, input_ids, scores):
        replies = input_ids[:, self.prompt_width :].tolist()
        return penalize(scores, replies, self.penalties)
